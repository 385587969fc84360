"""tinygen: a from-scratch deep learning library on NumPy or CuPy."""
import numpy as _np

from .backend import use_backend, get_backend, get_array_module, cupy_available
from .host_allocator import tune_host_allocator
from .autograd.tensor import Tensor
from .dtypes import get_default_dtype, set_default_dtype
from .autograd import no_grad, enable_grad, set_grad_enabled
from . import autograd
from .random import manual_seed, get_rng_state, set_rng_state
from .creation import (tensor, as_tensor, from_numpy, zeros, ones, full, empty, arange, linspace,
                       eye, rand, randn, randint, randperm, zeros_like, ones_like, full_like,
                       rand_like, randn_like)
from .autograd.ops import (exp, log, sqrt, abs, clamp, maximum, minimum, where, matmul, cat,
                           stack, split, chunk, gather, reshape, permute, transpose, flip, squeeze,
                           unsqueeze, flatten, logsumexp, erf)
from .autograd.ops import sum, mean, var, std, max, min  # noqa: A004  (PyTorch's names)
from . import nn, optim
from .serialization import save, load, CheckpointError

clip = clamp
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
float16 = _np.dtype(_np.float16)
int64 = _np.dtype(_np.int64)
int32 = _np.dtype(_np.int32)
uint8 = _np.dtype(_np.uint8)
bool_ = _np.dtype(_np.bool_)
long = int64


def sigmoid(x):
    return nn.functional.sigmoid(x)


def tanh(x):
    return nn.functional.tanh(x)


def relu(x):
    return nn.functional.relu(x)


def argmax(x, dim=None, keepdim=False):
    return x.argmax(dim, keepdim)


def argmin(x, dim=None, keepdim=False):
    return x.argmin(dim, keepdim)


def numel(x):
    return x.numel()


def is_tensor(x):
    return isinstance(x, Tensor)


__version__ = "0.1.0"
