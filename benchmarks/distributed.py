"""Data parallelism on this machine: one process with 2 BLAS threads against 2 ranks with
1 thread each, on the VAE's training step (global batch 128), and what the gradient
all-reduce costs per step.

    python benchmarks/distributed.py            # runs both configurations and prints the table

Needs the [distributed] extra (mpi4py + MPICH). Stop other processes first: it measures
the machine's two cores.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

STEPS, WARMUP, BATCH = 30, 5, 128


def measure():
    """Run inside one process (or one rank): time STEPS training steps of the VAE."""
    import tinygen as tg
    from tinygen import distributed, optim
    from tinygen.models import VAE
    comm = distributed.init()
    tg.tune_host_allocator()
    tg.manual_seed(comm.rank)
    model = distributed.broadcast_module(VAE(16))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    per_rank = BATCH // comm.size
    rng = np.random.default_rng(comm.rank)
    x = tg.tensor((rng.random((per_rank, 1, 28, 28)) < 0.3).astype(np.float32))
    n_params = sum(p.numel() for p in model.parameters())
    reduce_s, total = 0.0, 0.0
    for step in range(WARMUP + STEPS):
        comm.barrier()
        start = time.perf_counter()
        loss, _ = model.loss(x)
        opt.zero_grad()
        loss.backward()
        before = time.perf_counter()
        distributed.average_gradients(model.parameters())
        after = time.perf_counter()
        opt.step()
        end = time.perf_counter()
        if step >= WARMUP:
            reduce_s += after - before
            total += end - start
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "threads": int(os.environ.get("OPENBLAS_NUM_THREADS", 0)),
                          "ms_per_step": 1000 * total / STEPS, "allreduce_ms": 1000 * reduce_s / STEPS,
                          "bytes_per_step": 4 * n_params if comm.size > 1 else 0,
                          "images_per_s": BATCH * STEPS / total}))


def main():
    here = os.path.abspath(__file__)
    rows = []
    for ranks, threads in ((1, 2), (2, 1)):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
        command = [sys.executable, here, "--measure"]
        if ranks > 1:
            command = ["mpiexec", "-n", str(ranks)] + command
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"VAE training step, global batch {BATCH}, mean of {STEPS} steps")
    print(f"{'ranks × threads':>16} {'ms/step':>9} {'images/s':>9} {'all-reduce ms':>14} {'bytes/step':>11}")
    for r in rows:
        print(f"{r['ranks']:>7} × {r['threads']:<6} {r['ms_per_step']:9.1f} {r['images_per_s']:9.0f} "
              f"{r['allreduce_ms']:14.2f} {r['bytes_per_step']:11,d}")


if __name__ == "__main__":
    if "--measure" in sys.argv:
        measure()
    else:
        main()
