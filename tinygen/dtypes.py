"""Dtype names and the default float dtype, below everything that makes arrays.

Python floats and float64 data become the default dtype (float32 unless changed),
so nothing is promoted to float64 by accident. ``random`` and ``autograd`` both
read it, so it lives under both.
"""
from __future__ import annotations

import numpy as np

_DTYPE_NAMES = {"float32": np.float32, "float64": np.float64, "float16": np.float16,
                "int64": np.int64, "int32": np.int32, "int8": np.int8, "uint8": np.uint8,
                "bool": np.bool_, "long": np.int64, "int": np.int32, "float": np.float32,
                "double": np.float64, "half": np.float16}

_default_dtype = np.dtype(np.float32)


def get_default_dtype():
    return _default_dtype


def set_default_dtype(dtype):
    """The float dtype for Python floats and float64 data (float32 unless changed)."""
    global _default_dtype
    dtype = resolve_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be a float type, not {dtype}")
    _default_dtype = dtype


def resolve_dtype(dtype):
    """np.dtype for "float32", np.float32, np.dtype('float32'), ...; None stays None."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPE_NAMES)}")
        return np.dtype(_DTYPE_NAMES[dtype])
    return np.dtype(dtype)
