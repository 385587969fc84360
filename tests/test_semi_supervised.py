"""M2, the semi-supervised VAE: its labelled loss against a NumPy forward pass written out
by hand, and its unlabelled loss against a loop over examples and classes."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen.models import SemiSupervisedVAE


def small_model(likelihood, seed=0):
    tg.manual_seed(seed)
    return SemiSupervisedVAE(input_dim=5, latent_dim=3, hidden=4, num_classes=3, likelihood=likelihood).double()


def f64(array):
    return tg.tensor(np.asarray(array, dtype=np.float64), dtype=tg.float64)


def weights(layer):
    return layer.weight.detach().numpy(), layer.bias.detach().numpy()


def numpy_labelled_loss(model, x, y, noise):
    """L(x, y) = -log p(x | y, z) + KL(q(z|x,y) ‖ N(0, I)) + log K, one example at a time."""
    relu = lambda v: np.maximum(v, 0.0)
    (w_e, b_e), (w_m, b_m), (w_v, b_v) = weights(model.encoder[0]), weights(model.mu), weights(model.logvar)
    (w_d, b_d), (w_o, b_o) = weights(model.decoder[0]), weights(model.decoder[2])
    losses = []
    for xi, yi, eps in zip(x, y, noise):
        one_hot = np.eye(model.num_classes)[yi]
        h = relu(w_e @ np.concatenate([xi, one_hot]) + b_e)
        mu, logvar = w_m @ h + b_m, w_v @ h + b_v
        z = mu + np.exp(0.5 * logvar) * eps
        out = w_o @ relu(w_d @ np.concatenate([z, one_hot]) + b_d) + b_o
        if model.likelihood == "gaussian":
            mean, var = out[:model.input_dim], np.exp(out[model.input_dim:])
            log_px = sum(-0.5 * math.log(2 * math.pi * v) - (xd - m) ** 2 / (2 * v)
                         for xd, m, v in zip(xi, mean, var))
        else:
            p = 1.0 / (1.0 + np.exp(-out))
            log_px = sum(xd * math.log(pd) + (1 - xd) * math.log(1 - pd) for xd, pd in zip(xi, p))
        kl = sum(0.5 * (math.exp(lv) + m * m - 1.0 - lv) for m, lv in zip(mu, logvar))
        losses.append(-log_px + kl + math.log(model.num_classes))
    return np.array(losses)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_labelled_loss_matches_a_hand_written_forward_pass(likelihood):
    model = small_model(likelihood)
    rng = np.random.default_rng(1)
    x = rng.random((4, 5)) if likelihood == "bernoulli" else rng.normal(size=(4, 5))
    y = np.array([0, 2, 1, 2])
    noise = rng.normal(size=(4, 3))
    got = model.labelled_loss(f64(x), tg.tensor(y), f64(noise)).detach().numpy()
    np.testing.assert_allclose(got, numpy_labelled_loss(model, x, y, noise), rtol=1e-10)


def test_unlabelled_loss_sums_the_labelled_losses_under_the_classifier():
    """U(x) = Σ_y q(y|x) L(x, y) - H(q(y|x)), with class y's noise given."""
    model = small_model("gaussian")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 5))
    noise = rng.normal(size=(3, 4, 3))                 # (K, N, latent): class y's ε for every x
    got = model.unlabelled_loss(f64(x), f64(noise)).detach().numpy()
    logits = model.classify(f64(x)).detach().numpy()
    for i in range(4):
        q = np.exp(logits[i]) / np.exp(logits[i]).sum()
        per_class = [numpy_labelled_loss(model, x[i:i + 1], [c], noise[c, i:i + 1])[0] for c in range(3)]
        expected = sum(q[c] * per_class[c] for c in range(3)) + sum(q[c] * math.log(q[c]) for c in range(3))
        assert got[i] == pytest.approx(expected, rel=1e-10)


def test_the_objective_weighs_each_batch_by_its_share_of_the_data():
    """J/N = (N_l/N)(mean L + α mean CE) + (N_u/N) mean U, α = 0.1 N unless given."""
    model = small_model("gaussian")
    rng = np.random.default_rng(3)
    x_l, y_l, x_u = f64(rng.normal(size=(3, 5))), tg.tensor(np.array([0, 1, 2])), f64(rng.normal(size=(6, 5)))
    for alpha in (None, 2.0):
        tg.manual_seed(5)
        total, parts = model.loss(x_l, y_l, x_u, n_labelled=30, n_unlabelled=570, alpha=alpha)
        a = 0.1 * 600 if alpha is None else alpha
        expected = 0.05 * (parts["labelled"].item() + a * parts["cross_entropy"].item()) \
            + 0.95 * parts["unlabelled"].item()
        assert total.item() == pytest.approx(expected, rel=1e-12)


def test_wrong_input_width_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expects inputs \(N, 5\)"):
        small_model("gaussian").classify(tg.zeros(2, 4).double())
