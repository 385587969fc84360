"""Every argument that changes an op's math, against an obviously right reference, with a
gradient check: loss weights, pos_weight, log_target, batchmean, ignore_index, label
smoothing and soft targets; pool dilation, divisor_override and count_include_pad; an
embedding's padding_idx; the optimizers' maximize; and the gradients of model
parameters (a flow with its log-determinant, the VAE through its reparameterisation,
the U-Net with its timestep embedding)."""
import itertools

import numpy as np
import pytest
from scipy.special import expit, log_softmax as np_log_softmax

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import optim
from tinygen.autograd import gradcheck

from helpers import check_forward, leaf

RNG = np.random.default_rng(0)


def f64(values, requires_grad=False):
    return tg.tensor(np.asarray(values, dtype=np.float64), dtype="float64", requires_grad=requires_grad)


def test_bce_with_logits_pos_weight_and_weight():
    z, y = RNG.normal(size=(4, 3)), RNG.uniform(0, 1, (4, 3))
    pos_weight, weight = np.array([0.5, 2.0, 3.0]), RNG.uniform(0.5, 1.5, (4, 3))
    expected = -weight * (pos_weight * y * np.log(expit(z)) + (1 - y) * np.log(1 - expit(z)))
    fn = lambda t: F.binary_cross_entropy_with_logits(t, f64(y), weight=f64(weight), pos_weight=f64(pos_weight),
                                                      reduction="none")
    x = leaf(z)
    check_forward(fn(x), expected, rtol=1e-10)
    gradcheck(fn, (x,))
    check_forward(F.binary_cross_entropy_with_logits(x, f64(y), pos_weight=f64(pos_weight)),
                  np.asarray((-(pos_weight * y * np.log(expit(z)) + (1 - y) * np.log(1 - expit(z)))).mean()),
                  rtol=1e-10)


def test_bce_weight():
    p, y, w = RNG.uniform(0.05, 0.95, (5,)), RNG.uniform(0, 1, (5,)), RNG.uniform(0, 2, (5,))
    x = leaf(p)
    fn = lambda t: F.binary_cross_entropy(t, f64(y), weight=f64(w), reduction="sum")
    check_forward(fn(x), np.asarray((-w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum()), rtol=1e-10)
    gradcheck(fn, (x,))


@pytest.mark.parametrize("log_target, reduction", itertools.product([False, True], ["batchmean", "sum", "none"]))
def test_kl_div_log_target_and_batchmean(log_target, reduction):
    logq = np_log_softmax(RNG.normal(size=(3, 5)), axis=1)
    p = np.exp(np_log_softmax(RNG.normal(size=(3, 5)), axis=1))
    target = np.log(p) if log_target else p
    pointwise = p * (np.log(p) - logq)
    expected = {"batchmean": pointwise.sum() / 3, "sum": pointwise.sum(), "none": pointwise}[reduction]
    x = leaf(logq)
    fn = lambda t: F.kl_div(t, f64(target), reduction=reduction, log_target=log_target)
    check_forward(fn(x), np.asarray(expected), rtol=1e-10)
    gradcheck(fn, (x,))


def naive_nll(logp, target, weight, ignore_index):
    total, norm, per = 0.0, 0.0, []
    for n, t in enumerate(target):
        if t == ignore_index:
            per.append(0.0)
            continue
        per.append(-weight[t] * logp[n, t])
        total += -weight[t] * logp[n, t]
        norm += weight[t]
    return total / norm, np.array(per)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_weight_and_ignore_index(reduction):
    logits, target = RNG.normal(size=(6, 4)), np.array([0, 3, -1, 2, 3, -1])
    weight = np.array([1.0, 0.5, 2.0, 1.5])
    mean, per = naive_nll(np_log_softmax(logits, axis=1), target, weight, -1)
    x = leaf(logits)
    fn = lambda t: F.cross_entropy(t, tg.tensor(target), weight=f64(weight), ignore_index=-1, reduction=reduction)
    check_forward(fn(x), np.asarray(mean if reduction == "mean" else per), rtol=1e-10)
    gradcheck(fn, (x,))


def test_cross_entropy_label_smoothing_with_weight_matches_its_definition():
    """PyTorch: (1-ε)·NLL + ε·(Σ_c w_c (-log p_c))/C per item, both over Σ w_{y_n} for 'mean'."""
    logits, target, eps = RNG.normal(size=(5, 4)), np.array([1, 0, 3, 3, 2]), 0.2
    weight = np.array([1.0, 0.5, 2.0, 1.5])
    logp = np_log_softmax(logits, axis=1)
    nll, _ = naive_nll(logp, target, weight, -100)
    smooth = sum((-(weight * logp[n]).sum() / 4) for n in range(5)) / weight[target].sum()
    x = leaf(logits)
    fn = lambda t: F.cross_entropy(t, tg.tensor(target), weight=f64(weight), label_smoothing=eps)
    check_forward(fn(x), np.asarray((1 - eps) * nll + eps * smooth), rtol=1e-10)
    gradcheck(fn, (x,))


def test_cross_entropy_soft_targets_with_label_smoothing():
    logits = RNG.normal(size=(4, 3))
    probs = np.exp(np_log_softmax(RNG.normal(size=(4, 3)), axis=1))
    eps = 0.1
    smoothed = probs * (1 - eps) + eps / 3
    expected = -(smoothed * np_log_softmax(logits, axis=1)).sum(1).mean()
    x = leaf(logits)
    fn = lambda t: F.cross_entropy(t, f64(probs), label_smoothing=eps)
    check_forward(fn(x), np.asarray(expected), rtol=1e-10)
    gradcheck(fn, (x,))


def naive_max_pool(x, k, s, p, d):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    ho, wo = (h + 2 * p - d * (k - 1) - 1) // s + 1, (w + 2 * p - d * (k - 1) - 1) // s + 1
    y = np.full((n, c, ho, wo), -np.inf)
    for r, q, i, j in itertools.product(range(ho), range(wo), range(k), range(k)):
        y[:, :, r, q] = np.maximum(y[:, :, r, q], xp[:, :, r * s + i * d, q * s + j * d])
    return y


@pytest.mark.parametrize("k, s, p, d", [(2, 1, 0, 2), (3, 2, 1, 2), (2, 2, 1, 1), (3, 1, 1, 3)])
def test_max_pool_dilation(k, s, p, d):
    x = RNG.permutation(2 * 2 * 9 * 9).reshape(2, 2, 9, 9) / 324.0    # distinct: no ties in a window
    t = leaf(x)
    fn = lambda v: F.max_pool2d(v, k, s, p, dilation=d)
    check_forward(fn(t), naive_max_pool(x, k, s, p, d), rtol=1e-12)
    gradcheck(fn, (t,))


def naive_avg_pool(x, k, s, p, count_include_pad, divisor):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    inside = np.pad(np.ones((h, w)), p)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    y = np.zeros((n, c, ho, wo))
    for r, q in itertools.product(range(ho), range(wo)):
        window = xp[:, :, r * s:r * s + k, q * s:q * s + k]
        count = divisor or (k * k if count_include_pad else inside[r * s:r * s + k, q * s:q * s + k].sum())
        y[:, :, r, q] = window.sum((2, 3)) / count
    return y


@pytest.mark.parametrize("count_include_pad, divisor", [(True, None), (False, None), (True, 5), (False, 7)])
def test_avg_pool_count_include_pad_and_divisor_override(count_include_pad, divisor):
    x = RNG.normal(size=(2, 3, 7, 6))
    t = leaf(x)
    fn = lambda v: F.avg_pool2d(v, 3, 2, 1, count_include_pad=count_include_pad, divisor_override=divisor)
    check_forward(fn(t), naive_avg_pool(x, 3, 2, 1, count_include_pad, divisor), rtol=1e-12)
    gradcheck(fn, (t,))


def test_embedding_padding_idx_reads_the_row_and_sends_it_no_gradient():
    weight = RNG.normal(size=(5, 3))
    w = leaf(weight)
    idx = tg.tensor(np.array([[0, 2, 4], [2, 2, 1]]))
    out = F.embedding(idx, w, padding_idx=2)
    check_forward(out, weight[idx.numpy()], rtol=0)              # the padding row's values as they are
    g = RNG.normal(size=out.shape)
    (out * f64(g)).sum().backward()
    expected = np.zeros_like(weight)
    for (a, b), row in np.ndenumerate(idx.numpy()):
        if row != 2:
            expected[row] += g[a, b]
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, maximize=True),
                                  lambda ps: optim.Adam(ps, lr=0.1, maximize=True)])
def test_maximize_climbs_as_minimizing_the_negative_does(make):
    start = np.array([0.3, -0.7])
    a, b = f64(start, True), f64(start, True)
    opt_a, opt_b = make([a]), make([b])
    opt_b.param_groups[0]["maximize"] = False
    for _ in range(4):
        for p, opt, sign in ((a, opt_a, 1.0), (b, opt_b, -1.0)):
            opt.zero_grad()
            (sign * (-(p - 1.0) ** 2).sum()).backward()
            opt.step()
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    assert np.all(np.abs(a.detach().numpy() - 1.0) < np.abs(start - 1.0))      # it climbed towards 1


# -- gradients with respect to model parameters ----------------------------------------

def test_realnvp_parameters_gradient_includes_the_log_determinant():
    from tinygen.models import RealNVP
    tg.manual_seed(0)
    model = smooth_activations(RealNVP(num_scales=1, hidden=4)).to("float64")
    for p in model.parameters():                      # off the identity start, so log s matters
        p.data[...] = p.data + tg.tensor(RNG.normal(scale=0.1, size=p.shape), dtype="float64").data
    x = f64(RNG.uniform(0, 1, (2, 1, 28, 28)))
    gradcheck(lambda *ps: model.log_prob(x).sum(), tuple(model.parameters()), full_limit=0, n_directions=4)


def smooth_activations(model):
    """ReLUs → SiLUs: a random direction through ~10⁵ parameters crosses some ReLU's kink
    within the differences' step, which no gradient can predict; SiLU keeps the wiring."""
    for _, module in model.named_modules():
        for name, child in list(module._modules.items()):
            if isinstance(child, tg.nn.ReLU):
                module._modules[name] = tg.nn.SiLU()
    return model


def test_vae_parameters_gradient_through_the_reparameterisation():
    from tinygen.models import VAE
    tg.manual_seed(0)
    model = smooth_activations(VAE(4)).to("float64")
    x = f64((RNG.uniform(0, 1, (3, 1, 28, 28)) < 0.3).astype(np.float64))

    def loss():
        tg.manual_seed(5)                             # the same ε each evaluation: z = μ + σ ε
        return model.loss(x)[0]
    gradcheck(lambda *ps: loss(), tuple(model.parameters()), full_limit=0, n_directions=4)


def test_unet_parameters_and_timestep_embedding_gradient():
    from tinygen.models import UNet
    tg.manual_seed(0)
    net = UNet(1, channels=8).to("float64")
    for p in net.parameters():                        # the output conv starts at zero
        p.data[...] = p.data + tg.tensor(RNG.normal(scale=0.05, size=p.shape), dtype="float64").data
    x, t = f64(RNG.normal(size=(2, 1, 28, 28))), tg.tensor(np.array([3, 250]))
    u = f64(RNG.normal(size=(2, 1, 28, 28)))
    gradcheck(lambda *ps: (net(x, t) * u).sum(), tuple(net.parameters()), full_limit=0, n_directions=4)


def test_glow_parameters_gradient_includes_actnorm_1x1_conv_and_coupling_log_dets():
    from tinygen.models import Glow
    tg.manual_seed(0)
    model = Glow(num_levels=1, steps_per_level=2, hidden=4).to("float64")
    x = f64(RNG.uniform(0, 1, (2, 1, 28, 28)))
    model.log_prob(x)                                 # ActNorm initialises from this first batch
    for p in model.parameters():
        p.data[...] = p.data + tg.tensor(RNG.normal(scale=0.05, size=p.shape), dtype="float64").data
    gradcheck(lambda *ps: model.log_prob(x).sum(), tuple(model.parameters()), full_limit=0, n_directions=4)
