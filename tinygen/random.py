"""Random numbers for both backends, drawn directly in the requested dtype.

One NumPy ``Generator`` serves the CPU, and CuPy's generator the GPU;
``manual_seed`` seeds both, and ``get_rng_state``/``set_rng_state`` save and
restore them so that a resumed training run draws the same numbers.
"""
from __future__ import annotations

import numpy as np

from . import backend as _backend

_numpy_generator = np.random.default_rng(0)


def manual_seed(seed: int):
    """Seed every backend's generator."""
    global _numpy_generator
    _numpy_generator = np.random.default_rng(int(seed))
    if _backend._cupy is not None or _backend.cupy_available():
        _backend._cupy.random.seed(int(seed))


def generator():
    """The NumPy generator tinygen draws from (for host-side sampling, e.g. shuffling)."""
    return _numpy_generator


def get_rng_state() -> dict:
    """A snapshot of the NumPy generator (the GPU generator is re-seeded from it on resume)."""
    return {"numpy_bit_generator": _numpy_generator.bit_generator.state}


def set_rng_state(state: dict):
    _numpy_generator.bit_generator.state = state["numpy_bit_generator"]


def _module(device):
    return _backend.module(device or _backend.get_backend())


def _float_dtype(dtype):
    from .autograd.tensor import get_default_dtype, resolve_dtype
    dtype = resolve_dtype(dtype) or get_default_dtype()
    if dtype.kind != "f":
        raise TypeError(f"random floats need a float dtype, not {dtype}")
    return dtype


def uniform_array(shape, low=0.0, high=1.0, dtype=None, device=None):
    dtype = _float_dtype(dtype)
    xp = _module(device)
    if xp is np:
        u = _numpy_generator.random(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
    else:
        u = xp.random.random_sample(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64)
    u = u.astype(dtype, copy=False)
    if low != 0.0 or high != 1.0:
        u = u * dtype.type(high - low) + dtype.type(low)
    return u


def normal_array(shape, mean=0.0, std=1.0, dtype=None, device=None):
    dtype = _float_dtype(dtype)
    xp = _module(device)
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    if xp is np:
        z = _numpy_generator.standard_normal(shape, dtype=draw_dtype)
    else:
        z = xp.random.standard_normal(shape, dtype=draw_dtype)
    z = z.astype(dtype, copy=False)
    if mean != 0.0 or std != 1.0:
        z = z * dtype.type(std) + dtype.type(mean)
    return z


def integers_array(low, high, shape, device=None):
    xp = _module(device)
    if xp is np:
        return _numpy_generator.integers(low, high, size=shape, dtype=np.int64)
    return xp.random.randint(low, high, size=shape, dtype=np.int64)


def permutation_array(n, device=None):
    xp = _module(device)
    if xp is np:
        return _numpy_generator.permutation(n)
    return xp.random.permutation(n)
