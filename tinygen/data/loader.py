"""``ArrayDataset`` and ``DataLoader``: batches of images as Tensors on the active backend.

The dataset keeps uint8 images (N, C, H, W) and labels on the host. For each
batch the loader picks indices, makes one host-to-device copy of the uint8
pixels (a quarter of the float32 bytes), and scales and transforms them on the
device. With ``resident=True`` (CuPy) the whole uint8 set is copied to the GPU
once and batches are gathered there: no transfer per step.

Shuffling uses a generator seeded with (seed, epoch), so an epoch's order is a
function of the epoch number alone: a resumed run can skip to the same batch.
"""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..autograd.tensor import constant
from .transforms import scale


class ArrayDataset:
    """Images (N, H, W) or (N, C, H, W) uint8, and optional integer labels (N,)."""

    def __init__(self, images, labels=None):
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4:
            raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got {images.shape}")
        if labels is not None:
            labels = np.asarray(labels).astype(np.int64)
            if labels.shape != (images.shape[0],):
                raise ValueError(f"{images.shape[0]} images but labels of shape {labels.shape}")
        self.images, self.labels = images, labels

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, index):
        y = None if self.labels is None else self.labels[index]
        return self.images[index], y

    def subset(self, n):
        return ArrayDataset(self.images[:n], None if self.labels is None else self.labels[:n])


class DataLoader:
    """Iterate over (x, y) batches: x float Tensor (B, C, H, W), y int64 Tensor (B,) or None.

    ``scale_to``: '01' for [0, 1] pixels, 'pm1' for [-1, 1], None to pass the arrays through
    as they are (integer code maps, say). ``transform`` runs on the batch Tensor (e.g.
    DynamicBinarize). ``limit`` keeps the first N items. ``sampler``, an object with
    ``indices(epoch)`` and ``len`` (``distributed.DistributedSampler``: this rank's
    shard), replaces the loader's own order.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=0,
                 limit=None, transform=None, scale_to="01", resident=False, backend=None, sampler=None):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.dataset = dataset if limit is None else dataset.subset(limit)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.transform, self.scale_to = seed, transform, scale_to
        self.sampler = sampler
        self.backend = backend or _backend.get_backend()
        self.epoch = 0
        self.skip_batches = 0
        self._images = self.dataset.images
        self._labels = self.dataset.labels
        if resident and self.backend == "cupy":
            self._images = _backend.to_backend(self._images, "cupy")
            if self._labels is not None:
                self._labels = _backend.to_backend(self._labels, "cupy")

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch, skip_batches=0):
        """Use epoch ``epoch``'s order, and start after ``skip_batches`` batches (for --resume)."""
        self.epoch, self.skip_batches = epoch, skip_batches

    def order(self, epoch):
        if self.sampler is not None:
            return self.sampler.indices(epoch)
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self):
        order = self.order(self.epoch)
        skip, self.skip_batches = self.skip_batches, 0
        for b in range(skip, len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self._batch(idx)
        self.epoch += 1

    def _batch(self, idx):
        xp = _backend.module(self.backend)
        if isinstance(self._images, np.ndarray):
            pixels = _backend.to_backend(self._images[idx], self.backend)   # one copy, uint8
        else:
            pixels = self._images[xp.asarray(idx)]
        x = constant(pixels if self.scale_to is None else scale(pixels, self.scale_to))
        if self.transform is not None:
            x = self.transform(x)
        y = None
        if self._labels is not None:
            labels = self._labels[idx] if isinstance(self._labels, np.ndarray) else \
                self._labels[xp.asarray(idx)]
            y = constant(_backend.to_backend(labels, self.backend))
        return x, y


class ZipLoader:
    """Several loaders side by side, for unpaired training on two domains (CycleGAN):
    each batch is (x_a, x_b, ...), the first item of each loader's batch, and the
    shortest loader sets the length. ``set_epoch`` moves them all together."""

    def __init__(self, *loaders):
        self.loaders = loaders

    def __len__(self):
        return min(len(loader) for loader in self.loaders)

    @property
    def skip_batches(self):
        return self.loaders[0].skip_batches

    def set_epoch(self, epoch, skip_batches=0):
        for loader in self.loaders:
            loader.set_epoch(epoch, skip_batches)

    def __iter__(self):
        for batches in zip(*self.loaders):
            yield tuple(batch[0] for batch in batches)
