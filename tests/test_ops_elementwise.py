"""Property tests for elementwise ops: forward against NumPy, gradient by gradcheck."""
import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
from tinygen.autograd import gradcheck
from helpers import SHAPES, arrays, check_forward, host, leaf

F = tg.nn.functional

# name: (tinygen op, NumPy reference, (low, high), points to keep away from)
UNARY = {
    "neg": (lambda x: -x, lambda a: -a, (-2, 2), ()),
    "abs": (abs, np.abs, (-2, 2), (0,)),
    "exp": (tg.exp, np.exp, (-3, 3), ()),
    "log": (tg.log, np.log, (0.1, 3), ()),
    "sqrt": (tg.sqrt, np.sqrt, (0.1, 3), ()),
    "square": (lambda x: x ** 2, np.square, (-2, 2), ()),
    "pow_scalar": (lambda x: x ** 3.5, lambda a: a ** 3.5, (0.1, 2), ()),
    "pow_negative": (lambda x: x ** -1.5, lambda a: a ** -1.5, (0.2, 2), ()),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7), (-2, 2), (-0.5, 0.7)),
    "clamp_min": (lambda x: tg.clamp(x, min=0.3), lambda a: np.maximum(a, 0.3), (-2, 2), (0.3,)),
    "rsub": (lambda x: 1.5 - x, lambda a: 1.5 - a, (-2, 2), ()),
    "rdiv": (lambda x: 2.0 / x, lambda a: 2.0 / a, (0.2, 2), ()),
    "rpow": (lambda x: 2.0 ** x, lambda a: 2.0 ** a, (-2, 2), ()),
    "erf": (tg.erf, scipy.special.erf, (-2, 2), ()),
    "relu": (F.relu, lambda a: np.maximum(a, 0), (-2, 2), (0,)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a), (-2, 2), (0,)),
    "elu": (F.elu, lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), (-2, 2), (0,)),
    "sigmoid": (F.sigmoid, scipy.special.expit, (-4, 4), ()),
    "tanh": (F.tanh, np.tanh, (-3, 3), ()),
    "softplus": (F.softplus, lambda a: np.logaddexp(0, a), (-4, 4), ()),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0), lambda a: np.logaddexp(0, 2 * a) / 2, (-4, 4), ()),
    "silu": (F.silu, lambda a: a * scipy.special.expit(a), (-4, 4), ()),
    "gelu": (F.gelu, lambda a: a * 0.5 * (1 + scipy.special.erf(a / np.sqrt(2))), (-3, 3), ()),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3))),
                  (-3, 3), ()),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary(name, data):
    op, reference, (low, high), avoid = UNARY[name]
    shape = data.draw(SHAPES)
    values = data.draw(arrays(shape, low, high, avoid))
    x = leaf(values)
    check_forward(op(x), reference(values), rtol=1e-7, atol=1e-10)
    gradcheck(op, (x,))


# name: (tinygen op, NumPy reference, domain of a, domain of b, points b avoids relative to a)
BINARY = {
    "add": (lambda a, b: a + b, np.add, (-2, 2), (-2, 2)),
    "sub": (lambda a, b: a - b, np.subtract, (-2, 2), (-2, 2)),
    "mul": (lambda a, b: a * b, np.multiply, (-2, 2), (-2, 2)),
    "div": (lambda a, b: a / b, np.divide, (-2, 2), (0.3, 2)),
    "pow": (lambda a, b: a ** b, np.power, (0.2, 2), (-2, 2)),
    "maximum": (tg.maximum, np.maximum, (-2, 2), (-2, 2)),
    "minimum": (tg.minimum, np.minimum, (-2, 2), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcasting(name, data):
    op, reference, dom_a, dom_b = BINARY[name]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                         max_side=3))
    sa, sb = shapes.input_shapes
    a_values = data.draw(arrays(sa, *dom_a))
    b_values = data.draw(arrays(sb, *dom_b))
    if name in ("maximum", "minimum"):
        # keep a and b apart: the derivative jumps where they are equal
        b_values = b_values + np.where(np.abs(np.broadcast_to(a_values, shapes.result_shape).sum()
                                              - b_values) < 0.05, 0.2, 0.0)
        a_b = np.broadcast_arrays(a_values, b_values)
        assume(not np.any(np.abs(a_b[0] - a_b[1]) < 1e-3))    # a tie: draw another case
    a, b = leaf(a_values), leaf(b_values)
    check_forward(op(a, b), reference(a_values, b_values), rtol=1e-7, atol=1e-10)
    gradcheck(op, (a, b))


@given(data=st.data())
def test_binary_with_python_scalar_keeps_dtype(data):
    x = tg.randn(3)
    for y in (x + 1.5, 2.0 * x, x / 3, x - 1, 1 - x, x ** 2.0, tg.maximum(x, 0.0)):
        assert y.dtype == np.float32


@given(data=st.data())
def test_matmul_batched_broadcasting(data):
    n = data.draw(st.integers(1, 3))
    k = data.draw(st.integers(1, 3))
    m = data.draw(st.integers(1, 3))
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    ba, bb = batch.input_shapes
    kind = data.draw(st.sampled_from(["mm", "vec_left", "vec_right", "vec_vec"]))
    sa = ba + (n, k) if kind in ("mm", "vec_right") else (k,)
    sb = bb + (k, m) if kind in ("mm", "vec_left") else (k,)
    a_values, b_values = data.draw(arrays(sa)), data.draw(arrays(sb))
    a, b = leaf(a_values), leaf(b_values)
    check_forward(a @ b, np.matmul(a_values, b_values), rtol=1e-7, atol=1e-10)
    gradcheck(lambda p, q: p @ q, (a, b))


@given(data=st.data())
def test_where(data):
    shape = data.draw(SHAPES)
    a_values, b_values = data.draw(arrays(shape)), data.draw(arrays(shape))
    cond = a_values > b_values
    a, b = leaf(a_values), leaf(b_values)
    check_forward(tg.where(tg.tensor(cond), a, b), np.where(cond, a_values, b_values))
    gradcheck(lambda p, q: tg.where(tg.tensor(cond), p, q), (a, b))
    gradcheck(lambda p: tg.where(tg.tensor(cond), p, 0.0), (a,))


def test_maximum_tie_splits_gradient():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([1.0, 0.0], requires_grad=True)
    tg.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 0.0])


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus",
                                  "silu", "gelu", "gelu_tanh", "exp_clamped"])
def test_activations_finite_at_extremes(name):
    op = {"exp_clamped": lambda x: tg.exp(x.clamp(max=50))}.get(name) or UNARY[name][0]
    for dtype in ("float32", "float64"):
        x = tg.tensor(np.linspace(-100, 100, 41), dtype=dtype, requires_grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = op(x)
            y.sum().backward()
        assert np.isfinite(y.detach().numpy()).all(), name
        assert np.isfinite(x.grad.numpy()).all(), name


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_finite_at_extremes(fn):
    x = tg.tensor(np.array([[-100.0, 0.0, 100.0], [100.0, 100.0, -100.0]]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = getattr(F, fn)(x, dim=1)
        (y * tg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert np.isfinite(host(y)).all() and np.isfinite(host(x.grad)).all()


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_family(fn, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    values = data.draw(arrays(shape, -3, 3))
    shifted = values - values.max(axis=dim, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    expected = np.exp(log_p) if fn == "softmax" else log_p
    x = leaf(values)
    op = lambda t: getattr(F, fn)(t, dim=dim)
    check_forward(op(x), expected, rtol=1e-9)
    gradcheck(op, (x,))


def test_comparisons_and_argmax_carry_no_grad():
    x = tg.randn(3, 4, requires_grad=True)
    for y in (x > 0, x < 0, x == x, x != 0, x >= 0, x <= 0, x.argmax(1), x.argmax(), tg.argmin(x, 0)):
        assert not y.requires_grad and y.grad_fn is None
    assert (x > 0).dtype == np.bool_
    np.testing.assert_array_equal(x.argmax(1).numpy(), x.detach().numpy().argmax(1))


@pytest.mark.parametrize("slope", [-0.5, 0.0, 0.01, 1.0, 1.5])
def test_leaky_relu_any_slope_matches_where_and_gradcheck(slope):
    # the kernel picks max/min/where by slope; every branch must be the same function
    values = np.array([-2.0, -0.3, 0.4, 1.7, -1.1, 0.9])
    x = tg.tensor(values, dtype="float64", requires_grad=True)
    out = F.leaky_relu(x, slope)
    np.testing.assert_allclose(out.detach().numpy(), np.where(values > 0, values, slope * values))
    gradcheck(lambda t: F.leaky_relu(t, slope), (x,))


def test_clamp_gradient_at_its_bounds_is_one_as_in_pytorch():
    """Ties: x exactly at lo or hi passes the gradient (PyTorch's convention), just outside it
    does not. Random draws never land on a bound, so the bounds are given here."""
    x = tg.tensor([-1.0, -1.0 - 1e-9, 0.0, 2.0, 2.0 + 1e-9], dtype="float64", requires_grad=True)
    x.clamp(-1.0, 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0, 1.0, 0.0])
    for lo, hi, expected in ((-1.0, None, [1, 0, 1, 1, 1]), (None, 2.0, [1, 1, 1, 1, 0])):
        x.grad = None
        x.clamp(lo, hi).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_cast_sends_the_gradient_back_in_the_input_dtype():
    """.float(), .double(), .to(dtype), .half(): the gradient reaching the tensor before the cast
    is in that tensor's dtype (checked on a non-leaf, which the engine does not recast)."""
    for start, cast in (("float32", lambda t: t.double()), ("float64", lambda t: t.float()),
                        ("float32", lambda t: t.to("float64")), ("float64", lambda t: t.to("float32")),
                        ("float32", lambda t: t.half())):
        leaf = tg.tensor([1.0, 2.0, 3.0], dtype=start, requires_grad=True)
        middle = leaf * 2.0
        middle.retain_grad()
        (cast(middle) * 3.0).sum().backward()
        assert middle.grad.dtype == np.dtype(start), (start, cast)
        np.testing.assert_allclose(middle.grad.numpy(), [3.0, 3.0, 3.0])
        assert leaf.grad.dtype == np.dtype(start)
        np.testing.assert_allclose(leaf.grad.numpy(), [6.0, 6.0, 6.0])
