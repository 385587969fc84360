"""Moving a tensor between backends (NumPy ↔ CuPy), as a differentiable op."""
from __future__ import annotations

from ... import backend as _backend
from ..function import Function
from ..grad_mode import state
from ..tensor import Tensor, constant


class ToBackend(Function):
    """y = x copied to another backend;  ∂L/∂x = ∂L/∂y copied back."""

    def __init__(self, target):
        self.target = target

    def forward(self, x):
        self.source = _backend.backend_of(x)
        return _backend.to_backend(x, self.target)

    def __call__(self, x):
        # the one op whose input and output live on different backends, so it
        # skips Function.__call__'s same-backend check
        requires_grad = state.grad_enabled and x.requires_grad
        y = self.forward(x.data)
        if not requires_grad:
            return constant(y)
        self.inputs, self.needs_input_grad, self.requires_grad = (x,), (True,), True
        return Tensor._make(y, self, 0)

    def backward(self, gy):
        return ToBackend(self.source)(gy)


def to_backend(x, target):
    return ToBackend(target)(x)
