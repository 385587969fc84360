"""What every example shares: its flags, its output folder, progress bars, checkpoints.

A small helper, not a framework: an example calls ``parse_args``, then ``Run``,
and writes its own training loop.

    args = experiment.parse_args("VAE on MNIST", epochs=10, batch_size=128, lr=1e-3,
                                 quick=dict(epochs=1, limit=512))
    run = experiment.Run("vae_mnist", args)
    state = run.resume()        # None unless --resume found a checkpoint
    for epoch in run.epochs(state):
        for x, y in run.progress(loader, epoch):
            ...
            run.log(loss=value)          # running means on the bar, history for plots
        run.save_checkpoint(epoch + 1, 0, models={...}, optimizers={...})

Files in ``--out`` (default runs/<example>): config.json, checkpoint.npz,
samples.png, samples.npz, losses.png, metrics.json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

import numpy as np

from .host_allocator import tune_host_allocator
from . import backend as _backend
from . import random as _random
from .serialization import CheckpointError, atomic_savez, load, save


def parse_args(description, argv=None, quick=None, extra=None, **defaults):
    """The shared flags, with this example's defaults; ``extra(parser)`` adds its own flags.

    ``--quick`` replaces the defaults by ``quick`` (a tiny run for tests and smoke checks),
    except for flags given explicitly on the command line.
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backend", choices=_backend.BACKENDS, default="numpy",
                        help="array backend: numpy (CPU) or cupy (GPU)")
    parser.add_argument("--epochs", type=int, default=defaults.get("epochs", 10))
    parser.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 128))
    parser.add_argument("--lr", type=float, default=defaults.get("lr", 1e-3))
    parser.add_argument("--seed", type=int, default=defaults.get("seed", 0))
    parser.add_argument("--out", default=None, help="output folder (default runs/<example>)")
    parser.add_argument("--resume", action="store_true", help="continue from checkpoint.npz in --out")
    parser.add_argument("--limit", type=int, default=defaults.get("limit"),
                        help="train on the first N training images only")
    parser.add_argument("--num-samples", type=int, default=defaults.get("num_samples", 64),
                        help="how many samples to draw for samples.png/npz")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny setting that finishes in under a minute on 2 CPU cores")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.quick and quick:
        given = {a.split("=")[0].lstrip("-").replace("-", "_") for a in (argv or sys.argv[1:])
                 if a.startswith("--")}
        for key, value in quick.items():
            if key not in given:
                setattr(args, key, value)
    return args


class Run:
    """The output folder, config, progress bars, history and checkpoints of one example run."""

    def __init__(self, name, args):
        self.name, self.args = name, args
        self.out = args.out or os.path.join("runs", name)
        os.makedirs(self.out, exist_ok=True)
        _backend.use_backend(args.backend)
        _random.manual_seed(args.seed)
        tune_host_allocator()        # reuse freed host memory across steps (see host_allocator.py)
        self.history = {}            # name -> list of (step, value)
        self.step = 0
        self._running = {}
        self._rng_before_batch = None
        self._stop_requested = False
        self.config = {k: v for k, v in sorted(vars(args).items())}
        self.config["example"] = name
        print(f"[{name}] config: {json.dumps(self.config, sort_keys=True)}", flush=True)
        with open(os.path.join(self.out, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2, sort_keys=True)
        self.checkpoint_path = os.path.join(self.out, "checkpoint.npz")
        self.started = time.time()

    def path(self, filename):
        return os.path.join(self.out, filename)

    # -- progress ------------------------------------------------------------------
    def progress(self, loader, epoch, total_epochs=None):
        """Iterate ``loader`` with a tqdm bar showing running losses and images per second."""
        from tqdm import tqdm
        total_epochs = total_epochs or self.args.epochs
        self._running = {}
        bar = tqdm(loader, total=len(loader) - getattr(loader, "skip_batches", 0),
                   desc=f"epoch {epoch + 1}/{total_epochs}", leave=True, dynamic_ncols=True,
                   mininterval=0.5, file=sys.stderr)
        start, seen = time.time(), 0
        batches = iter(bar)
        while True:
            # the RNG state before this batch is drawn (binarization, dropout): what a
            # checkpoint written during the batch must hold so that --resume redoes it exactly
            self._rng_before_batch = _random.get_rng_state()
            if self._stop_requested:      # Ctrl-C arrived during the last step: stop here, cleanly
                raise KeyboardInterrupt
            try:
                batch = next(batches)
            except StopIteration:
                break
            yield batch
            seen += batch[0].shape[0]
            self.step += 1
            postfix = {k: f"{s / max(n, 1):.4g}" for k, (s, n) in self._running.items()}
            postfix["img/s"] = f"{seen / max(time.time() - start, 1e-9):.0f}"
            bar.set_postfix(postfix, refresh=False)
        bar.close()

    def log(self, **values):
        """Record scalars (Tensors or floats) for this step: running means and history.

        Reading a Tensor's value syncs with the device; call log every few steps on a GPU.
        """
        for key, value in values.items():
            value = float(value.item() if hasattr(value, "item") else value)
            s, n = self._running.get(key, (0.0, 0))
            self._running[key] = (s + value, n + 1)
            self.history.setdefault(key, []).append((self.step, value))

    def epoch_means(self):
        return {k: s / max(n, 1) for k, (s, n) in self._running.items()}

    # -- checkpoints ---------------------------------------------------------------
    def save_checkpoint(self, epoch, batch_in_epoch, models, optimizers, extra=None):
        """Atomically write models, optimizers, position, RNG state and history."""
        state = {
            "epoch": int(epoch), "batch": int(batch_in_epoch), "step": int(self.step),
            "models": {k: m.state_dict() for k, m in models.items()},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "rng": self._rng_before_batch or _random.get_rng_state(),
            "history": {k: [list(p) for p in v] for k, v in self.history.items()},
            "extra": extra or {},
        }
        save(state, self.checkpoint_path)

    def resume(self, models=None, optimizers=None):
        """With --resume, load checkpoint.npz into the models/optimizers and return its state."""
        if not self.args.resume:
            return None
        if not os.path.exists(self.checkpoint_path):
            print(f"[{self.name}] --resume: no checkpoint at {self.checkpoint_path}; starting fresh",
                  flush=True)
            return None
        try:
            state = load(self.checkpoint_path)
        except CheckpointError as exc:
            raise SystemExit(f"[{self.name}] cannot resume: {exc}") from exc
        for key, model in (models or {}).items():
            model.load_state_dict(state["models"][key])
        for key, opt in (optimizers or {}).items():
            opt.load_state_dict(state["optimizers"][key])
        _random.set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.history = {k: [tuple(p) for p in v] for k, v in state["history"].items()}
        print(f"[{self.name}] resumed from {self.checkpoint_path} at epoch {state['epoch'] + 1}, "
              f"batch {state['batch']}", flush=True)
        return state

    def interrupt_guard(self, on_interrupt):
        """Context manager for the training loop: the first Ctrl-C lets the current step
        finish, stops at the batch boundary, calls ``on_interrupt()`` (save a checkpoint)
        and exits with status 130; a second Ctrl-C aborts at once.

        Stopping between steps matters: a step interrupted half-way has already changed
        batch-norm running statistics, and resuming would apply them twice.
        """
        run = self

        def request_stop(signum, frame):
            run._stop_requested = True
            signal.signal(signal.SIGINT, signal.default_int_handler)
            print(f"\n[{run.name}] Ctrl-C: stopping after this step (press again to abort now)",
                  file=sys.stderr, flush=True)

        class Guard:
            def __enter__(self):
                run._stop_requested = False
                self.previous = signal.signal(signal.SIGINT, request_stop)
                return self

            def __exit__(self, kind, exc, tb):
                signal.signal(signal.SIGINT, self.previous)
                if kind is KeyboardInterrupt:
                    signal.signal(signal.SIGINT, signal.SIG_IGN)   # let the save finish
                    try:
                        on_interrupt()
                    finally:
                        signal.signal(signal.SIGINT, self.previous)
                    print(f"\n[{run.name}] interrupted: checkpoint saved to {run.checkpoint_path}; "
                          f"continue with --resume", flush=True)
                    raise SystemExit(130)
                return False
        return Guard()

    # -- results -------------------------------------------------------------------
    def save_samples(self, images, labels=None, nrow=8, title=None):
        """samples.png and samples.npz (images float32 (N, C, H, W) in [0, 1], labels if any)."""
        from .viz import save_image_grid
        images = np.clip(_backend.to_numpy(getattr(images, "data", images)), 0, 1).astype(np.float32)
        arrays = {"images": images}
        if labels is not None:
            arrays["labels"] = _backend.to_numpy(getattr(labels, "data", labels)).astype(np.int64)
        atomic_savez(self.path("samples.npz"), arrays)
        save_image_grid(images[:max(nrow * nrow, 64)], self.path("samples.png"), nrow=nrow, title=title)

    def plot_history(self, filename="losses.png", keys=None, title=None):
        from .viz import plot_losses
        history = {k: v for k, v in self.history.items() if keys is None or k in keys}
        return plot_losses(history, self.path(filename), title=title or self.name)

    def write_metrics(self, metrics):
        metrics = dict(metrics)
        metrics.setdefault("wall_time_s", round(time.time() - self.started, 1))
        path = self.path("metrics.json")
        with open(path + ".tmp", "w") as f:
            json.dump(metrics, f, indent=2, sort_keys=True, default=float)
        os.replace(path + ".tmp", path)
        print(f"[{self.name}] metrics: {json.dumps(metrics, sort_keys=True, default=float)}", flush=True)
        return path

    def finish(self):
        print(f"[{self.name}] done in {time.time() - self.started:.0f} s; files in "
              f"{os.path.abspath(self.out)}", flush=True)
