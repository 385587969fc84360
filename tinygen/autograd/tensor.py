"""``Tensor``: an array (NumPy or CuPy) plus what autograd needs to know about it.

``data`` is the raw backend array. ``grad_fn`` is the Function that made the
tensor (None for a leaf); ``_output_index`` says which of its outputs it is.
Leaves that have ``requires_grad=True`` collect gradients in ``grad``.
"""
from __future__ import annotations

import weakref

import numpy as np

from .. import backend as _backend
from ..dtypes import get_default_dtype, resolve_dtype
from ..random import normal_array, uniform_array
from .grad_mode import state

def as_array(data, dtype=None, xp=None):
    """Convert ``data`` to an array on module ``xp`` (the active backend by default).

    Without ``dtype``, float64 and Python floats become the default dtype
    (float32), Python ints become int64, and other dtypes are kept.
    """
    xp = xp or _backend.active_module()
    dtype = resolve_dtype(dtype)
    if isinstance(data, Tensor):
        data = data.data
    if hasattr(data, "__cuda_array_interface__") or isinstance(data, np.ndarray):
        array = _backend.to_backend(data, "numpy" if xp is np else "cupy")
    else:
        array = np.asarray(data)
        if xp is not np:
            array = xp.asarray(array)
    if dtype is None:
        if array.dtype == np.float64:
            dtype = get_default_dtype()
        elif array.dtype.kind in "iu" and not isinstance(data, np.ndarray) and array.dtype != np.uint8:
            dtype = np.dtype(np.int64)
        elif array.dtype.kind in "OUS":
            raise TypeError(f"cannot make a tensor from data of type {array.dtype}")
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    return array


class Tensor:
    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "_output_index", "_retains_grad",
                 "__weakref__")
    __array_priority__ = 1000  # make ndarray + Tensor defer to Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad=False):
        self.data = as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, grad_fn, index):
        """Fast internal constructor: wrap an array without conversion."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.grad_fn = grad_fn
        t._output_index = index
        t._retains_grad = False
        t.requires_grad = grad_fn is not None
        return t

    # -- attributes -----------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def device(self):
        """The backend name, 'numpy' or 'cupy'."""
        return _backend.backend_of(self.data)

    @property
    def T(self):
        return ops.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        return ops.transpose(self, -2, -1)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    # -- conversion -----------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (a host copy for CuPy tensors)."""
        if self.requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return _backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)``: the numbers, as PyTorch gives them (CPU tensors without grad)."""
        if self.requires_grad:
            raise RuntimeError("can't convert a tensor that requires grad to a NumPy array; "
                               "use tensor.detach().numpy()")
        if not isinstance(self.data, (np.ndarray, np.generic)):
            raise TypeError("can't convert a cupy tensor to a NumPy array implicitly; use "
                            "tensor.numpy() (a host copy) or tensor.to('numpy')")
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"only one-element tensors can be converted to Python scalars "
                             f"(shape {self.shape})")
        return self.data.reshape(()).item()

    def tolist(self):
        return _backend.to_numpy(self.data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError("the truth value of a tensor with more than one element is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be an index")
        return int(self.item())

    def detach(self):
        """The same data, cut from the graph."""
        return constant(self.data)

    def clone(self):
        """A copy of the data that stays in the graph."""
        if self.requires_grad:
            return ops.add(self, 0)
        return constant(self.data.copy())

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad of leaf tensors; "
                               "use detach() to cut a non-leaf from the graph")
        if requires_grad and self.dtype.kind not in "fc":
            raise RuntimeError(f"only floating point tensors can require gradients "
                               f"(this one is {self.dtype})")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep the gradient of this non-leaf in ``.grad`` after backward."""
        if self.grad_fn is None:
            return self
        fn = self.grad_fn
        if fn._retained is None:
            fn._retained = {}
        fn._retained[self._output_index] = weakref.ref(self)
        self._retains_grad = True
        return self

    def to(self, target):
        """``t.to('cupy')`` / ``t.to('numpy')`` moves backends; ``t.to('float64')`` casts."""
        if isinstance(target, str) and target in _backend.BACKENDS:
            if self.device == target:
                return self
            return ops.to_backend(self, target)
        return ops.cast(self, resolve_dtype(target))

    def cpu(self):
        return self.to("numpy")

    def cuda(self):
        return self.to("cupy")

    def type(self, dtype):
        return ops.cast(self, resolve_dtype(dtype))

    def float(self):
        return ops.cast(self, np.float32)

    def double(self):
        return ops.cast(self, np.float64)

    def half(self):
        return ops.cast(self, np.float16)

    def long(self):
        return ops.cast(self, np.int64)

    def int(self):
        return ops.cast(self, np.int32)

    def bool(self):
        return ops.cast(self, np.bool_)

    # -- autograd ------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        engine.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # -- printing --------------------------------------------------------
    def __repr__(self):
        body = np.array2string(_backend.to_numpy(self.data), precision=4, separator=", ",
                               prefix="tensor(")
        extras = []
        if self.dtype != get_default_dtype() and self.dtype.kind == "f":
            extras.append(f"dtype={self.dtype}")
        if self.device != "numpy":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __hash__ = object.__hash__

    # -- arithmetic ------------------------------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(self, other)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(ops.lift(other, self), self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(self, other)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(ops.lift(other, self), self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(ops.lift(other, self), self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(ops.lift(other, self), self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __getitem__(self, key):
        return ops.getitem(self, key)

    def __setitem__(self, key, value):
        """In-place write; allowed only where no graph is recorded (like ``x.data[key] = v``)."""
        self._check_inplace()
        key, _ = ops.indexing._normalize_key(key, _backend.get_array_module(self.data))
        self.data[key] = value.data if isinstance(value, Tensor) else value

    # comparisons give boolean tensors without gradient
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return constant(op(self.data, other))

    def __eq__(self, other):
        return self._compare(other, np.equal if type(self.data) is np.ndarray else
                             _backend.get_array_module(self.data).equal)

    def __ne__(self, other):
        return self._compare(other, _backend.get_array_module(self.data).not_equal)

    def __lt__(self, other):
        return self._compare(other, _backend.get_array_module(self.data).less)

    def __le__(self, other):
        return self._compare(other, _backend.get_array_module(self.data).less_equal)

    def __gt__(self, other):
        return self._compare(other, _backend.get_array_module(self.data).greater)

    def __ge__(self, other):
        return self._compare(other, _backend.get_array_module(self.data).greater_equal)

    def __invert__(self):
        return constant(~self.data)

    def __and__(self, other):
        return self._compare(other, lambda a, b: a & b)

    def __or__(self, other):
        return self._compare(other, lambda a, b: a | b)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def any(self, dim=None, keepdim=False):
        return constant(self.data.any(axis=dim, keepdims=keepdim))

    def all(self, dim=None, keepdim=False):
        return constant(self.data.all(axis=dim, keepdims=keepdim))

    def argmax(self, dim=None, keepdim=False):
        return _arg(self, dim, keepdim, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return _arg(self, dim, keepdim, "argmin")

    # -- elementwise -----------------------------------------------------
    def add(self, other):
        return ops.add(self, other)

    def sub(self, other):
        return ops.sub(self, other)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other):
        return ops.div(self, other)

    def pow(self, other):
        return ops.pow(self, other)

    def matmul(self, other):
        return ops.matmul(self, other)

    def neg(self):
        return ops.neg(self)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def square(self):
        return ops.mul(self, self)

    def clamp(self, min=None, max=None):
        return ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return ops.maximum(self, other)

    def minimum(self, other):
        return ops.minimum(self, other)

    def relu(self):
        return ops.relu(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def tanh(self):
        return ops.tanh(self)

    def softmax(self, dim):
        return ops.softmax(self, dim)

    def log_softmax(self, dim):
        return ops.log_softmax(self, dim)

    # -- reductions ------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return ops.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return ops.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return ops.var(self, dim, unbiased, keepdim, correction)

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return ops.std(self, dim, unbiased, keepdim, correction)

    def max(self, dim=None, keepdim=False):
        return ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return ops.min(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return ops.max(self, dim, keepdim)[0] if dim is not None else ops.max(self)

    def logsumexp(self, dim, keepdim=False):
        return ops.logsumexp(self, dim, keepdim)

    # -- shape -----------------------------------------------------------
    def reshape(self, *shape):
        return ops.reshape(self, shape)

    def view(self, *shape):
        return ops.reshape(self, shape)

    def view_as(self, other):
        return ops.reshape(self, other.shape)

    def reshape_as(self, other):
        return ops.reshape(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    def t(self):
        return ops.transpose(self, 0, 1) if self.ndim == 2 else self

    def permute(self, *dims):
        return ops.permute(self, dims)

    def flip(self, *dims):
        return ops.flip(self, dims[0] if len(dims) == 1 else dims)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def expand(self, *sizes):
        return ops.expand(self, *sizes)

    def expand_as(self, other):
        return ops.broadcast_to(self, other.shape)

    def repeat(self, *reps):
        return ops.repeat(self, *reps)

    def contiguous(self):
        return self

    def gather(self, dim, index):
        return ops.gather(self, dim, index)

    def index_select(self, dim, index):
        return ops.index_select(self, dim, index)

    def split(self, split_size, dim=0):
        return ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return ops.chunk(self, chunks, dim)

    def masked_fill(self, mask, value):
        return ops.where(mask, ops.lift(value, self), self)

    # -- in place (outside the graph) -------------------------------------
    def _check_inplace(self):
        if state.grad_enabled and self.requires_grad:
            raise RuntimeError("a leaf tensor that requires grad (or a tensor in a graph) is "
                               "being changed in place; wrap the update in `with tg.no_grad():`")

    def _set(self, array):
        self._check_inplace()
        xp = _backend.get_array_module(self.data)
        self.data[...] = xp.asarray(array, dtype=self.dtype) if not np.isscalar(array) else array
        return self

    def zero_(self):
        return self._set(0)

    def fill_(self, value):
        return self._set(value.item() if isinstance(value, Tensor) else value)

    def copy_(self, src):
        src = src.data if isinstance(src, Tensor) else src
        if tuple(np.broadcast_shapes(np.shape(src), self.shape)) != self.shape:
            raise RuntimeError(f"copy_: source of shape {np.shape(src)} does not fit {self.shape}")
        return self._set(_backend.to_backend(src, self.device) if hasattr(src, "shape") else src)

    def add_(self, other, alpha=1):
        other = other.data if isinstance(other, Tensor) else other
        return self._set(self.data + alpha * other)

    def sub_(self, other, alpha=1):
        other = other.data if isinstance(other, Tensor) else other
        return self._set(self.data - alpha * other)

    def mul_(self, other):
        other = other.data if isinstance(other, Tensor) else other
        return self._set(self.data * other)

    def clamp_(self, min=None, max=None):
        return self._set(self.data.clip(min, max))

    def uniform_(self, a=0.0, b=1.0):
        return self._set(uniform_array(self.shape, a, b, self.dtype, self.device))

    def normal_(self, mean=0.0, std=1.0):
        return self._set(normal_array(self.shape, mean, std, self.dtype, self.device))


def _arg(t, dim, keepdim, name):
    xp = _backend.get_array_module(t.data)
    if dim is None:
        return constant(xp.asarray(getattr(xp, name)(t.data)))
    out = getattr(xp, name)(t.data, axis=dim)
    if keepdim:
        out = xp.expand_dims(out, dim)
    return constant(out)


def constant(array):
    """A Tensor on ``array`` that no gradient flows into: a mask, an index, a sign,
    a scalar lifted next to a tensor. The one way tinygen wraps a raw array."""
    return Tensor._make(array, None, 0)


def ones_like_data(t):
    """A constant Tensor of ones with t's shape, dtype and backend."""
    xp = _backend.get_array_module(t.data)
    return constant(xp.ones(t.shape, dtype=t.dtype))


# Tensor's operators call the ops, and the ops make Tensors: each module needs the
# other. These imports come last, once Tensor and constant exist, so that the ops
# and the engine can import them by name at their top.
from . import ops  # noqa: E402
from . import engine  # noqa: E402
