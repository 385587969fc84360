"""Random numbers for both backends, drawn directly in the requested dtype.

One NumPy ``Generator`` serves the CPU, and CuPy's generator the GPU;
``manual_seed`` seeds both, and ``get_rng_state``/``set_rng_state`` save and
restore them so that a resumed training run draws the same numbers.

CuPy's generator cannot report its position, so tinygen moves it to known places
instead: the GPU stream is the stream of seed hash(seed, k), and every
``get_rng_state()`` (the examples take one before each batch) returns k and moves on
to stream k + 1. ``set_rng_state`` puts k back, so the next batch of a resumed run
draws from the same GPU stream as the uninterrupted run did.
"""
from __future__ import annotations

import numpy as np

from . import backend as _backend
from .dtypes import get_default_dtype, resolve_dtype

_numpy_generator = np.random.default_rng(0)
_gpu_stream = {"seed": 0, "index": 0}       # the CuPy generator draws from stream hash(seed, index)


def _seed_gpu_stream():
    if _backend._cupy is not None or _backend.cupy_available():
        key = np.random.SeedSequence([_gpu_stream["seed"], _gpu_stream["index"]]).generate_state(1, np.uint64)[0]
        _backend._cupy.random.seed(int(key) >> 1)


def manual_seed(seed: int):
    """Seed every backend's generator."""
    global _numpy_generator
    _numpy_generator = np.random.default_rng(int(seed))
    _gpu_stream.update(seed=int(seed), index=0)
    _seed_gpu_stream()


def generator():
    """The NumPy generator tinygen draws from (for host-side sampling, e.g. shuffling)."""
    return _numpy_generator


def get_rng_state() -> dict:
    """A snapshot of both generators; the GPU one then moves on to its next stream."""
    state = {"numpy_bit_generator": _numpy_generator.bit_generator.state,
             "gpu_stream": [_gpu_stream["seed"], _gpu_stream["index"]]}
    if _backend._cupy is not None:
        _gpu_stream["index"] += 1
        _seed_gpu_stream()
    return state


def set_rng_state(state: dict):
    _numpy_generator.bit_generator.state = state["numpy_bit_generator"]
    if "gpu_stream" in state:          # older checkpoints kept the NumPy state alone
        seed, index = state["gpu_stream"]
        _gpu_stream.update(seed=int(seed), index=int(index))
        if _backend._cupy is not None:
            _seed_gpu_stream()


def _module(device):
    return _backend.module(device or _backend.get_backend())


def _float_dtype(dtype):
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
