"""Where a training step's time goes: cProfile over a few seed-VAE (or DCGAN) steps.

    python benchmarks/profile_step.py            # the convolutional VAE, batch 128
    python benchmarks/profile_step.py --dcgan

Prints the functions with the most time of their own (tottime). Run it alone on
the machine: a second numeric process distorts every figure (see BENCHMARKS.md).
"""
import argparse
import cProfile
import pstats

import tinygen as tg
import tinygen.nn.functional as F
from kernels import dcgan_step_fn, vae_step_fn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dcgan", action="store_true")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    step = (dcgan_step_fn if args.dcgan else vae_step_fn)(tg, F)
    for _ in range(3):      # warm up: allocator, BLAS threads
        step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("tottime")
    print(f"per step: {stats.total_tt / args.steps * 1e3:.1f} ms")
    stats.print_stats(args.top)


if __name__ == "__main__":
    main()
