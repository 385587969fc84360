"""Image transforms, applied to a whole batch at once on its backend (no per-image loops).

Each takes a float Tensor of pixels in [0, 1], shape (N, C, H, W), and returns one.

* ``scale`` maps uint8 0…255 to [0, 1] or [-1, 1] (the DataLoader calls it).
* ``DynamicBinarize``: x ~ Bernoulli(pixel) — a fresh draw every time, so each
  epoch sees a new binarization (the protocol of the VAE/IWAE papers).
* ``fixed_binarize``: x = 1[pixel > threshold], the same every time.
* ``binarize_images`` / ``binarized_mnist``: one seeded Bernoulli draw of uint8 images on
  the host, for evaluation sets that must be the same on every run.
* ``RandomShift``: move each image by up to ``max_shift`` pixels, padding with zeros.
* ``RandomAffine``: rotate, scale, shear and move each image by its own random amount
  (bilinear, zeros outside), so a classifier learns digits, not one writer's geometry.
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


def bilinear_read(images, points):
    """Arrays (N, C, H, W) read at real (row, col) points (N, P, 2), bilinear, zero outside
    the image: (N, C, P). Each point's four neighbours are gathered for the whole batch."""
    xp = get_array_module(images)
    n, c, h, w = images.shape
    q0 = xp.floor(points)
    frac = (points - q0).astype(images.dtype)
    q0 = q0.astype(np.int64)
    # pad by one zero pixel (and clip beyond), so every neighbour index is in range
    padded = xp.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    batch = xp.arange(n)[:, None, None]
    chan = xp.arange(c)[None, :, None]
    out = xp.zeros((n, c, points.shape[1]), dtype=images.dtype)
    for dr in (0, 1):
        for dc in (0, 1):
            r = xp.clip(q0[..., 0] + dr + 1, 0, h + 1)[:, None, :]
            col = xp.clip(q0[..., 1] + dc + 1, 0, w + 1)[:, None, :]
            weight = (frac[..., 0] if dr else 1 - frac[..., 0]) * (frac[..., 1] if dc else 1 - frac[..., 1])
            out += padded[batch, chan, r, col] * weight[:, None, :]
    return out


class RandomAffine:
    """Each image through its own random affine map about the image centre c, bilinear,
    zeros outside: the output pixel p reads the input at

        q = A⁻¹ (p - c - t) + c,    A = R(θ) · S(γ) · s,

    θ ~ U(±degrees) (radians inside), s ~ U(scale), the shear S(γ) = [[1, γ], [0, 1]] with
    γ ~ U(±shear), and t ~ U(±translate)² pixels. The four neighbours of every q are
    gathered at once for the whole batch (no loop over images)."""

    def __init__(self, degrees=15.0, scale=(0.85, 1.15), shear=0.2, translate=2.0):
        self.degrees, self.scale, self.shear, self.translate = degrees, tuple(scale), shear, translate

    def _matrices(self, n, xp, device):
        """A⁻¹ (n, 2, 2) and t (n, 2), in (row, col) order."""
        from ..random import uniform_array
        theta = uniform_array((n,), -self.degrees, self.degrees, np.float64, device) * (np.pi / 180.0)
        s = uniform_array((n,), self.scale[0], self.scale[1], np.float64, device)
        gamma = uniform_array((n,), -self.shear, self.shear, np.float64, device)
        t = uniform_array((n, 2), -self.translate, self.translate, np.float64, device)
        cos, sin = xp.cos(theta), xp.sin(theta)
        # A = s · R(θ) · S(γ) with R = [[cos, -sin], [sin, cos]], S = [[1, γ], [0, 1]]
        a = xp.stack([xp.stack([cos, cos * gamma - sin], -1),
                      xp.stack([sin, sin * gamma + cos], -1)], -2) * s[:, None, None]
        return xp.linalg.inv(a), t

    def __call__(self, x):
        n, c, h, w = x.shape
        xp = get_array_module(x.data)
        a_inv, t = self._matrices(n, xp, x.device)
        centre = xp.asarray([(h - 1) / 2.0, (w - 1) / 2.0])
        rows, cols = xp.meshgrid(xp.arange(h, dtype=np.float64), xp.arange(w, dtype=np.float64), indexing="ij")
        p = xp.stack([rows, cols], -1).reshape(1, h * w, 2) - centre - t[:, None, :]     # (n, HW, 2)
        q = xp.einsum("nij,nkj->nki", a_inv, p) + centre                                   # q = A⁻¹(p - c - t) + c
        out = bilinear_read(x.data, q)
        return constant(out.reshape(n, c, h, w))

    def __repr__(self):
        return (f"RandomAffine(degrees={self.degrees}, scale={self.scale}, shear={self.shear}, "
                f"translate={self.translate})")


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return f"Compose({self.transforms})"
