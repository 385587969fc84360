"""cupyx on the stand-in: scatter_add, allow_synchronize, and cupyx.scipy.special."""
import contextlib

import numpy as _np

from cupy import _fake

from . import scipy  # noqa: F401


class DeviceSynchronized(RuntimeError):
    """Raised inside ``allow_synchronize(False)`` when the code syncs with the host."""


_check_scatter = _fake.Checker("cupyx.scatter_add", _fake.entries("cupyx", "scatter_add"))


def scatter_add(a, slices, value):
    """a[slices] += value, unbuffered (repeated indices accumulate), as np.add.at."""
    _check_scatter((a, slices, value), {})
    if not isinstance(a, _fake.ndarray):
        raise TypeError(f"Unsupported type {type(a)}")
    _np.add.at(a._a, _fake._index_key(slices), _fake.unwrap(value))


@contextlib.contextmanager
def allow_synchronize(allow):
    """As CuPy's: with allow=False, any host sync inside raises DeviceSynchronized."""
    previous = _fake.ledger.sync

    def refuse(what):
        raise DeviceSynchronized(f"host synchronisation inside allow_synchronize(False): {what}")
    if not allow:
        _fake.ledger.sync = refuse
    try:
        yield
    finally:
        _fake.ledger.sync = previous
