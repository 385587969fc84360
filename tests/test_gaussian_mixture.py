"""The EM Gaussian mixture (ex-post latent density): density against a naive formula,
EM's monotone likelihood, recovery of a known mixture, sampling."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinygen.models import ClassConditionalMixture, GaussianMixture


def naive_density(z, weights, means, covariances):
    """p(z) = Σ_k π_k (2π)^(-D/2) |Σ_k|^(-1/2) exp(-½ (z - m_k)ᵀ Σ_k⁻¹ (z - m_k)), point by point."""
    d = len(z)
    total = 0.0
    for w, m, cov in zip(weights, means, covariances):
        diff = z - m
        quad = diff @ np.linalg.inv(cov) @ diff
        total += w * math.exp(-0.5 * quad) / math.sqrt((2 * math.pi) ** d * np.linalg.det(cov))
    return total


@given(seed=st.integers(0, 2**16), d=st.integers(1, 3), k=st.integers(1, 3))
def test_log_prob_matches_the_density_formula(seed, d, k):
    rng = np.random.default_rng(seed)
    gm = GaussianMixture(k)
    gm.weights = rng.dirichlet(np.ones(k))
    gm.means = rng.normal(size=(k, d))
    factors = rng.normal(size=(k, d, d))
    gm.covariances = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(d)   # SPD
    z = rng.normal(size=(5, d))
    expected = [math.log(naive_density(p, gm.weights, gm.means, gm.covariances)) for p in z]
    np.testing.assert_allclose(gm.log_prob(z), expected, rtol=1e-10, atol=1e-10)


def two_blobs(n, rng):
    """30% around (-4, 0), 70% around (3, 2) with a tilted covariance."""
    first = rng.normal(size=(int(0.3 * n), 2)) * 0.5 + [-4.0, 0.0]
    second = rng.multivariate_normal([3.0, 2.0], [[1.0, 0.6], [0.6, 0.8]], size=n - len(first))
    return np.concatenate([first, second])


def test_em_never_lowers_the_likelihood_and_recovers_a_known_mixture():
    z = two_blobs(4000, np.random.default_rng(0))
    gm = GaussianMixture(2, seed=1).fit(z)
    steps = np.diff(gm.log_likelihoods)
    assert len(gm.log_likelihoods) > 2 and (steps > -1e-9).all()
    order = np.argsort(gm.means[:, 0])
    np.testing.assert_allclose(gm.weights[order], [0.3, 0.7], atol=0.02)
    np.testing.assert_allclose(gm.means[order], [[-4.0, 0.0], [3.0, 2.0]], atol=0.1)
    np.testing.assert_allclose(gm.covariances[order[1]], [[1.0, 0.6], [0.6, 0.8]], atol=0.1)
    assert gm.log_prob(z).mean() == pytest.approx(gm.log_likelihoods[-1], abs=1e-4)


def test_samples_follow_the_fitted_mixture():
    gm = GaussianMixture(2, seed=3).fit(two_blobs(4000, np.random.default_rng(1)))
    draws = gm.sample(20_000)
    assert draws.shape == (20_000, 2)
    left = draws[:, 0] < -0.5
    assert left.mean() == pytest.approx(0.3, abs=0.02)
    np.testing.assert_allclose(draws[~left].mean(0), [3.0, 2.0], atol=0.1)
    np.testing.assert_allclose(np.cov(draws[~left].T), [[1.0, 0.6], [0.6, 0.8]], atol=0.1)


def test_class_conditional_mixture_samples_each_requested_label():
    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = rng.integers(0, 3, 3000)
    z = centres[labels] + rng.normal(size=(3000, 2))
    mixture = ClassConditionalMixture(3, n_components=2).fit(z, labels)
    wanted = np.array([2, 0, 1, 1, 2] * 200)
    draws = mixture.sample(wanted)
    nearest = np.argmin(((draws[:, None] - centres[None]) ** 2).sum(-1), 1)
    assert (nearest == wanted).mean() > 0.99


def test_clear_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        GaussianMixture(2).sample(3)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        GaussianMixture(2).fit(np.zeros(10))
    with pytest.raises(ValueError, match="cannot fit"):
        GaussianMixture(5).fit(np.zeros((3, 2)))
