"""Property tests for reductions, shape ops, indexing, joining and padding."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg
from tinygen.autograd import gradcheck, gradgradcheck
from helpers import SHAPES, arrays, check_forward, host, leaf

NONEMPTY = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@st.composite
def dims_of(draw, shape):
    """None, one dim, or a tuple of distinct dims (negative ones included)."""
    if not shape:
        return None
    kind = draw(st.sampled_from(["none", "one", "many"]))
    if kind == "none":
        return None
    if kind == "one":
        return draw(st.integers(-len(shape), len(shape) - 1))
    return tuple(draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape),
                               unique=True)))


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "var_biased", "logsumexp"])
@given(data=st.data())
def test_reductions(name, data):
    shape = data.draw(SHAPES)
    dim = data.draw(dims_of(shape))
    keepdim = data.draw(st.booleans())
    values = data.draw(arrays(shape, 0.5, 2.0))
    axis = dim if dim is None or isinstance(dim, int) else tuple(dim)
    count = values.size if axis is None else int(np.prod([values.shape[d] for d in np.atleast_1d(axis)]))
    ops = {
        "sum": (lambda t: t.sum(dim, keepdim), lambda a: a.sum(axis, keepdims=keepdim)),
        "mean": (lambda t: t.mean(dim, keepdim), lambda a: a.mean(axis, keepdims=keepdim)),
        "var": (lambda t: t.var(dim, keepdim=keepdim), lambda a: a.var(axis, ddof=1, keepdims=keepdim)),
        "std": (lambda t: t.std(dim, keepdim=keepdim), lambda a: a.std(axis, ddof=1, keepdims=keepdim)),
        "var_biased": (lambda t: t.var(dim, unbiased=False, keepdim=keepdim),
                       lambda a: a.var(axis, keepdims=keepdim)),
        "logsumexp": (lambda t: tg.logsumexp(t, dim, keepdim),
                      lambda a: np.log(np.exp(a).sum(axis, keepdims=keepdim))),
    }
    op, reference = ops[name]
    if name in ("var", "std") and count < 2:
        return  # unbiased estimate undefined (NaN), as in PyTorch
    if name == "std" and np.any(reference(values) < 1e-3):
        return  # sqrt is singular at 0
    x = leaf(values)
    check_forward(op(x), np.asarray(reference(values)), rtol=1e-9)
    gradcheck(op, (x,))


@pytest.mark.parametrize("largest", [True, False])
@given(data=st.data())
def test_max_min_over_dim(largest, data):
    shape = data.draw(NONEMPTY)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    keepdim = data.draw(st.booleans())
    values = data.draw(arrays(shape))
    values = values + np.arange(values.size).reshape(shape) * 1e-2   # no ties
    x = leaf(values)
    fn = (lambda t: t.max(dim, keepdim)) if largest else (lambda t: t.min(dim, keepdim))
    out, idx = fn(x)
    pick = np.argmax if largest else np.argmin
    expected_idx = pick(values, axis=dim)
    if keepdim:
        expected_idx = np.expand_dims(expected_idx, dim)
    np.testing.assert_array_equal(host(idx), expected_idx)
    check_forward(out, (values.max if largest else values.min)(axis=dim, keepdims=keepdim))
    gradcheck(lambda t: fn(t)[0], (x,))
    gradcheck(lambda t: t.max() if largest else t.min(), (x,))


@given(data=st.data())
def test_reshape_view_flatten(data):
    shape = data.draw(SHAPES)
    values = data.draw(arrays(shape))
    x = leaf(values)
    size = values.size
    check_forward(x.reshape(-1), values.reshape(-1))
    check_forward(x.view(size, 1), values.reshape(size, 1))
    check_forward(x.flatten(), values.reshape(-1))
    gradcheck(lambda t: t.reshape(1, -1) * 2.0, (x,))
    if len(shape) >= 2:
        check_forward(x.flatten(1), values.reshape(shape[0], -1))
        gradcheck(lambda t: t.flatten(1), (x,))


@given(data=st.data())
def test_permute_transpose(data):
    shape = data.draw(NONEMPTY)
    values = data.draw(arrays(shape))
    perm = data.draw(st.permutations(range(len(shape))))
    x = leaf(values)
    check_forward(x.permute(*perm), values.transpose(perm))
    gradcheck(lambda t: t.permute(*perm), (x,))
    if len(shape) >= 2:
        check_forward(x.transpose(0, -1), np.swapaxes(values, 0, -1))
        check_forward(x.T, values.T)
        gradcheck(lambda t: t.transpose(0, -1), (x,))


@given(data=st.data())
def test_flip(data):
    shape = data.draw(NONEMPTY)
    values = data.draw(arrays(shape))
    dims = tuple(data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1,
                                    max_size=len(shape), unique=True)))
    x = leaf(values)
    expected = values
    for d in {d % len(shape) for d in dims}:     # reference: reverse one axis at a time
        expected = expected[tuple(slice(None, None, -1) if a == d else slice(None)
                                  for a in range(len(shape)))]
    check_forward(x.flip(dims), expected)
    check_forward(tg.flip(x, dims), expected)
    gradcheck(lambda t: t.flip(dims), (x,))


@given(data=st.data())
def test_squeeze_unsqueeze(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=2))
    values = data.draw(arrays(shape))
    x = leaf(values)
    check_forward(x.squeeze(), np.squeeze(values))
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check_forward(x.unsqueeze(dim), np.expand_dims(values, dim))
    gradcheck(lambda t: t.unsqueeze(dim).squeeze(), (x,))
    if shape:
        d = data.draw(st.integers(0, len(shape) - 1))
        expected = np.squeeze(values, d) if shape[d] == 1 else values
        check_forward(x.squeeze(d), expected)


@given(data=st.data())
def test_expand_and_repeat(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    values = data.draw(arrays(shape))
    target = tuple(data.draw(st.integers(1, 3)) if s == 1 else s for s in shape)
    lead = data.draw(st.integers(0, 2))
    sizes = (2,) * lead + tuple(-1 if (s == t and data.draw(st.booleans())) else t
                               for s, t in zip(shape, target))
    x = leaf(values)
    check_forward(x.expand(*sizes), np.broadcast_to(values, (2,) * lead + target))
    gradcheck(lambda t: t.expand(*sizes), (x,))
    reps = tuple(data.draw(st.lists(st.integers(1, 3), min_size=len(shape), max_size=len(shape) + 1)))
    check_forward(x.repeat(*reps), np.tile(values, reps))
    gradcheck(lambda t: t.repeat(*reps), (x,))


@given(data=st.data())
def test_getitem_basic(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    values = data.draw(arrays(shape))
    key = data.draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True))
    x = leaf(values)
    check_forward(x[key], values[key])
    gradcheck(lambda t: t[key], (x,))


@given(data=st.data())
def test_getitem_integer_arrays_accumulate(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    values = data.draw(arrays(shape))
    n = data.draw(st.integers(1, 6))
    index = np.array(data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=n, max_size=n)))
    x = leaf(values)
    check_forward(x[index], values[index])
    check_forward(x[tg.tensor(index)], values[index])
    gradcheck(lambda t: t[index], (x,))
    # repeated indices add their gradients
    x.grad = None
    x[index].sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, index, 1.0)
    np.testing.assert_allclose(host(x.grad), expected)
    if len(shape) >= 2:
        cols = np.array([shape[1] - 1, 0, 0])
        rows = np.array([0, shape[0] - 1, 0])
        check_forward(x[rows, cols], values[rows, cols])
        gradcheck(lambda t: t[rows, cols], (x,))
        check_forward(x[:, cols], values[:, cols])
        gradcheck(lambda t: t[:, cols], (x,))


@given(data=st.data())
def test_index_select_backward_adds_repeats_along_any_axis(data):
    """Sorted indices (nearest upsampling's kind: runs and gaps) and unsorted or negative ones
    (which may alias) take different scatter paths; both must equal the add.at loop."""
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = data.draw(st.integers(1, 7))
    index = data.draw(st.lists(st.integers(-shape[axis], shape[axis] - 1), min_size=n, max_size=n))
    if data.draw(st.booleans()):
        index = sorted(i % shape[axis] for i in index)
    index = np.array(index)
    x = leaf(data.draw(arrays(shape)))
    y = x.index_select(axis, index)
    weights = np.random.default_rng(0).standard_normal(y.shape)
    (y * tg.tensor(weights, dtype="float64")).sum().backward()
    expected = np.zeros(shape)
    for j, i in enumerate(index):
        target = (slice(None),) * axis + (i,)
        expected[target] += weights[(slice(None),) * axis + (j,)]
    np.testing.assert_allclose(host(x.grad), expected, atol=1e-12)


@given(data=st.data())
def test_getitem_boolean_mask(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    values = data.draw(arrays(shape))
    mask = values > 0
    x = leaf(values)
    check_forward(x[mask], values[mask])
    check_forward(x[tg.tensor(mask)], values[mask])
    gradcheck(lambda t: t[mask] * 3.0, (x,))
    row_mask = mask.reshape(shape[0], -1)[:, 0]
    check_forward(x[row_mask], values[row_mask])


@given(data=st.data())
def test_cat_stack_split_chunk(data):
    shape = data.draw(NONEMPTY)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts_values = []
    for s in sizes:
        sh = list(shape)
        sh[dim] = s
        parts_values.append(data.draw(arrays(tuple(sh))))
    parts = [leaf(v) for v in parts_values]
    check_forward(tg.cat(parts, dim), np.concatenate(parts_values, dim))
    gradcheck(lambda *ts: tg.cat(ts, dim), tuple(parts))
    same = [leaf(data.draw(arrays(shape))) for _ in range(2)]
    check_forward(tg.stack(same, dim), np.stack([host(t) for t in same], dim))
    gradcheck(lambda *ts: tg.stack(ts, dim), tuple(same))
    whole = tg.cat(parts, dim)
    pieces = whole.split(sizes, dim)
    for p, v in zip(pieces, parts_values):
        check_forward(p, v)
    x = leaf(np.concatenate(parts_values, dim))
    gradcheck(lambda t: tg.split(t, 2, dim)[0] * 2.0, (x,))
    chunks = data.draw(st.integers(1, 4))
    n = x.shape[dim]
    size = -(-n // chunks)           # PyTorch: pieces of ceil(n / chunks), the last one shorter
    expected = np.split(host(x), list(range(size, n, size)), axis=dim)
    got = x.chunk(chunks, dim)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        check_forward(g, e)


@given(data=st.data())
def test_gather(data):
    shape = data.draw(NONEMPTY)
    dim = data.draw(st.integers(0, len(shape) - 1))
    values = data.draw(arrays(shape))
    index_shape = tuple(data.draw(st.integers(1, s)) if d != dim else data.draw(st.integers(1, 4))
                        for d, s in enumerate(shape))
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    index = rng.integers(0, shape[dim], size=index_shape)
    x = leaf(values)
    expected = np.take_along_axis(values[tuple(slice(0, s) if d != dim else slice(None)
                                               for d, s in enumerate(index_shape))], index, dim)
    check_forward(x.gather(dim, tg.tensor(index)), expected)
    gradcheck(lambda t: t.gather(dim, index), (x,))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@given(data=st.data())
def test_pad(mode, data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
    values = data.draw(arrays(shape))
    n_dims = data.draw(st.integers(1, len(shape)))
    pads = []
    for k in range(n_dims):
        limit = shape[len(shape) - 1 - k] - 1 if mode == "reflect" else 2
        pads += [data.draw(st.integers(0, min(2, limit))), data.draw(st.integers(0, min(2, limit)))]
    widths = [(0, 0)] * len(shape)
    for k in range(n_dims):
        widths[len(shape) - 1 - k] = (pads[2 * k], pads[2 * k + 1])
    np_mode = {"replicate": "edge", "circular": "wrap"}.get(mode, mode)
    expected = np.pad(values, widths, mode=np_mode) if mode != "constant" else \
        np.pad(values, widths, constant_values=0.5)
    x = leaf(values)
    op = lambda t: tg.nn.functional.pad(t, pads, mode=mode, value=0.5)
    check_forward(op(x), expected)
    gradcheck(op, (x,))
    gradgradcheck(op, (x,))      # the border rows' backward is itself differentiable
