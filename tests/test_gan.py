"""GAN building blocks: shapes, parameter counts, losses, the WGAN-GP gradient penalty,
and that a D step leaves G unchanged and vice versa."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import tinygen as tg
from tinygen import nn, optim
from tinygen.autograd import gradcheck, gradgradcheck
from tinygen.models import gans

from helpers import load_example


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_seed_gan_shapes_and_parameter_counts_match_keras():
    g, d = gans.ConvGenerator(100), gans.ConvDiscriminator()
    images = g(tg.randn(3, 100))
    assert images.shape == (3, 1, 28, 28)
    assert images.detach().numpy().min() >= 0 and images.detach().numpy().max() <= 1   # sigmoid
    assert d(images).shape == (3, 1)
    # Keras: D = 640 + 36,928 + 3,137; G = 633,472 + 262,272 + 262,272 + 6,273
    assert count(d) == 40_705
    assert count(g) == 1_164_289


def test_seed_gan_is_initialized_as_keras_would():
    """Glorot-uniform kernels, U(±√(6/(fan_in + fan_out))), and zero biases."""
    for model in (gans.ConvGenerator(100), gans.ConvDiscriminator()):
        for name, p in model.named_parameters():
            values = p.detach().numpy()
            if name.endswith("bias"):
                assert not values.any(), name
                continue
            receptive = int(np.prod(values.shape[2:])) if values.ndim == 4 else 1
            fan_sum = (values.shape[0] + values.shape[1]) * receptive
            bound = math.sqrt(6.0 / fan_sum)
            assert np.abs(values).max() <= bound, name
            assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.1), name   # U(±b): std b/√3


@pytest.mark.parametrize("pair", [(gans.MLPGenerator, gans.MLPDiscriminator),
                                  (gans.DCGANGenerator, gans.DCGANDiscriminator),
                                  (gans.DCGANGenerator, gans.WGANCritic)])
def test_generators_and_critics_shapes(pair):
    g, d = pair[0](), pair[1]()
    x = g(tg.randn(4, 100))
    assert x.shape == (4, 1, 28, 28) and d(x).shape == (4, 1)


def naive_minibatch_std(x, group_size, eps):
    """Loops over samples and channels: group of sample i = the samples k ≡ i (mod N/g)."""
    n, c, h, w = x.shape
    groups = n // min(group_size, n)
    out = np.zeros((n, c + 1, h, w))
    out[:, :c] = x
    for i in range(n):
        members = [k for k in range(n) if k % groups == i % groups]
        total = 0.0
        for ch in range(c):
            for a in range(h):
                for b in range(w):
                    values = [x[k, ch, a, b] for k in members]
                    mean = sum(values) / len(values)
                    total += math.sqrt(sum((v - mean) ** 2 for v in values) / len(values) + eps)
        out[i, c] = total / (c * h * w)
    return out


@pytest.mark.parametrize("n, group_size", [(8, 4), (6, 2), (3, 4)])
def test_minibatch_std_matches_naive_loops_and_gradchecks(n, group_size):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 2, 3, 3))
    layer = gans.MinibatchStdDev(group_size)
    np.testing.assert_allclose(layer(tg.tensor(x, dtype="float64")).numpy(),
                               naive_minibatch_std(x, group_size, layer.eps), rtol=1e-12)
    xt = tg.tensor(x, dtype="float64", requires_grad=True)
    gradcheck(layer, (xt,))
    gradgradcheck(layer, (xt,))


def test_minibatch_std_flags_a_batch_without_variety():
    """The extra channel is ~0 for a batch of one repeated image and not for varied ones."""
    layer = gans.MinibatchStdDev(4)
    same = layer(tg.ones(8, 2, 3, 3)).numpy()[:, -1]
    varied = layer(tg.randn(8, 2, 3, 3)).numpy()[:, -1]
    assert np.abs(same).max() < 1e-3 and varied.min() > 0.3
    with pytest.raises(ValueError, match="divisible"):
        layer(tg.randn(6, 2, 3, 3))
    d = gans.DCGANDiscriminator(minibatch_std=4)
    assert d(tg.randn(8, 1, 28, 28)).shape == (8, 1)


def test_spectrally_normalised_dcgan_discriminator():
    """Every conv and the head carry spectral norm, and batch norm is gone."""
    d = gans.DCGANDiscriminator(spectral_norm=True)
    assert d(tg.randn(3, 1, 28, 28)).shape == (3, 1)
    names = [n for n, _ in d.named_parameters()]
    assert sum(n.endswith("weight_orig") for n in names) == 3 and not any(n.endswith(".weight") for n in names)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_seed_losses_are_exactly_the_seeds():
    d_real = tg.tensor([[0.9], [0.6]])
    d_fake = tg.tensor([[0.2], [0.3]])
    expected_d = np.mean(-np.log([0.9, 0.6])) + np.mean(-np.log([0.8, 0.7]))
    assert gans.probability_discriminator_loss(d_real, d_fake).item() == pytest.approx(expected_d, rel=1e-6)
    assert gans.probability_generator_loss(d_fake).item() == pytest.approx(np.mean(-np.log([0.2, 0.3])), rel=1e-6)
    smoothed = np.mean(-(0.9 * np.log([0.9, 0.6]) + 0.1 * np.log([0.1, 0.4]))) + np.mean(-np.log([0.8, 0.7]))
    assert gans.probability_discriminator_loss(d_real, d_fake, label_smoothing=0.1).item() == pytest.approx(smoothed, rel=1e-6)


def test_logit_losses_match_the_probability_forms():
    real, fake = tg.tensor([[2.0], [-0.5]]), tg.tensor([[-1.0], [0.3]])
    sig = lambda v: 1 / (1 + np.exp(-np.asarray(v)))
    d = np.mean(-np.log(sig([2.0, -0.5]))) + np.mean(-np.log(1 - sig([-1.0, 0.3])))
    assert gans.discriminator_loss(real, fake).item() == pytest.approx(d, rel=1e-6)
    smooth = np.mean(-(0.9 * np.log(sig([2.0, -0.5])) + 0.1 * np.log(1 - sig([2.0, -0.5])))) + \
        np.mean(-np.log(1 - sig([-1.0, 0.3])))
    assert gans.discriminator_loss(real, fake, label_smoothing=0.1).item() == pytest.approx(smooth, rel=1e-6)
    assert gans.generator_loss(fake).item() == pytest.approx(np.mean(-np.log(sig([-1.0, 0.3]))), rel=1e-6)
    assert gans.generator_loss(fake, non_saturating=False).item() == pytest.approx(
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
    gp = gans.gradient_penalty(critic, real, fake, weight=10.0)
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
    gp = gans.gradient_penalty(Square(), real, real, weight=1.0).item()   # x̂ = real when fake = real
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
        return gans.gradient_penalty(critic, real, fake)

    gradcheck(penalty, (w1, w2))
    gradgradcheck(penalty, (w1, w2))


@pytest.mark.parametrize("arch, options", [("mlp", {}), ("mlp", {"g_batch_norm": True}), ("conv", {}), ("dcgan", {}),
                                           ("dcgan", {"minibatch_std": 4}), ("dcgan", {"spectral_norm": True}),
                                           ("wgan-gp", {}), ("cgan", {}), ("acgan", {}), ("infogan", {}),
                                           ("selfcond", {"num_clusters": 12})])
def test_d_step_leaves_g_unchanged_and_g_step_leaves_d_unchanged(arch, options):
    """One iteration of the example's own training steps, for every model."""
    example = load_example("gan_mnist")
    tg.manual_seed(0)
    G, D = example.build(arch, 8, **options)
    spec = example.ARCHS[arch]
    opt_g = optim.Adam(G.parameters(), lr=1e-3, betas=spec["betas"])
    opt_d = optim.Adam(D.parameters(), lr=1e-3, betas=spec["betas"])
    args = SimpleNamespace(gp_weight=10.0, label_smoothing=0.1, saturating=False, info_weight=1.0)
    real = tg.rand(4, 1, 28, 28)
    sees_labels = spec.get("conditional") or spec.get("clustered")      # labels, or cluster ids
    labels = tg.tensor([0, 3, 7, 9], dtype="int64") if sees_labels else None
    takes_code = sees_labels or spec.get("coded")
    fake_labels = tg.tensor([1, 1, 5, 2], dtype="int64") if takes_code else None
    # parameters only: generating fakes in train mode rightly updates G's BN running stats
    snapshot = lambda m: {k: p.detach().numpy().copy() for k, p in m.named_parameters()}
    unchanged = lambda m, before: all(np.array_equal(before[k], p.detach().numpy())
                                      for k, p in m.named_parameters())

    g_before, d_before = snapshot(G), snapshot(D)
    fake = example.generate(G, tg.randn(4, 8), fake_labels)
    d_loss, _ = example.discriminator_step(example.objective(arch, args), D, opt_d, real, labels, fake, fake_labels)
    assert np.isfinite(d_loss.item())
    assert unchanged(G, g_before) and not unchanged(D, d_before)

    d_before = snapshot(D)
    example.generator_step(example.objective(arch, args), D, opt_g, fake, fake_labels)
    assert unchanged(D, d_before) and not unchanged(G, g_before)


def test_conditional_gan_shapes_and_per_class_sampling():
    G, cd, ad = gans.ConditionalGenerator(16), gans.CGANDiscriminator(), gans.ACGANDiscriminator()
    labels = tg.tensor([0, 4, 9], dtype="int64")
    x = G(tg.randn(3, 16), labels)
    assert x.shape == (3, 1, 28, 28) and cd(x, labels).shape == (3, 1)
    logit, classes = ad(x)
    assert logit.shape == (3, 1) and classes.shape == (3, 10)
    assert G.sample(labels=[2, 2, 5, 7]).shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="one label per sample"):
        G(tg.randn(3, 16), tg.tensor([1, 2], dtype="int64"))


def test_generator_output_depends_on_the_label():
    G = gans.ConditionalGenerator(16)
    G.eval()
    z = tg.randn(1, 16)
    a = G(z, tg.tensor([1], dtype="int64")).detach().numpy()
    b = G(z, tg.tensor([8], dtype="int64")).detach().numpy()
    assert not np.allclose(a, b)


def test_cgan_discriminator_uses_the_label():
    D = gans.CGANDiscriminator()
    D.eval()
    x = tg.rand(1, 1, 28, 28)
    assert D(x, tg.tensor([1], dtype="int64")).item() != D(x, tg.tensor([8], dtype="int64")).item()


def test_cgan_discriminator_matches_the_conv_over_concatenated_label_planes():
    """Its per-class maps M[y] stand in for C constant input planes: the outputs and every
    parameter's gradient must equal those of the conv on [x, planes(y)], built by hand."""
    tg.manual_seed(0)
    D = gans.CGANDiscriminator(num_classes=5, width=4).double()
    D.eval()      # batch norm from its running statistics: the same normalisation both ways
    x = tg.randn(3, 1, 28, 28).double()
    labels = [4, 0, 4]
    planes = np.zeros((3, 5, 28, 28))
    for i, y in enumerate(labels):
        planes[i, y] = 1.0
    reference = D.out(D.trunk(tg.cat([x, tg.tensor(planes, dtype="float64")], 1)))
    (reference ** 2).sum().backward()
    expected = {k: p.grad.numpy().copy() for k, p in D.named_parameters()}
    D.zero_grad()
    out = D(x, tg.tensor(labels, dtype="int64"))
    np.testing.assert_allclose(out.detach().numpy(), reference.detach().numpy(), rtol=1e-12, atol=1e-12)
    (out ** 2).sum().backward()
    for k, p in D.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), expected[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_cluster_conditioned_generator_samples_clusters_by_their_size():
    G = gans.SelfConditionedGenerator(latent_dim=8, num_clusters=4, width=4)
    assert "cluster_weights" in G.state_dict()
    np.testing.assert_allclose(G.cluster_weights.numpy(), 0.25)       # uniform until told
    G.set_cluster_weights(np.array([0] * 6 + [2] * 3 + [3]))           # no image in cluster 1
    np.testing.assert_allclose(G.cluster_weights.numpy(), [0.6, 0.0, 0.3, 0.1])
    draws = G.draw_clusters(20_000).numpy()
    frequencies = np.bincount(draws, minlength=4) / len(draws)
    assert frequencies[1] == 0.0
    np.testing.assert_allclose(frequencies, [0.6, 0.0, 0.3, 0.1], atol=0.015)   # ~4 standard errors
    G.eval()
    assert G.sample(5).shape == (5, 1, 28, 28) and G.sample(labels=[3, 3]).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        G.set_cluster_weights(np.array([0, 5]))


def test_cluster_images_groups_images_without_their_labels():
    rng = np.random.default_rng(0)
    blank, bar = np.zeros((28, 28), np.uint8), np.zeros((28, 28), np.uint8)
    bar[:, 12:16] = 200
    truth = rng.integers(0, 2, 40)
    images = np.where(truth[:, None, None] == 1, bar, blank) + rng.integers(0, 20, (40, 28, 28)).astype(np.uint8)
    clusters = gans.cluster_images(images, 2)
    assert len({(c, t) for c, t in zip(clusters.tolist(), truth.tolist())}) == 2


def test_acgan_losses_on_a_hand_computed_case():
    real = (tg.tensor([[2.0], [-1.0]]), tg.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]))
    fake = (tg.tensor([[0.5], [-0.5]]), tg.tensor([[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]))
    y, y_fake = tg.tensor([0, 1], dtype="int64"), tg.tensor([2, 0], dtype="int64")
    sig = lambda v: 1 / (1 + np.exp(-np.asarray(v)))

    def ce(logits, target):
        logits = np.asarray(logits)
        return np.mean([np.log(np.exp(row).sum()) - row[t] for row, t in zip(logits, target)])

    adv_d = np.mean(-np.log(sig([2.0, -1.0]))) + np.mean(-np.log(1 - sig([0.5, -0.5])))
    cls_d = ce([[1, 0, 0], [0, 2, 0]], [0, 1]) + ce([[0, 0, 3], [1, 1, 1]], [2, 0])
    assert gans.acgan_discriminator_loss(real, y, fake, y_fake).item() == pytest.approx(adv_d + cls_d, rel=1e-6)
    adv_g = np.mean(-np.log(sig([0.5, -0.5])))
    assert gans.acgan_generator_loss(fake, y_fake).item() == pytest.approx(
        adv_g + ce([[0, 0, 3], [1, 1, 1]], [2, 0]), rel=1e-6)


def test_infogan_losses_on_a_hand_computed_case():
    """ACGAN's losses without the real-image class term: Q sees only G's codes."""
    real_logit = tg.tensor([[2.0], [-1.0]])
    fake = (tg.tensor([[0.5], [-0.5]]), tg.tensor([[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]))
    codes = tg.tensor([2, 0], dtype="int64")
    sig = lambda v: 1 / (1 + np.exp(-np.asarray(v)))
    info = np.mean([np.log(np.exp([0, 0, 3]).sum()) - 3, np.log(3.0)])     # CE(q(x_f), c)
    adv_d = np.mean(-np.log(sig([2.0, -1.0]))) + np.mean(-np.log(1 - sig([0.5, -0.5])))
    assert gans.infogan_discriminator_loss(real_logit, fake, codes, info_weight=0.5).item() == \
        pytest.approx(adv_d + 0.5 * info, rel=1e-6)
    adv_g = np.mean(-np.log(sig([0.5, -0.5])))
    assert gans.infogan_generator_loss(fake, codes).item() == pytest.approx(adv_g + info, rel=1e-6)


def test_infogan_code_accuracy_matches_codes_to_digits_one_to_one():
    # codes 0,1 → digits 3,5 exactly; code 2 draws 5s too, which the matching cannot give it
    digits, accuracy = gans.code_accuracy([0, 0, 1, 1, 2, 2], [3, 3, 5, 5, 5, 7], num_classes=10)
    assert digits[:3] == [3, 5, 7] and accuracy == pytest.approx(5 / 6)
    _, collapsed = gans.code_accuracy(np.arange(100) % 10, np.full(100, 8))
    assert collapsed == pytest.approx(0.1)      # one digit for every code is no better than chance
