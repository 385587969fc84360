"""cupy.random on the stand-in: a NumPy RandomState per process behind CuPy's names.

The numbers are not CuPy's (its generators run on the GPU); the calls, keywords and
dtypes are. Draws happen "on the device": they are no host-to-device copies.
"""
import numpy as _np

from .. import _fake


class RandomState:
    def __init__(self, seed=None, method=None):
        self._rs = _np.random.RandomState(None if seed is None else int(seed) % (2 ** 32))

    def seed(self, seed=None):
        self._rs.seed(None if seed is None else int(seed) % (2 ** 32))


def _make(name, found):
    check = _fake.Checker(f"cupy.random.RandomState.{name}", found)

    def method(self, *args, **kwargs):
        check(args, kwargs)
        dtype = kwargs.pop("dtype", None)
        if name in ("random_sample", "standard_normal", "rand", "randn", "normal", "uniform", "random"):
            if name in ("random_sample", "standard_normal", "random") and len(args) > 1:
                dtype, args = args[1], args[:1]
            out = getattr(self._rs, name)(*_fake.unwrap(args), **_fake.unwrap(kwargs))
            return _fake.wrap(_np.asarray(out, dtype=dtype or _np.float64))
        if name == "randint":
            out = self._rs.randint(*_fake.unwrap(args), **_fake.unwrap(kwargs))
            return _fake.wrap(_np.asarray(out, dtype=dtype or _np.int64))
        if name == "permutation":
            return _fake.wrap(self._rs.permutation(_fake.unwrap(args[0])))
        if name == "shuffle":
            self._rs.shuffle(_fake.unwrap(args[0]))
            return None
        out = getattr(self._rs, name)(*_fake.unwrap(args), **_fake.unwrap(kwargs))
        return _fake.wrap(_np.asarray(out) if dtype is None else _np.asarray(out, dtype=dtype))
    method.__name__ = name
    return method


for _name in _fake.names("cupy.random.RandomState"):
    _found = _fake.entries("cupy.random.RandomState", _name)
    if _found[0][1]["kind"] == "function" and _name != "seed" and hasattr(_np.random.RandomState, _name):
        setattr(RandomState, _name, _make(_name, _found))

_state = RandomState(0)


def get_random_state():
    return _state


def set_random_state(rs):
    global _state
    _state = rs


def reset_states():
    global _state
    _state = RandomState()


def seed(seed=None):
    _state.seed(seed)


def _module_function(name):
    def function(*args, **kwargs):
        return getattr(_state, name)(*args, **kwargs)
    function.__name__ = name
    return function


for _name in _fake.names("cupy.random"):
    if _name in globals():
        continue
    if hasattr(RandomState, _name):
        globals()[_name] = _module_function(_name)
    elif _name in ("random", "ranf", "sample") and hasattr(RandomState, "random_sample"):
        globals()[_name] = _module_function("random_sample")
