"""The model zoo: trained tinygen models shipped inside the package, each with its card.

    from tinygen import zoo
    zoo.available()                          # the names, e.g. ['cgan', 'cvae', ...]
    zoo.card("cgan")                         # recipe, epochs, wall time, commit, metrics
    G = zoo.load("cgan")                     # the network in eval mode, ready to sample
    images, labels = zoo.sample("cgan", 64, labels=range(10), seed=0)

or from a shell: ``python -m tinygen.sample cgan --n 64``.

Each model is two files in ``tinygen/zoo/weights/``: ``NAME.npz`` (``tg.save`` format,
read without pickle; float16 arrays where the card's metrics hold) holding only what
sampling needs (G, not D), and ``NAME.json``, its card: the exact command that trained
it from a clean checkout, epochs, wall time on a 2-core machine, the commit, and the
metrics with their protocol. ``python -m tinygen.zoo.export`` writes both from a
finished run folder.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import backend as _backend
from .. import random as _random
from ..serialization import load as _load
from .kinds import kinds

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")


class UnknownModelError(KeyError):
    def __str__(self):
        return self.args[0]


def available():
    """Names of the shipped models, sorted."""
    if not os.path.isdir(WEIGHTS_DIR):
        return []
    return sorted(f[:-5] for f in os.listdir(WEIGHTS_DIR)
                  if f.endswith(".json") and os.path.exists(os.path.join(WEIGHTS_DIR, f[:-5] + ".npz")))


def _paths(name):
    if name not in available():
        raise UnknownModelError(f"no zoo model named {name!r}; available: {', '.join(available()) or 'none'}")
    stem = os.path.join(WEIGHTS_DIR, name)
    return stem + ".npz", stem + ".json"


def card(name):
    """The card (a dict) of a shipped model."""
    with open(_paths(name)[1]) as f:
        return json.load(f)


def load(name, backend=None):
    """The model ``name`` in eval mode, its weights in float32, on ``backend`` (default: the
    active one). The shipped extras it samples with (e.g. an ex-post density) ride along
    as ``model.zoo_extra``, and its card as ``model.zoo_card``."""
    weights, _ = _paths(name)
    info = card(name)
    kind = kinds()[info["kind"]]
    model = kind.build(info["config"])
    state = _load(weights)
    floats = {k: (v.astype(np.float32) if v.dtype == np.float16 else v) for k, v in state["model"].items()}
    model.load_state_dict(floats)
    model.to(backend or _backend.get_backend())
    model.eval()
    model.zoo_extra = state.get("extra", {})
    model.zoo_card = info
    model.zoo_name = name
    return model


def sample(model, n=64, labels=None, seed=0, backend=None, **options):
    """(images float32 (N, 1, 28, 28) in [0, 1], labels or None) from a zoo model.

    ``model`` is a name or what ``load`` returned. Conditional models take ``labels``
    (default: 0, 1, ..., 9, 0, 1, ... for n images); unconditional ones refuse them.
    ``options`` are the model's sampling knobs (``zoo.card(name)["sampling"]`` holds
    their defaults). The same seed gives the same images.
    """
    if isinstance(model, str):
        model = load(model, backend)
    info = model.zoo_card
    kind = kinds()[info["kind"]]
    if kind.conditional:
        labels = np.arange(n) % 10 if labels is None else np.asarray(list(labels), dtype=np.int64)
        if labels.ndim != 1 or len(labels) == 0 or labels.min() < 0 or labels.max() > 9:
            raise ValueError("labels must be digits 0-9, one per image")
        n = len(labels)
    elif labels is not None:
        raise ValueError(f"{model.zoo_name} is unconditional: it takes no labels")
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    unknown = set(options) - set(kind.options)
    if unknown:
        raise ValueError(f"{model.zoo_name} has no sampling option {sorted(unknown)}; its options: "
                         f"{sorted(kind.options) or 'none'}")
    defaults = dict(info.get("sampling", {}))
    if options.get("sampler") not in (None, defaults.get("sampler")):
        defaults.pop("eta", None)       # the card's η belongs to its own sampler (DDIM), not the one asked for
    chosen = {**defaults, **{k: v for k, v in options.items() if v is not None}}
    chosen["seed"] = seed
    device = next(iter(model.parameters())).device      # draw z where the weights are
    images, out_labels = [], []
    with _backend.use_backend(device):
        _random.manual_seed(seed)
        for start in range(0, n, 500):           # bounded memory for large n
            part = labels[start:start + 500] if labels is not None else None
            size = len(part) if part is not None else min(500, n - start)
            chosen["seed"], chosen["start"] = seed + start, start
            x, y = kind.draw(model, size, part, model.zoo_extra, chosen)
            images.append(x)
            if y is not None:
                out_labels.append(np.asarray(y, dtype=np.int64))
    return np.concatenate(images), (np.concatenate(out_labels) if out_labels else None)
