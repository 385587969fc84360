"""Pooling, interpolate, dropout, embedding, linear: loop references and gradchecks."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.autograd import gradcheck, gradgradcheck
from helpers import check_forward, host, leaf


def naive_pool(x, k, s, p, reduce, pad_value):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for r in range(ho):
        for q in range(wo):
            out[:, :, r, q] = reduce(xp[:, :, r * s:r * s + k, q * s:q * s + k], axis=(2, 3))
    return out


@given(seed=st.integers(0, 2**16), k=st.integers(1, 3), s=st.integers(1, 3), data=st.data())
def test_max_pool2d(seed, k, s, data):
    p = data.draw(st.integers(0, k // 2))
    rng = np.random.default_rng(seed)
    h, w = data.draw(st.integers(k, 6)), data.draw(st.integers(k, 6))
    xv = rng.permutation(2 * 2 * h * w).reshape(2, 2, h, w) / 10.0   # distinct values: no ties
    x = leaf(xv)
    check_forward(F.max_pool2d(x, k, s, p), naive_pool(xv, k, s, p, np.max, -np.inf))
    gradcheck(lambda t: F.max_pool2d(t, k, s, p), (x,), eps=1e-4)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    flat = xv.reshape(2, 2, -1)
    np.testing.assert_allclose(np.take_along_axis(flat, host(idx).reshape(2, 2, -1), 2).reshape(y.shape),
                               host(y))


@given(seed=st.integers(0, 2**16), k=st.integers(1, 3), s=st.integers(1, 3), data=st.data())
def test_avg_pool2d(seed, k, s, data):
    p = data.draw(st.integers(0, k // 2))
    rng = np.random.default_rng(seed)
    h, w = data.draw(st.integers(k, 6)), data.draw(st.integers(k, 6))
    xv = rng.uniform(-1, 1, (2, 3, h, w))
    x = leaf(xv)
    check_forward(F.avg_pool2d(x, k, s, p), naive_pool(xv, k, s, p, np.mean, 0.0))
    gradcheck(lambda t: F.avg_pool2d(t, k, s, p), (x,))
    if p:
        counts = naive_pool(np.ones_like(xv), k, s, p, np.sum, 0.0)
        check_forward(F.avg_pool2d(x, k, s, p, count_include_pad=False),
                      naive_pool(xv, k, s, p, np.sum, 0.0) / counts)


@given(seed=st.integers(0, 2**16), h=st.integers(1, 7), w=st.integers(1, 7), oh=st.integers(1, 4),
       ow=st.integers(1, 4))
def test_adaptive_avg_pool2d(seed, h, w, oh, ow):
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-1, 1, (2, 2, h, w))
    expected = np.zeros((2, 2, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, r1 = (i * h) // oh, -((-(i + 1) * h) // oh)
            c0, c1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            expected[:, :, i, j] = xv[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    x = leaf(xv)
    check_forward(F.adaptive_avg_pool2d(x, (oh, ow)), expected, rtol=1e-9)
    gradcheck(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), (x,))


@pytest.mark.parametrize("layout", ["nchw", "batch_last", "sliced"])
def test_nearest_upsampling_keeps_memory_order_and_sums_blocks(layout):
    """An integer factor writes s×s blocks in the input's own memory order (a conv output is
    batch-last); the gradient of each input pixel is the sum of its block, by loop."""
    from tinygen.autograd import constant
    rng = np.random.default_rng(0)
    xv = rng.uniform(-1, 1, (3, 2, 4, 5))
    if layout == "batch_last":
        xv = np.ascontiguousarray(xv.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    elif layout == "sliced":
        xv = rng.uniform(-1, 1, (3, 2, 8, 5))[:, :, ::2]
    x = constant(xv)
    x.requires_grad_(True)
    y = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(y.detach().numpy(), xv.repeat(2, axis=2).repeat(2, axis=3))
    if layout != "sliced":
        assert np.argsort(y.data.strides).tolist() == np.argsort(xv.strides).tolist()
    gv = rng.uniform(-1, 1, y.shape)
    y.backward(constant(gv))
    expected = np.zeros(xv.shape)
    for i in range(8):
        for j in range(10):
            expected[:, :, i // 2, j // 2] += gv[:, :, i, j]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@given(seed=st.integers(0, 2**16), h=st.integers(1, 5), w=st.integers(1, 5), scale=st.integers(1, 3))
def test_interpolate_nearest_and_bilinear(seed, h, w, scale):
    rng = np.random.default_rng(seed)
    xv = rng.uniform(-1, 1, (1, 2, h, w))
    x = leaf(xv)
    near = F.interpolate(x, scale_factor=scale, mode="nearest")
    check_forward(near, xv.repeat(scale, axis=2).repeat(scale, axis=3))
    gradcheck(lambda t: F.interpolate(t, scale_factor=scale), (x,))
    gradgradcheck(lambda t: F.interpolate(t, scale_factor=scale), (x,))
    oh, ow = h * scale + 1, w * scale
    # other sizes gather src = ⌊dst · in/out⌋ (PyTorch's 'nearest'), written as a loop
    gathered = np.zeros((1, 2, oh, ow))
    for r in range(oh):
        for c in range(ow):
            gathered[:, :, r, c] = xv[:, :, min(int(np.floor(r * h / oh)), h - 1), min(int(np.floor(c * w / ow)), w - 1)]
    check_forward(F.interpolate(x, size=(oh, ow), mode="nearest"), gathered)
    gradcheck(lambda t: F.interpolate(t, size=(oh, ow), mode="nearest"), (x,))
    expected = np.zeros((1, 2, oh, ow))
    for r in range(oh):                 # PyTorch's bilinear, align_corners=False
        sr = max((r + 0.5) * h / oh - 0.5, 0.0)
        r0 = min(int(np.floor(sr)), h - 1)
        r1, fr = min(r0 + 1, h - 1), sr - r0
        for c in range(ow):
            sc = max((c + 0.5) * w / ow - 0.5, 0.0)
            c0 = min(int(np.floor(sc)), w - 1)
            c1, fc = min(c0 + 1, w - 1), sc - c0
            expected[:, :, r, c] = ((1 - fr) * (1 - fc) * xv[:, :, r0, c0] + (1 - fr) * fc * xv[:, :, r0, c1]
                                    + fr * (1 - fc) * xv[:, :, r1, c0] + fr * fc * xv[:, :, r1, c1])
    check_forward(F.interpolate(x, size=(oh, ow), mode="bilinear"), expected, rtol=1e-9)
    gradcheck(lambda t: F.interpolate(t, size=(oh, ow), mode="bilinear"), (x,))


def test_dropout_train_and_eval():
    x = tg.ones(1000, 10)
    y = F.dropout(x, 0.3, training=True).numpy()
    kept = y != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    xg = tg.ones(50, dtype="float64", requires_grad=True)
    tg.manual_seed(3)
    F.dropout(xg, 0.5).sum().backward()
    tg.manual_seed(3)
    mask = F.dropout(tg.ones(50, dtype="float64"), 0.5).numpy()
    np.testing.assert_allclose(xg.grad.numpy(), mask)


def test_embedding_accumulates_repeated_rows():
    w = leaf(np.random.default_rng(0).uniform(-1, 1, (5, 3)))
    idx = tg.tensor([[0, 2], [2, 2]])
    check_forward(F.embedding(idx, w), host(w)[host(idx)])
    gradcheck(lambda t: F.embedding(idx, t), (w,))
    F.embedding(idx, w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [1, 0, 3, 0, 0])


@given(seed=st.integers(0, 2**16))
def test_linear(seed):
    rng = np.random.default_rng(seed)
    xv, wv, bv = rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 2)
    x, w, b = leaf(xv), leaf(wv), leaf(bv)
    check_forward(F.linear(x, w, b), xv @ wv.T + bv, rtol=1e-9)
    gradcheck(F.linear, (x, w, b))
    gradgradcheck(lambda a, c, d: F.linear(a, c, d) ** 2, (x, w, b))


@given(st.lists(st.integers(0, 6), min_size=1, max_size=12), st.integers(0, 3))
def test_one_hot_matches_a_loop(labels, extra_classes):
    num_classes = max(labels) + 1 + extra_classes
    out = F.one_hot(tg.tensor(np.array(labels), dtype="int64"), num_classes)
    expected = np.zeros((len(labels), num_classes), dtype=np.int64)
    for row, label in enumerate(labels):
        expected[row, label] = 1
    assert out.dtype == np.int64 and np.array_equal(out.numpy(), expected)
    assert F.one_hot(tg.tensor(np.array(labels), dtype="int64")).shape == (len(labels), max(labels) + 1)


def test_one_hot_rejects_float_labels():
    with pytest.raises(TypeError, match="integer labels"):
        F.one_hot(tg.tensor([0.0, 1.0]), 2)
