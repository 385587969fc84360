"""The convolutional VAE and the conditional VAE: shapes, parameter counts, loss, training, IWAE."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import optim
from tinygen.models import VAE
from tinygen.models.vae import gaussian_kl, vae_loss


def test_parameter_count_equals_the_keras_model():
    # Keras: conv 320 + conv 18,496 + dense 401,536 + μ 2,064 + log σ² 2,064
    #                 + dense 53,312 + convT 36,928 + convT 18,464 + convT 289
    assert sum(p.numel() for p in VAE(16).parameters()) == 533_473
    # the CVAE adds 10 one-hot inputs to the encoder's dense layer and to the decoder's
    assert sum(p.numel() for p in VAE(16, num_classes=10).parameters()) == 533_473 + 10 * 128 + 10 * 3136


def test_shapes():
    model = VAE(16)
    x = tg.rand(3, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 16)
    assert model.sample(5).shape == (5, 1, 28, 28)
    cvae = VAE(2, num_classes=10)
    assert cvae.sample(labels=[0, 9]).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="labels"):
        cvae.sample(4)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(tg.rand(3, 28, 28))


def test_loss_on_a_hand_computed_case():
    # one image of 784 pixels, all logits 0 (p = ½): BCE = ln 2 per pixel
    x = tg.tensor(np.tile([0.0, 1.0], 392).reshape(1, 1, 28, 28))
    logits = tg.zeros(1, 1, 28, 28)
    mu = tg.tensor([[1.0, 0.0]])
    logvar = tg.tensor([[0.0, math.log(4.0)]])
    # KL = -½[(1 + 0 - 1 - 1) + (1 + ln 4 - 0 - 4)] = ½ + (3 - ln 4)/2
    kl = 0.5 + (3 - math.log(4.0)) / 2
    loss, parts = vae_loss(logits, x, mu, logvar, "elbo")
    assert parts["rec"].item() == pytest.approx(784 * math.log(2), rel=1e-6)
    assert parts["kl"].item() == pytest.approx(kl, rel=1e-6)
    assert loss.item() == pytest.approx(784 * math.log(2) + kl, rel=1e-6)
    mean_loss, mean_parts = vae_loss(logits, x, mu, logvar, "mean")
    assert mean_parts["rec"].item() == pytest.approx(math.log(2), rel=1e-6)
    assert mean_parts["kl"].item() == pytest.approx(kl / 2, rel=1e-6)      # mean over 2 latents


@pytest.mark.parametrize("conditional", [False, True])
def test_a_few_steps_lower_the_loss(conditional):
    tg.manual_seed(0)
    model = VAE(8, num_classes=10 if conditional else 0)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    x = tg.tensor((rng.random((16, 1, 28, 28)) < 0.2).astype(np.float32))
    y = tg.tensor(rng.integers(0, 10, 16)) if conditional else None
    first = None
    for _ in range(30):          # 15 steps fell short of the 20% for some random streams
        loss, _ = model.loss(x, y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    tg.manual_seed(1)
    assert model.loss(x, y)[0].item() < 0.8 * first


@pytest.mark.parametrize("prior", ["standard", "class"])
def test_iwae_is_below_the_negative_elbo_and_tightens_with_k(prior):
    tg.manual_seed(0)
    conditional = prior == "class"
    model = VAE(4, num_classes=10 if conditional else 0, prior=prior)
    rng = np.random.default_rng(1)
    x = tg.tensor((rng.random((24, 1, 28, 28)) < 0.15).astype(np.float32))
    y = tg.tensor(np.arange(24) % 10, dtype="int64") if conditional else None
    opt = optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(10):
        loss, _ = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if conditional:     # the learned prior moved away from N(0, I): it is really used below
        assert np.abs(model.prior_mu.weight.detach().numpy()).max() > 1e-3
    model.eval()
    with tg.no_grad():
        tg.manual_seed(2)
        nelbo = np.mean([model.negative_elbo(x, y).mean() for _ in range(20)])
        nll = {}
        for k in (1, 10, 100):
            tg.manual_seed(3)
            nll[k] = -model.iwae_log_likelihood(x, k=k, labels=y, chunk=50).mean()
    assert nll[1] == pytest.approx(nelbo, rel=0.02)       # k = 1 is the ELBO itself
    assert nll[100] <= nll[10] + 0.1 <= nll[1] + 0.2       # more samples: a tighter bound
    assert nll[100] < nelbo


def test_beta_weights_only_the_kl_and_parts_stay_unweighted():
    logits = tg.tensor(np.array([[0.3, -1.2, 2.0, 0.0]]).reshape(1, 1, 2, 2))
    x = tg.tensor(np.array([[1.0, 0.0, 1.0, 1.0]]).reshape(1, 1, 2, 2))
    mu, logvar = tg.tensor([[0.5, -1.0]]), tg.tensor([[0.2, -0.4]])
    plain, parts = vae_loss(logits, x, mu, logvar)
    weighted, weighted_parts = vae_loss(logits, x, mu, logvar, beta=3.0)
    assert weighted.item() == pytest.approx(parts["rec"].item() + 3.0 * parts["kl"].item(), rel=1e-6)
    assert plain.item() == pytest.approx(parts["rec"].item() + parts["kl"].item(), rel=1e-6)
    assert weighted_parts["kl"].item() == pytest.approx(parts["kl"].item(), rel=1e-7)


def test_kl_weight_schedule_decays_linearly_to_one():
    from types import SimpleNamespace
    from helpers import load_example
    kl_weight = load_example("vae_mnist").kl_weight
    args = SimpleNamespace(beta_start=5.0, beta_epochs=2.0)
    assert [kl_weight(t, args, 10) for t in (0, 10, 20, 30)] == [5.0, 3.0, 1.0, 1.0]
    assert kl_weight(0, SimpleNamespace(beta_start=1.0, beta_epochs=2.0), 10) == 1.0


def test_gaussian_kl_against_a_learned_prior():
    mu, logvar = tg.tensor([[0.5, -1.0]], dtype="float64"), tg.tensor([[0.2, -0.4]], dtype="float64")
    m, v = tg.tensor([[0.1, 0.3]], dtype="float64"), tg.tensor([[-0.5, 0.7]], dtype="float64")
    expected = [0.5 * (vv - lv + (math.exp(lv) + (a - b) ** 2) / math.exp(vv) - 1)
                for a, lv, b, vv in zip([0.5, -1.0], [0.2, -0.4], [0.1, 0.3], [-0.5, 0.7])]
    np.testing.assert_allclose(gaussian_kl(mu, logvar, m, v).numpy()[0], expected, rtol=1e-12)
    zero = tg.zeros(1, 2, dtype="float64")
    np.testing.assert_allclose(gaussian_kl(mu, logvar, zero, zero).numpy(), gaussian_kl(mu, logvar).numpy(),
                               rtol=1e-12)


def test_class_prior_sampling_draws_from_p_z_given_y():
    model = VAE(3, num_classes=10, prior="class")
    model.prior_mu.weight.data[...] = 0.0
    model.prior_mu.weight.data[7] = 50.0             # digit 7's prior sits far away
    model.prior_logvar.weight.data[...] = -20.0       # σ ≈ 0: z = m_y
    with tg.no_grad():
        far = model.sample(labels=[7]).numpy()
        decoded = tg.nn.functional.sigmoid(model.decode(tg.full((1, 3), 50.0), tg.tensor([7], dtype="int64")))
    np.testing.assert_allclose(far, decoded.numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="prior"):
        VAE(3, prior="class")
