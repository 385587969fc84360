"""What every example shares: its flags, its output folder, progress bars, checkpoints.

A small helper, not a framework: an example calls ``parse_args``, then ``Run``, and
hands its own training step to ``Run.train``, which runs the epochs:

    args = experiment.parse_args("VAE on MNIST", epochs=10, batch_size=128, lr=1e-3,
                                 quick=dict(epochs=1, limit=512))
    run = experiment.Run("vae_mnist", args)
    state = run.resume({"model": model}, {"opt": opt})    # None unless --resume found one

    def train_step(x, y):
        loss = model.loss(x)
        opt.zero_grad(); loss.backward(); opt.step()
        return {"loss": loss}              # logged every few steps: the bar, the history

    run.train(loader, train_step, {"model": model}, {"opt": opt}, state)

With ``--distributed`` (examples that pass ``distributed=True`` to ``parse_args``) the
same run is data-parallel across the ranks that mpirun started: ``run.data_loader``
shards the batches, ``run.data_parallel`` broadcasts the weights and averages the
gradients, and only rank 0 writes files and prints.

Files in ``--out`` (default runs/<example>): config.json, checkpoint.npz,
samples.png, samples.npz, losses.png, metrics.json.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import signal
import sys
import time

import numpy as np

from .host_allocator import tune_host_allocator
from . import backend as _backend
from . import random as _random
from . import distributed as _distributed
from .autograd import grad_mode
from .data import DataLoader
from .serialization import CheckpointError, atomic_savez, load, save


# Flags that may differ between a run and its --resume: how long to train, where the
# arrays live, the learning rates (a new one on resume is a deliberate choice, as when
# fine-tuning in PyTorch), and how the finished model is evaluated. Every other flag
# shapes the model or the data order, is recorded in the checkpoint, and must match.
RUN_CONTROL_FLAGS = frozenset({"epochs", "prior_epochs", "backend", "out", "resume", "overwrite",
                               "quick", "detect_anomaly", "num_samples", "lr", "g_lr", "prior_lr"})
EVALUATION_FLAGS = frozenset({"fid_n", "iwae_k", "iwae_n", "eval_n", "eval_seed", "nll_n", "test_limit",
                              "sample_seed", "expost_components", "ais_chains", "ais_betas",
                              "gibbs_steps", "sample_steps", "sampler", "eta", "guidance_scales", "temperature",
                              "pixel_temperature", "probe_epochs"})
# Flags added to an example after runs were made, whose default changed what those runs did:
# the value an older run (whose config.json lacks the flag) was made with. --resume compares
# against it, so an older run cannot silently continue under the new default.
EARLIER_DEFAULTS = {"flow_glow_mnist": {"alpha": 0.05}, "flow_realnvp_mnist": {"alpha": 0.05}}


def with_earlier_defaults(config):
    """A run's recorded config, completed with the values of the flags added after it was made."""
    return {**EARLIER_DEFAULTS.get(config.get("example"), {}), **config}


# integer flags that count something and mean nothing below 1
COUNT_FLAGS = ("iwae_k", "iwae_n", "eval_n", "nll_n", "test_limit", "prior_epochs", "probe_epochs",
               "ais_chains", "ais_betas", "gibbs_steps", "sample_steps", "n_critic", "g_steps",
               "clusters", "blocks", "hidden", "latent_dim", "channels", "code_dim", "num_codes",
               "steps", "levels", "gen_width", "disc_width", "prior_hidden", "prior_blocks", "cd_steps")


class UsageError(SystemExit):
    """An everyday mistake in a run's settings or folder: one line on stderr, exit status 2."""

    def __init__(self, name, message):
        print(f"[{name}] error: {message}", file=sys.stderr, flush=True)
        super().__init__(2)
        self.message = message

    def __str__(self):
        return self.message


def parse_args(description, argv=None, quick=None, extra=None, distributed=False, **defaults):
    """The shared flags, with this example's defaults; ``extra(parser)`` adds its own flags.

    ``--quick`` replaces the defaults by ``quick`` (a tiny run for tests and smoke checks),
    except for flags given explicitly on the command line (abbreviated or not). Counts
    that cannot work (``--epochs 0``, ``--limit`` below ``--batch-size``, fewer samples
    than a metric needs) stop here, before any work, as argparse errors do.
    """
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--backend", choices=_backend.BACKENDS, default="numpy",
                        help="array backend: numpy (CPU) or cupy (GPU)")
    parser.add_argument("--epochs", type=int, default=defaults.get("epochs", 10),
                        help="train until this many epochs are done (with --resume: in all)")
    parser.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 128),
                        help="training images per step")
    parser.add_argument("--lr", type=float, default=defaults.get("lr", 1e-3),
                        help="learning rate" + (" (default: the model's own)" if "lr" in defaults
                                                and defaults["lr"] is None else ""))
    parser.add_argument("--seed", type=int, default=defaults.get("seed", 0),
                        help="seeds the weights, the data order and every random draw")
    parser.add_argument("--out", default=None, help="output folder (default runs/<example>)")
    parser.add_argument("--resume", action="store_true", help="continue from checkpoint.npz in --out")
    parser.add_argument("--overwrite", action="store_true",
                        help="start afresh in an --out that already holds a run (its checkpoint "
                             "is deleted)")
    parser.add_argument("--limit", type=int, default=defaults.get("limit"),
                        help="train on the first N training images only")
    parser.add_argument("--num-samples", type=int, default=defaults.get("num_samples", 64),
                        help="how many samples to draw for samples.png/npz")
    parser.add_argument("--detect-anomaly", action="store_true",
                        help="check every op for NaN/Inf and name the first that makes one (slow)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny setting that finishes in about a minute on 2 CPU cores")
    if distributed:
        parser.add_argument("--distributed", action="store_true",
                            help="train data-parallel across the processes that mpirun started: each "
                                 "takes batch-size / W images of every batch (pip install -e "
                                 "\".[distributed]\"; mpirun -n 2 python ... --distributed)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.quick and quick:
        given = _flags_given(parser, argv)
        for key, value in quick.items():
            if key not in given:
                setattr(args, key, value)
    _check_counts(parser, args)
    return args


def cli(main):
    """Run an example's ``main()`` as a command: the everyday failures (a missing dataset, an
    unreadable checkpoint, samples the metrics refuse, a NaN found by --detect-anomaly)
    print one line instead of a traceback. Tests call ``main`` directly and see the error."""
    from .data import DatasetNotFoundError
    from .metrics.report import SampleError
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    try:
        main()
    except (DatasetNotFoundError, CheckpointError, SampleError) as exc:
        print(f"[{name}] error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    except FloatingPointError as exc:       # detect_anomaly named the op
        print(f"[{name}] error: {exc}; the last good checkpoint is kept", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def _flags_given(parser, argv):
    """The destinations the command line set itself: parse again with every default
    suppressed, so that abbreviations (``--lat 2``) and ``--flag=value`` count too."""
    saved = {a.dest: a.default for a in parser._actions}
    try:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
        return set(vars(parser.parse_args(argv)))
    finally:
        for action in parser._actions:
            action.default = saved[action.dest]


def _check_counts(parser, args):
    def at_least(name, minimum, why=""):
        value = getattr(args, name, None)
        if value is not None and value < minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {minimum}{why}, not {value}")

    at_least("epochs", 1)
    at_least("batch_size", 1)
    at_least("num_samples", 1)
    if args.limit is not None:
        at_least("limit", max(args.batch_size, 1),
                 " (the batch size: fewer images would make no training step)")
    from .metrics.report import MIN_SAMPLES       # the one minimum the metrics enforce
    at_least("fid_n", MIN_SAMPLES, f" (precision/recall need k + 1 = {MIN_SAMPLES} samples)")
    for name in COUNT_FLAGS:
        if type(getattr(args, name, None)) is int:
            at_least(name, 1)


def remove_stale_temporaries(path):
    """Delete ``path``'s leftover temporaries (``checkpoint.npz.*.tmp``) from a save that was
    killed before its rename; a save that is running elsewhere would not share the folder."""
    for stale in glob.glob(glob.escape(path) + ".*.tmp"):
        try:
            os.remove(stale)
        except FileNotFoundError:
            pass


def _show(value):
    return "(not given)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def shaping_config(config):
    """The part of a run's config that must match on --resume."""
    return {k: v for k, v in config.items()
            if k not in RUN_CONTROL_FLAGS and k not in EVALUATION_FLAGS and not k.startswith("_")}


def add_lr_decay_flag(parser, default="none"):
    parser.add_argument("--lr-decay", choices=["none", "cosine"], default=default,
                        help="cosine: decay the learning rate to 0 over the run, stepped per batch")


def lr_schedule(args, optimizer, steps, state, key="sched"):
    """``--lr-decay cosine``: one cosine decay of the learning rate to 0 over ``steps``
    optimizer steps (a stage's epochs × batches), to be stepped after each optimizer step
    and kept as ``extra[key]`` in the checkpoint, from which a resumed run takes up its
    position. None for ``none``."""
    from .optim.lr_scheduler import CosineAnnealingLR
    if getattr(args, "lr_decay", "none") != "cosine":
        return None
    schedule = CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    if state and key in state["extra"]:
        schedule.load_state_dict(state["extra"][key])
    return schedule


class Run:
    """The output folder, config, progress bars, history and checkpoints of one example run.

    Opening a run checks its folder before any work: an ``--out`` that holds a checkpoint
    is refused unless ``--resume`` (whose checkpoint must come from the same example with
    the same shaping flags) or ``--overwrite`` is given. ``config.json`` is written after
    that check, so a refused command changes nothing.
    """

    def __init__(self, name, args):
        self.name, self.args = name, args
        self.out = args.out or os.path.join("runs", name)
        self.checkpoint_path = os.path.join(self.out, "checkpoint.npz")
        self.config = {k: v for k, v in sorted(vars(args).items())}
        self.config["example"] = name
        _backend.use_backend(args.backend)
        self.comm = _distributed.init() if getattr(args, "distributed", False) else _distributed.SingleProcess()
        self.rank, self.is_main = self.comm.rank, self.comm.rank == 0
        if getattr(args, "distributed", False):
            self.config["world_size"] = self.comm.size          # shapes the run: must match on --resume
        self._state = self._check_folder()
        if self.is_main:
            os.makedirs(self.out, exist_ok=True)
        self.comm.barrier()
        _random.manual_seed(args.seed + self.rank)   # each rank its own noise; rank 0 = a plain run
        tune_host_allocator()        # reuse freed host memory across steps (see host_allocator.py)
        self.history = {}            # name -> list of (step, value)
        self.step = 0
        self._running = {}
        self._rng_before_batch = None
        self._stop_requested = False
        if self.is_main:
            print(f"[{name}] config: {json.dumps(self.config, sort_keys=True)}", flush=True)
            with open(os.path.join(self.out, "config.json"), "w") as f:
                json.dump(self.config, f, indent=2, sort_keys=True)
        self.started = time.time()

    def _check_folder(self):
        """None, or the checkpoint's state when --resume will continue it."""
        if not os.path.exists(self.checkpoint_path):
            return None
        args = self.args
        if getattr(args, "overwrite", False) and not args.resume:
            self.comm.barrier()                  # every rank has seen the old run before it goes
            if self.is_main:
                os.remove(self.checkpoint_path)
            return None
        if not args.resume:
            raise UsageError(self.name, f"{self.out} already holds a run (checkpoint.npz); continue it "
                                        f"with --resume, or start afresh with --overwrite or another --out")
        try:
            state = load(self.checkpoint_path)
        except CheckpointError as exc:
            raise UsageError(self.name, f"cannot resume: {exc}") from exc
        saved = state.get("config")
        if saved is None:            # a checkpoint from before configs were recorded
            return state
        saved = with_earlier_defaults(saved)
        if saved.get("example") != self.name:
            raise UsageError(self.name, f"cannot resume: {self.checkpoint_path} is a run of "
                                        f"{saved.get('example')}, not {self.name} (the flags it was "
                                        f"started with are in {os.path.join(self.out, 'config.json')}: "
                                        f"pass the same ones); or use another --out")
        # flags that exist on both sides: a flag added to an example later, whose default
        # keeps the old behaviour, does not block resuming an older run
        theirs, mine = shaping_config(saved), shaping_config(self.config)
        changed = [k for k in sorted(set(theirs) & set(mine)) if k != "example" and theirs[k] != mine[k]]
        if changed:
            what = ", ".join(f"--{k.replace('_', '-')} {_show(theirs[k])} in the checkpoint, "
                             f"{_show(mine[k])} now" for k in changed)
            raise UsageError(self.name, f"cannot resume {self.out}: {what}; resume with the "
                                        f"checkpoint's values, or use another --out")
        return state

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
                   mininterval=0.5, file=sys.stderr, disable=not self.is_main)
        self._bar = bar
        start, seen = time.time(), 0
        batches = iter(bar)
        while True:
            # the RNG state before this batch is drawn (binarization, dropout): what a
            # checkpoint written during the batch must hold so that --resume redoes it exactly
            self._rng_before_batch = _random.get_rng_state()
            if self._stop_agreed():       # Ctrl-C arrived during the last step: stop here, cleanly
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

    def _stop_agreed(self):
        """Whether to stop before the next batch. Across ranks they must agree (one rank
        stopping alone would leave the others waiting in its next all-reduce): any
        rank's Ctrl-C stops them all at the same boundary."""
        if self.comm.size == 1:
            return self._stop_requested
        flag = np.array([int(self._stop_requested)], dtype=np.int32)
        return bool(self.comm.all_reduce(flag, "max")[0])

    def log(self, **values):
        """Record scalars (Tensors or floats) for this step: running means and history.

        Reading a Tensor's value syncs with the device; call log every few steps on a GPU.
        """
        for key, value in values.items():
            value = float(value.item() if hasattr(value, "item") else value)
            if not math.isfinite(value):
                self._stop_non_finite(key, value)
            s, n = self._running.get(key, (0.0, 0))
            self._running[key] = (s + value, n + 1)
            self.history.setdefault(key, []).append((self.step, value))

    def _stop_non_finite(self, key, value):
        """A NaN/Inf loss: stop now, keep the last good checkpoint, say where to look."""
        kept = (f"the last good checkpoint ({self.checkpoint_path}) is kept"
                if os.path.exists(self.checkpoint_path) else "no checkpoint was written yet")
        if getattr(self, "_bar", None) is not None:
            self._bar.close()           # so that the message is the last line, not the bar
        hint = ("the op that made it is named above" if grad_mode.state.anomaly else
                "rerun with --detect-anomaly to name the op that made it; a smaller --lr often helps")
        print(f"[{self.name}] error: the training loss term '{key}' is {value} at step {self.step}; "
              f"{kept}; {hint}", file=sys.stderr, flush=True)
        raise SystemExit(1)

    def epoch_means(self):
        return {k: s / max(n, 1) for k, (s, n) in self._running.items()}

    # -- checkpoints ---------------------------------------------------------------
    def save_checkpoint(self, epoch, batch_in_epoch, models, optimizers, extra=None):
        """Atomically write models, optimizers, position, RNG state and history (rank 0
        writes; every rank's RNG state goes in, so that --resume continues each exactly)."""
        rng = self._rng_before_batch or _random.get_rng_state()
        rng_ranks = self.comm.gather_object(rng) if self.comm.size > 1 else None
        if not self.is_main:
            return
        state = {
            "epoch": int(epoch), "batch": int(batch_in_epoch), "step": int(self.step),
            "models": {k: m.state_dict() for k, m in models.items()},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            "rng": rng,
            "history": {k: [list(p) for p in v] for k, v in self.history.items()},
            "extra": extra or {},
            "config": self.config,
            "wall_time_s": time.time() - self.started,   # all sessions' time, as metrics.json reports it
        }
        if rng_ranks is not None:
            state["rng_ranks"] = rng_ranks
        remove_stale_temporaries(self.checkpoint_path)
        save(state, self.checkpoint_path)

    def resume(self, models=None, optimizers=None):
        """With --resume, load checkpoint.npz into the models/optimizers and return its state."""
        if not self.args.resume:
            return None
        state, self._state = self._state, None     # read and checked when the run was opened
        if state is None:
            print(f"[{self.name}] --resume: no checkpoint at {self.checkpoint_path}; starting fresh",
                  flush=True)
            return None
        for key, model in (models or {}).items():
            model.load_state_dict(state["models"][key])
        for key, opt in (optimizers or {}).items():
            opt.load_state_dict(state["optimizers"][key])
        _random.set_rng_state(state["rng_ranks"][self.rank] if "rng_ranks" in state else state["rng"])
        self.step = int(state["step"])
        self.history = {k: [tuple(p) for p in v] for k, v in state["history"].items()}
        self.started = time.time() - float(state.get("wall_time_s", 0.0))   # the clock goes on
        if self.is_main:
            print(f"[{self.name}] resumed from {self.checkpoint_path} at epoch {state['epoch'] + 1}, "
                  f"batch {state['batch']}", flush=True)
        return state

    def train(self, loader, step, models, optimizers, state=None, extra=None, modules=(),
              end_of_epoch=None, log_every=10, epochs=None):
        """The training loop the examples share; ``step`` is the example's own code.

            for each epoch from the checkpoint's (or the first) to --epochs:
                the ``modules`` go to training mode
                for each batch of ``loader`` (a resumed epoch skips the ones already done):
                    logs = step(*batch)          # one optimisation step → {name: scalar} or None
                    every ``log_every`` batches, and at the epoch's last: self.log(**logs)
                end_of_epoch(epoch)              # grids, prints (epochs count from 1 here)
                checkpoint: models, optimizers, position, RNG, history and ``extra()``

        ``state`` is what ``resume`` returned. ``epochs`` (a range; all of --epochs by
        default) lets a run train in stages, one call per stage. During a step, ``self.epoch`` and
        ``self.batch`` say where it is (batches done so far in this epoch). Ctrl-C lets
        the step finish, writes the checkpoint and exits (status 130); ``--resume``
        continues exactly. Logging every few steps matters on a GPU: reading a value
        waits for the device.
        """
        epochs = epochs or range(self.args.epochs)
        start_epoch, skip = epochs.start, 0
        if state and state["epoch"] >= epochs.start:      # the checkpoint is in (or past) this stage
            start_epoch, skip = state["epoch"], state["batch"]
        self.epoch, self.batch = start_epoch, skip

        def save():
            self.save_checkpoint(self.epoch, self.batch, models, optimizers,
                                 extra=extra() if extra else None)

        with self.interrupt_guard(save):
            for epoch in range(start_epoch, epochs.stop):
                self.epoch, self.batch = epoch, (skip if epoch == start_epoch else 0)
                loader.set_epoch(epoch, self.batch)
                for module in modules:
                    module.train()
                for batch in self.progress(loader, epoch, max(epochs.stop, self.args.epochs)):
                    logs = step(*batch)
                    self.batch += 1
                    if logs and (self.batch % log_every == 0 or self.batch == len(loader)):
                        self.log(**{k: v for k, v in logs.items() if v is not None})
                self.epoch, self.batch = epoch + 1, 0
                if end_of_epoch:
                    end_of_epoch(epoch + 1)
                save()

    # -- data parallelism ------------------------------------------------------------
    def data_loader(self, dataset, batch_size, **options):
        """``data.DataLoader(dataset, batch_size, **options)``; with --distributed, this rank's
        shard (``distributed.DistributedSampler``, the loader's own seed and shuffle) in
        batches of batch_size / W, so that the W ranks together step on batch_size images."""
        if self.comm.size == 1:
            return DataLoader(dataset, batch_size, **options)
        if batch_size % self.comm.size:
            raise UsageError(self.name, f"--batch-size {batch_size} does not split over {self.comm.size} "
                                        f"ranks; use a multiple of {self.comm.size}")
        limit = options.get("limit")
        n = len(dataset) if limit is None else min(limit, len(dataset))
        sampler = _distributed.DistributedSampler(n, shuffle=options.get("shuffle", False),
                                                  seed=options.get("seed", 0),
                                                  drop_last=options.get("drop_last", False))
        return DataLoader(dataset, batch_size // self.comm.size, sampler=sampler, **options)

    def data_parallel(self, models, optimizers, sync_batchnorm=True):
        """With --distributed: every model's batch norms become SyncBatchNorm (same state_dict
        keys), rank 0's weights are broadcast, and each optimizer averages the gradients
        over the ranks before it steps. Returns the optimizers to use (unchanged without
        --distributed)."""
        if self.comm.size == 1:
            return optimizers
        for model in models.values():
            if sync_batchnorm:
                _distributed.convert_sync_batchnorm(model)
            _distributed.broadcast_module(model)
        return {k: _distributed.DistributedOptimizer(o) for k, o in optimizers.items()}

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
                # --detect-anomaly: every op of the training steps checks for NaN/Inf
                self.anomaly = grad_mode.state.anomaly
                grad_mode.state.anomaly = self.anomaly or getattr(run.args, "detect_anomaly", False)
                return self

            def __exit__(self, kind, exc, tb):
                grad_mode.state.anomaly = self.anomaly
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
                if kind is None:       # training is done: a Ctrl-C from here on hits evaluation
                    signal.signal(signal.SIGINT, run._interrupt_during_evaluation)
                return False
        return Guard()

    def _interrupt_during_evaluation(self, signum, frame):
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print(f"\n[{self.name}] interrupted during evaluation: the trained checkpoint "
              f"{self.checkpoint_path} is safe; run the same command with --resume to redo only "
              f"the evaluation", file=sys.stderr, flush=True)
        raise SystemExit(130)

    # -- results -------------------------------------------------------------------
    def save_samples(self, images, labels=None, nrow=8, title=None):
        """samples.png and samples.npz (images float32 (N, C, H, W) in [0, 1], labels if any)."""
        if not self.is_main:
            return
        from .viz import save_image_grid
        images = np.clip(_backend.to_numpy(getattr(images, "data", images)), 0, 1).astype(np.float32)
        arrays = {"images": images}
        if labels is not None:
            arrays["labels"] = _backend.to_numpy(getattr(labels, "data", labels)).astype(np.int64)
        atomic_savez(self.path("samples.npz"), arrays)
        save_image_grid(images[:max(nrow * nrow, 64)], self.path("samples.png"), nrow=nrow, title=title)

    def plot_history(self, filename="losses.png", keys=None, title=None):
        if not self.is_main:
            return None
        from .viz import plot_losses
        history = {k: v for k, v in self.history.items() if keys is None or k in keys}
        return plot_losses(history, self.path(filename), title=title or self.name)

    def write_metrics(self, metrics):
        if not self.is_main:
            return None
        metrics = dict(metrics)
        metrics.setdefault("wall_time_s", round(time.time() - self.started, 1))
        path = self.path("metrics.json")
        with open(path + ".tmp", "w") as f:
            json.dump(metrics, f, indent=2, sort_keys=True, default=float)
        os.replace(path + ".tmp", path)
        print(f"[{self.name}] metrics: {json.dumps(metrics, sort_keys=True, default=float)}", flush=True)
        return path

    def finish(self):
        if signal.getsignal(signal.SIGINT) == self._interrupt_during_evaluation:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.is_main:
            print(f"[{self.name}] done in {time.time() - self.started:.0f} s; files in "
                  f"{os.path.abspath(self.out)}", flush=True)
