"""The autograd engine: order, accumulation, freeing, grad modes, autograd.grad, anomalies."""
import gc
import weakref

import numpy as np
import pytest

import tinygen as tg
from tinygen.autograd import Function, gradcheck, gradgradcheck, GradcheckError


def test_deep_graph_is_iterative():
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_gradients_accumulate_on_leaves():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])


def test_diamond_graph_sums_both_paths():
    x = tg.tensor(2.0, requires_grad=True)
    a = x * 3
    y = a * a + a            # dy/dx = (2a + 1)·3 = 39
    y.backward()
    assert x.grad.item() == pytest.approx(39.0)


def test_graph_is_freed_after_backward():
    x = tg.randn(100, requires_grad=True)
    hidden = tg.exp(x * 2.0)
    probe = weakref.ref(hidden)
    saved_fn = weakref.ref(hidden.grad_fn)
    loss = (hidden * 3.0).sum()
    del hidden
    gc.disable()   # prove it is freed by reference counting alone, not by the cycle collector
    try:
        loss.backward()
        assert probe() is None and saved_fn() is None
    finally:
        gc.enable()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_retain_graph_allows_second_backward():
    x = tg.tensor(3.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(12.0)


def test_no_grad_builds_no_graph():
    x = tg.randn(3, requires_grad=True)
    with tg.no_grad():
        y = x * 2 + 1
    assert not y.requires_grad and y.grad_fn is None

    @tg.no_grad()
    def f(t):
        return t * t
    assert f(x).grad_fn is None
    with tg.no_grad():
        with tg.enable_grad():
            assert (x * 2).requires_grad


def test_autograd_grad_does_not_touch_dot_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = tg.autograd.grad((x * w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    assert x.grad is None and w.grad is None


def test_autograd_grad_unused_input():
    x = tg.tensor(1.0, requires_grad=True)
    z = tg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.autograd.grad(x * 2, [x, z])
    gx, gz = tg.autograd.grad(x * 2, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None


def test_autograd_grad_of_non_leaf():
    x = tg.tensor(2.0, requires_grad=True)
    h = x * x
    y = h * 3
    (gh,) = tg.autograd.grad(y, h)
    assert gh.item() == pytest.approx(3.0)


def test_create_graph_gives_differentiable_gradients():
    # d/dx (dy/dx)² for y = x³: dy/dx = 3x², penalty = 9x⁴, d penalty/dx = 36x³
    x = tg.tensor(1.5, dtype="float64", requires_grad=True)
    (g,) = tg.autograd.grad(x ** 3, x, create_graph=True)
    assert g.requires_grad
    (g * g).backward()
    assert x.grad.item() == pytest.approx(36 * 1.5 ** 3)


def test_gradient_penalty_style_double_backward_through_mlp():
    tg.manual_seed(0)
    w1 = tg.randn(4, 5, dtype="float64", requires_grad=True)
    w2 = tg.randn(5, 1, dtype="float64", requires_grad=True)
    x = tg.randn(3, 4, dtype="float64", requires_grad=True)

    def penalty(w1_, w2_):
        out = tg.nn.functional.leaky_relu(x @ w1_, 0.2) @ w2_
        (gx,) = tg.autograd.grad(out.sum(), x, create_graph=True)
        return ((gx.pow(2).sum(1) + 1e-12).sqrt() - 1.0).pow(2).mean()

    gradcheck(penalty, (w1, w2))


def test_retain_grad_on_non_leaf():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 8.0])


def test_detect_anomaly_names_the_forward_op():
    x = tg.tensor([-1.0, 1.0], requires_grad=True)
    with tg.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"Log forward produced NaN.*\(2,\)"):
            with np.errstate(invalid="ignore"):
                tg.log(x)


def test_detect_anomaly_names_the_backward_op():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = tg.sqrt(x).sum()
        with tg.autograd.detect_anomaly():
            with pytest.raises(FloatingPointError, match="Sqrt backward produced"):
                y.backward()


def test_backward_needs_scalar_or_gradient():
    x = tg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(tg.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_inplace_on_leaf_requiring_grad_is_refused():
    w = tg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)
    with tg.no_grad():
        w.add_(1.0)


class WrongSquare(Function):
    """y = x², with a deliberately wrong derivative (3x instead of 2x)."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * self.inputs[0] * 3.0


def test_gradcheck_reports_op_element_and_values():
    x = tg.randn(2, 3, dtype="float64", requires_grad=True)
    with pytest.raises(GradcheckError, match=r"WrongSquare.*worst element \(\d, \d\).*analytic.*numeric"):
        gradcheck(lambda t: WrongSquare()(t), (x,))
    assert gradcheck(lambda t: WrongSquare()(t), (x,), raise_exception=False) is False


def test_gradcheck_directional_mode_on_large_inputs():
    x = tg.randn(40, 30, dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: (t * t).sum(1).sqrt(), (x,))
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(lambda t: WrongSquare()(t), (x,))


def test_gradcheck_refuses_float32():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, (tg.randn(3, requires_grad=True),))


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class FrozenGradSquare(Function):
        # right first derivative, but computed on a constant: second derivative lost
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0].detach() * 2.0

    x = tg.randn(3, dtype="float64", requires_grad=True)
    gradcheck(lambda t: FrozenGradSquare()(t), (x,))
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: FrozenGradSquare()(t), (x,))
