"""Elementwise math: exp, log, sqrt, abs, clamp, maximum/minimum, where, erf, cast.

Each backward multiplies the incoming gradient by the local derivative, written
in tinygen ops so that it can be differentiated again.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import get_array_module
from ..function import Function
from ..tensor import Tensor, constant
from .arithmetic import lift, sum_to


class Exp(Function):
    """y = eˣ;  dy/dx = y"""
    retain_output = True

    def forward(self, x):
        return _xp(x).exp(x)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    """y = ln x;  dy/dx = 1/x"""

    def forward(self, x):
        return _xp(x).log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    """y = √x;  dy/dx = 1/(2y)"""
    retain_output = True

    def forward(self, x):
        return _xp(x).sqrt(x)

    def backward(self, gy):
        return gy / (self.output() * 2.0)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x) (0 at 0, as in PyTorch)"""

    def forward(self, x):
        return _xp(x).abs(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * constant(_xp(x).sign(x))


class Clamp(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo ≤ x ≤ hi, else 0 (PyTorch's choice)"""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return _xp(x).clip(x, self.lo, self.hi)

    def backward(self, gy):
        x = self.inputs[0].data
        keep = _xp(x).ones(x.shape, dtype=bool) if self.lo is None else (x >= self.lo)
        if self.hi is not None:
            keep = keep & (x <= self.hi)
        return gy * constant(keep.astype(gy.dtype))


class Maximum(Function):
    """y = max(a, b) elementwise; a tie sends half the gradient to each side, as PyTorch does."""

    def forward(self, a, b):
        return _xp(a).maximum(a, b)

    def backward(self, gy):
        return _select_grads(self, gy, larger=True)


class Minimum(Function):
    """y = min(a, b) elementwise; ties split the gradient in half."""

    def forward(self, a, b):
        return _xp(a).minimum(a, b)

    def backward(self, gy):
        return _select_grads(self, gy, larger=False)


def _select_grads(fn, gy, larger):
    a, b = fn.inputs
    wins = (a.data > b.data) if larger else (a.data < b.data)
    ties = a.data == b.data
    weight_a = wins.astype(gy.dtype) + 0.5 * ties.astype(gy.dtype)
    na, nb = fn.needs_input_grad
    ga = sum_to(gy * constant(weight_a), a.shape) if na else None
    gb = sum_to(gy * constant(1.0 - weight_a), b.shape) if nb else None
    return ga, gb


class Where(Function):
    """y = a where cond else b (cond carries no gradient)"""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return _xp(a).where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        zero = constant(_xp(gy.data).zeros((), dtype=gy.dtype))
        cond = constant(self.cond)
        ga = sum_to(where(cond, gy, zero), a.shape) if na else None
        gb = sum_to(where(cond, zero, gy), b.shape) if nb else None
        return ga, gb


class Erf(Function):
    """y = erf(x) = 2/√π ∫₀ˣ e^(-t²) dt;  dy/dx = 2/√π · e^(-x²)"""

    def forward(self, x):
        xp = _xp(x)
        if xp is np:
            from scipy.special import erf
        else:
            from cupyx.scipy.special import erf
        return erf(x).astype(x.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


class Cast(Function):
    """y = x converted to another dtype; the gradient is converted back."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, gy):
        return cast(gy, self.inputs[0].dtype)


def _xp(array):
    if type(array) is np.ndarray:
        return np
    return get_array_module(array)


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def abs(x):
    return Abs()(x)


def erf(x):
    return Erf()(x)


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp needs at least one of min and max")
    return Clamp(min, max)(x)


def maximum(a, b):
    return Maximum()(a, lift(b, a))


def minimum(a, b):
    return Minimum()(a, lift(b, a))


def where(cond, a, b):
    """``a`` where ``cond`` is true, else ``b``; scalars are allowed for a or b."""
    if not isinstance(a, Tensor):
        a = lift(a, b)
    b = lift(b, a)
    cond = cond.data if isinstance(cond, Tensor) else cond
    return Where(cond)(a, b)


def cast(x, dtype):
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast(dtype)(x)
