"""The strict CPU stand-in for CuPy: a device array that is *not* a NumPy array.

Every public name and keyword signature comes from ``manifest.json`` (read from the
real CuPy wheels by ``introspect.py``): a name is here only if every listed CuPy
release has it, and a call binds only if every release's signature accepts it. So code
that passes here calls CuPy as CuPy 13 and 14 both allow.

What it enforces, as CuPy does:
* ``ndarray`` wraps a NumPy array but is no ``np.ndarray`` subclass; ``np.asarray(x)``
  and ``x.__array__()`` raise ``TypeError``; ``.data`` is a memory pointer, not the array.
* NumPy functions and ufuncs called on it dispatch to the CuPy name of the same
  name (``__array_function__`` / ``__array_ufunc__``), or fail as CuPy would.
* CuPy functions and ufuncs reject host ``np.ndarray`` inputs (``TypeError: Unsupported
  type``); only ``cupy.asarray`` / ``cupy.array`` (and indexing) copy host data in.
* Reductions return 0-d device arrays, never NumPy scalars.

What it counts (``cupy._fake.ledger``): every host synchronisation (``.get()``,
``cupy.asnumpy``, ``.item()``, ``.tolist()``, ``float/int/bool()``, printing, and the
data-dependent ops that must sync: ``nonzero``, boolean-mask indexing, ``unique``, ...)
and every host-to-device copy, each with the call site outside the stand-in.
"""
from __future__ import annotations

import inspect
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)                     # tests/fake_cupy
with open(os.path.join(ROOT, "manifest.json")) as _f:
    MANIFEST = json.load(_f)
VERSIONS = sorted(MANIFEST["versions"])
__version__ = VERSIONS[0]                        # the oldest release it stands in for


# -- the ledger of syncs and uploads --------------------------------------------------

class Ledger:
    """Host synchronisations and host-to-device copies, each with its call site."""

    def __init__(self):
        self.syncs, self.uploads = [], []

    def reset(self):
        self.syncs, self.uploads = [], []

    def sync(self, what):
        self.syncs.append((what, _call_site()))

    def upload(self, what):
        self.uploads.append((what, _call_site()))

    def summary(self):
        return {"syncs": len(self.syncs), "uploads": len(self.uploads)}


ledger = Ledger()
_SKIP = (ROOT + os.sep, os.path.dirname(np.__file__) + os.sep)


def _call_site():
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno} ({frame.f_code.co_name})"


# -- signatures from the manifest -----------------------------------------------------

_KINDS = {"positional": inspect.Parameter.POSITIONAL_ONLY, "either": inspect.Parameter.POSITIONAL_OR_KEYWORD,
          "keyword": inspect.Parameter.KEYWORD_ONLY, "*args": inspect.Parameter.VAR_POSITIONAL,
          "**kwargs": inspect.Parameter.VAR_KEYWORD}


def _signature(params):
    parameters, seen_default = [], False
    for name, kind, has_default in params:
        kind = _KINDS[kind]
        default = None if has_default else inspect.Parameter.empty
        if kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            if seen_default and default is inspect.Parameter.empty:
                default = None           # docstring quirks: keep the signature constructible
            seen_default = seen_default or has_default
        parameters.append(inspect.Parameter(name, kind, default=default))
    return inspect.Signature(parameters)


def entries(namespace, name):
    """The manifest entry of ``namespace.name`` in every release, or None if one lacks it."""
    out = []
    for version in VERSIONS:
        space = MANIFEST["versions"][version]
        table = space["namespaces"].get(namespace)
        if table is None:
            table = space["classes"].get(namespace)
        if not table or name not in table:
            return None
        out.append((version, table[name]))
    return out


def names(namespace):
    """Names present in ``namespace`` in every release."""
    tables = []
    for version in VERSIONS:
        space = MANIFEST["versions"][version]
        tables.append(set(space["namespaces"].get(namespace) or space["classes"].get(namespace) or ()))
    return set.intersection(*tables) if tables else set()


class Checker:
    """Binds a call against every release's signature of one CuPy callable."""

    def __init__(self, qualname, found):
        self.qualname = qualname
        self.signatures = [(v, _signature(e["params"])) for v, e in found if e.get("params") is not None]

    def __call__(self, args, kwargs):
        for version, sig in self.signatures:
            try:
                sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{self.qualname}(): {exc} (as in CuPy {version})") from None


# -- arrays ---------------------------------------------------------------------------

def _host_type_error(x):
    return TypeError(f"Unsupported type {type(x)}")


def unwrap(x, allow_host=False, what="argument"):
    """NumPy values for NumPy to compute with; host arrays refused unless allowed (then
    counted as an upload)."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        if not allow_host:
            raise _host_type_error(x)
        if what is not None:
            ledger.upload(what)
        return x
    if isinstance(x, (list, tuple)):
        parts = [unwrap(v, allow_host, what) for v in x]
        return type(x)(parts) if isinstance(x, tuple) else parts
    if isinstance(x, dict):
        return {k: unwrap(v, allow_host, what) for k, v in x.items()}
    return x


def wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray._wrap(x)
    if isinstance(x, np.generic):
        return ndarray._wrap(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(wrap(v) for v in x)
    if isinstance(x, list):
        return [wrap(v) for v in x]
    return x


class MemoryPointer:
    """What ``ndarray.data`` is in CuPy: a pointer, not the values."""

    def __init__(self, array):
        self.ptr = array.__array_interface__["data"][0]
        self.mem = None

    def __repr__(self):
        return f"<fake cupy MemoryPointer 0x{self.ptr:x}>"


class Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.flags.owndata

    def __getitem__(self, key):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[key]


class ndarray:
    """A device array: the values live in ``_a`` (host memory standing in for the GPU)."""
    __slots__ = ("_a", "__weakref__")
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = np.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _wrap(cls, a):
        obj = object.__new__(cls)
        obj._a = a
        return obj

    # -- attributes -------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    T = property(lambda self: ndarray._wrap(self._a.T))
    flags = property(lambda self: Flags(self._a))
    data = property(lambda self: MemoryPointer(self._a))
    base = property(lambda self: None if self._a.base is None else ndarray._wrap(self._a.base))
    device = property(lambda self: Device(0))
    real = property(lambda self: ndarray._wrap(self._a.real))
    imag = property(lambda self: ndarray._wrap(self._a.imag))

    @property
    def __cuda_array_interface__(self):
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "descr": a.dtype.descr,
                "data": (a.__array_interface__["data"][0], False), "version": 3,
                "strides": None if a.flags.c_contiguous else a.strides}

    # -- what CuPy refuses or syncs --------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                        "construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None, blocking=True):
        ledger.sync("ndarray.get")
        return np.array(self._a, order=order)

    def item(self):
        ledger.sync("ndarray.item")
        return self._a.item()

    def tolist(self):
        ledger.sync("ndarray.tolist")
        return self._a.tolist()

    def __float__(self):
        ledger.sync("float(ndarray)")
        return float(self._a)

    def __int__(self):
        ledger.sync("int(ndarray)")
        return int(self._a)

    def __complex__(self):
        ledger.sync("complex(ndarray)")
        return complex(self._a)

    def __bool__(self):
        ledger.sync("bool(ndarray)")
        return bool(self._a)

    def __index__(self):
        ledger.sync("ndarray.__index__")
        return self._a.__index__()

    def __repr__(self):
        ledger.sync("repr(ndarray)")
        return repr(self._a)

    def __str__(self):
        ledger.sync("str(ndarray)")
        return str(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (ndarray._wrap(self._a[i]) for i in range(self._a.shape[0]))

    def nonzero(self):
        ledger.sync("ndarray.nonzero (data-dependent size)")
        return tuple(ndarray._wrap(i) for i in self._a.nonzero())

    def set(self, arr, stream=None):
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, not {type(arr)}")
        ledger.upload("ndarray.set")
        self._a[...] = arr

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return ndarray._wrap(self._a.astype(dtype, order=order, copy=copy))

    def scatter_add(self, slices, value):
        np.add.at(self._a, _index_key(slices), unwrap(value))

    # -- indexing -------------------------------------------------------------------
    def __getitem__(self, key):
        return wrap(self._a[_index_key(key)])

    def __setitem__(self, key, value):
        self._a[_index_key(key)] = unwrap(value, allow_host=True, what="ndarray.__setitem__ value")

    # -- NumPy interop, as CuPy does it ---------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        fake = _UFUNCS.get(ufunc.__name__)
        if fake is None:
            return NotImplemented
        if method == "__call__":
            return fake(*inputs, **kwargs)
        if method in ("reduce", "accumulate", "reduceat", "outer", "at"):
            return getattr(fake, method)(*inputs, **kwargs)
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        fake = _FUNCTIONS.get(func.__name__)
        if fake is None:
            return NotImplemented
        return fake(*args, **kwargs)


def _index_key(key):
    """An index on the device: device index arrays as they are, a boolean mask counted as a
    sync (its result size depends on the data), host arrays counted as uploads."""
    def one(k):
        if isinstance(k, ndarray):
            if k.dtype == np.bool_:
                ledger.sync("boolean-mask indexing (data-dependent size)")
            return k._a
        if isinstance(k, np.ndarray):
            ledger.upload("host index array")
            return k
        if isinstance(k, list):
            return unwrap(k, allow_host=True, what="index list")
        return k
    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


def _binary(name, reflected=False):
    def method(self, other):
        if isinstance(other, np.ndarray):
            raise _host_type_error(other)
        if not isinstance(other, (ndarray, int, float, complex, bool, np.generic)):
            return NotImplemented
        ufunc = _UFUNCS[name]
        return ufunc(other, self) if reflected else ufunc(self, other)
    return method


for _op, _ufunc in {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
                    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
                    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
                    "lshift": "left_shift", "rshift": "right_shift"}.items():
    setattr(ndarray, f"__{_op}__", _binary(_ufunc))
    setattr(ndarray, f"__r{_op}__", _binary(_ufunc, reflected=True))

    def _inplace(self, other, _name=_ufunc):
        if isinstance(other, np.ndarray):
            raise _host_type_error(other)
        _UFUNCS[_name](self, other, out=self)
        return self
    setattr(ndarray, f"__i{_op}__", _inplace)
for _op, _ufunc in {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                    "gt": "greater", "ge": "greater_equal"}.items():
    setattr(ndarray, f"__{_op}__", _binary(_ufunc))
ndarray.__neg__ = lambda self: _UFUNCS["negative"](self)
ndarray.__pos__ = lambda self: ndarray._wrap(+self._a)
ndarray.__abs__ = lambda self: _UFUNCS["absolute"](self)
ndarray.__invert__ = lambda self: _UFUNCS["invert"](self)
ndarray.__hash__ = None


# methods CuPy's ndarray has (in every release) that NumPy's computes the same way
_SPECIAL_METHODS = {"get", "item", "tolist", "nonzero", "set", "astype", "scatter_add"}
_UNSUPPORTED_METHODS = {"toDlpack", "__dlpack__", "dump", "dumps", "tofile", "reduced_view", "cstruct",
                        "scatter_max", "scatter_min", "mdspan"}


def _make_method(name, checker):
    def method(self, *args, **kwargs):
        checker(args, kwargs)
        if name in _UNSUPPORTED_METHODS:
            raise NotImplementedError(f"the CuPy stand-in cannot run ndarray.{name}")
        out = getattr(self._a, name)(*unwrap(args), **unwrap(kwargs))
        return wrap(out)
    method.__name__ = name
    return method


def _install_methods():
    for name in names("cupy.ndarray"):
        found = entries("cupy.ndarray", name)
        if found[0][1]["kind"] != "function" or name in _SPECIAL_METHODS or name.startswith("__"):
            continue
        setattr(ndarray, name, _make_method(name, Checker(f"cupy.ndarray.{name}", found)))
    for name in _SPECIAL_METHODS:                     # keep their keyword checks too
        found = entries("cupy.ndarray", name)
        if found:
            special = getattr(ndarray, name)
            ndarray_check = Checker(f"cupy.ndarray.{name}", found)

            def checked(self, *args, _special=special, _check=ndarray_check, **kwargs):
                _check(args, kwargs)
                return _special(self, *args, **kwargs)
            checked.__name__ = name
            setattr(ndarray, name, checked)


# -- functions and ufuncs ---------------------------------------------------------------

class Device:
    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        ledger.sync("Device.synchronize")

    def use(self):
        """Make this the current device (there is one)."""

    def use(self):
        return self


class ufunc:
    """A CuPy ufunc computed by NumPy's of the same name."""

    def __init__(self, name, found, numpy_func=None, namespace="cupy"):
        self.__name__ = self.name = name
        self.qualname = f"{namespace}.{name}"
        self.check = Checker(self.qualname, found)
        self.numpy = numpy_func if numpy_func is not None else getattr(np, name, None)
        self.nin = found[0][1].get("nin")

    def __call__(self, *args, **kwargs):
        self.check(args, kwargs)
        if self.numpy is None:
            raise NotImplementedError(f"the CuPy stand-in has no NumPy equivalent of {self.qualname}")
        out = kwargs.get("out")
        result = self.numpy(*unwrap(args), **unwrap(kwargs))
        return out if isinstance(out, ndarray) else wrap(result)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        return wrap(self.numpy.reduce(unwrap(array), axis=axis, dtype=dtype, keepdims=keepdims))

    def accumulate(self, array, axis=0, dtype=None, out=None):
        return wrap(self.numpy.accumulate(unwrap(array), axis=axis, dtype=dtype))

    def at(self, a, indices, b=None):
        self.numpy.at(unwrap(a), _index_key(indices), unwrap(b))

    def outer(self, a, b, **kwargs):
        return wrap(self.numpy.outer(unwrap(a), unwrap(b), **kwargs))

    def __repr__(self):
        return f"<ufunc 'cupy.{self.name}' (stand-in)>"


# functions that take host data and copy it to the device
_UPLOADERS = {"array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray"}
# functions whose result size depends on the data: CuPy must sync to size the output
_DATA_DEPENDENT = {"nonzero", "flatnonzero", "argwhere", "unique", "extract", "compress",
                   "count_nonzero_host"}


def _make_function(namespace, name, found, numpy_func):
    check = Checker(f"{namespace}.{name}", found)

    def function(*args, **kwargs):
        check(args, kwargs)
        if numpy_func is None:
            raise NotImplementedError(f"the CuPy stand-in has no NumPy equivalent of {namespace}.{name}")
        if name in _UPLOADERS:
            host = args[0] if args else kwargs.get("a", kwargs.get("obj"))
            if not isinstance(host, ndarray):
                ledger.upload(f"{namespace}.{name}")
            kwargs = {k: v for k, v in kwargs.items() if k not in ("blocking",)}
            return wrap(np.array(unwrap(args[0] if args else host, allow_host=True, what=None), copy=True,
                                 **{k: v for k, v in kwargs.items() if k in ("dtype", "order")}))
        if name in _DATA_DEPENDENT:
            ledger.sync(f"{namespace}.{name} (data-dependent size)")
        return wrap(numpy_func(*unwrap(args), **unwrap(kwargs)))
    function.__name__ = name
    function.__qualname__ = f"{namespace}.{name}"
    return function


_UFUNCS, _FUNCTIONS = {}, {}


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if isinstance(a, ndarray):
        ledger.sync("cupy.asnumpy")
        return np.array(a._a, order=order)
    return np.asarray(a, order=order)


def get_array_module(*args):
    import cupy
    for a in args:
        if isinstance(a, ndarray) or hasattr(a, "__cuda_array_interface__"):
            return cupy
    return np


def fuse(*args, **kwargs):
    """cupy.fuse: the stand-in runs the Python function as it is (no kernel fusion)."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


class _Kernel:
    def __init__(self, *args, **kwargs):
        self.args = args

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(f"the CuPy stand-in cannot run a {type(self).__name__} (a CUDA kernel); "
                                  f"code that needs one must be tested on a GPU")


class ElementwiseKernel(_Kernel):
    pass


class RawKernel(_Kernel):
    pass


class ReductionKernel(_Kernel):
    pass


class RawModule(_Kernel):
    pass


_OVERRIDES = {"asnumpy": asnumpy, "get_array_module": get_array_module, "fuse": fuse,
              "ElementwiseKernel": ElementwiseKernel, "RawKernel": RawKernel,
              "ReductionKernel": ReductionKernel, "RawModule": RawModule, "ndarray": ndarray}


def populate(module_globals, namespace, numpy_module):
    """Fill a stand-in module with the names that every listed CuPy release has."""
    for name in sorted(names(namespace)):
        found = entries(namespace, name)
        kind = found[0][1]["kind"]
        if namespace == "cupy" and name in _OVERRIDES:
            module_globals[name] = _OVERRIDES[name]
            continue
        if kind == "ufunc":
            fake = ufunc(name, found, getattr(numpy_module, name, None), namespace)
            module_globals[name] = fake
            if namespace == "cupy":
                _UFUNCS[name] = fake
        elif kind == "function":
            fake = _make_function(namespace, name, found, getattr(numpy_module, name, None))
            module_globals[name] = fake
            if namespace == "cupy":
                _FUNCTIONS[name] = fake
        elif kind in ("class", "value"):
            if hasattr(numpy_module, name):
                module_globals[name] = getattr(numpy_module, name)
    # NumPy's own ufunc names that CuPy spells as functions still dispatch
    if namespace == "cupy":
        for alias, target in (("true_divide", "divide"), ("absolute", "abs")):
            if alias not in _UFUNCS and target in _UFUNCS:
                _UFUNCS[alias] = _UFUNCS[target]


_install_methods()
