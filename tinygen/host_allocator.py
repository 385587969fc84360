"""Keep NumPy's freed memory for reuse instead of handing it back to the OS.

A training step allocates and frees the same large arrays every time (im2col
buffers, activations, gradients: tens of MB each). By default glibc's malloc
serves such blocks with mmap and returns them on free, so every step pays page
faults and the kernel's zero-fill for all of them again: about 15% of a
seed-VAE step on the project's 2-core machine (BENCHMARKS.md). Raising malloc's
mmap threshold serves them from the heap, and raising its trim threshold keeps
the freed heap for the next step: the same memory is reused, peak memory is
unchanged.

    import tinygen as tg
    tg.tune_host_allocator()     # once, at the start of a training script

The examples call it (through ``experiment.Run``), and so do the benchmarks, for
tinygen and PyTorch alike (they share the process's malloc). It changes a
process-wide setting, which is why importing tinygen does not do it; without it, the
conv kernels' largest blocks still come from tinygen's own workspace (workspace.py),
which removes part of the cost. Only glibc
(Linux) is tuned; elsewhere it does nothing and returns False. GPU memory is
CuPy's business (its memory pool already reuses blocks).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1      # mallopt parameters, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3

_tuned = False


def tune_host_allocator(mmap_threshold: int = 1 << 30, trim_threshold: int = 1 << 31) -> bool:
    """Serve blocks below ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of freed heap. Returns True when glibc accepted both."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):      # not glibc (e.g. musl): leave malloc alone
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # older glibc caps the mmap threshold at 32 MiB: fall back to the cap
    mmap_ok = mallopt(M_MMAP_THRESHOLD, min(mmap_threshold, 2**31 - 1)) or \
        mallopt(M_MMAP_THRESHOLD, min(mmap_threshold, 32 << 20))
    _tuned = bool(mmap_ok) and bool(mallopt(M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1)))
    return _tuned
