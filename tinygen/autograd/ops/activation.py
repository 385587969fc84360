"""Activations, as ops (``Tensor.relu()`` and ``nn.functional`` both use them).

Every one stays finite, in value and in gradient, for |x| ≤ 100.

Stability tricks, each in one place:
* sigmoid uses e = exp(-|x|) ≤ 1, never exp(+large);
* softplus is max(x, 0) + log1p(exp(-|x|));
* softmax/log_softmax subtract the row max before exp;
* elu clamps its exp argument at 0, where the other branch is taken anyway.
"""
from __future__ import annotations

import math

import numpy as np

from ...backend import get_array_module
from ..function import Function
from ..grad_mode import state
from ..tensor import constant
from . import math as elementwise
from .reduction import sum as reduce_sum


class ReLU(Function):
    """y = max(x, 0);  dy/dx = 1[x > 0]"""

    def forward(self, x):
        return get_array_module(x).maximum(x, 0)

    def backward(self, gy):
        return gy * constant((self.inputs[0].data > 0).astype(gy.dtype))


class LeakyReLU(Function):
    """y = x if x > 0 else a·x;  dy/dx = 1 or a"""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = get_array_module(x)
        scaled = x * x.dtype.type(self.slope)
        # max(x, a·x) is the same function for 0 ≤ a ≤ 1 (min for a > 1) and, unlike
        # where(), a plain ufunc: several times faster, and it keeps x's memory layout
        if 0 <= self.slope <= 1:
            return xp.maximum(x, scaled)
        if self.slope > 1:
            return xp.minimum(x, scaled)
        return xp.where(x > 0, x, scaled)

    def backward(self, gy):
        x = self.inputs[0].data
        xp = get_array_module(x)
        # dy/dx = a + (1 - a)·1[x > 0], built with ufuncs for the same reason
        factor = xp.multiply(x > 0, gy.dtype.type(1.0 - self.slope), dtype=gy.dtype)
        factor += gy.dtype.type(self.slope)
        return gy * constant(factor)


class Sigmoid(Function):
    """y = 1 / (1 + e^(-x));  dy/dx = y(1 - y)"""
    retain_output = True

    def forward(self, x):
        xp = get_array_module(x)
        # 1 / (1 + e^(-x)) in place, three passes: e^(-x) overflows to inf for x < -88
        # (float32), and 1 / inf = 0 is the right limit, so the overflow warning is muted.
        # (A where() over two stable branches was 6x slower, the U-Net's largest elementwise cost.)
        with np.errstate(over="ignore"):
            e = xp.asarray(xp.exp(-x))      # asarray: a 0-d input gives a NumPy scalar, not an array
        e += 1
        return xp.reciprocal(e, out=e)

    def backward(self, gy):
        y = self.output()
        return gy * y * (1.0 - y)


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y²"""
    retain_output = True

    def forward(self, x):
        return get_array_module(x).tanh(x)

    def backward(self, gy):
        y = self.output()
        return gy * (1.0 - y * y)


class Softplus(Function):
    """y = log(1 + e^(βx)) / β, linear above threshold;  dy/dx = sigmoid(βx)"""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp = get_array_module(x)
        bx = x * x.dtype.type(self.beta)
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / x.dtype.type(self.beta)
        return xp.where(bx > self.threshold, x, soft)

    def backward(self, gy):
        return gy * sigmoid(self.inputs[0] * self.beta)


class Softmax(Function):
    """yᵢ = e^(xᵢ - m) / Σⱼ e^(xⱼ - m);  ∂L/∂x = y ⊙ (g - Σ g⊙y)"""
    retain_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=self.dim, keepdims=True))
        return e / e.sum(axis=self.dim, keepdims=True)

    def backward(self, gy):
        y = self.output()
        return y * (gy - reduce_sum(gy * y, self.dim, keepdim=True))


class LogSoftmax(Function):
    """yᵢ = xᵢ - log Σⱼ e^(xⱼ);  ∂L/∂x = g - softmax(x) Σ g"""
    retain_output = True

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = get_array_module(x)
        shifted = x - x.max(axis=self.dim, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.dim, keepdims=True))

    def backward(self, gy):
        y = self.output()
        return gy - elementwise.exp(y) * reduce_sum(gy, self.dim, keepdim=True)


def relu(x, inplace=False):
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    return LeakyReLU(negative_slope)(x)


def sigmoid(x):
    return Sigmoid()(x)


def tanh(x):
    return Tanh()(x)


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus(beta, threshold)(x)


def elu(x, alpha=1.0, inplace=False):
    """y = x if x > 0 else α(eˣ - 1), built from where/exp/clamp so all derivatives follow."""
    negative = (elementwise.exp(elementwise.clamp(x, max=0.0)) - 1.0) * alpha
    return elementwise.where(x > 0, x, negative)


class SiLU(Function):
    """y = x·σ(x);  dy/dx = σ(x)·(1 + x·(1 - σ(x)))

    One op rather than x * sigmoid(x): the backward is one chain of in-place passes over
    σ(x), kept from the forward, instead of two products, a sigmoid backward and a sum.
    With create_graph the same formula runs in ops, so it is differentiable again."""

    def forward(self, x):
        self.s = Sigmoid.forward(self, x)
        return x * self.s

    def backward(self, gy):
        x = self.inputs[0]
        if state.grad_enabled:
            s = sigmoid(x)
            return gy * (s * (1.0 + x * (1.0 - s)))
        factor = 1.0 - self.s              # σ(1 + x(1 - σ)), built in place
        factor *= x.data
        factor += 1.0
        factor *= self.s
        factor *= gy.data
        return constant(factor)


def silu(x):
    """y = x · sigmoid(x)"""
    return SiLU()(x)


def gelu(x, approximate="none"):
    """y = x·Φ(x), Φ the standard normal CDF = ½(1 + erf(x/√2)); or the tanh approximation."""
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + tanh(inner))
    if approximate != "none":
        raise ValueError("gelu: approximate must be 'none' or 'tanh'")
    return 0.5 * x * (1.0 + elementwise.erf(x * (1.0 / math.sqrt(2.0))))


def _dim(x, dim):
    if dim is None:
        # PyTorch's legacy rule for an implicit dim
        return 0 if x.ndim in (0, 1, 3) else 1
    return dim % max(x.ndim, 1)


def softmax(x, dim=None):
    return Softmax(_dim(x, dim))(x)


def log_softmax(x, dim=None):
    return LogSoftmax(_dim(x, dim))(x)
