"""The reference classifiers whose penultimate layer is the feature space of every metric.

One SmallCNN per dataset, trained with tinygen by ``train_reference.py`` and
shipped in ``weights/`` as ``<dataset>_classifier.npz`` (tg.save format) with
``<dataset>_classifier.json`` beside it: the command, seed, epochs and
accuracies that produced the weights.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import backend as _backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn.functional import softmax
from ..serialization import load
from .classifier import SmallCNN

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")
DATASETS = ("mnist", "fashion", "digits")


def _paths(dataset):
    if dataset not in DATASETS:
        raise ValueError(f"no reference classifier for {dataset!r}; choose one of {DATASETS}")
    stem = os.path.join(WEIGHTS_DIR, f"{dataset}_classifier")
    return stem + ".npz", stem + ".json"


def reference_record(dataset="mnist"):
    """The JSON record (command, seed, accuracy) written next to the weights."""
    with open(_paths(dataset)[1]) as f:
        return json.load(f)


_cache = {}


def load_reference_classifier(dataset="mnist"):
    """The trained SmallCNN for ``dataset``, in eval mode, on the active backend."""
    key = (dataset, _backend.get_backend())
    if key in _cache:
        return _cache[key]
    weights, _ = _paths(dataset)
    if not os.path.exists(weights):
        raise FileNotFoundError(
            f"the reference classifier {weights} is missing; train it with "
            f"`python -m tinygen.metrics.train_reference --dataset {dataset}`")
    model = SmallCNN()
    model.load_state_dict(load(weights)["model"])
    model.to(_backend.get_backend())
    model.eval()
    _cache[key] = model
    return model


def _as_batches(images, batch):
    images = np.asarray(_backend.to_numpy(getattr(images, "data", images)), dtype=np.float32)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected (N, 1, 28, 28) images in [0, 1], got {images.shape}")
    if images.min() < -1e-3 or images.max() > 1 + 1e-3:
        raise ValueError("images must lie in [0, 1] (rescale [-1, 1] samples with (x + 1) / 2)")
    for start in range(0, images.shape[0], batch):
        yield Tensor._make(_backend.to_backend(images[start:start + batch], _backend.get_backend()),
                           None, 0)


def features_and_probs(images, dataset="mnist", batch=500):
    """Penultimate features (N, 128) and class probabilities (N, 10), float64 NumPy."""
    model = load_reference_classifier(dataset)
    feats, probs = [], []
    with no_grad():
        for x in _as_batches(images, batch):
            f = model.features(x)
            feats.append(_backend.to_numpy(f.data))
            probs.append(_backend.to_numpy(softmax(model.head(f), dim=1).data))
    return np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64)
