"""Likelihood bounds for latent-variable models, computed stably in float64.

For a VAE with encoder q(z|x), decoder p(x|z) and prior p(z) = N(0, I):

    ELBO(x)   = E_q[log p(x|z)] - KL(q(z|x) ‖ p(z))                          ≤ log p(x)
    IWAE_k(x) = log (1/k) Σᵢ p(x|zᵢ) p(zᵢ) / q(zᵢ|x),   zᵢ ~ q(z|x)           ≤ log p(x)

IWAE_k increases with k and tends to log p(x) (Burda et al., 2016). The sum
is a log-mean-exp of the log-weights, done by subtracting their maximum.

For continuous models on dequantized pixels:

    bits/dim = (NLL_nats(x̃)/D + ln 256) / ln 2,   x̃ = (x + u)/256, u ~ U[0, 1)^D

where NLL_nats(x̃) is the density's negative log-likelihood of x̃ ∈ [0,1]^D,
including the log-Jacobian of any pre-processing (logit transforms, scaling).
"""
from __future__ import annotations

import math

import numpy as np

from .backend import to_numpy

LOG_2PI = math.log(2 * math.pi)


def log_mean_exp(log_w, axis=0):
    """log (1/k) Σ exp(log_w) along ``axis``, in float64, without overflow."""
    log_w = np.asarray(to_numpy(getattr(log_w, "data", log_w)), dtype=np.float64)
    top = np.max(log_w, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.mean(np.exp(log_w - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def iwae_bound(log_weights):
    """IWAE_k per item from log-weights of shape (k, N): log-mean-exp over the k samples."""
    return log_mean_exp(log_weights, axis=0)


def gaussian_log_density(z, mu, logvar):
    """Σ_d log N(z_d; μ_d, exp(logvar_d)) over the last axis (tinygen Tensors in, Tensor out)."""
    return (-0.5 * (LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp())).sum(-1)


def standard_normal_log_density(z):
    return (-0.5 * (LOG_2PI + z * z)).sum(-1)


def bits_per_dim(nll_nats, num_dims, log_jacobian=0.0):
    """(NLL of x̃ in nats (per item) + log-Jacobian of pre-processing)/D + ln 256, in bits.

    ``nll_nats`` is -log p(x̃) with x̃ the dequantized image scaled to [0, 1]^D;
    ``log_jacobian`` is log|det ∂(model input)/∂x̃| of any transform applied before the model,
    which the model's NLL must be corrected by (it is subtracted).
    """
    nll = np.asarray(nll_nats, dtype=np.float64) - np.asarray(log_jacobian, dtype=np.float64)
    return (nll / num_dims + math.log(256.0)) / math.log(2.0)


def binarization_protocol(kind):
    """A sentence naming how test images were binarized, for reports."""
    return {
        "dynamic": "dynamic binarization: each pixel ~ Bernoulli(intensity/255), redrawn per evaluation (seeded)",
        "fixed": "fixed binarization: pixel = 1[intensity/255 > 0.5]",
    }[kind]
