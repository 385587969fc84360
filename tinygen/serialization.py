"""``tg.save`` / ``tg.load``: nested state (dicts, lists, numbers, arrays) as one ``.npz``.

Arrays go into the archive under generated names; the structure around them
(dict keys with their types, lists, tuples, numbers, strings, None) is kept as
JSON in one string entry, so loading needs no pickle (``allow_pickle=False``).

Writes are atomic: the archive is written to a temporary file in the same
folder, flushed to disk, then renamed over the target, so a crash mid-write
leaves any previous file intact.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from . import backend as _backend
from .autograd.tensor import Tensor

_META = "__tinygen_structure__"


class CheckpointError(RuntimeError):
    """A file that tg.load cannot read: missing, truncated or corrupt."""


def _encode(obj, arrays):
    if isinstance(obj, Tensor):
        obj = obj.data
    if hasattr(obj, "__array_interface__") or hasattr(obj, "__cuda_array_interface__"):
        if isinstance(obj, np.generic):
            return obj.item()
        name = f"a{len(arrays)}"
        arrays[name] = _backend.to_numpy(obj)
        return {"__array__": name}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode_key(k), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"tg.save cannot store objects of type {type(obj).__name__}; use dicts, "
                    f"lists, tuples, numbers, strings, arrays and Tensors")


def _encode_key(k):
    if isinstance(k, (bool, int, float, str)) or k is None:
        return [type(k).__name__, k]
    raise TypeError(f"tg.save: dict keys must be str/int/float/bool, not {type(k).__name__}")


def _decode_key(pair):
    kind, value = pair
    return {"int": int, "float": float, "bool": bool, "str": str}.get(kind, lambda v: v)(value)


def _decode(obj, archive, to):
    if isinstance(obj, dict):
        if "__array__" in obj:
            array = archive[obj["__array__"]]
            return _backend.to_backend(array, to) if to else array
        if "__dict__" in obj:
            return {_decode_key(k): _decode(v, archive, to) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, archive, to) for v in obj["__tuple__"])
        if "__float__" in obj:
            return float(obj["__float__"])
    if isinstance(obj, list):
        return [_decode(v, archive, to) for v in obj]
    return obj


def save(obj, path, compress=False):
    """Write ``obj`` (e.g. {'model': model.state_dict(), 'epoch': 3}) to ``path`` atomically.

    ``compress=True`` deflates the archive (np.savez_compressed): slower to write, a few
    per cent smaller for weights; ``load`` reads either.
    """
    path = os.fspath(path)
    arrays = {}
    structure = json.dumps(_encode(obj, arrays))
    arrays[_META] = np.array(structure)
    atomic_savez(path, arrays, compress=compress)


def atomic_savez(path, arrays, mode=0o644, compress=False):
    """np.savez to a temporary file in the same folder, fsync, then rename over ``path``.

    The rename is atomic, so readers see the old file or the new one, never half of one.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)   # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path, backend=None):
    """Read what ``save`` wrote. Arrays come back as NumPy arrays, or on ``backend`` if given."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            if _META not in archive.files:
                raise CheckpointError(f"{path} is an .npz but not one written by tg.save "
                                      f"(no {_META} entry)")
            structure = json.loads(str(archive[_META]))
            arrays = {name: archive[name] for name in archive.files if name != _META}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, KeyError, json.JSONDecodeError,
            zipfile.LargeZipFile) as exc:
        raise CheckpointError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}); "
                              f"delete it, or restore an earlier copy") from exc
    return _decode(structure, arrays, backend)
