"""Fréchet distance between two sets of features (the FID when the features come from a
reference network), computed in float64:

    FID = ‖μ₁ - μ₂‖² + Tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2})

(Σ₁Σ₂)^{1/2} comes from ``scipy.linalg.sqrtm`` (well tested, and robust where
hand-written Newton iterations are not); when the product is near-singular a
small ε·I is added to both covariances, and any imaginary part that rounding
leaves behind is dropped.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def gaussian_stats(features):
    """(μ, Σ) of an (n, d) feature array, in float64 (Σ with the unbiased n-1 divisor)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (n ≥ 2, d), got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    diff = mu1 - mu2
    product = sigma1 @ sigma2
    with warnings.catch_warnings():
        # ReLU features often have dead units, so Σ is singular; sqrtm still returns the
        # right root of the singular product, and the residual below tells when it did not
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(product)
    residual = np.linalg.norm(covmean @ covmean - product) / max(np.linalg.norm(product), 1e-300)
    if not np.isfinite(covmean).all() or residual > 1e-3:
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(features_a, features_b):
    """FID between two (n, d) feature arrays."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))
