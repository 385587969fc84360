"""Where each family's training step goes, beside its PyTorch twin: time per step by kind of op.

    python benchmarks/twins_profile.py [--steps 10] [--only VAE,DCGAN] [--all]

The same steps as ``twins_speed.py`` (same models, batches and weights). tinygen's side is
timed by Function: every Function class's ``forward`` and ``backward`` and every
optimizer's ``step`` are wrapped with a wall-clock timer that counts a call's own time
(a Function called inside another one's backward is counted as itself, not twice).
PyTorch's side is read from ``torch.profiler`` (each op's self CPU time; the optimizer is
its ``Optimizer.step`` range). Both are sorted into the same kinds:

* convolution: conv2d and conv_transpose2d, forward and both gradients (tinygen:
  Conv2d, ConvTranspose2d, Conv2dGradW; PyTorch: every op with "conv" in its name);
* normalization: batch, group and instance norm;
* matmul: the linear layers' GEMMs;
* other ops: every other op (elementwise, reductions, reshapes, indexing, losses);
* optimizer: the update step;
* outside ops: the rest of the step's wall time (building the graph, the autograd
  engine, Python around the ops; for PyTorch also the profiler's own cost).

By default it profiles the families whose step misses the 1.5× target in BENCHMARKS.md.
Stop every other process first (kill -STOP): it measures the machine's two cores.
"""
import argparse
import time
from collections import defaultdict

import numpy as np
import torch

import tinygen as tg
from tinygen.autograd.function import Function
from tinygen.optim.optimizer import Optimizer
from _timing import try_torch
from twins_speed import case_builders

KINDS = ("convolution", "normalization", "matmul", "other ops", "optimizer", "outside ops")
MISSES = ("VAE", "DCGAN", "PixelCNN", "VQ-VAE", "DDPM", "CycleGAN")
TINYGEN_CONVOLUTION = {"Conv2d", "ConvTranspose2d", "Conv2dGradW"}


def tinygen_kind(function_name):
    if function_name in TINYGEN_CONVOLUTION:
        return "convolution"
    if "Norm" in function_name:
        return "normalization"
    if function_name == "MatMul":
        return "matmul"
    return "other ops"


def torch_kind(op_name):
    name = op_name.lower()
    if "conv" in name:
        return "convolution"
    if "norm" in name:
        return "normalization"
    if any(k in name for k in ("addmm", "aten::mm", "aten::bmm", "aten::matmul", "aten::linear",
                               "mmbackward")):
        return "matmul"
    return "other ops"


class OwnTime:
    """Wall time per label, each call counting only its own time (nested timed calls excluded)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self._child = [0.0]           # time spent in timed calls nested in the current one

    def wrap(self, method, label_of):
        def timed(obj, *args, **kwargs):
            self._child.append(0.0)
            start = time.perf_counter()
            try:
                return method(obj, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.seconds[label_of(obj)] += elapsed - self._child.pop()
                self._child[-1] += elapsed
        return timed


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument_tinygen(clock):
    """Wrap every Function's forward/backward and every optimizer's step; returns an undo."""
    undo = []
    for cls in [*_subclasses(Function)]:
        for attr in ("forward", "backward"):
            if attr in vars(cls):
                undo.append((cls, attr, vars(cls)[attr]))
                setattr(cls, attr, clock.wrap(vars(cls)[attr], lambda fn: type(fn).__name__))
    for cls in [Optimizer, *_subclasses(Optimizer)]:
        if "step" in vars(cls):
            undo.append((cls, "step", vars(cls)["step"]))
            setattr(cls, "step", clock.wrap(vars(cls)["step"], lambda opt: "Optimizer.step"))

    def restore():
        for cls, attr, method in undo:
            setattr(cls, attr, method)
    return restore


def profile_tinygen(step, steps):
    clock = OwnTime()
    restore = instrument_tinygen(clock)
    try:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - start
    finally:
        restore()
    per_step = dict.fromkeys(KINDS, 0.0)
    for label, seconds in clock.seconds.items():
        per_step["optimizer" if label == "Optimizer.step" else tinygen_kind(label)] += seconds / steps
    per_step["outside ops"] = wall / steps - sum(per_step.values())
    return per_step, wall / steps, {label: s / steps for label, s in clock.seconds.items()}


def profile_pytorch(step, steps):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - start
    per_step = dict.fromkeys(KINDS, 0.0)
    by_op = defaultdict(float)
    for event in prof.events():
        if event.key.startswith("Optimizer.step#"):
            per_step["optimizer"] += event.cpu_time_total * 1e-6     # the whole update, ops included
        elif not _inside_optimizer(event):
            per_step[torch_kind(event.key)] += event.self_cpu_time_total * 1e-6
            by_op[event.key] += event.self_cpu_time_total * 1e-6 / steps
    per_step = {kind: seconds / steps for kind, seconds in per_step.items()}
    per_step["outside ops"] = wall / steps - sum(per_step[k] for k in KINDS[:-1])
    return per_step, wall / steps, by_op


def _inside_optimizer(event):
    parent = event.cpu_parent
    while parent is not None:
        if parent.key.startswith("Optimizer.step#"):
            return True
        parent = parent.cpu_parent
    return event.key.startswith("Optimizer.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--only", help="comma-separated words a family's name starts with")
    parser.add_argument("--all", action="store_true", help="every family, not only the misses")
    parser.add_argument("--detail", type=int, default=0, metavar="N",
                        help="also each side's N costliest Functions / ops outside convolution")
    args = parser.parse_args()
    try_torch()                                   # PyTorch on all cores, as tinygen's BLAS
    wanted = args.only.split(",") if args.only else None if args.all else MISSES
    builders = {name: build for name, build in case_builders(True).items()
                if wanted is None or any(name.startswith(w) for w in wanted)}
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), tinygen on numpy "
          f"{np.__version__}; ms per step, mean of {args.steps} profiled steps after 3 warm-up steps")
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    for name, build in builders.items():
        ours, theirs = build(rng)
        for _ in range(3):
            ours()
            theirs()
        mine, my_wall, my_labels = profile_tinygen(ours, args.steps)
        their, their_wall, their_ops = profile_pytorch(theirs, args.steps)
        print(f"\n{name}: tinygen {my_wall * 1e3:.1f} ms, PyTorch {their_wall * 1e3:.1f} ms "
              f"(profiled); gap {(my_wall - their_wall) * 1e3:+.1f} ms")
        print(f"  {'kind':14s} {'tinygen ms':>11s} {'pytorch ms':>11s} {'ratio':>7s} {'share of gap':>13s}")
        gap = my_wall - their_wall
        for kind in KINDS:
            a, b = mine[kind], their[kind]
            if max(a, b) < 5e-5:                     # neither side has this kind of op
                print(f"  {kind:14s} {'–':>11s} {'–':>11s}")
                continue
            ratio = f"{a / b:6.2f}x" if b >= 5e-5 else "    n/a"
            share = f"{(a - b) / gap:12.0%}" if abs(gap) > 1e-9 else "n/a"
            print(f"  {kind:14s} {a * 1e3:11.1f} {b * 1e3:11.1f} {ratio} {share:>13s}", flush=True)
        if args.detail:
            for side, times, kind_of in (("tinygen", my_labels, tinygen_kind), ("PyTorch", their_ops, torch_kind)):
                top = sorted(((t, label) for label, t in times.items()
                              if label != "Optimizer.step" and kind_of(label) != "convolution"), reverse=True)
                print(f"  {side}, outside convolution: " +
                      ", ".join(f"{label} {t * 1e3:.1f}" for t, label in top[:args.detail]))


if __name__ == "__main__":
    main()
