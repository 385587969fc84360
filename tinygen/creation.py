"""Tensor constructors, named and shaped as in PyTorch."""
from __future__ import annotations

import numpy as np

from . import backend as _backend
from . import random as _random
from .autograd.tensor import Tensor, as_array, constant
from .dtypes import get_default_dtype, resolve_dtype


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _finish(array, requires_grad):
    t = constant(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _xp(device):
    return _backend.module(device) if device else _backend.active_module()


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf tensor holding a copy of ``data`` (as torch.tensor: later changes to either
    side do not reach the other; ``from_numpy`` shares instead). float64 and Python floats
    become float32 unless ``dtype`` says otherwise."""
    raw = data.data if isinstance(data, Tensor) else data
    array = as_array(data, dtype, _xp(device))
    if array is raw or (isinstance(raw, np.ndarray) and isinstance(array, np.ndarray)
                        and np.may_share_memory(array, raw)):
        array = array.copy()
    return _finish(array, requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return tensor(data, dtype, device=device)


def from_numpy(array):
    """Wrap a NumPy array, keeping its dtype (as torch.from_numpy does)."""
    return _finish(as_array(array, array.dtype, _xp(None)), False)


def _filled(fill, size, dtype, requires_grad, device):
    dtype = resolve_dtype(dtype) or get_default_dtype()
    return _finish(_xp(device).full(_shape(size), fill, dtype=dtype), requires_grad)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    return _filled(0, size, dtype, requires_grad, device)


def ones(*size, dtype=None, requires_grad=False, device=None):
    return _filled(1, size, dtype, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None and isinstance(fill_value, bool):
        dtype = np.bool_
    elif dtype is None and isinstance(fill_value, int):
        dtype = np.int64
    return _filled(fill_value, (size,), dtype, requires_grad, device)


def empty(*size, dtype=None, requires_grad=False, device=None):
    return zeros(*size, dtype=dtype, requires_grad=requires_grad, device=device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    if end is None:
        start, end = 0, start
    if dtype is None and all(isinstance(v, (int, np.integer)) for v in (start, end, step)):
        dtype = np.int64
    dtype = resolve_dtype(dtype) or get_default_dtype()
    return _finish(_xp(device).arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start, end, steps, dtype=None, device=None):
    dtype = resolve_dtype(dtype) or get_default_dtype()
    return _finish(_xp(device).linspace(start, end, steps, dtype=dtype), False)


def eye(n, m=None, dtype=None, device=None):
    dtype = resolve_dtype(dtype) or get_default_dtype()
    return _finish(_xp(device).eye(n, m, dtype=dtype), False)


def rand(*size, dtype=None, requires_grad=False, device=None):
    """Uniform on [0, 1)."""
    return _finish(_random.uniform_array(_shape(size), 0.0, 1.0, dtype, device), requires_grad)


def randn(*size, dtype=None, requires_grad=False, device=None):
    """Standard normal."""
    return _finish(_random.normal_array(_shape(size), 0.0, 1.0, dtype, device), requires_grad)


def randint(low, high=None, size=(), device=None):
    if high is None:
        low, high = 0, low
    return _finish(_random.integers_array(low, high, tuple(size), device), False)


def randperm(n, device=None):
    return _finish(_random.permutation_array(n, device).astype(np.int64), False)


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=t.device)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=t.device)
