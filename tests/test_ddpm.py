"""DDPM: the schedule, q(x_t | x_0), L_simple at initialisation, the respaced schedule, and the
ancestral sampler driven by the exact ε-predictor of a one-point dataset."""
import math

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, optim
from tinygen.models import DDPM, UNet
from tinygen.models.diffusion import linear_beta_schedule
from tinygen.models.diffusion import timestep_embedding


def test_schedule_and_q_sample_by_hand():
    betas = linear_beta_schedule(1000)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)
    model = DDPM(channels=8)
    alpha_bar = np.prod(1 - betas[:11])                      # t = 10 is step 11
    x0 = tg.tensor(np.full((1, 1, 28, 28), 0.5, np.float32))
    noise = tg.tensor(np.full((1, 1, 28, 28), -1.0, np.float32))
    xt = model.q_sample(x0, tg.tensor([10]), noise).numpy()
    np.testing.assert_allclose(xt, math.sqrt(alpha_bar) * 0.5 - math.sqrt(1 - alpha_bar), rtol=1e-5)
    assert model.alpha_bars[-1] < 1e-4                       # x_T is (almost) pure noise


def test_respaced_schedule_keeps_alpha_bar():
    model = DDPM(channels=8)
    tau, betas = model.timestep_subsequence(1000)
    np.testing.assert_array_equal(tau, np.arange(1000))
    np.testing.assert_allclose(betas, model.betas, rtol=1e-9)
    tau, betas = model.timestep_subsequence(50)
    assert tau[0] == 0 and tau[-1] == 999 and len(tau) == 50
    np.testing.assert_allclose(np.cumprod(1 - betas), model.alpha_bars[tau], rtol=1e-9)
    with pytest.raises(ValueError, match="steps"):
        model.timestep_subsequence(0)


def test_loss_at_initialisation_is_the_noise_energy():
    # the output conv starts at zero, so ε̂ = 0 and L = mean ε²; replay the same random draws
    model = DDPM(channels=8)
    x0 = tg.rand(3, 1, 28, 28) * 2 - 1
    tg.manual_seed(7)
    loss = model.loss(x0).item()
    tg.manual_seed(7)
    tg.randint(0, 1000, (3,))
    noise = tg.randn(3, 1, 28, 28).numpy()
    assert loss == pytest.approx(float((noise ** 2).mean()), rel=1e-5)


class OneImageOracle(nn.Module):
    """The exact ε-predictor when the data is the single image x*: ε = (x_t - √ᾱ_t x*)/√(1 - ᾱ_t)."""

    def __init__(self, ddpm, target):
        super().__init__()
        self.ddpm, self.target = ddpm, target
        self.conv_in = ddpm.net.conv_in              # the sampler reads dtype/device from here

    def forward(self, x, t, y=None):
        a = self.ddpm.sqrt_alpha_bar[t].reshape(-1, 1, 1, 1)
        b = self.ddpm.sqrt_one_minus_alpha_bar[t].reshape(-1, 1, 1, 1)
        return (x - a * self.target) / b


@pytest.mark.parametrize("steps, sampler, eta", [(1000, "ancestral", 0.0), (100, "ancestral", 0.0),
                                                 (20, "ddim", 0.0), (20, "ddim", 1.0)])
def test_sampler_with_the_exact_predictor_returns_the_data_point(steps, sampler, eta):
    model = DDPM(channels=8)
    target = tg.tensor(np.random.default_rng(0).uniform(-0.9, 0.9, (1, 1, 28, 28)).astype(np.float32))
    model.net = OneImageOracle(model, target)
    samples = model.sample(4, steps=steps, sampler=sampler, eta=eta).numpy()
    np.testing.assert_allclose(samples, np.broadcast_to(target.numpy(), samples.shape), atol=2e-3)


def test_unet_shapes_time_dependence_and_errors():
    tg.manual_seed(0)
    net = UNet(channels=8)
    x = tg.randn(2, 1, 28, 28)
    assert np.all(net(x, tg.tensor([0, 5])).detach().numpy() == 0)         # zero-initialised output conv
    net.conv_out.weight.data[...] = 0.1
    out = net(tg.cat([x[:1], x[:1]]), tg.tensor([3, 900])).detach().numpy()
    assert out.shape == (2, 1, 28, 28) and np.abs(out[0] - out[1]).max() > 1e-4   # t matters
    emb = timestep_embedding(tg.tensor([0, 1]), 4).numpy()
    np.testing.assert_allclose(emb, [[0, 0, 1, 1], [math.sin(1), math.sin(0.01), math.cos(1), math.cos(0.01)]],
                               rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(tg.randn(1, 1, 30, 30), tg.tensor([1]))


def test_a_few_steps_lower_the_loss():
    tg.manual_seed(0)
    model = DDPM(channels=8)
    opt = optim.Adam(model.parameters(), lr=2e-3)
    x0 = tg.tensor(np.where(np.random.default_rng(0).random((8, 1, 28, 28)) < 0.2, 1.0, -1.0).astype(np.float32))
    losses = []
    for _ in range(30):
        loss = model.loss(x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.1


class AffinePredictor(nn.Module):
    """A stand-in ε_θ(x, t) = 0.3 x + 0.01 (t + 1): known, and different at every step."""

    def __init__(self, ddpm):
        super().__init__()
        self.conv_in = ddpm.net.conv_in              # the sampler reads dtype/device from here

    def forward(self, x, t, y=None):
        return x * 0.3 + (t.float() + 1.0).reshape(-1, 1, 1, 1) * 0.01


@pytest.mark.parametrize("steps", [None, 3])
def test_each_reverse_step_is_the_closed_form_posterior_mean(steps, monkeypatch):
    """x_{t-1} = μ̃_t(x_t, x̂_0) + √β_t z, with the posterior mean of Ho et al. (eq. 7)
        μ̃_t = √ᾱ_{t-1} β_t / (1 - ᾱ_t) · x̂_0 + √α_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · x_t,
        x̂_0 = (x_t - √(1 - ᾱ_t) ε_θ(x_t, t)) / √ᾱ_t,
    written here in this form (the sampler uses the equivalent (x_t - β_t/√(1-ᾱ_t) ε)/√α_t),
    on a respaced schedule too, with the noise draws z fed in."""
    import tinygen.models.diffusion.ddpm as ddpm_module
    model = DDPM(channels=8, num_steps=6)
    model.net = AffinePredictor(model)
    rng = np.random.default_rng(0)
    draws = [rng.standard_normal((2, 1, 28, 28)).astype(np.float32) * 0.3 for _ in range(8)]
    fed = iter(draws)
    monkeypatch.setattr(ddpm_module, "randn", lambda *shape, **kw: tg.tensor(next(fed)))
    got = model.sample(2, steps=steps).numpy()

    tau, betas = model.timestep_subsequence(steps or model.num_steps)
    alpha_bars = model.alpha_bars[tau]                  # ᾱ of the (respaced) steps
    x = draws[0].astype(np.float64)
    z = iter(draws[1:])
    for i in range(len(tau) - 1, -1, -1):
        ab, ab_prev, beta = alpha_bars[i], (alpha_bars[i - 1] if i > 0 else 1.0), betas[i]
        eps = 0.3 * x + 0.01 * (tau[i] + 1)
        x0_hat = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
        mean = np.sqrt(ab_prev) * beta / (1 - ab) * x0_hat + np.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab) * x
        x = mean + np.sqrt(beta) * next(z) if i > 0 else mean
    np.testing.assert_allclose(got, np.clip(x, -1, 1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_each_ddim_step_is_song_et_al_eq_12(eta, monkeypatch):
    """x_prev = √ᾱ_prev x̂_0 + √(1 - ᾱ_prev - σ²) ε + σ z with x̂_0 clipped to [-1, 1], ε
    re-derived from the clipped x̂_0, and σ = η √((1 - ᾱ_prev)/(1 - ᾱ_t)) √(1 - ᾱ_t/ᾱ_prev), by hand on a respaced schedule."""
    import tinygen.models.diffusion.ddpm as ddpm_module
    model = DDPM(channels=8, num_steps=50)
    model.net = AffinePredictor(model)
    rng = np.random.default_rng(1)
    draws = [rng.standard_normal((2, 1, 28, 28)).astype(np.float32) for _ in range(8)]
    fed = iter(draws)
    monkeypatch.setattr(ddpm_module, "randn", lambda *shape, **kw: tg.tensor(next(fed)))
    got = model.sample(2, steps=5, sampler="ddim", eta=eta).numpy()

    tau, _ = model.timestep_subsequence(5)
    x, z = draws[0].astype(np.float64), iter(draws[1:])
    for i in range(len(tau) - 1, -1, -1):
        ab = model.alpha_bars[tau[i]]
        ab_prev = model.alpha_bars[tau[i - 1]] if i > 0 else 1.0
        eps = 0.3 * x + 0.01 * (tau[i] + 1)
        x0_hat = np.clip((x - np.sqrt(1 - ab) * eps) / np.sqrt(ab), -1, 1)
        eps = (x - np.sqrt(ab) * x0_hat) / np.sqrt(1 - ab)          # the noise the clipped x̂_0 implies
        sigma = eta * np.sqrt((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev))
        x = np.sqrt(ab_prev) * x0_hat + np.sqrt(1 - ab_prev - sigma ** 2) * eps
        if sigma > 0:
            x = x + sigma * next(z)
    np.testing.assert_allclose(got, np.clip(x, -1, 1), rtol=1e-4, atol=1e-5)


def test_a_ddim_step_keeps_the_noise_its_clipped_x0_implies():
    """η = 0: x_t and x_prev are √ᾱ x̂_0 + √(1 - ᾱ) ε̂ with one clipped x̂_0 and one ε̂, also
    where a large ε̃ (guidance extrapolates) puts x̂_0 far outside [-1, 1]."""
    model = DDPM(channels=8)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    eps = 3.0 * rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    ab, ab_prev = float(model.alpha_bars[900]), float(model.alpha_bars[850])
    x_prev = model.ddim_step(tg.tensor(x), tg.tensor(eps), ab, ab_prev, 0.0).numpy().astype(np.float64)
    x0_unclipped = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
    assert (np.abs(x0_unclipped) > 1).mean() > 0.5                       # clipping is at work here
    x0 = np.clip(x0_unclipped, -1, 1)
    implied_at_t = (x - np.sqrt(ab) * x0) / np.sqrt(1 - ab)
    implied_at_prev = (x_prev - np.sqrt(ab_prev) * x0) / np.sqrt(1 - ab_prev)
    np.testing.assert_allclose(implied_at_prev, implied_at_t, rtol=1e-4, atol=1e-4)


class LabelRecorder(nn.Module):
    """ε_θ(x, t, y) = (y + 1) · 0.1 everywhere, remembering every y it saw."""

    def __init__(self, ddpm):
        super().__init__()
        self.conv_in, self.seen = ddpm.net.conv_in, []

    def forward(self, x, t, y=None):
        self.seen.append(y.numpy().copy())
        return x * 0.0 + (y.float() + 1.0).reshape(-1, 1, 1, 1) * 0.1


def test_guidance_mixes_the_conditional_and_the_null_prediction():
    model = DDPM(channels=8, num_classes=10)
    model.net = LabelRecorder(model)
    x, t, y = tg.randn(3, 1, 28, 28), tg.tensor([5, 5, 5]), tg.tensor(np.array([0, 4, 9]))
    w = 2.5
    eps = model.predict_noise(x, t, y, guidance=w).numpy()[:, 0, 0, 0]
    conditional, null = (np.array([0, 4, 9]) + 1) * 0.1, (10 + 1) * 0.1      # ∅ is index K = 10
    np.testing.assert_allclose(eps, (1 + w) * conditional - w * null, rtol=1e-6)
    assert model.net.seen[-1].tolist() == [0, 4, 9, 10, 10, 10]              # one batch of 2N
    np.testing.assert_allclose(model.predict_noise(x, t, y, guidance=0.0).numpy()[:, 0, 0, 0], conditional,
                               rtol=1e-6)
    assert model.net.seen[-1].tolist() == [0, 4, 9]                          # w = 0: one pass


@pytest.mark.parametrize("p_uncond", [0.0, 0.3, 1.0])
def test_training_drops_labels_to_the_null_label_at_rate_p_uncond(p_uncond):
    tg.manual_seed(0)
    model = DDPM(channels=8, num_classes=10, p_uncond=p_uncond)
    model.net = LabelRecorder(model)
    labels = np.arange(2000) % 10
    model.loss(tg.zeros(2000, 1, 28, 28), labels)
    seen = model.net.seen[-1]
    dropped = seen == 10
    np.testing.assert_array_equal(seen[~dropped], labels[~dropped])          # the rest keep their label
    assert abs(dropped.mean() - p_uncond) < 0.04


def test_conditional_unet_reads_the_label_and_defaults_to_null():
    tg.manual_seed(0)
    net = UNet(channels=8, num_classes=10)
    net.conv_out.weight.data[...] = 0.1
    x, t = tg.randn(1, 1, 28, 28).repeat(3, 1, 1, 1), tg.tensor([7, 7, 7])
    out = net(x, t, tg.tensor(np.array([2, 3, 10]))).detach().numpy()
    assert np.abs(out[0] - out[1]).max() > 1e-4                               # the label matters
    np.testing.assert_allclose(net(x, t).detach().numpy(), out[[2, 2, 2]], rtol=1e-5, atol=1e-6)   # None = ∅
    with pytest.raises(ValueError, match="unconditional"):
        UNet(channels=8)(x, t, tg.tensor(np.array([1, 1, 1])))
    model = DDPM(channels=8, num_classes=10)
    with pytest.raises(ValueError, match="class-conditional"):
        model.sample(2, steps=2)
    with pytest.raises(ValueError, match="shape"):
        model.sample(2, steps=2, labels=[1, 2, 3])
    with pytest.raises(ValueError, match="sampler"):
        model.sample(2, steps=2, labels=[1, 2], sampler="euler")
    assert sorted(DDPM(channels=8).state_dict()) == sorted(k for k in model.state_dict()
                                                           if not k.startswith("net.label_embedding"))


def test_snapshots_follow_the_reverse_process_from_noise_to_the_sample():
    model = DDPM(channels=8)
    target = tg.tensor(np.random.default_rng(0).uniform(-0.9, 0.9, (1, 1, 28, 28)).astype(np.float32))
    model.net = OneImageOracle(model, target)
    tg.manual_seed(2)
    x = model.sample(3, steps=20, sampler="ddim", snapshots=5).numpy()
    times = [t for t, _ in model.last_trajectory]
    assert len(times) == 5 and times[0] == 1000 and times[-1] == 0 and times == sorted(times, reverse=True)
    tg.manual_seed(2)
    noise = tg.randn(3, 1, 28, 28).clamp(-1, 1).numpy()
    np.testing.assert_array_equal(model.last_trajectory[0][1], noise)          # x_T, the starting noise
    np.testing.assert_array_equal(model.last_trajectory[-1][1], x)             # x_0, the sample
    errors = [np.abs(frame - target.numpy()).mean() for _, frame in model.last_trajectory]
    assert errors == sorted(errors, reverse=True)                              # ever closer to the data


def test_eta_belongs_to_the_ddim_sampler():
    model = DDPM(channels=8, num_steps=10)
    with pytest.raises(ValueError, match="eta is the DDIM sampler's"):
        model.sample(1, steps=2, sampler="ancestral", eta=1.0)
