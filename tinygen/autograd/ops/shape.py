"""Shape ops: reshape, permute/transpose, flip, broadcast (expand), repeat, squeeze, unsqueeze,
flatten.

They move no numbers, so each backward is the inverse move of the gradient:
reshape back, permute by the inverse permutation, flip back, sum what was broadcast.
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module
from ..function import Function


class Reshape(Function):
    """y = x viewed with another shape of the same size"""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.inputs[0].shape)


class Permute(Function):
    """y = x with its axes reordered;  ∂L/∂x = ∂L/∂y with the inverse order"""

    def __init__(self, axes):
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        inverse = tuple(int(i) for i in np.argsort(self.axes))
        return permute(gy, inverse)


class Flip(Function):
    """y[..., i, ...] = x[..., n-1-i, ...] along each of ``dims``;  ∂L/∂x = ∂L/∂y flipped the same way"""

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return get_array_module(x).flip(x, self.dims)

    def backward(self, gy):
        return flip(gy, self.dims)


class BroadcastTo(Function):
    """y = x broadcast to ``shape``;  ∂L/∂x = ∂L/∂y summed over the broadcast axes"""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        from .arithmetic import sum_to
        return sum_to(gy, self.inputs[0].shape)


class Tile(Function):
    """y = x tiled ``reps`` times along each axis (PyTorch's ``repeat``)"""

    def __init__(self, reps):
        self.reps = reps

    def forward(self, x):
        return get_array_module(x).tile(x, self.reps)

    def backward(self, gy):
        from .reduction import sum
        shape = self.inputs[0].shape
        split = []
        for r, s in zip(self.reps, shape):
            split += [r, s]
        g = reshape(gy, tuple(split))
        return sum(g, tuple(range(0, 2 * len(shape), 2)))


def _resolve_shape(shape, size):
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred (-1)")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        if known == 0 or size % known:
            raise RuntimeError(f"shape {shape} is invalid for input of size {size}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if int(np.prod(shape)) != size:
        raise RuntimeError(f"shape {shape} is invalid for input of size {size}")
    return shape


def reshape(x, shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = _resolve_shape(shape, x.data.size)
    if shape == x.shape:
        return x
    return Reshape(shape)(x)


def permute(x, axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    nd = x.ndim
    axes = tuple(int(a) % nd for a in axes) if nd else tuple(axes)
    if sorted(axes) != list(range(nd)):
        raise RuntimeError(f"permute: {axes} is not a permutation of {nd} dims")
    if axes == tuple(range(nd)):
        return x
    return Permute(axes)(x)


def transpose(x, dim0, dim1):
    nd = x.ndim
    if nd == 0:
        return x
    axes = list(range(nd))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return permute(x, tuple(axes))


def flip(x, dims):
    """PyTorch's flip: reverse the order of the entries along ``dims`` (an int or a tuple)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    nd = x.ndim
    if any(not -nd <= d < nd for d in dims):
        raise IndexError(f"flip: dims {dims} out of range for a tensor with {nd} dims")
    dims = tuple(sorted({int(d) % nd for d in dims}))
    if not dims:
        return x
    return Flip(dims)(x)


def broadcast_to(x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return BroadcastTo(shape)(x)


def expand(x, *sizes):
    """PyTorch's expand: -1 keeps a dimension; new leading dims may be added."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise RuntimeError(f"expand: {len(sizes)} sizes given for a tensor with {x.ndim} dims")
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def repeat(x, *reps):
    if len(reps) == 1 and isinstance(reps[0], (tuple, list)):
        reps = tuple(reps[0])
    reps = tuple(int(r) for r in reps)
    if len(reps) < x.ndim:
        raise RuntimeError("repeat: give at least as many repeats as the tensor has dims")
    x = reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    return Tile(reps)(x)


def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {d % x.ndim for d in dims} if x.ndim else set()
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dim {dim} out of range for {x.ndim} dims")
    dim %= nd
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    n = int(np.prod(x.shape[s:e + 1]))
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])
