"""Reductions: sum, mean, var, std, max/min over a dim, logsumexp.

``sum`` is the primitive; mean, var, std and logsumexp are built from it and
from elementwise ops, so their gradients (and second gradients) follow.
"""
from __future__ import annotations

import builtins

from ...backend import get_array_module
from ..function import Function
from ..tensor import constant
from .shape import broadcast_to, reshape


def _normalize_dims(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = []
    for d in dim:
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dims")
        out.append(d % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


class Sum(Function):
    """y = Σ x over ``dims``;  ∂L/∂x = ∂L/∂y broadcast back to x's shape"""

    def __init__(self, dims, keepdim):
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        if x.ndim == 0:
            return x.copy()
        return x.sum(axis=self.dims, keepdims=self.keepdim)

    def backward(self, gy):
        x = self.inputs[0]
        if not self.keepdim:
            gy = reshape(gy, _kept_shape(x.shape, self.dims))
        return broadcast_to(gy, x.shape)


def sum(x, dim=None, keepdim=False):
    dims = _normalize_dims(dim, x.ndim)
    return Sum(dims, keepdim)(x)


def _count(x, dims):
    n = 1
    for d in dims:
        n *= x.shape[d]
    return n


def mean(x, dim=None, keepdim=False):
    dims = _normalize_dims(dim, x.ndim)
    count = _count(x, dims)
    # the mean of nothing is NaN, as in PyTorch (0/0), not 0
    return sum(x, dims, keepdim) * (1.0 / count if count else float("nan"))


def var(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """Σ (x - x̄)² / (n - correction); ``unbiased=True`` means correction 1, as in PyTorch."""
    dims = _normalize_dims(dim, x.ndim)
    if correction is None:
        correction = 1 if unbiased else 0
    centered = x - mean(x, dims, keepdim=True)
    dof = _count(x, dims) - correction
    scale = 1.0 / dof if dof > 0 else float("nan")   # PyTorch also returns NaN here
    return sum(centered * centered, dims, keepdim) * scale


def std(x, dim=None, unbiased=True, keepdim=False, correction=None):
    from .math import sqrt
    return sqrt(var(x, dim, unbiased, keepdim, correction))


class MaxAlongDim(Function):
    """(values, indices) of the max (or min) along one dim; the gradient goes to the index."""

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def forward(self, x):
        xp = get_array_module(x)
        pick = xp.argmax if self.largest else xp.argmin
        idx = pick(x, axis=self.dim)
        self.indices = xp.expand_dims(idx, self.dim)
        values = xp.take_along_axis(x, self.indices, axis=self.dim)
        return values if self.keepdim else values.squeeze(self.dim)

    def backward(self, gy):
        from .indexing import scatter_add
        x = self.inputs[0]
        if not self.keepdim:
            gy = reshape(gy, _kept_shape(x.shape, (self.dim,)))
        index = constant(self.indices)
        return scatter_add(gy, self.dim, index, x.shape)


def _max_or_min(x, dim, keepdim, largest):
    if dim is None:
        if x.data.size == 0:
            raise RuntimeError("max()/min() of an empty tensor")
        flat = reshape(x, (-1,))
        return MaxAlongDim(0, False, largest)(flat).reshape(())
    (d,) = _normalize_dims(dim, x.ndim)
    if x.ndim == 0:
        return x, constant(x.data.astype("int64") * 0)
    fn = MaxAlongDim(d, keepdim, largest)
    values = fn(x)
    indices = fn.indices if keepdim else fn.indices.squeeze(d)
    return values, constant(indices)


def max(x, dim=None, keepdim=False):
    """``x.max()`` is the largest element; ``x.max(dim)`` is (values, indices)."""
    return _max_or_min(x, dim, keepdim, True)


def min(x, dim=None, keepdim=False):
    return _max_or_min(x, dim, keepdim, False)


def logsumexp(x, dim=None, keepdim=False):
    """log Σ exp(x) = m + log Σ exp(x - m), with m = max x held constant for stability."""
    from .math import exp, log
    dims = _normalize_dims(dim, x.ndim)
    xp = get_array_module(x.data)
    m = x.data.max(axis=dims, keepdims=True) if x.ndim else x.data
    m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype)
    shift = constant(m)
    out = log(sum(exp(x - shift), dims, keepdim=True)) + shift
    if not keepdim:
        out = reshape(out, tuple(s for i, s in enumerate(x.shape) if i not in dims))
    return out
