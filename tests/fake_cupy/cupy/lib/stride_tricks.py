"""cupy.lib.stride_tricks on the stand-in: NumPy's strided views behind CuPy's signatures."""
import numpy as _np

from .. import _fake

_fake.populate(globals(), "cupy.lib.stride_tricks", _np.lib.stride_tricks)
