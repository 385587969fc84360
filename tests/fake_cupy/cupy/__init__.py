"""The strict CPU stand-in for CuPy (see _fake.py and ../README.md). Not CuPy."""
import numpy as _np

from . import _fake
from ._fake import ledger, ndarray  # noqa: F401

__version__ = _fake.__version__
_fake.populate(globals(), "cupy", _np)

from . import cuda, random  # noqa: E402,F401
from . import linalg, fft, lib  # noqa: E402,F401
