"""cupy.fft on the stand-in: NumPy's, behind CuPy's names and signatures."""
import numpy as _np

from . import _fake

_fake.populate(globals(), "cupy.fft", _np.fft)
