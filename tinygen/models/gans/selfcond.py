"""A self-conditioned GAN: conditioned on clusters of its training images instead of labels.

Sage et al. (2018, "Logo synthesis and manipulation with clustered GANs") cluster
the training set and train a conditional GAN on the cluster ids; Liu et al.
(2020, "Diverse image generation via self-conditioned GANs") do the same with
clusters of the discriminator's features. No label is used: the model is still a
model of p(x), written as a mixture over the K clusters,

    p(x) = Σ_k π_k p(x | c = k),   π_k = N_k / N   (N_k: the training images in cluster k)

and it samples by drawing the cluster first:

    c ~ Categorical(π),   z ~ N(0, I),   x = G(z, c).

Why it helps an unconditional GAN: one G(z) has to map a connected z-space onto
digits that lie on separate manifolds, and the z between two digits' regions
decodes to an in-between shape that is no digit (a quarter of the plain DCGAN's
samples, RESULTS.md). With the cluster as a discrete input, G can jump between
modes instead. Here the clusters are k-means clusters of the pixels
(``data.kmeans``), found once before training; G and D are the CGAN's
(``conditional_gan``: G fed [z, onehot(c)], D seeing onehot(c) as constant
planes beside the image), with c in place of the label.
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module, to_numpy
from ...creation import full, rand, tensor
from .kmeans import kmeans
from .conditional import ConditionalGenerator


def cluster_images(images, num_clusters, seed=0):
    """k-means on the flattened pixels (scaled to [0, 1]) of uint8 or float images (N, ...).
    Returns the (N,) int64 cluster id of each image."""
    x = images.reshape(len(images), -1)
    x = x.astype(np.float32) / 255 if x.dtype == np.uint8 else x.astype(np.float32)
    return kmeans(x, num_clusters, seed=seed)[1]


class SelfConditionedGenerator(ConditionalGenerator):
    """G(z, c) with the cluster sizes π kept as a buffer, so that ``sample(n)`` draws
    c ~ Categorical(π) as the mixture above does."""

    def __init__(self, latent_dim=100, num_clusters=50, width=64):
        super().__init__(latent_dim, num_clusters, width)
        self.register_buffer("cluster_weights", full((num_clusters,), 1.0 / num_clusters))

    def set_cluster_weights(self, assignment):
        """π_k = N_k / N from the training images' cluster ids (N,)."""
        counts = np.bincount(to_numpy(assignment), minlength=self.num_classes)
        if len(counts) != self.num_classes:
            raise ValueError(f"cluster ids must lie in [0, {self.num_classes}), got {len(counts) - 1}")
        weights = self.cluster_weights.data
        weights[...] = get_array_module(weights).asarray(counts / counts.sum(), dtype=weights.dtype)

    def draw_clusters(self, n):
        """n cluster ids c ~ Categorical(π), by inverting the CDF on the array's device."""
        weights = self.cluster_weights.data
        xp = get_array_module(weights)
        cdf = xp.cumsum(weights)
        device = self.cluster_weights.device
        u = rand(n, dtype=weights.dtype, device=device).data * cdf[-1]    # × cdf[-1]: robust to rounding
        ids = xp.minimum(xp.searchsorted(cdf, u, side="right"), self.num_classes - 1)
        return tensor(ids, dtype="int64", device=device)

    def sample(self, n=None, labels=None):
        """Images; ``labels=None`` draws n cluster ids from π (the model's own p(x))."""
        if labels is None:
            if n is None:
                raise ValueError("pass n (or labels=... to choose the clusters)")
            labels = self.draw_clusters(n)
        return super().sample(labels=labels)
