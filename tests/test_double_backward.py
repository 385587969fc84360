"""gradgradcheck for every op on a GAN critic's path (the WGAN-GP penalty differentiates
through its gradient)."""
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
from tinygen.autograd import gradgradcheck
from helpers import arrays, leaf

F = tg.nn.functional

UNARY = {
    "pow": (lambda x: x ** 3.0, (0.3, 2)),
    "pow_fractional": (lambda x: x ** 1.5, (0.3, 2)),
    "sqrt": (tg.sqrt, (0.3, 2)),
    "sum": (lambda x: (x * x).sum(-1), (-2, 2)),
    "mean": (lambda x: (x * x).mean(), (-2, 2)),
    "leaky_relu": (lambda x: F.leaky_relu(x * x - 1.0, 0.2) * x, (-2, 2)),
    "softplus": (F.softplus, (-3, 3)),
    "tanh": (F.tanh, (-2, 2)),
    "sigmoid": (F.sigmoid, (-3, 3)),
    "exp": (tg.exp, (-2, 2)),
    "log": (tg.log, (0.3, 2)),
    "elu": (lambda x: F.elu(x) * x, (-2, 2)),
    "gelu": (F.gelu, (-2, 2)),
    "log_softmax": (lambda x: F.log_softmax(x, dim=-1), (-2, 2)),
    "softmax": (lambda x: F.softmax(x, dim=-1), (-2, 2)),
    "logsumexp": (lambda x: tg.logsumexp(x, -1), (-2, 2)),
    "var": (lambda x: x.var(-1), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_double_backward(name, data):
    op, (low, high) = UNARY[name]
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=3))
    x = leaf(data.draw(arrays(shape, low, high, avoid=(0.0, -1.0, 1.0))))
    gradgradcheck(op, (x,))


@pytest.mark.parametrize("name", ["add", "mul", "div", "pow", "matmul", "sub"])
@given(data=st.data())
def test_binary_double_backward(name, data):
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    if name == "matmul":
        a, b = leaf(data.draw(arrays((n, k)))), leaf(data.draw(arrays((k, m))))
        op = lambda p, q: (p @ q) * (p @ q)
    else:
        shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1,
                                                             max_dims=2, max_side=3))
        low = 0.3 if name in ("div", "pow") else -2
        a = leaf(data.draw(arrays(shapes.input_shapes[0], low, 2)))
        b = leaf(data.draw(arrays(shapes.input_shapes[1], low, 2)))
        base = {"add": lambda p, q: p + q, "sub": lambda p, q: p - q, "mul": lambda p, q: p * q,
                "div": lambda p, q: p / q, "pow": lambda p, q: p ** q}[name]
        op = lambda p, q: base(p, q) * base(p, q)
    gradgradcheck(op, (a, b))


@given(data=st.data())
def test_shape_and_indexing_double_backward(data):
    x = leaf(data.draw(arrays((3, 4))))
    op = lambda t: (t.T.reshape(2, 6)[:, ::2].repeat(2, 1) ** 2).sum(0) + \
        tg.cat([t, t * t], 0).gather(1, tg.tensor([[0, 3], [1, 1]] * 3)).sum()
    gradgradcheck(op, (x,))
