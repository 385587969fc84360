"""Nearest-neighbour upsampling by an integer factor s, as a pair of block ops.

    forward:  y[n, c, i, j] = x[n, c, ⌊i/s⌋, ⌊j/s⌋]        (each pixel becomes an s×s block)
    backward: ∂x[n, c, h, w] = Σ_{a,b < s} ∂y[n, c, s·h + a, s·w + b]   (each block summed)

Each is the other's adjoint, so the backward is itself differentiable (double backward).

Both work in their input's own memory order: a conv's output is batch-last in memory
(an NCHW-shaped view of (C, H, W, N), see im2col.py), and an upsampled copy in plain
NCHW order would make every elementwise op after it, and the next conv's transposing
copy, pay for the mixed layouts. So the array is first seen in memory order (a view),
the s×s blocks are written or summed there, and the result is seen as NCHW again.
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...backend import get_array_module


def _memory_order(a):
    """The axes of ``a`` from the largest stride to the smallest, and ``a`` seen in that
    order as a C-contiguous array (copied in NCHW order first if it is no permutation of one)."""
    xp = get_array_module(a)
    order = tuple(int(i) for i in np.argsort([-abs(s) for s in a.strides], kind="stable"))
    seen = a.transpose(order)
    if not seen.flags.c_contiguous:
        a = xp.ascontiguousarray(a)
        order, seen = tuple(range(a.ndim)), a
    return order, seen


def _split_spatial(shape, order, s, blocks):
    """``shape`` (in memory order) with H and W (axes 2, 3) each followed by a block axis:
    of size s (``blocks``) or with the spatial size divided by s."""
    out, block_axes = [], []
    for size, axis in zip(shape, order):
        if axis in (2, 3):
            out += [size, s] if blocks else [size // s, s]
            block_axes.append(len(out) - 1)
        else:
            out.append(size)
    return out, tuple(block_axes)


def _inverse(order):
    return tuple(int(i) for i in np.argsort(order))


def _block_offsets(ndim, block_axes, s):
    """The s² index tuples that pick offset (a, b) in every block: each one strided sub-grid.
    (Summing or filling the blocks offset by offset, s² whole-array passes, is ~10x faster in
    NumPy than a reduction or broadcast over the size-s axes, whose inner loops are too short.)"""
    for a in range(s):
        for b in range(s):
            key = [slice(None)] * ndim
            key[block_axes[0]], key[block_axes[1]] = a, b
            yield tuple(key)


def repeat_blocks(x, s):
    """Each pixel of (N, C, H, W) ``x`` as an s×s block: (N, C, sH, sW), in x's memory order."""
    xp = get_array_module(x)
    order, seen = _memory_order(x)
    split, block_axes = _split_spatial(seen.shape, order, s, blocks=True)
    out = xp.empty(split, dtype=x.dtype)
    for key in _block_offsets(len(split), block_axes, s):
        out[key] = seen
    grown = [n * s if axis in (2, 3) else n for n, axis in zip(seen.shape, order)]
    return out.reshape(grown).transpose(_inverse(order))


def sum_blocks(g, s):
    """Σ over each s×s block of (N, C, sH, sW) ``g``: (N, C, H, W), in g's memory order."""
    order, seen = _memory_order(g)
    split, block_axes = _split_spatial(seen.shape, order, s, blocks=False)
    blocks = seen.reshape(split)
    first, *rest = _block_offsets(len(split), block_axes, s)
    total = blocks[first].copy()
    for key in rest:
        total += blocks[key]
    return total.transpose(_inverse(order))


class NearestUpsample(Function):
    """y = each pixel of x repeated over an s×s block;  ∂x = ∂y summed over each block"""

    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        return repeat_blocks(x, self.scale)

    def backward(self, gy):
        return BlockSum(self.scale)(gy)


class BlockSum(Function):
    """y = x summed over each s×s block (the adjoint of NearestUpsample);  ∂x = ∂y repeated"""

    def __init__(self, scale):
        self.scale = scale

    def forward(self, x):
        return sum_blocks(x, self.scale)

    def backward(self, gy):
        return NearestUpsample(self.scale)(gy)


def upsample_nearest(x, scale):
    """(N, C, H, W) → (N, C, sH, sW), each pixel an s×s block (integer s ≥ 1)."""
    return NearestUpsample(int(scale))(x)
