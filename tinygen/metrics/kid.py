"""Kernel Inception Distance: an unbiased MMD² with the cubic polynomial kernel

    k(x, y) = (xᵀy / d + 1)³

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} k(xᵢ,xⱼ) + 1/(m(m-1)) Σ_{i≠j} k(yᵢ,yⱼ) - 2/m² Σ_{i,j} k(xᵢ,yⱼ)

averaged over random subsets of size m (Bińkowski et al., 2018); the report is
mean ± std over the subsets. Unlike FID it is unbiased, so small n is fine.
"""
from __future__ import annotations

import numpy as np


def polynomial_mmd2(x, y):
    d = x.shape[1]
    m = x.shape[0]
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return sum_xx + sum_yy - 2.0 * k_xy.mean()


def kid(features_a, features_b, subsets=20, subset_size=1000, seed=0):
    """(mean, std) of the unbiased polynomial-kernel MMD² over random subsets."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 samples per set")
    rng = np.random.default_rng(seed)
    values = [polynomial_mmd2(a[rng.choice(a.shape[0], m, replace=False)],
                              b[rng.choice(b.shape[0], m, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values)), m
