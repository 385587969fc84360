"""Edges that random draws rarely reach: size-0 dimensions, float32 paths, zero-stride
(broadcast) inputs, and corner values pinned with ``@example`` so that every run, in
every profile, tries them whatever else changes."""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import tinygen as tg
import tinygen.nn.functional as F
from tinygen.autograd import gradcheck

from helpers import arrays, leaf

UNARY = {"exp": (lambda t: t.exp(), np.exp), "tanh": (F.tanh, np.tanh), "sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
         "softplus": (F.softplus, lambda a: np.logaddexp(0, a)), "relu": (F.relu, lambda a: np.maximum(a, 0)),
         "square": (lambda t: t * t, np.square), "abs": (lambda t: t.abs(), np.abs)}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_size_zero_dimensions_flow_through_forward_and_backward(name):
    op, reference = UNARY[name]
    for shape in ((0,), (3, 0), (0, 4, 2)):
        x = tg.zeros(*shape, dtype="float64", requires_grad=True)
        y = op(x)
        assert y.shape == shape and reference(np.zeros(shape)).shape == shape
        y.sum().backward()
        assert x.grad.shape == shape


def test_size_zero_reductions_shapes_and_joins_as_in_pytorch():
    x = tg.zeros(0, 3)
    assert x.sum().item() == 0.0 and x.sum(0).shape == (3,) and x.sum(1).shape == (0,)
    assert np.isnan(x.mean().item())                          # PyTorch: mean of nothing is nan
    assert (x @ tg.zeros(3, 5)).shape == (0, 5)
    assert (tg.zeros(4, 0) @ tg.zeros(0, 2)).numpy().tolist() == [[0.0, 0.0]] * 4
    assert tg.cat([tg.ones(2, 3), x], 0).shape == (2, 3)
    assert x.reshape(3, 0).shape == (3, 0) and x.flatten().shape == (0,)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_float32_path_matches_float64_and_keeps_float32(name):
    op, reference = UNARY[name]
    values = np.random.default_rng(0).uniform(-3, 3, (4, 5)) + 0.01      # away from relu/abs kinks at 0
    x32 = tg.tensor(values.astype(np.float32), requires_grad=True)
    x64 = tg.tensor(values, dtype="float64", requires_grad=True)
    y32, y64 = op(x32), op(x64)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32.detach().numpy(), reference(values), rtol=2e-6, atol=1e-6)
    (y32 * 1.5).sum().backward()
    (y64 * 1.5).sum().backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad.numpy(), x64.grad.numpy(), rtol=2e-5, atol=1e-6)


def test_zero_stride_inputs_compute_as_their_dense_copies():
    row = np.random.default_rng(1).normal(size=(1, 5))
    view = np.broadcast_to(row, (4, 5))                       # strides (0, 8): one row seen 4 times
    assert view.strides[0] == 0
    t = tg.Tensor._make(view, None, 0)
    dense = tg.tensor(np.ascontiguousarray(view), dtype="float64")
    for fn in (lambda a: a.exp().sum(0), lambda a: a @ a.T, lambda a: F.softmax(a, 1),
               lambda a: a.transpose(0, 1).reshape(-1), lambda a: a[1:, ::2] * 2):
        np.testing.assert_array_equal(fn(t).numpy(), fn(dense).numpy())


@given(values=arrays((2, 3)))
@example(values=np.zeros((2, 3)))                              # all ties
@example(values=np.full((2, 3), 2.0))
@example(values=np.array([[1e-300, -1e-300, 0.0], [2.0, 2.0, -2.0]]))
def test_softmax_log_softmax_and_logsumexp_at_ties_and_tiny_values(values):
    x = leaf(values)
    p = F.softmax(x, 1).detach().numpy()
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    shifted = values - values.max(1, keepdims=True)
    np.testing.assert_allclose(F.log_softmax(x, 1).detach().numpy(),
                               shifted - np.log(np.exp(shifted).sum(1, keepdims=True)), rtol=1e-12, atol=1e-12)
    gradcheck(lambda t: F.log_softmax(t, 1), (x,))
    gradcheck(lambda t: t.logsumexp(1), (x,))


@given(values=arrays((5,), -3.0, 3.0))
@example(values=np.array([0.0, 0.0, 0.0, 0.0, 0.0]))
@example(values=np.array([-1.0, 1.0, -1.0, 1.0, 0.5]))           # on clamp's bounds exactly
def test_clamp_and_maximum_at_pinned_corners(values):
    x = leaf(values)
    y = x.clamp(-1.0, 1.0)
    np.testing.assert_array_equal(y.detach().numpy(), np.clip(values, -1.0, 1.0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), ((values >= -1.0) & (values <= 1.0)).astype(float))
    x.grad = None
    m = tg.maximum(x, tg.zeros(5, dtype="float64"))
    m.sum().backward()
    expected = np.where(values > 0, 1.0, np.where(values == 0, 0.5, 0.0))   # a tie splits, as PyTorch
    np.testing.assert_array_equal(x.grad.numpy(), expected)
