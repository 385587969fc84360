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


def use_threads():
    """PyTorch on as many threads as the tinygen run beside it (OPENBLAS_NUM_THREADS, default 1)."""
    torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))


def mnist_batches(seed, batch_size=64):
    """The GAN examples' loader: MNIST train in [-1, 1], shuffled with ``seed``, full batches."""
    images, labels = data.load_mnist("train")
    return data.DataLoader(data.ArrayDataset(images, labels), batch_size, shuffle=True, seed=seed,
                           scale_to="pm1", drop_last=True)


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
