"""``tinygen.nn.functional``: stateless ops with PyTorch's names and signatures."""
from .activation import (relu, leaky_relu, elu, sigmoid, tanh, softplus, silu, gelu, softmax,
                         log_softmax)
from ...autograd.ops import pad
