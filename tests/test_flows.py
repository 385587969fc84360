"""Flow layers and models: each inverse undoes its forward, and each log-determinant equals
log |det J| of the full Jacobian, built one autograd row at a time (obviously right, slow,
so on tiny inputs); gradcheck of the log-likelihood."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygen as tg
from tinygen import optim
from tinygen.autograd import gradcheck
from tinygen.models import Glow, RealNVP
from tinygen.models.flows import MultiScaleFlow
from tinygen.models.flows import (ActNorm, AffineCoupling, InvertibleConv1x1, LogitTransform,
                                        Squeeze, checkerboard)
from helpers import leaf


def brute_force_logdet(layer, x):
    """log |det ∂f(x_n)/∂x_n| per sample from the full Jacobian (one backward per output)."""
    n = x.shape[0]
    d = int(np.prod(x.shape[1:]))
    logdets = []
    for i in range(n):
        xi = leaf(x[i:i + 1])
        y, _ = layer(xi)
        y = y.flatten()
        rows = []
        for k in range(d):
            (g,) = tg.autograd.grad(y[k], xi, retain_graph=True)
            rows.append(g.numpy().ravel())
        logdets.append(np.linalg.slogdet(np.array(rows))[1])
    return np.array(logdets)


def randomize(layer, rng, scale=0.3):
    """Move every parameter off its (identity-like) initialisation."""
    for p in layer.parameters():
        p.data[...] = p.data + tg.tensor(rng.normal(scale=scale, size=p.shape), dtype=p.dtype).data
    return layer


def check_layer(layer, x, rtol=1e-7):
    layer = layer.double()
    y, logdet = layer(tg.tensor(x, dtype="float64"))
    with tg.no_grad():
        back = layer.inverse(y.detach()).numpy()
    np.testing.assert_allclose(back, x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(logdet.detach().numpy(), brute_force_logdet(layer, x), rtol=rtol, atol=1e-8)


@given(seed=st.integers(0, 2**16), mask=st.sampled_from(["channel", "checkerboard"]), flip=st.booleans(),
       scale=st.sampled_from(["sigmoid", "tanh"]))
@settings(max_examples=20)
def test_affine_coupling_inverts_and_its_logdet_is_the_jacobians(seed, mask, flip, scale):
    rng = np.random.default_rng(seed)
    tg.manual_seed(seed)
    layer = randomize(AffineCoupling(2, hidden=4, mask=mask, flip=flip, scale=scale), rng)
    check_layer(layer, rng.normal(size=(2, 2, 3, 2)))


def test_realnvp_can_expand_a_narrow_bin():
    """Blank images, dequantized: every pixel uniform on [0, 1/256). A flow whose layers can
    only shrink (s < 1, no ActNorm) is stuck above log N(0; 0, 1) plus the logit's log-det:
    (D log 256 - D (2.94 - 0.92)) / (D ln 2) = 5.09 bits/dim. RealNVP's couplings expand
    (s = exp(w tanh(raw))), so a few steps take it far below that."""
    tg.manual_seed(0)
    model = RealNVP(num_scales=1, hidden=8)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    blank = tg.zeros(16, 1, 28, 28)
    for _ in range(60):
        loss = model.loss(model.dequantize(blank))
        opt.zero_grad()
        loss.backward()
        opt.step()
    contraction_bound = (np.log(256) - (np.log(0.9 / (0.05 * 0.95)) - 0.5 * np.log(2 * np.pi))) / np.log(2)
    assert contraction_bound == pytest.approx(5.09, abs=0.01)
    assert loss.item() < contraction_bound - 1.0, loss.item()


def test_actnorm_initialises_from_data_inverts_and_logdet():
    rng = np.random.default_rng(0)
    layer = ActNorm(3).double()
    x = rng.normal(loc=2.0, scale=3.0, size=(50, 3, 2, 2))
    y, _ = layer(tg.tensor(x, dtype="float64"))
    y = y.detach().numpy()
    np.testing.assert_allclose(y.mean((0, 2, 3)), 0, atol=1e-9)
    np.testing.assert_allclose(y.std((0, 2, 3)), 1, atol=1e-5)
    randomize(layer, rng)
    check_layer(layer, x[:2])


def test_invertible_1x1_conv_inverts_and_logdet():
    rng = np.random.default_rng(1)
    layer = InvertibleConv1x1(3)
    with tg.no_grad():
        w = layer.weight().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-5)          # starts as a rotation
    randomize(layer, rng, 0.2)
    check_layer(layer, rng.normal(size=(2, 3, 2, 2)))


def test_squeeze_and_logit_transform():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 1, 4, 2))
    y, logdet = Squeeze()(tg.tensor(x, dtype="float64"))
    assert y.shape == (2, 4, 2, 1) and np.all(logdet.numpy() == 0)
    # channel 2·i + j of the output is pixel (2r + i, 2c + j) of the input
    np.testing.assert_array_equal(y.numpy()[:, 1, 1, 0], x[:, 0, 2, 1])
    np.testing.assert_array_equal(Squeeze().inverse(y).numpy(), x)
    check_layer(Squeeze(), x)
    check_layer(LogitTransform(0.05), rng.uniform(0.01, 0.99, size=(2, 1, 2, 2)))
    with pytest.raises(ValueError, match="even"):
        Squeeze()(tg.rand(1, 1, 3, 4))


def test_checkerboard_mask():
    np.testing.assert_array_equal(checkerboard(2, 3)[0, 0], [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(checkerboard(2, 3, 1)[0, 0], [[0, 1, 0], [1, 0, 1]])


def test_coupling_gradcheck():
    rng = np.random.default_rng(3)
    tg.manual_seed(0)
    layer = randomize(AffineCoupling(2, hidden=3, mask="checkerboard"), rng).double()
    gradcheck(lambda x: layer(x)[1] + layer(x)[0].flatten(1).sum(1), (leaf(rng.normal(size=(2, 2, 2, 2))),))


def flat_latents(model):
    """x ↦ (all latents concatenated per image, logdet): the model as one bijection."""
    def f(x):
        latents, logdet = model(x)
        return tg.cat([z.flatten(1) for z in latents], 1), logdet
    return f


@pytest.mark.parametrize("make", [
    lambda: RealNVP(num_scales=1, hidden=3, image_size=4),
    lambda: Glow(num_levels=2, steps_per_level=1, hidden=3, image_size=4),
], ids=["realnvp", "glow"])
def test_whole_flow_inverts_and_its_logdet_is_the_jacobians(make):
    tg.manual_seed(0)
    rng = np.random.default_rng(4)
    model = make()
    x = rng.uniform(0.05, 0.95, size=(2, 1, 4, 4))
    model(tg.tensor(x))                                   # ActNorm's data init (float32), then perturb
    model = randomize(model, rng, 0.1).double()
    latents, logdet = model(tg.tensor(x, dtype="float64"))
    with tg.no_grad():
        np.testing.assert_allclose(model.inverse([z.detach() for z in latents]).numpy(), x, rtol=1e-8)
    np.testing.assert_allclose(logdet.detach().numpy(), brute_force_logdet(flat_latents(model), x), rtol=1e-7)
    gradcheck(lambda x_: model.log_prob(x_), (leaf(x),))
    assert model.sample(3).shape == (3, 1, 4, 4)


def test_log_prob_and_bits_per_dim_by_hand():
    # no layers: z = logit(α + (1-2α) x), log p(x) = log N(z) + Σ [log(1-2α) - log p - log(1-p)]
    model = MultiScaleFlow([[]], image_shape=(1, 2, 2), alpha=0.1)
    model.eval()
    x = np.array([[[[0.2, 0.5], [0.7, 0.9]]]])
    p = 0.1 + 0.8 * x
    z = np.log(p) - np.log1p(-p)
    expected = (-0.5 * z ** 2 - 0.5 * np.log(2 * np.pi) + np.log(0.8) - np.log(p) - np.log1p(-p)).sum()
    with tg.no_grad():
        assert model.log_prob(tg.tensor(x, dtype="float64")).item() == pytest.approx(expected, rel=1e-12)
        bpd = model.bits_per_dim(tg.tensor(x, dtype="float64")).item()
    assert bpd == pytest.approx((-expected + 4 * np.log(256)) / (4 * np.log(2)), rel=1e-12)
    with pytest.raises(ValueError, match=r"\(N, 1, 2, 2\)"):
        model.log_prob(tg.rand(1, 1, 3, 3))


def test_a_few_steps_lower_the_bits_per_dim():
    tg.manual_seed(0)
    model = Glow(num_levels=2, steps_per_level=2, hidden=8)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    pixels = tg.tensor((np.random.default_rng(0).random((16, 1, 28, 28)) < 0.2).astype(np.float32))
    first = None
    for _ in range(20):
        loss = model.loss(model.dequantize(pixels))
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first - 0.1
    deq = model.dequantize(tg.full((1000, 1, 1, 1), 1.0)).numpy()        # k = 255 → x ∈ [255/256, 1)
    assert deq.min() >= 255 / 256 - 1e-6 and deq.max() < 1.0


def test_sampling_clamps_an_overflowing_inverse_and_counts_it():
    tg.manual_seed(0)
    model = Glow(num_levels=1, steps_per_level=1, hidden=3, image_size=4)
    coupling = model.levels[0][-1]
    last = coupling.net[-1]
    last.bias.data[:2] = -200.0           # s = sigmoid(-198) = 0 in float32: the inverse divides by 0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        samples = model.sample(5).numpy()
    assert np.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1
    assert model.last_clamped == 5
    last.bias.data[:2] = 0.0
    model.sample(5)
    assert model.last_clamped == 0


def test_sampling_stays_finite_when_a_clamped_value_feeds_the_split_prior():
    # the upper level's inverse overflows (clamped to ±bound); the learned split prior then
    # sees values of 1e4: σ = exp(conv(h)) must not become inf, nor z = σ ε + μ NaN
    tg.manual_seed(0)
    model = Glow(num_levels=2, steps_per_level=1, hidden=3, image_size=8)
    top_coupling = model.levels[1][-1]
    top_coupling.net[-1].bias.data[:4] = -200.0
    prior = model.split_priors[0]
    prior.weight.data[...] = 1.0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        samples = model.sample(4).numpy()
    assert np.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1
    assert model.last_clamped == 4
