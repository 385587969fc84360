"""GAN building blocks: shapes, parameter counts, losses, the WGAN-GP gradient penalty,
and that a D step leaves G unchanged and vice versa."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, optim
from tinygen.autograd import gradcheck, gradgradcheck
from tinygen.models import gan


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_seed_gan_shapes_and_parameter_counts_match_keras():
    g, d = gan.SeedGenerator(100), gan.SeedDiscriminator()
    images = g(tg.randn(3, 100))
    assert images.shape == (3, 1, 28, 28)
    assert images.detach().numpy().min() >= 0 and images.detach().numpy().max() <= 1   # sigmoid
    assert d(images).shape == (3, 1)
    # Keras: D = 640 + 36,928 + 3,137; G = 633,472 + 262,272 + 262,272 + 6,273
    assert count(d) == 40_705
    assert count(g) == 1_164_289


@pytest.mark.parametrize("pair", [(gan.MLPGenerator, gan.MLPDiscriminator),
                                  (gan.DCGANGenerator, gan.DCGANDiscriminator),
                                  (gan.DCGANGenerator, gan.WGANCritic)])
def test_generators_and_critics_shapes(pair):
    g, d = pair[0](), pair[1]()
    x = g(tg.randn(4, 100))
    assert x.shape == (4, 1, 28, 28) and d(x).shape == (4, 1)


def test_seed_losses_are_exactly_the_seeds():
    d_real = tg.tensor([[0.9], [0.6]])
    d_fake = tg.tensor([[0.2], [0.3]])
    expected_d = np.mean(-np.log([0.9, 0.6])) + np.mean(-np.log([0.8, 0.7]))
    assert gan.seed_discriminator_loss(d_real, d_fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert gan.seed_generator_loss(d_fake).item() == pytest.approx(np.mean(-np.log([0.2, 0.3])), rel=1e-6)


def test_logit_losses_match_the_probability_forms():
    real, fake = tg.tensor([[2.0], [-0.5]]), tg.tensor([[-1.0], [0.3]])
    sig = lambda v: 1 / (1 + np.exp(-np.asarray(v)))
    d = np.mean(-np.log(sig([2.0, -0.5]))) + np.mean(-np.log(1 - sig([-1.0, 0.3])))
    assert gan.discriminator_loss(real, fake).item() == pytest.approx(d, rel=1e-6)
    smooth = np.mean(-(0.9 * np.log(sig([2.0, -0.5])) + 0.1 * np.log(1 - sig([2.0, -0.5])))) + \
        np.mean(-np.log(1 - sig([-1.0, 0.3])))
    assert gan.discriminator_loss(real, fake, label_smoothing=0.1).item() == pytest.approx(smooth, rel=1e-6)
    assert gan.generator_loss(fake).item() == pytest.approx(np.mean(-np.log(sig([-1.0, 0.3]))), rel=1e-6)
    assert gan.generator_loss(fake, non_saturating=False).item() == pytest.approx(
        np.mean(np.log(1 - sig([-1.0, 0.3]))), rel=1e-6)


class LinearCritic(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(tg.tensor(w, dtype="float64"))

    def forward(self, x):
        return (x.flatten(1) * self.w).sum(1)


def test_gradient_penalty_on_a_hand_computed_case():
    # f(x) = w·x has ∇f = w for every x̂, so GP = λ (‖w‖ - 1)² whatever ε is
    w = np.array([3.0, 0.0, 4.0, 0.0])
    critic = LinearCritic(w)
    real = tg.randn(5, 1, 2, 2, dtype="float64")
    fake = tg.randn(5, 1, 2, 2, dtype="float64")
    gp = gan.gradient_penalty(critic, real, fake, weight=10.0)
    assert gp.item() == pytest.approx(10.0 * (5.0 - 1.0) ** 2, rel=1e-9)
    gp.backward()       # d/dw λ(‖w‖-1)² = 2λ(‖w‖-1) w/‖w‖
    np.testing.assert_allclose(critic.w.grad.numpy(), 2 * 10 * 4 * w / 5, rtol=1e-9)


def test_gradient_penalty_norm_is_per_sample():
    # f(x) = Σ x² has ∇f = 2x̂: the penalty must use each sample's own norm ‖2x̂_i‖
    class Square(nn.Module):
        def forward(self, x):
            return (x * x).flatten(1).sum(1)

    real = tg.tensor(np.stack([np.full((1, 2, 2), 1.0), np.full((1, 2, 2), 3.0)]), dtype="float64")
    tg.manual_seed(0)
    gp = gan.gradient_penalty(Square(), real, real, weight=1.0).item()   # x̂ = real when fake = real
    norms = [2 * math.sqrt(4 * 1.0), 2 * math.sqrt(4 * 9.0)]           # 4 and 12
    assert gp == pytest.approx(np.mean([(n - 1) ** 2 for n in norms]), rel=1e-9)


def test_gradient_penalty_gradient_by_gradgradcheck():
    """The penalty's gradient w.r.t. a conv critic's weights: first and second order."""
    rng = np.random.default_rng(0)
    real = tg.tensor(rng.uniform(-1, 1, (2, 1, 5, 5)), dtype="float64")
    fake = tg.tensor(rng.uniform(-1, 1, (2, 1, 5, 5)), dtype="float64")
    w1 = tg.tensor(rng.normal(0, 0.5, (3, 1, 3, 3)), dtype="float64", requires_grad=True)
    w2 = tg.tensor(rng.normal(0, 0.5, (1, 12)), dtype="float64", requires_grad=True)

    def penalty(a, b):
        critic = lambda x: tg.nn.functional.linear(
            tg.nn.functional.softplus(tg.nn.functional.conv2d(x, a, stride=2)).flatten(1), b)
        tg.manual_seed(7)   # the same interpolation ε on every call
        return gan.gradient_penalty(critic, real, fake)

    gradcheck(penalty, (w1, w2))
    gradgradcheck(penalty, (w1, w2))


@pytest.mark.parametrize("pair", [(gan.SeedGenerator, gan.SeedDiscriminator),
                                  (gan.DCGANGenerator, gan.DCGANDiscriminator)])
def test_d_step_leaves_g_unchanged_and_g_step_leaves_d_unchanged(pair):
    tg.manual_seed(0)
    g, d = pair[0](), pair[1]()
    logits = (lambda x: d.logits(x)) if hasattr(d, "logits") else d
    opt_g = optim.Adam(g.parameters(), lr=1e-3)
    opt_d = optim.Adam(d.parameters(), lr=1e-3)
    real = tg.rand(4, 1, 28, 28)
    # parameters only: generating fakes in train mode rightly updates G's BN running stats
    snapshot = lambda m: {k: p.detach().numpy().copy() for k, p in m.named_parameters()}
    params = lambda m: {k: p.detach().numpy() for k, p in m.named_parameters()}.items()

    g_before, d_before = snapshot(g), snapshot(d)
    fake = g(tg.randn(4, 100))
    opt_d.zero_grad()
    gan.discriminator_loss(logits(real), logits(fake.detach())).backward()
    opt_d.step()
    assert all(np.array_equal(g_before[k], v) for k, v in params(g))
    assert any(not np.array_equal(d_before[k], v) for k, v in params(d))

    d_before = snapshot(d)
    opt_g.zero_grad()
    gan.generator_loss(logits(g(tg.randn(4, 100)))).backward()
    opt_g.step()
    assert all(np.array_equal(d_before[k], v) for k, v in params(d))
    assert any(not np.array_equal(g_before[k], v) for k, v in params(g))
