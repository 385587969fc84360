"""Differentiable ops, one family per file. Each op is a ``Function`` subclass
plus a small functional wrapper; ``Tensor`` methods call the wrappers."""
from .arithmetic import add, sub, mul, div, neg, pow, matmul, sum_to, lift
from .math import exp, log, sqrt, abs, clamp, maximum, minimum, where, erf, cast
from .reduction import sum, mean, var, std, max, min, logsumexp
from .shape import (reshape, permute, transpose, flip, broadcast_to, expand, repeat, squeeze,
                    unsqueeze, flatten)
from .indexing import getitem, gather, scatter_add, index_select
from .join import cat, stack, split, chunk, pad
from .activation import (relu, leaky_relu, sigmoid, tanh, softplus, elu, silu, gelu, softmax,
                         log_softmax)
from .device import to_backend
