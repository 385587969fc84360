"""Likelihood helpers on a toy model whose likelihood is known in closed form.

Model: z ~ N(0, 1), x | z ~ N(z, s²)  ⇒  p(x) = N(x; 0, 1 + s²),
exact posterior q*(z|x) = N(x/(1+s²), s²/(1+s²)).
"""
import math

import numpy as np
import pytest

from tinygen.metrics import bits_per_dim, iwae_bound, log_mean_exp

S2 = 0.5


def log_normal(v, mean, var):
    return -0.5 * (math.log(2 * math.pi) + np.log(var) + (v - mean) ** 2 / var)


def log_weights(x, k, q_mean, q_var, rng):
    z = q_mean + np.sqrt(q_var) * rng.standard_normal((k, x.size))
    return log_normal(x, z, S2) + log_normal(z, 0.0, 1.0) - log_normal(z, q_mean, q_var)


def test_log_mean_exp_is_stable():
    values = np.array([[1000.0, -1000.0], [1000.0, -1001.0]])
    np.testing.assert_allclose(log_mean_exp(values, axis=0), [1000.0, np.log((np.exp(0) + np.exp(-1)) / 2) - 1000])
    assert np.isfinite(log_mean_exp(np.array([-1e5, -1e5 - 1]))).all()


def test_iwae_is_exact_with_the_true_posterior():
    rng = np.random.default_rng(0)
    x = rng.normal(0, math.sqrt(1 + S2), 50)
    truth = log_normal(x, 0.0, 1 + S2)
    exact = iwae_bound(log_weights(x, 5, x / (1 + S2), S2 / (1 + S2), rng))
    np.testing.assert_allclose(exact, truth, atol=1e-10)   # every weight equals p(x)


def test_iwae_bound_increases_with_k_towards_log_px():
    rng = np.random.default_rng(1)
    x = rng.normal(0, math.sqrt(1 + S2), 400)
    truth = log_normal(x, 0.0, 1 + S2).mean()
    # a deliberately poor q: right mean, much too narrow
    bounds = {k: iwae_bound(log_weights(x, k, x / (1 + S2), 0.05, rng)).mean() for k in (1, 10, 100, 1000)}
    assert bounds[1] < bounds[10] < bounds[100] < bounds[1000] <= truth + 1e-3
    assert truth - bounds[1000] < 0.25 * (truth - bounds[1])   # most of the gap closed


def test_bits_per_dim():
    # a uniform density on [0,1]^D has NLL 0 on x̃, i.e. exactly 8 bits per dimension
    assert bits_per_dim(0.0, 784) == pytest.approx(8.0)
    # a pre-processing with log-Jacobian J shifts the NLL by -J
    assert bits_per_dim(784 * math.log(2), 784, log_jacobian=0.0) == pytest.approx(9.0)
    assert bits_per_dim(784 * math.log(2), 784, log_jacobian=784 * math.log(2)) == pytest.approx(8.0)
