"""Image transforms, applied to a whole batch at once on its backend (no per-image loops).

Each takes a float Tensor of pixels in [0, 1], shape (N, C, H, W), and returns one.

* ``scale`` maps uint8 0…255 to [0, 1] or [-1, 1] (the DataLoader calls it).
* ``DynamicBinarize``: x ~ Bernoulli(pixel) — a fresh draw every time, so each
  epoch sees a new binarization (the protocol of the VAE/IWAE papers).
* ``fixed_binarize``: x = 1[pixel > threshold], the same every time.
* ``binarize_images`` / ``binarized_mnist``: one seeded Bernoulli draw of uint8 images on
  the host, for evaluation sets that must be the same on every run.
* ``RandomShift``: move each image by up to ``max_shift`` pixels, padding with zeros.
"""
from __future__ import annotations

import numpy as np

from .. import creation
from ..autograd import constant, ops
from ..backend import get_array_module


def scale(x_uint8, to="01", dtype=np.float32):
    """uint8 array → float array in [0, 1] (to='01') or [-1, 1] (to='pm1')."""
    x = x_uint8.astype(dtype) * dtype(1.0 / 255.0)
    if to == "pm1":
        return x * dtype(2.0) - dtype(1.0)
    if to != "01":
        raise ValueError(f"scale to '01' or 'pm1', not {to!r}")
    return x


class DynamicBinarize:
    """x ~ Bernoulli(x): a new draw on every call (seeded by tg.manual_seed)."""

    def __call__(self, x):
        return ops.cast(creation.rand_like(x) < x, x.dtype)

    def __repr__(self):
        return "DynamicBinarize()"


def fixed_binarize(x, threshold=0.5):
    return ops.cast(x > threshold, x.dtype)


def binarize_images(images, rng):
    """uint8 (N, H, W) → (N, 1, H, W) float32, each pixel ~ Bernoulli(intensity/255), drawn
    with the NumPy Generator ``rng`` (so a seed fixes the draw)."""
    pixels = images.astype(np.float32) / 255.0
    return (rng.random(pixels.shape, dtype=np.float32) < pixels).astype(np.float32)[:, None]


def binarized_mnist(split, n, seed):
    """The first n images of an MNIST split, dynamically binarized once with a fixed seed,
    and their labels (int64): the evaluation set of the likelihood models."""
    from .mnist import load_mnist
    images, labels = load_mnist(split)
    return binarize_images(images[:n], np.random.default_rng(seed)), labels[:n].astype(np.int64)


def dequantized_mnist(split, n, seed):
    """The first n images of an MNIST split as x = (k + u)/256, u ~ U(0, 1) drawn once with a
    fixed seed, (N, 1, 28, 28) float32, and their labels: the flows' evaluation set."""
    from .mnist import load_mnist
    images, labels = load_mnist(split)
    k = images[:n, None].astype(np.float32)
    u = np.random.default_rng(seed).random(k.shape, dtype=np.float32)
    return (k + u) / 256.0, labels[:n].astype(np.int64)


class FixedBinarize:
    def __init__(self, threshold=0.5):
        self.threshold = threshold

    def __call__(self, x):
        return fixed_binarize(x, self.threshold)

    def __repr__(self):
        return f"FixedBinarize({self.threshold})"


class RandomShift:
    """Translate each image by an independent random (dy, dx) in [-m, m]², zeros filling in."""

    def __init__(self, max_shift=2):
        self.max_shift = max_shift

    def __call__(self, x):
        from ..random import integers_array
        m = self.max_shift
        n, c, h, w = x.shape
        xp = get_array_module(x.data)
        padded = xp.pad(x.data, ((0, 0), (0, 0), (m, m), (m, m)))
        dy = integers_array(0, 2 * m + 1, (n,), x.device)
        dx = integers_array(0, 2 * m + 1, (n,), x.device)
        rows = dy[:, None, None, None] + xp.arange(h)[None, None, :, None]
        cols = dx[:, None, None, None] + xp.arange(w)[None, None, None, :]
        batch = xp.arange(n)[:, None, None, None]
        chan = xp.arange(c)[None, :, None, None]
        return constant(padded[batch, chan, rows, cols])

    def __repr__(self):
        return f"RandomShift({self.max_shift})"


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return f"Compose({self.transforms})"
