"""The IDX file format of MNIST and Fashion-MNIST (raw or gzipped).

Header: two zero bytes, a type code (0x08 = uint8, ...), the number of
dimensions d, then d big-endian uint32 sizes; the data follows, big-endian.
"""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
          np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


class IDXError(ValueError):
    pass


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise IDXError(f"{name} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype = np.dtype(_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{name} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IDXError(f"{name} holds {len(raw) - header} data bytes but its header "
                       f"{shape} needs {expected}: the file is truncated or corrupt")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path) -> np.ndarray:
    """Read an IDX file; a name ending in .gz is decompressed."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:   # gzip raises these on damaged archives
        raise IDXError(f"{path} cannot be read ({exc}); delete it and fetch it again") from exc
    return parse_idx(raw, path)


def write_idx(array, path):
    """Write an array as IDX (gzipped when the name ends in .gz)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("=") if array.dtype.byteorder != "|" else array.dtype)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}")
    big_endian = array.astype(array.dtype.newbyteorder(">"), copy=False)
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + \
        big_endian.tobytes()
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(raw)
