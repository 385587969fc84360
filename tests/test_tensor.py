"""Tensor construction, dtypes, attributes and backends."""
import numpy as np
import pytest

import tinygen as tg
from tinygen import backend


def test_default_dtype_is_float32():
    assert tg.tensor([1.0, 2.0]).dtype == np.float32
    assert tg.tensor(np.zeros(3)).dtype == np.float32          # float64 data is cast
    assert tg.tensor(np.zeros(3), dtype="float64").dtype == np.float64
    assert tg.tensor(np.zeros(3), dtype=np.float64).dtype == np.float64
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor([True]).dtype == np.bool_
    assert tg.tensor(np.zeros(3, np.uint8)).dtype == np.uint8
    for make in (tg.zeros, tg.ones, tg.rand, tg.randn):
        assert make(2, 3).dtype == np.float32
        assert make((2, 3)).shape == (2, 3)
    assert tg.full((2,), 1.5).dtype == np.float32
    assert tg.arange(5).dtype == np.int64 and tg.arange(0.0, 1.0, 0.25).dtype == np.float32


def test_like_constructors():
    x = tg.randn(2, 3, dtype="float64")
    for make in (tg.zeros_like, tg.ones_like, tg.rand_like, tg.randn_like):
        y = make(x)
        assert y.shape == x.shape and y.dtype == np.float64
    assert tg.full_like(x, 7.0).numpy().mean() == 7.0


def test_attributes_and_methods(on_numpy):
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.is_leaf and x.requires_grad
    assert isinstance(x.data, np.ndarray)
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert y.detach().grad_fn is None and not y.detach().requires_grad
    assert tg.tensor(3.5).item() == 3.5
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [[1, 2], [3, 4]])
    z = tg.zeros(2).requires_grad_()
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="floating point"):
        tg.zeros(2, dtype="int64").requires_grad_()


def test_zero_dim_results_stay_arrays(on_numpy):
    x = tg.tensor(2.0, requires_grad=True)
    y = tg.exp(x).sum() * 2
    assert isinstance(y.data, np.ndarray) and y.shape == ()


def test_manual_seed_is_reproducible():
    tg.manual_seed(7)
    a = tg.randn(5).numpy()
    tg.manual_seed(7)
    b = tg.randn(5).numpy()
    np.testing.assert_array_equal(a, b)


def test_use_backend_as_call_and_context(on_numpy):
    assert tg.get_backend() == "numpy"
    with tg.use_backend("numpy"):
        assert tg.get_backend() == "numpy"
    tg.use_backend("numpy")
    assert tg.get_backend() == "numpy"
    with pytest.raises(ValueError, match="unknown backend"):
        tg.use_backend("tpu")


def test_cupy_missing_gives_clear_error(on_numpy, monkeypatch):
    """Without CuPy installed (simulated: `import cupy` fails), asking for it says how to fix it."""
    import sys
    monkeypatch.setitem(sys.modules, "cupy", None)           # makes `import cupy` raise ImportError
    monkeypatch.setattr(tg.backend, "_cupy", None)
    monkeypatch.setattr(tg.backend, "_cupy_error", None)
    with pytest.raises(RuntimeError, match=r"needs CuPy, which is not installed.*\.\[cuda12\]"):
        tg.use_backend("cupy")
    assert tg.get_backend() == "numpy" and not tg.cupy_available()


def test_get_array_module(on_numpy):
    assert tg.get_array_module(np.zeros(2)) is np
    assert tg.get_array_module(tg.zeros(2)) is np


def test_tensor_repr():
    r = repr(tg.tensor([1.0, 2.0], requires_grad=True))
    assert r.startswith("tensor([1., 2.]") and "requires_grad=True" in r


@pytest.mark.cupy
def test_cupy_roundtrip_and_mixing_error(on_numpy):
    cp = backend.module("cupy")
    x = tg.randn(3, requires_grad=True)
    y = x.to("cupy")
    assert isinstance(y.data, cp.ndarray)
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])
    with pytest.raises(RuntimeError, match=r"to\('cupy'\)"):
        x + y


@pytest.mark.cupy
def test_ops_match_between_backends(backend):
    values = np.random.default_rng(0).standard_normal((4, 5))
    x = tg.tensor(values, dtype="float64", requires_grad=True)
    y = (tg.nn.functional.softplus(x) @ x.T).logsumexp(1).sum()
    y.backward()
    with tg.use_backend("numpy"):
        xn = tg.tensor(values, dtype="float64", requires_grad=True)
        yn = (tg.nn.functional.softplus(xn) @ xn.T).logsumexp(1).sum()
        yn.backward()
    np.testing.assert_allclose(y.item(), yn.item(), rtol=1e-10)
    np.testing.assert_allclose(tg.backend.to_numpy(x.grad.data), xn.grad.numpy(), rtol=1e-10)


def test_numpy_asarray_gives_the_numbers_as_in_pytorch(on_numpy):
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.shape == (2, 2) and a.tolist() == [[1, 2], [3, 4]]
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(tg.tensor(3.0)).shape == ()
    with pytest.raises(RuntimeError, match="detach"):
        np.asarray(tg.randn(2, requires_grad=True))
    assert isinstance(np.ones(2) + tg.tensor([1.0, 2.0]), tg.Tensor)   # ndarray + Tensor is a Tensor


def test_type_promotion_follows_pytorch():
    i64, f32 = tg.tensor([1, 2]), tg.tensor([1.0, 2.0])
    f64 = tg.tensor([1.0, 2.0], dtype="float64")
    assert i64.dtype == np.int64
    for a, b in ((i64, f32), (f32, i64)):
        assert (a + b).dtype == np.float32 and (a * b).dtype == np.float32
        assert (a - b).dtype == np.float32 and (a / b).dtype == np.float32
    assert (f32 + f64).dtype == np.float64 and (f64 * f32).dtype == np.float64
    assert (i64 / i64).dtype == np.float32 and (i64 / i64).tolist() == [1.0, 1.0]   # true division
    assert (i64 + i64).dtype == np.int64
    assert (f32 @ tg.tensor([[1], [2]])).dtype == np.float32


def test_a_float32_leaf_gets_a_float32_grad_whatever_it_met():
    w = tg.randn(3, requires_grad=True)
    (w * tg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad.numpy(), [1, 2, 3])
    (g,) = tg.autograd.grad((w.double() * 2).sum(), w)
    assert g.dtype == np.float32
    v = tg.randn(2, dtype="float64", requires_grad=True)
    (v.float() * tg.randn(2)).sum().backward()
    assert v.grad.dtype == np.float64


def test_in_place_change_of_a_leaf_that_requires_grad_raises():
    w = tg.randn(3, requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_(), lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError, match="in place"):
            change()
    with tg.no_grad():
        w.add_(1)                     # the optimizer's way: allowed under no_grad


@pytest.mark.parametrize("kwargs, message", [
    (dict(stride=0), "stride must be at least 1"),
    (dict(padding=-1), "padding must be at least 0"),
    (dict(dilation=0), "dilation must be at least 1"),
    (dict(bias="wrong"), "bias must have shape"),
])
def test_conv_geometry_errors_are_clear(kwargs, message):
    import tinygen.nn.functional as F
    x = tg.randn(1, 2, 6, 6)
    if kwargs.get("bias") == "wrong":
        kwargs = dict(bias=tg.randn(4))
    with pytest.raises(ValueError, match=message):
        F.conv2d(x, tg.randn(3, 2, 3, 3), **kwargs)
    with pytest.raises(ValueError, match=message):
        F.conv_transpose2d(x, tg.randn(2, 3, 3, 3), **kwargs)
