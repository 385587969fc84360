"""Activations: the ops live in ``autograd.ops.activation`` (``Tensor.relu()`` and
friends need them below ``nn``); ``nn.functional`` re-exports them under PyTorch's names."""
from ...autograd.ops.activation import (  # noqa: F401
    ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, Softmax, LogSoftmax,
    relu, leaky_relu, sigmoid, tanh, softplus, elu, silu, gelu, softmax, log_softmax)
