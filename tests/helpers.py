"""Strategies and checks shared by the property tests, and a loader for the examples."""
import importlib.util
import os

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygen as tg

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


@st.composite
def arrays(draw, shape, low=-2.0, high=2.0, avoid=None, margin=0.05):
    """float64 values in [low, high], drawn by hypothesis itself (so it can shrink them and
    aim at zeros, ties, the bounds and large magnitudes), optionally kept ``margin`` away
    from the points in ``avoid`` (kinks and singularities), and laid out in memory as
    hypothesis chooses: contiguous, transposed, a strided slice of a larger array, or
    reversed (negative strides). (Zero-stride views are read-only, so they appear in the
    forward-only tests of test_ops_structure.py, not here: gradcheck writes its inputs.)"""
    shape = tuple(shape)
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False,
                                                                  allow_infinity=False, width=64)))
    for point in avoid or ():
        near = np.abs(values - point) < margin
        values = np.where(near, point + np.sign(values - point + 1e-12) * margin * 2, values)
    layout = draw(st.sampled_from(["contiguous", "transposed", "sliced", "reversed"])) if values.ndim else "contiguous"
    if layout == "transposed" and values.ndim >= 2:
        values = np.ascontiguousarray(np.swapaxes(values, 0, -1)).swapaxes(0, -1)
    elif layout == "sliced":
        big = np.zeros(tuple(2 * n + 1 for n in shape))
        view = big[tuple(slice(1, None, 2) for _ in shape)]
        view[...] = values
        values = view
    elif layout == "reversed":
        flipped = np.ascontiguousarray(values[(slice(None, None, -1),) * values.ndim])
        values = flipped[(slice(None, None, -1),) * values.ndim]
    return values


def leaf(values, backend="numpy", requires_grad=True):
    """A float64 leaf on the active backend that keeps the array's strides."""
    t = tg.Tensor._make(tg.backend.to_backend(values, tg.get_backend()), None, 0)
    return t.requires_grad_(requires_grad)


def host(t):
    return tg.backend.to_numpy(t.data if isinstance(t, tg.Tensor) else t)


def check_forward(out, expected, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(host(out), expected, rtol=rtol, atol=atol)
    assert out.shape == np.shape(expected)


def load_example(name):
    """Import examples/<name>.py as a module (the examples are scripts, not a package)."""
    path = os.path.join(os.path.dirname(__file__), "..", "examples", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
