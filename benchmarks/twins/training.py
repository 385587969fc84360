"""What a twin trained in PyTorch shares with tinygen's example: the data order and the scoring.

A twin run sees tinygen's batches (its DataLoader, seeded as the example seeds it) and
its samples are scored by tinygen's metrics, so a gap between the two runs is the
library's, not the data's or the metric's.
"""
import json
import os
import time

import numpy as np
import torch

from tinygen import data
from tinygen.metrics import evaluate_samples


def add_run_flags(parser, out):
    """The flags every twin's training run takes: its seed, how many samples to score, where
    it writes, and --resume."""
    parser.add_argument("--seed", type=int, default=0, help="tinygen's seed: weights and data order")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples to score")
    parser.add_argument("--out", default=out, help="where metrics.json and checkpoint.pt go")
    parser.add_argument("--resume", action="store_true", help="continue from --out's checkpoint.pt")


def use_threads():
    """PyTorch on as many threads as the tinygen run beside it (OPENBLAS_NUM_THREADS, default 1)."""
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))


def mnist_batches(seed, batch_size=64):
    """The GAN examples' loader: MNIST train in [-1, 1], shuffled with ``seed``, full batches."""
    images, labels = data.load_mnist("train")
    return data.DataLoader(data.ArrayDataset(images, labels), batch_size, shuffle=True, seed=seed,
                           scale_to="pm1", drop_last=True)


def gan_step(G, D, opt_g, opt_d, real, latent_dim):
    """One step of examples/gan_mnist.py's logit GANs: D on the real batch and on G(z)
    detached (BCE on logits), then G through D with the non-saturating loss."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    n = real.shape[0]
    fake = G(torch.randn(n, latent_dim))
    d_loss = bce(D(real), torch.ones(n, 1)) + bce(D(fake.detach()), torch.zeros(n, 1))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = bce(D(fake), torch.ones(n, 1))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss, g_loss


def ema_update(ema, model, decay):
    """tinygen's optim.EMA: parameters averaged, θ̄ ← decay·θ̄ + (1 - decay)·θ; buffers copied."""
    with torch.no_grad():
        params, current = dict(model.named_parameters()), model.state_dict()
        for name, value in ema.state_dict().items():
            if name in params:
                value.mul_(decay).add_(params[name], alpha=1 - decay)
            else:
                value.copy_(current[name])


def as_torch(batch):
    return torch.from_numpy(batch.numpy())


def score_and_write(samples_pm1, out, started, **extra):
    """Score tanh-range samples (N, 1, 28, 28) in the MNIST reference feature space and write
    ``out``/metrics.json; returns the metrics."""
    images = ((samples_pm1 + 1) / 2).clamp(0, 1).numpy().reshape(-1, 1, 28, 28).astype(np.float32)
    metrics = evaluate_samples(images, None, "mnist", len(images))
    metrics.update({**extra, "framework": f"torch {torch.__version__}",
                    "wall_time_s": round(time.time() - started, 1)})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    print(json.dumps({k: metrics[k] for k in ("fid", "precision", "recall", "modes_covered", "class_histogram")}))
    return metrics


def save_checkpoint(out, parts, epochs_done, wall_time_s):
    """Every part's state_dict, the epochs done and torch's RNG, written to a temporary file
    and renamed over checkpoint.pt, so an interrupted write never leaves half a checkpoint."""
    os.makedirs(out, exist_ok=True)
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(epochs_done=epochs_done, wall_time_s=wall_time_s, rng=torch.get_rng_state())
    path = os.path.join(out, "checkpoint.pt")
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_checkpoint(out, parts):
    """Load checkpoint.pt into ``parts``; returns the epochs done and their wall time (the
    loader is seeded per epoch, so the next epoch's batches are the uninterrupted run's)."""
    state = torch.load(os.path.join(out, "checkpoint.pt"))
    for name, part in parts.items():
        part.load_state_dict(state[name])
    torch.set_rng_state(state["rng"])
    print(f"resumed after epoch {state['epochs_done']}", flush=True)
    return state["epochs_done"], state["wall_time_s"]
