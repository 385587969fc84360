"""Improved precision and recall (Kynkäänniemi et al., 2019).

Each set's manifold is the union of balls around its points, the radius of a
point being the distance to its k-th nearest neighbour within the set (k = 3):

    precision = fraction of generated points inside the real manifold
    recall    = fraction of real points inside the generated manifold

The two sets must be of equal size n, so that the radii are comparable.
"""
from __future__ import annotations

import numpy as np


def _squared_distance_blocks(a, b, block=1024):
    """Yield (start, ‖aᵢ - bⱼ‖² for a block of rows of a): never the whole n×n matrix."""
    b_sq = (b * b).sum(1)
    for start in range(0, a.shape[0], block):
        part = a[start:start + block]
        d = (part * part).sum(1)[:, None] - 2.0 * part @ b.T + b_sq[None, :]
        yield start, np.maximum(d, 0.0)


def knn_radii(features, k=3):
    """Squared distance from every point to its k-th nearest other point."""
    radii = np.empty(features.shape[0])
    for start, d in _squared_distance_blocks(features, features):
        rows = np.arange(d.shape[0])
        d[rows, start + rows] = np.inf      # a point is not its own neighbour
        radii[start:start + d.shape[0]] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return radii


def coverage_fraction(manifold, radii, queries):
    """Fraction of ``queries`` within some ball (manifold point, radius)."""
    inside = 0
    for _, d in _squared_distance_blocks(queries, manifold):
        inside += int((d <= radii[None, :]).any(axis=1).sum())
    return inside / queries.shape[0]


def precision_recall(real_features, fake_features, k=3):
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    if real.shape[0] != fake.shape[0]:
        raise ValueError(f"precision/recall needs equal numbers of real and generated samples "
                         f"({real.shape[0]} vs {fake.shape[0]})")
    precision = coverage_fraction(real, knn_radii(real, k), fake)
    recall = coverage_fraction(fake, knn_radii(fake, k), real)
    return precision, recall
