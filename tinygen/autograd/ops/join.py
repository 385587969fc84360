"""Joining and splitting: cat, stack, split, chunk, and pad.

cat's backward slices the gradient back into the pieces; split is slicing, so
its gradient comes from GetItem. Constant padding's backward crops; reflect,
replicate and circular padding copy border rows from inside, so their backward
adds each border row's gradient back onto the row it came from.
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ..function import Function
from .indexing import getitem


class Cat(Function):
    """y = [x₀, x₁, ...] joined along ``dim``;  ∂L/∂xᵢ = the matching slice of ∂L/∂y"""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        return get_array_module(xs[0]).concatenate(xs, axis=self.dim)

    def backward(self, gy):
        grads, start = [], 0
        lead = (slice(None),) * self.dim
        for x, need in zip(self.inputs, self.needs_input_grad):
            stop = start + x.shape[self.dim]
            grads.append(getitem(gy, lead + (slice(start, stop),)) if need else None)
            start = stop
        return tuple(grads)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat needs at least one tensor")
    ndim = tensors[0].ndim
    if ndim == 0:
        raise RuntimeError("zero-dimensional tensors cannot be concatenated")
    dim %= ndim
    for t in tensors[1:]:
        if t.ndim != ndim or t.shape[:dim] + t.shape[dim + 1:] != \
                tensors[0].shape[:dim] + tensors[0].shape[dim + 1:]:
            raise RuntimeError(f"cat: sizes must match except in dim {dim}; got "
                               f"{[tuple(t.shape) for t in tensors]}")
    return Cat(dim)(*tensors)


def stack(tensors, dim=0):
    from .shape import unsqueeze
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack needs at least one tensor")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise RuntimeError(f"stack expects tensors of equal shape, got "
                           f"{[tuple(t.shape) for t in tensors]}")
    dim %= tensors[0].ndim + 1
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(x, split_size_or_sections, dim=0):
    dim %= x.ndim
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split sizes {sizes} do not add up to {n}")
    lead = (slice(None),) * dim
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, lead + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    n = x.shape[dim % x.ndim]
    size = -(-n // chunks)
    return split(x, max(size, 1), dim)


class ConstantPad(Function):
    """y = x surrounded by ``value``;  ∂L/∂x = ∂L/∂y with the border cropped"""

    def __init__(self, widths, value):
        self.widths, self.value = widths, value

    def forward(self, x):
        return get_array_module(x).pad(x, self.widths, mode="constant", constant_values=self.value)

    def backward(self, gy):
        key = tuple(slice(lo, gy.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        return getitem(gy, key)


def _rows(dim, index):
    """The key that picks ``index`` (an int or a slice) along ``dim``."""
    return (slice(None),) * dim + (index,)


def _border(source, lo, n):
    """(k, source[k]) for the padded rows k; loops over these run over the padding's
    width (a few rows), never over pixels."""
    return [(k, s) for k, s in enumerate(source) if not lo <= k < lo + n]


class BorderPad(Function):
    """y = x[..., source, ...] along ``dim``, where y[lo : lo + n] = x and every other row k
    is a copy of the row source[k] of x (reflect, replicate or circular padding).

    ∂L/∂x = ∂L/∂y[lo : lo + n] + Σ_{k in the border} ∂L/∂y[k] added at row source[k]
    (BorderPadGrad). Written as slices, not as an index gather: the gather's
    scatter-add backward was ~20× slower (CycleGAN's step, BENCHMARKS.md)."""

    def __init__(self, dim, source, lo):
        self.dim, self.source, self.lo = dim, source, lo

    def forward(self, x):
        n = x.shape[self.dim]
        shape = list(x.shape)
        shape[self.dim] = len(self.source)
        # in x's memory order: a conv's batch-last output stays batch-last for the next conv
        y = get_array_module(x).empty_like(x, shape=tuple(shape))
        y[_rows(self.dim, slice(self.lo, self.lo + n))] = x
        for k, s in _border(self.source, self.lo, n):
            y[_rows(self.dim, k)] = x[_rows(self.dim, s)]
        return y

    def backward(self, gy):
        return BorderPadGrad(self.dim, self.source, self.lo, self.inputs[0].shape[self.dim])(gy)


class BorderPadGrad(Function):
    """gx = gy[lo : lo + n], plus each border row gy[k] added at row source[k]: BorderPad's adjoint"""

    def __init__(self, dim, source, lo, n):
        self.dim, self.source, self.lo, self.n = dim, source, lo, n

    def forward(self, gy):
        gx = gy[_rows(self.dim, slice(self.lo, self.lo + self.n))].copy(order="K")
        for k, s in _border(self.source, self.lo, self.n):
            gx[_rows(self.dim, s)] += gy[_rows(self.dim, k)]
        return gx

    def backward(self, ggx):
        return BorderPad(self.dim, self.source, self.lo)(ggx)


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's F.pad: ``pad`` lists (left, right) pairs starting from the LAST dim."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad {pad} must hold (before, after) pairs for at most {x.ndim} dims")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    if any(lo < 0 or hi < 0 for lo, hi in widths):
        raise ValueError("negative padding is not supported; slice the tensor instead")
    if mode == "constant":
        return ConstantPad(tuple(widths), value)(x)
    numpy_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if numpy_mode is None:
        raise ValueError(f"pad mode {mode!r}; choose constant, reflect, replicate or circular")
    for d, (lo, hi) in enumerate(widths):
        if lo or hi:
            if mode == "reflect" and (lo >= x.shape[d] or hi >= x.shape[d]):
                raise ValueError(f"reflect padding {lo, hi} must be smaller than size {x.shape[d]}")
            source = np.pad(np.arange(x.shape[d]), (lo, hi), mode=numpy_mode)
            x = BorderPad(d, tuple(source.tolist()), lo)(x)
    return x
