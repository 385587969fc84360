"""batch_norm (fused kernel), layer_norm, group_norm, instance_norm."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen as tg
import tinygen.nn.functional as F
from tinygen import nn
from tinygen.autograd import gradcheck, gradgradcheck
from helpers import check_forward, leaf


def reference_normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@given(seed=st.integers(0, 2**16), four_d=st.booleans(), n=st.integers(2, 4), c=st.integers(1, 3))
def test_batch_norm_training_forward_and_gradients(seed, four_d, n, c):
    rng = np.random.default_rng(seed)
    shape = (n, c, 3, 2) if four_d else (n, c)
    xv = rng.uniform(-2, 2, shape)
    wv, bv = rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c)
    axes = (0, 2, 3) if four_d else (0,)
    cshape = (1, c, 1, 1) if four_d else (1, c)
    expected = reference_normalize(xv, axes, 1e-5) * wv.reshape(cshape) + bv.reshape(cshape)
    x, w, b = leaf(xv), leaf(wv), leaf(bv)
    check_forward(F.batch_norm(x, None, None, w, b, training=True), expected, rtol=1e-9)
    fn = lambda a, g, h: F.batch_norm(a, None, None, g, h, training=True)
    gradcheck(fn, (x, w, b))
    gradgradcheck(fn, (x, w, b))


def test_batch_norm_running_statistics_and_eval():
    rng = np.random.default_rng(0)
    xv = rng.normal(3.0, 2.0, (8, 3, 4, 4))
    bn = nn.BatchNorm2d(3).double()
    bn(tg.tensor(xv, dtype="float64"))
    n = 8 * 4 * 4
    mean = xv.mean(axis=(0, 2, 3))
    unbiased = xv.var(axis=(0, 2, 3)) * n / (n - 1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.9 * 0 + 0.1 * mean, rtol=1e-10)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 * 1 + 0.1 * unbiased, rtol=1e-10)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(tg.tensor(xv, dtype="float64")).detach().numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(y, (xv - rm.reshape(1, 3, 1, 1)) / np.sqrt(rv.reshape(1, 3, 1, 1) + 1e-5),
                               rtol=1e-9)
    assert bn.num_batches_tracked.item() == 1   # eval does not touch the statistics


def test_batch_norm_eval_gradcheck():
    rng = np.random.default_rng(1)
    x = leaf(rng.uniform(-1, 1, (3, 2, 2, 2)))
    rm, rv = tg.tensor(rng.uniform(-1, 1, 2), dtype="float64"), tg.tensor(rng.uniform(0.5, 2, 2), dtype="float64")
    w, b = leaf(rng.uniform(0.5, 1.5, 2)), leaf(rng.uniform(-1, 1, 2))
    gradcheck(lambda a, g, h: F.batch_norm(a, rm, rv, g, h, training=False), (x, w, b))


def test_batch_norm_rejects_single_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value"):
        F.batch_norm(tg.randn(1, 3), None, None, training=True)


@given(seed=st.integers(0, 2**16))
def test_layer_norm(seed):
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-2, 2, (3, 2, 4))
    wv, bv = rng.uniform(0.5, 1.5, (2, 4)), rng.uniform(-1, 1, (2, 4))
    x, w, b = leaf(xv), leaf(wv), leaf(bv)
    check_forward(F.layer_norm(x, (2, 4), w, b), reference_normalize(xv, (1, 2), 1e-5) * wv + bv,
                  rtol=1e-9)
    gradcheck(lambda a, g, h: F.layer_norm(a, (2, 4), g, h), (x, w, b))
    gradgradcheck(lambda a, g, h: F.layer_norm(a, (4,), g[0], h[0]), (x, w, b))


@given(seed=st.integers(0, 2**16), groups=st.sampled_from([1, 2, 4]))
def test_group_norm(seed, groups):
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-2, 2, (2, 4, 3, 3))
    wv, bv = rng.uniform(0.5, 1.5, 4), rng.uniform(-1, 1, 4)
    grouped = xv.reshape(2, groups, -1)
    expected = reference_normalize(grouped, (2,), 1e-5).reshape(xv.shape) * wv.reshape(1, 4, 1, 1) \
        + bv.reshape(1, 4, 1, 1)
    x, w, b = leaf(xv), leaf(wv), leaf(bv)
    check_forward(F.group_norm(x, groups, w, b), expected, rtol=1e-9)
    gradcheck(lambda a, g, h: F.group_norm(a, groups, g, h), (x, w, b))
    gradgradcheck(lambda a, g, h: F.group_norm(a, groups, g, h), (x, w, b))
    # a conv output's batch-last memory order (an NCHW-shaped transposed view), which the
    # kernels reduce in its own order, with γ and β shaped for that order
    batch_last = leaf(np.ascontiguousarray(xv.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2))
    assert not batch_last.data.flags.c_contiguous
    check_forward(F.group_norm(batch_last, groups, w, b), expected, rtol=1e-9)
    gradcheck(lambda a, g, h: F.group_norm(a, groups, g, h), (batch_last, w, b))


@given(seed=st.integers(0, 2**16))
def test_instance_norm(seed):
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-2, 2, (2, 3, 3, 4))
    x = leaf(xv)
    check_forward(F.instance_norm(x), reference_normalize(xv, (2, 3), 1e-5), rtol=1e-9)
    gradcheck(lambda a: F.instance_norm(a), (x,))
    layer = nn.InstanceNorm2d(3, affine=True).double()
    check_forward(layer(x), reference_normalize(xv, (2, 3), 1e-5), rtol=1e-9)
