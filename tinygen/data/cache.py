"""Where datasets are cached, and how a cache file is written and checked.

A cache file is written to a temporary name and renamed into place, so a
half-written file is never seen; each array's SHA-256 is stored beside it and
checked on load, so a damaged file is caught and rebuilt instead of used.
"""
from __future__ import annotations

import hashlib
import os
import zipfile

import numpy as np


def data_root(root=None) -> str:
    """$TINYGEN_DATA, or ~/.cache/tinygen."""
    root = root or os.environ.get("TINYGEN_DATA") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                  "tinygen")
    os.makedirs(root, exist_ok=True)
    return root


def sha256_of_array(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def sha256_of_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_arrays(path, arrays: dict):
    """Atomically write arrays plus their SHA-256 digests to an .npz."""
    from ..serialization import atomic_savez
    stored = dict(arrays)
    for name, a in arrays.items():
        stored[f"sha256_{name}"] = np.array(sha256_of_array(a))
    atomic_savez(path, stored)


def read_arrays(path, names):
    """Read ``names`` from a cache .npz written by write_arrays; None if it is damaged."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            out = {}
            for name in names:
                array = archive[name]
                if str(archive[f"sha256_{name}"]) != sha256_of_array(array):
                    return None
                out[name] = array
            return out
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
