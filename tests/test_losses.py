"""Losses against NumPy formulas (every reduction), gradchecks, and PyTorch where installed."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.special import expit, log_softmax as np_log_softmax

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.autograd import gradcheck
from helpers import check_forward, leaf

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(seed=st.integers(0, 2**16))
def test_elementwise_losses(reduction, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (3, 4))
    # b kept at least 0.05 from a: |a - b| has a kink at a = b, where differences mislead
    b = a + rng.choice([-1.0, 1.0], (3, 4)) * rng.uniform(0.05, 1.0, (3, 4))
    p, y = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    var = rng.uniform(0.5, 2.0, (3, 4))
    r = REDUCE[reduction]
    cases = [
        (F.mse_loss, (a, b), (a - b) ** 2),
        (F.l1_loss, (a, b), np.abs(a - b)),
        (F.binary_cross_entropy, (p, y), -(y * np.log(p) + (1 - y) * np.log(1 - p))),
        (F.binary_cross_entropy_with_logits, (a, y), -(y * np.log(expit(a)) + (1 - y) * np.log(1 - expit(a)))),
        (lambda x, t, reduction: F.gaussian_nll_loss(x, t, tg.tensor(var, dtype="float64"), reduction=reduction),
         (a, b), 0.5 * (np.log(var) + (a - b) ** 2 / var)),
        (F.kl_div, (np.log(p), y), y * (np.log(y) - np.log(p))),
    ]
    for fn, (x_values, t_values), expected in cases:
        x, t = leaf(x_values), tg.tensor(t_values, dtype="float64")
        check_forward(fn(x, t, reduction=reduction), np.asarray(r(expected)), rtol=1e-9)
        gradcheck(lambda z: fn(z, t, reduction=reduction), (x,))


def test_bce_clamps_log_at_minus_100_like_pytorch():
    p = tg.tensor([0.0, 1.0, 0.5], dtype="float64", requires_grad=True)
    y = tg.tensor([1.0, 0.0, 1.0], dtype="float64")
    loss = F.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, np.log(2)])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    if tg.get_backend() == "numpy":
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            F.binary_cross_entropy(tg.tensor([1.5]), tg.tensor([1.0]))
    else:       # not checked on a GPU (it would sync every step): the loss is NaN instead
        assert np.isnan(F.binary_cross_entropy(tg.tensor([1.5]), tg.tensor([0.0])).item())


def test_bce_with_logits_is_stable_at_extremes():
    z = tg.tensor([-100.0, 100.0, 0.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 0.5])
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [-1.0, 1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(seed=st.integers(0, 2**16), smoothing=st.sampled_from([0.0, 0.1]), weighted=st.booleans(),
       spatial=st.booleans())
def test_cross_entropy_and_nll(reduction, seed, smoothing, weighted, spatial):
    rng = np.random.default_rng(seed)
    n, c = 5, 4
    shape = (n, c, 2, 3) if spatial else (n, c)
    zv = rng.uniform(-2, 2, shape)
    tv = rng.integers(0, c, (n, 2, 3) if spatial else (n,))
    tv.reshape(-1)[0] = -100                      # one ignored target
    wv = rng.uniform(0.5, 2.0, c) if weighted else np.ones(c)
    logp = np_log_softmax(zv, axis=1)
    lp = np.moveaxis(logp, 1, -1).reshape(-1, c)
    tt = tv.reshape(-1)
    valid = tt != -100
    safe = np.where(valid, tt, 0)
    nll = -lp[np.arange(len(tt)), safe] * wv[safe] * valid
    smooth = -(lp * wv).sum(1) / c * valid
    per_item = (1 - smoothing) * nll + smoothing * smooth
    if reduction == "mean":
        expected = per_item.sum() / (wv[safe] * valid).sum()
    elif reduction == "sum":
        expected = per_item.sum()
    else:
        expected = per_item.reshape(tv.shape)
    z = leaf(zv)
    weight = tg.tensor(wv, dtype="float64") if weighted else None
    fn = lambda t: F.cross_entropy(t, tg.tensor(tv), weight=weight, reduction=reduction,
                                   label_smoothing=smoothing)
    check_forward(fn(z), np.asarray(expected), rtol=1e-9)
    gradcheck(fn, (z,))
    if smoothing == 0:
        check_forward(F.nll_loss(tg.tensor(logp, dtype="float64"), tg.tensor(tv), weight=weight,
                                 reduction=reduction), np.asarray(expected), rtol=1e-9)


def test_cross_entropy_takes_a_raw_index_array_on_the_logits_backend(backend):
    """Targets as a bare array (as argmax of another network gives them) on either backend:
    the same loss as the Tensor target; on CuPy no round trip through the host."""
    z = tg.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    raw = z.data.argmax(1)
    expected = F.cross_entropy(z, tg.tensor(np.array([0, 1]))).item()
    assert F.cross_entropy(z, raw).item() == pytest.approx(expected, rel=1e-6)
    assert F.nll_loss(F.log_softmax(z, dim=1), raw).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_soft_targets():
    rng = np.random.default_rng(0)
    zv = rng.uniform(-2, 2, (3, 4))
    pv = rng.dirichlet(np.ones(4), 3)
    z = leaf(zv)
    check_forward(F.cross_entropy(z, tg.tensor(pv, dtype="float64")),
                  np.asarray(-(pv * np_log_softmax(zv, 1)).sum(1).mean()), rtol=1e-9)


def test_loss_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        F.mse_loss(tg.randn(3, 1), tg.randn(3))


def test_side_by_side_with_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    zv, tv = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    ours = F.cross_entropy(tg.tensor(zv, dtype="float64"), tg.tensor(tv), label_smoothing=0.2,
                           weight=tg.tensor(np.arange(1, 6.0), dtype="float64")).item()
    ref = torch.nn.functional.cross_entropy(torch.tensor(zv), torch.tensor(tv), label_smoothing=0.2,
                                            weight=torch.arange(1, 6.0, dtype=torch.float64)).item()
    assert ours == pytest.approx(ref, rel=1e-10)
    pv, yv = rng.uniform(0, 1, 8), rng.uniform(0, 1, 8)
    pv[0] = 0.0
    ours = F.binary_cross_entropy(tg.tensor(pv, dtype="float64"), tg.tensor(yv, dtype="float64")).item()
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(pv), torch.tensor(yv)).item()
    assert ours == pytest.approx(ref, rel=1e-10)
    var = rng.uniform(0, 1, 8)
    var[0] = 0.0
    ours = F.gaussian_nll_loss(tg.tensor(pv, dtype="float64"), tg.tensor(yv, dtype="float64"),
                               tg.tensor(var, dtype="float64"), full=True).item()
    ref = torch.nn.functional.gaussian_nll_loss(torch.tensor(pv), torch.tensor(yv), torch.tensor(var),
                                                full=True).item()
    assert ours == pytest.approx(ref, rel=1e-10)
