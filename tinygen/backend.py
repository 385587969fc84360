"""Array backends: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every kernel in tinygen asks its inputs which array module they live in
(``xp = get_array_module(array)``) and then calls ``xp.<function>``, so one
code path serves both backends. This file is the only place that knows CuPy
exists.

    >>> import tinygen as tg
    >>> tg.use_backend("cupy")          # from now on new tensors live on the GPU
    >>> with tg.use_backend("numpy"):   # ...except inside this block
    ...     x = tg.randn(3)
"""
from __future__ import annotations

import numpy as np

BACKENDS = ("numpy", "cupy")

_active = "numpy"
_cupy = None          # the cupy module once it was imported and a GPU was found
_cupy_error = None    # why CuPy cannot be used, once we know


def _load_cupy():
    """Import CuPy and check that a GPU is visible; raise a RuntimeError that says how to fix it."""
    global _cupy, _cupy_error
    if _cupy is not None:
        return _cupy
    if _cupy_error is None:
        try:
            import cupy
        except ImportError:
            _cupy_error = ("the 'cupy' backend needs CuPy, which is not installed. "
                           "Install it with `pip install -e \".[cuda12]\"` (CUDA 12) or "
                           "`pip install -e \".[cuda13]\"` (CUDA 13), or use the 'numpy' backend.")
        else:
            try:
                count = cupy.cuda.runtime.getDeviceCount()
            except Exception as exc:  # CUDA driver missing or broken
                count, reason = 0, f" ({type(exc).__name__}: {exc})"
            else:
                reason = ""
            if count == 0:
                _cupy_error = ("the 'cupy' backend needs an NVIDIA GPU, but CuPy sees none" + reason +
                               ". Run on a machine with a GPU, or use the 'numpy' backend.")
            else:
                _cupy = cupy
    if _cupy is None:
        raise RuntimeError(_cupy_error)
    return _cupy


def cupy_available() -> bool:
    """True when CuPy is installed and a GPU is visible (never raises)."""
    try:
        _load_cupy()
    except RuntimeError:
        return False
    return True


def _check_name(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    return name


def module(name: str):
    """The array module for a backend name: numpy or cupy."""
    if _check_name(name) == "numpy":
        return np
    return _load_cupy()


def get_backend() -> str:
    """The name of the active backend, where new tensors are created."""
    return _active


class use_backend:
    """Make ``name`` the active backend, as a call or as a context manager.

    ``tg.use_backend("cupy")`` switches for good; ``with tg.use_backend("cupy"):``
    switches back when the block ends.
    """

    def __init__(self, name: str):
        global _active
        _check_name(name)
        if name == "cupy":
            _load_cupy()
        self.previous, self.name = _active, name
        _active = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _active
        _active = self.previous
        return False


def get_array_module(array):
    """numpy or cupy, whichever ``array`` (an ndarray, a Tensor, or a scalar) belongs to."""
    data = getattr(array, "data", array)
    if isinstance(data, np.ndarray) or np.isscalar(data) or isinstance(data, np.generic):
        return np
    if _cupy is not None and isinstance(data, _cupy.ndarray):
        return _cupy
    if type(data).__module__.startswith("cupy"):
        return _load_cupy()
    return np


def backend_of(array) -> str:
    """'numpy' or 'cupy', the backend an array or Tensor lives on."""
    return "numpy" if get_array_module(array) is np else "cupy"


def active_module():
    """The array module of the active backend."""
    return np if _active == "numpy" else _load_cupy()


def to_backend(array, name: str):
    """Copy an array onto backend ``name`` (no copy when it is already there)."""
    xp = module(name)
    if xp is np:
        if isinstance(array, np.ndarray):
            return array
        if hasattr(array, "get"):     # a cupy array: one device-to-host copy
            return array.get()
        return np.asarray(array)
    return xp.asarray(array)


def to_numpy(array) -> np.ndarray:
    """A NumPy copy of any array (host copy for CuPy arrays)."""
    return to_backend(array, "numpy")
