"""Small timing helpers shared by the benchmarks: best-of-N wall time, and PyTorch if present.

Importing this module tunes the process's malloc (tinygen.tune_host_allocator), as the
examples do; tinygen and PyTorch run in the same process, so both get it. With
TINYGEN_PLAIN_MALLOC=1 in the environment it leaves glibc's defaults alone, as a user's
own training script would: run a benchmark both ways to see what the tuning buys.
"""
import os
import time

import tinygen

PLAIN_MALLOC = os.environ.get("TINYGEN_PLAIN_MALLOC") == "1"
if not PLAIN_MALLOC:
    tinygen.tune_host_allocator()
MALLOC = "glibc's defaults (TINYGEN_PLAIN_MALLOC=1)" if PLAIN_MALLOC else "tuned (tg.tune_host_allocator)"


def best_time(fn, repeats=5, warmup=2, inner=1):
    """Best wall time of ``fn`` over ``repeats`` runs (each runs ``fn`` ``inner`` times), in s."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def try_torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(__import__("os").cpu_count() or 1)
    return torch


def report(rows, title):
    """Print a table: case, tinygen time, PyTorch time, ratio."""
    print(f"\n{title}")
    print(f"{'case':44s} {'tinygen':>12s} {'pytorch':>12s} {'ratio':>7s}")
    for name, ours, theirs in rows:
        t = f"{theirs * 1e3:10.3f}ms" if theirs else "         n/a"
        r = f"{ours / theirs:6.2f}x" if theirs else "    n/a"
        print(f"{name:44s} {ours * 1e3:10.3f}ms {t} {r}")
