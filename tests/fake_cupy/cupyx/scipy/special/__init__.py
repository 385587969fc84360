"""cupyx.scipy.special on the stand-in: SciPy's ufuncs behind CuPy's names."""
import scipy.special as _special

from cupy import _fake

_fake.populate(globals(), "cupyx.scipy.special", _special)
