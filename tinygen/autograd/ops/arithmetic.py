"""Arithmetic with NumPy broadcasting: + - * / ** @ and negation.

Broadcasting in forward means summing in backward: if ``a`` of shape (3, 1)
meets ``b`` of shape (4,), the result is (3, 4), and ``a``'s gradient is the
output gradient summed back down to (3, 1). ``sum_to`` does that sum.
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ...dtypes import get_default_dtype
from ..function import Function
from ..tensor import Tensor, constant



def lift(value, like):
    """Turn a Python/NumPy scalar into a constant 0-d Tensor next to ``like``.

    The scalar takes ``like``'s dtype, so ``x * 0.5`` stays float32 (no silent
    float64 promotion); an integer tensor meeting a float becomes float32.
    """
    if isinstance(value, Tensor):
        return value
    xp = _module_of(like.data)
    dtype = like.dtype
    if dtype.kind in "biu" and isinstance(value, (float, np.floating)):
        dtype = get_default_dtype()
    elif dtype.kind == "b" and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        dtype = np.dtype(np.int64)
    return constant(xp.asarray(value, dtype=dtype))


def _module_of(array):
    if type(array) is np.ndarray:
        return np
    return get_array_module(array)


class SumTo(Function):
    """y = x summed over the axes that broadcasting added or stretched, so y.shape == shape."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        lead = x.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True)
        return y.reshape(self.shape)

    def backward(self, gy):
        from .shape import broadcast_to
        return broadcast_to(gy, self.inputs[0].shape)


def sum_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo(shape)(x)


class Add(Function):
    """y = a + b"""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(gy, a.shape) if na else None,
                sum_to(gy, b.shape) if nb else None)


class Sub(Function):
    """y = a - b"""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(gy, a.shape) if na else None,
                sum_to(-gy, b.shape) if nb else None)


class Mul(Function):
    """y = a * b;  dy/da = b,  dy/db = a"""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (sum_to(gy * b, a.shape) if na else None,
                sum_to(gy * a, b.shape) if nb else None)


class Div(Function):
    """y = a / b;  dy/da = 1/b,  dy/db = -a/b²"""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(gy / b, a.shape) if na else None
        gb = sum_to(-gy * a / (b * b), b.shape) if nb else None
        return ga, gb


class Neg(Function):
    """y = -x"""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class PowScalar(Function):
    """y = x^c for a constant c;  dy/dx = c·x^(c-1)"""

    def __init__(self, c):
        self.c = c

    def forward(self, x):
        c = self.c
        if c == 2:
            return x * x
        return x ** c

    def backward(self, gy):
        x = self.inputs[0]
        c = self.c
        if c == 2:
            return gy * (x * 2.0)
        if c == 1:
            return gy
        return gy * (c * pow(x, c - 1))


class Pow(Function):
    """y = a^b;  dy/da = b·a^(b-1),  dy/db = a^b·ln a"""

    retain_output = True

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        from .math import log
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(gy * b * (a ** (b - 1.0)), a.shape) if na else None
        gb = sum_to(gy * self.output() * log(a), b.shape) if nb else None
        return ga, gb


class MatMul(Function):
    """y = a @ b for a, b with ndim ≥ 2 (batch dims broadcast);
    ∂L/∂a = ∂L/∂y @ bᵀ,  ∂L/∂b = aᵀ @ ∂L/∂y"""

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        from .shape import transpose
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = sum_to(matmul(gy, transpose(b, -1, -2)), a.shape) if na else None
        gb = sum_to(matmul(transpose(a, -1, -2), gy), b.shape) if nb else None
        return ga, gb


def promote(a, b):
    """PyTorch's type promotion for two tensors where NumPy's differs: an integer (or bool)
    tensor meeting a float tensor takes the float's dtype (int64 + float32 -> float32,
    where NumPy gives float64). Float meeting float keeps NumPy's rule (float32 + float64
    -> float64). The integer side needs no gradient, so a plain cast does."""
    ka, kb = a.dtype.kind, b.dtype.kind
    if ka in "biu" and kb in "fc":
        a = constant(a.data.astype(b.dtype))
    elif kb in "biu" and ka in "fc":
        b = constant(b.data.astype(a.dtype))
    return a, b


def add(a, b):
    return Add()(*promote(a, lift(b, a)))


def sub(a, b):
    return Sub()(*promote(a, lift(b, a)))


def mul(a, b):
    return Mul()(*promote(a, lift(b, a)))


def div(a, b):
    """True division, as in PyTorch: two integer tensors give the default float dtype."""
    a, b = promote(a, lift(b, a))
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        a = constant(a.data.astype(get_default_dtype()))
        b = constant(b.data.astype(get_default_dtype()))
    return Div()(a, b)


def neg(x):
    return Neg()(x)


def pow(a, b):
    if isinstance(b, Tensor):
        if not isinstance(a, Tensor):
            a = lift(a, b)
        return Pow()(*promote(a, b))
    return PowScalar(b)(a)


def matmul(a, b):
    """PyTorch's matmul: 1-D operands get a dimension added, then removed."""
    from .shape import reshape
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("matmul: both arguments need at least 1 dimension")
    squeeze_front = a.ndim == 1
    squeeze_back = b.ndim == 1
    if squeeze_front:
        a = reshape(a, (1,) + a.shape)
    if squeeze_back:
        b = reshape(b, b.shape + (1,))
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                           f"({a.shape[-1]} != {b.shape[-2]})")
    y = MatMul()(*promote(a, b))
    if squeeze_front or squeeze_back:
        shape = y.shape
        if squeeze_front and squeeze_back:
            shape = shape[:-2]
        elif squeeze_front:
            shape = shape[:-2] + shape[-1:]
        else:
            shape = shape[:-1]
        y = reshape(y, shape)
    return y
