"""A Gaussian mixture fitted by EM: the "ex-post" latent density of a trained (C)VAE.

Sampling a VAE draws z from the prior, but the codes the encoder actually uses
(the aggregate posterior) fill the prior unevenly; z from an empty corner of the
prior decodes to an in-between shape. Ghosh et al. (2020, "From Variational to
Deterministic Autoencoders") fit a mixture to the encoder's codes of the
training set after training and sample from that instead; the model is
unchanged, only the sampler is.

    p(z) = Σ_k π_k N(z; m_k, Σ_k)

EM, with responsibilities r_nk (the E-step) and their totals N_k:

    r_nk = π_k N(z_n; m_k, Σ_k) / Σ_j π_j N(z_n; m_j, Σ_j)
    π_k = N_k / N,   m_k = Σ_n r_nk z_n / N_k,
    Σ_k = Σ_n r_nk (z_n - m_k)(z_n - m_k)ᵀ / N_k + ε I       (ε keeps Σ_k invertible)

Each EM step cannot lower the data's log-likelihood Σ_n log p(z_n). The codes are
a few thousand low-dimensional vectors, so this runs in float64 NumPy on the
host whatever the backend (it is post-processing, not part of a training step).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp


class GaussianMixture:
    """Full-covariance Gaussian mixture, fitted with ``fit(z)`` (z: (N, D) array)."""

    def __init__(self, n_components=10, max_iter=200, tol=1e-6, reg=1e-6, seed=0):
        if n_components < 1:
            raise ValueError(f"n_components must be ≥ 1, got {n_components}")
        self.n_components, self.max_iter, self.tol, self.reg = n_components, max_iter, tol, reg
        self.rng = np.random.default_rng(seed)
        self.weights = self.means = self.covariances = None
        self.log_likelihoods = []      # mean log p(z_n) after each EM step

    # -- densities ------------------------------------------------------------------
    def _component_log_densities(self, z):
        """log π_k + log N(z_n; m_k, Σ_k), shape (N, K), through the Cholesky factor Σ_k = L Lᵀ:
        log N = -½ (D log 2π + log|Σ_k| + ‖L⁻¹(z_n - m_k)‖²),  log|Σ_k| = 2 Σ_i log L_ii."""
        n, d = z.shape
        out = np.empty((n, self.n_components))
        for k in range(self.n_components):        # a loop over K components, not over points
            chol = np.linalg.cholesky(self.covariances[k])
            white = solve_triangular(chol, (z - self.means[k]).T, lower=True)   # (D, N)
            log_det = 2.0 * np.log(np.diag(chol)).sum()
            out[:, k] = math.log(self.weights[k]) - 0.5 * (
                d * math.log(2 * math.pi) + log_det + (white * white).sum(0))
        return out

    def log_prob(self, z):
        """log p(z_n) = log Σ_k π_k N(z_n; m_k, Σ_k), shape (N,)."""
        self._check_fitted()
        z = self._as_codes(z)
        return logsumexp(self._component_log_densities(z), axis=1)

    # -- fitting --------------------------------------------------------------------
    def fit(self, z):
        z = self._as_codes(z)
        n, d = z.shape
        k = self.n_components
        if n < k:
            raise ValueError(f"{n} codes cannot fit {k} mixture components")
        # start: K distinct codes as means, every covariance the data's, equal weights
        self.means = z[self.rng.choice(n, k, replace=False)].copy()
        self.covariances = np.repeat((np.cov(z.T).reshape(d, d) + self.reg * np.eye(d))[None], k, 0)
        self.weights = np.full(k, 1.0 / k)
        self.log_likelihoods = []
        for _ in range(self.max_iter):
            joint = self._component_log_densities(z)                       # E-step
            log_p = logsumexp(joint, axis=1, keepdims=True)                # log p(z_n)
            resp = np.exp(joint - log_p)                                   # r_nk
            self.log_likelihoods.append(float(log_p.mean()))
            totals = resp.sum(0) + 1e-12                                   # N_k (M-step)
            self.weights = totals / totals.sum()
            self.means = (resp.T @ z) / totals[:, None]
            for j in range(k):
                centred = z - self.means[j]
                self.covariances[j] = (resp[:, j:j + 1] * centred).T @ centred / totals[j] + \
                    self.reg * np.eye(d)
            if len(self.log_likelihoods) > 1 and \
                    abs(self.log_likelihoods[-1] - self.log_likelihoods[-2]) < self.tol:
                break
        return self

    def sample(self, n):
        """n codes: a component k ~ π, then z = m_k + L_k ε with ε ~ N(0, I)."""
        self._check_fitted()
        d = self.means.shape[1]
        components = self.rng.choice(self.n_components, size=n, p=self.weights)
        eps = self.rng.standard_normal((n, d))
        chols = np.linalg.cholesky(self.covariances)                      # (K, D, D)
        return self.means[components] + np.einsum("nij,nj->ni", chols[components], eps)

    # -- state ----------------------------------------------------------------------
    def state_dict(self):
        """The fitted parameters (π, m, Σ) as arrays, for tg.save."""
        self._check_fitted()
        return {"weights": self.weights, "means": self.means, "covariances": self.covariances}

    def load_state_dict(self, state):
        self.weights, self.means, self.covariances = (np.asarray(state[k], dtype=np.float64)
                                                      for k in ("weights", "means", "covariances"))
        self.n_components = len(self.weights)
        return self

    def reseed(self, seed):
        """Draw the next samples from a fresh generator with this seed."""
        self.rng = np.random.default_rng(seed)
        return self

    # -- helpers --------------------------------------------------------------------
    @staticmethod
    def _as_codes(z):
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2:
            raise ValueError(f"codes must be an (N, D) array, got shape {z.shape}")
        return z

    def _check_fitted(self):
        if self.means is None:
            raise RuntimeError("this GaussianMixture is not fitted yet: call fit(z) first")


class ClassConditionalMixture:
    """One GaussianMixture per label: the ex-post p(z|y) of a conditional VAE."""

    def __init__(self, num_classes, n_components=10, seed=0, **options):
        self.mixtures = [GaussianMixture(n_components, seed=seed + c, **options)
                         for c in range(num_classes)]

    def fit(self, z, labels):
        z, labels = np.asarray(z), np.asarray(labels)
        for c, mixture in enumerate(self.mixtures):
            mixture.fit(z[labels == c])
        return self

    def state_dict(self):
        return {f"class_{c}": m.state_dict() for c, m in enumerate(self.mixtures)}

    def load_state_dict(self, state):
        for c, mixture in enumerate(self.mixtures):
            mixture.load_state_dict(state[f"class_{c}"])
        return self

    def reseed(self, seed):
        for c, mixture in enumerate(self.mixtures):
            mixture.reseed(seed + c)
        return self

    def sample(self, labels):
        """One code per requested label, in the labels' order."""
        labels = np.asarray(labels)
        out = np.empty((len(labels), self.mixtures[0].means.shape[1]))
        for c, mixture in enumerate(self.mixtures):
            where = np.flatnonzero(labels == c)
            if len(where):
                out[where] = mixture.sample(len(where))
        return out
