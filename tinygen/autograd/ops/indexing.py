"""Indexing: ``x[key]``, gather, scatter_add, index_select.

Reading with an index in forward means writing with the same index in
backward. Repeated indices (``x[[0, 0]]``) must *add* their gradients, so the
backward uses an unbuffered scatter-add (``np.add.at`` / ``cupyx.scatter_add``)
whenever the key holds integer arrays; plain slices can be assigned directly.
Each of GetItem and ScatterAdd is the other's backward, which makes double
backward work through indexing.
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ..function import Function
from ..tensor import Tensor


def _xp(a):
    return get_array_module(a)


def _sorted_axis_index(key):
    """(axis, index) when ``key`` is slices then one nondecreasing, non-negative 1-D integer
    array (what index_select and nearest upsampling read with), else None."""
    *lead, index = key
    plain_lead = all(isinstance(k, slice) and k == slice(None) for k in lead)
    if not (plain_lead and isinstance(index, np.ndarray) and index.ndim == 1 and index.dtype.kind in "iu"
            and len(index) and index[0] >= 0 and (index[1:] >= index[:-1]).all()):   # -1 aliases n-1
        return None
    return len(lead), index


def _scatter_add_into(out, key, values):
    """out[key] += values, adding repeated positions (unbuffered)."""
    xp = _xp(out)
    if xp is np:
        sorted_axis = _sorted_axis_index(key)
        if sorted_axis is None:
            np.add.at(out, key, values)
            return
        # a sorted index: each run of equal indices is one add.reduceat sum, written to
        # distinct positions (np.add.at's element-by-element loop was ~10x slower here)
        axis, index = sorted_axis
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        out[(slice(None),) * axis + (index[starts],)] += np.add.reduceat(values, starts, axis=axis)
    else:
        import cupyx
        cupyx.scatter_add(out, key, values)


def _normalize_key(key, xp):
    """Turn Tensors into arrays, lists into integer arrays, and boolean masks into
    their nonzero integer indices (``add.at`` needs integer indices)."""
    if not isinstance(key, tuple):
        key = (key,)
    out, advanced = [], False
    for k in key:
        if isinstance(k, Tensor):
            k = k.data
        elif isinstance(k, list):
            k = xp.asarray(k)
        elif isinstance(k, np.ndarray) and xp is not np:
            k = xp.asarray(k)        # a host index or mask for a device tensor, as PyTorch allows
        if hasattr(k, "dtype") and hasattr(k, "ndim") and not np.isscalar(k):
            if k.dtype == bool:
                out.extend(xp.nonzero(k))
                advanced = True
                continue
            if k.ndim == 0 and k.dtype.kind in "iu":
                k = int(k)
            else:
                advanced = True
        out.append(k)
    return tuple(out), advanced


class GetItem(Function):
    """y = x[key]"""

    def __init__(self, key, advanced):
        self.key, self.advanced = key, advanced

    def forward(self, x):
        y = x[self.key]
        return y

    def backward(self, gy):
        return GetItemGrad(self.key, self.advanced, self.inputs[0].shape)(gy)


class GetItemGrad(Function):
    """gx = zeros(shape); gx[key] += gy — the adjoint of GetItem"""

    def __init__(self, key, advanced, shape):
        self.key, self.advanced, self.shape = key, advanced, shape

    def forward(self, gy):
        gx = _xp(gy).zeros(self.shape, dtype=gy.dtype)
        if self.advanced:
            _scatter_add_into(gx, self.key, gy)
        else:
            gx[self.key] = gy
        return gx

    def backward(self, ggx):
        return GetItem(self.key, self.advanced)(ggx)


def getitem(x, key):
    xp = _xp(x.data)
    key, advanced = _normalize_key(key, xp)
    return GetItem(key, advanced)(x)


def _gather_key(index, dim):
    """The advanced-index tuple that reads x[i0, ..., index[i], ..., ik]."""
    xp = _xp(index)
    # open grids, one broadcastable arange per axis (CuPy's indices() has no sparse=True)
    ndim = index.ndim
    grids = [xp.arange(n).reshape((1,) * i + (n,) + (1,) * (ndim - i - 1)) for i, n in enumerate(index.shape)]
    grids[dim] = index
    return tuple(grids)


class Gather(Function):
    """y[i][j][k] = x[i][index[i][j][k]][k]  (for dim = 1), as torch.gather"""

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        return x[_gather_key(self.index, self.dim)]

    def backward(self, gy):
        return ScatterAdd(self.dim, self.index, self.inputs[0].shape)(gy)


class ScatterAdd(Function):
    """out = zeros(shape); out[..index..] += src — the adjoint of Gather"""

    def __init__(self, dim, index, shape):
        self.dim, self.index, self.shape = dim, index, shape

    def forward(self, src):
        out = _xp(src).zeros(self.shape, dtype=src.dtype)
        _scatter_add_into(out, _gather_key(self.index, self.dim), src)
        return out

    def backward(self, gout):
        return Gather(self.dim, self.index)(gout)


def _index_array(index):
    return index.data if isinstance(index, Tensor) else index


def gather(x, dim, index):
    index = _index_array(index)
    dim %= max(x.ndim, 1)
    if index.ndim != x.ndim:
        raise RuntimeError(f"gather: index has {index.ndim} dims but input has {x.ndim}")
    for d in range(x.ndim):
        if d != dim and index.shape[d] > x.shape[d]:
            raise RuntimeError(f"gather: index size {index.shape[d]} exceeds input size "
                               f"{x.shape[d]} in dim {d}")
    return Gather(dim, index.astype(np.int64, copy=False))(x)


def scatter_add(src, dim, index, shape):
    """A new tensor of ``shape``, zero except ``out[..index..] += src`` (differentiable in src)."""
    index = _index_array(index)
    return ScatterAdd(dim % len(shape), index.astype(np.int64, copy=False), tuple(shape))(src)


def index_select(x, dim, index):
    index = _index_array(index)
    key = (slice(None),) * (dim % x.ndim) + (index,)
    return getitem(x, key)
