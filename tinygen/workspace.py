"""Large NumPy temporaries kept and reused from one training step to the next.

A training step allocates and frees the same large arrays every time: im2col copies,
GEMM outputs, col2im planes (tens of MB each). glibc's malloc serves blocks that large
with mmap, or trims them off its heap once freed, so each step faults the same memory in
again: about 3,000 page faults and +20% time per seed-VAE step, 24,000 and +27% per
DDPM U-Net step here (BENCHMARKS.md). ``tune_host_allocator`` changes malloc's thresholds,
which is a process-wide setting; this module instead keeps the conv kernels' blocks
itself, as CuPy's memory pool does on the GPU, so a plain training script runs at the
tuned speed.

A block is a flat uint8 array; ``empty(shape, dtype)`` hands out a view of the first
bytes of the smallest free block that holds the request and is at most twice its size
(blocks of nearby sizes serve each other, so fewer are held; a new block otherwise).
A block is free again once no array refers to it: every NumPy
view of it holds a reference to the block (its ``base``), so the block's reference count
says how many views are alive. Blocks beyond ``max_bytes`` in all are not kept (free ones
are dropped first, the request then falls back to a plain ``np.empty``); arrays below
``min_bytes`` are left to malloc. CuPy arrays never come here: CuPy pools device memory.
"""
from __future__ import annotations

import sys

import numpy as np

# references to a free block while ``_free_block`` looks at it: the pool's list, the
# loop variable, and getrefcount's own argument
_UNUSED_REFS = 3


class Workspace:
    def __init__(self, min_bytes=1 << 20, max_bytes=2 << 30):
        self.min_bytes, self.max_bytes = min_bytes, max_bytes
        self.blocks = {}                  # size in bytes → blocks of that size
        self.total = 0

    def empty(self, shape, dtype):
        """An uninitialised array of ``shape`` and ``dtype`` on a reused block."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.empty(shape, dtype)
        block = self._free_block(nbytes)
        if block is None:
            if self.total + nbytes > self.max_bytes:
                self.release()
            if self.total + nbytes > self.max_bytes:
                return np.empty(shape, dtype)
            block = np.empty(nbytes, np.uint8)
            self.blocks.setdefault(nbytes, []).append(block)
            self.total += nbytes
        return block[:nbytes].view(dtype).reshape(shape)

    def zeros(self, shape, dtype):
        out = self.empty(shape, dtype)
        out.fill(0)
        return out

    def _free_block(self, nbytes):
        # best fit among the free blocks of nbytes up to twice that: blocks of nearby sizes
        # serve each other, so the pool holds fewer of them
        for size in sorted(self.blocks):
            if nbytes <= size <= 2 * nbytes:
                for block in self.blocks[size]:
                    if sys.getrefcount(block) == _UNUSED_REFS:
                        return block
        return None

    def release(self):
        """Drop every block no array uses any more (their memory goes back to malloc)."""
        for nbytes, blocks in list(self.blocks.items()):
            kept = [block for block in blocks if sys.getrefcount(block) > _UNUSED_REFS]
            self.total -= nbytes * (len(blocks) - len(kept))
            self.blocks[nbytes] = kept


_workspace = Workspace()


def empty(xp, shape, dtype):
    """``xp.empty(shape, dtype)``, from the workspace when xp is NumPy."""
    return _workspace.empty(shape, dtype) if xp is np else xp.empty(shape, dtype=dtype)


def zeros(xp, shape, dtype):
    """``xp.zeros(shape, dtype)``, from the workspace when xp is NumPy."""
    return _workspace.zeros(shape, dtype) if xp is np else xp.zeros(shape, dtype=dtype)


def release_workspace():
    """Hand the memory of every unused workspace block back (e.g. after training, before a
    long evaluation at another batch size)."""
    _workspace.release()
