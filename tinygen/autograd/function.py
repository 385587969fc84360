"""``Function``: one node of the graph, in the style of Chainer's FunctionNode.

A Function has two halves:

* ``forward(*arrays)`` works on raw backend arrays (NumPy or CuPy) and returns
  an array or a tuple of arrays. It may keep whatever it needs for backward.
* ``backward(*grad_outputs)`` receives the output gradients as **Tensors** and
  returns one Tensor (or None) per input, computed with tinygen ops. Because
  backward is itself written in differentiable ops, differentiating a gradient
  (double backward, as the WGAN-GP penalty needs) comes for free: run backward
  with grad mode on and it records its own graph.

The graph holds no reference cycles: an output Tensor points to its Function,
and the Function points to its input Tensors, never to its outputs. A Function
that needs its output in backward (sigmoid, exp, ...) sets ``retain_output``
and calls ``self.output(i)``, which rebuilds a Tensor node on the saved array.
"""
from __future__ import annotations

import numpy as np

from ..backend import backend_of, get_array_module
from .grad_mode import state

_ndarray = np.ndarray


class Function:
    retain_output = False   # keep the forward outputs' arrays for backward
    n_outputs = 1            # how many outputs forward returns
    _retained = None         # {output index: weakref} for tensors that called retain_grad()

    inputs = None            # the input Tensors while the graph is alive
    needs_input_grad = ()    # which inputs want a gradient
    _outputs = None          # saved output arrays when retain_output is set
    _released = False

    # -- subclass API ----------------------------------------------------
    def forward(self, *xs):
        raise NotImplementedError(f"{type(self).__name__} must define forward")  # abstract

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} must define backward")  # abstract

    def output(self, i: int = 0):
        """Output ``i`` as a Tensor node of this function (for use in backward)."""
        return Tensor._make(self._outputs[i], self, i)

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- machinery -------------------------------------------------------
    def __call__(self, *inputs):
        grad_on = state.grad_enabled
        if len(inputs) == 1:        # the common case, kept short: this runs for every op
            xs = (inputs[0].data,)
            first = type(xs[0])
            requires_grad = grad_on and inputs[0].requires_grad
            if requires_grad:
                self.needs_input_grad = (True,)
        else:
            xs = tuple([x.data for x in inputs])
            first = type(xs[0])
            for d in xs:
                if type(d) is not first:
                    xs, first = _unify_backends(self, inputs)
                    break
            requires_grad = False
            if grad_on:
                needs = tuple([x.requires_grad for x in inputs])
                requires_grad = True in needs
                if requires_grad:
                    self.needs_input_grad = needs
        self.requires_grad = requires_grad
        ys = self.forward(*xs)
        single = not isinstance(ys, tuple)
        if single:
            if first is _ndarray and type(ys) is not _ndarray:
                ys = np.asarray(ys)   # NumPy turns 0-d results into scalars; keep arrays
            if state.anomaly:
                _check_finite(self, inputs, (ys,), "forward")
            if requires_grad:
                self.inputs = inputs
                if self.retain_output:
                    self._outputs = (ys,)
                return Tensor._make(ys, self, 0)
            return constant(ys)
        if first is _ndarray:
            ys = tuple([y if type(y) is _ndarray else np.asarray(y) for y in ys])
        if state.anomaly:
            _check_finite(self, inputs, ys, "forward")
        if requires_grad:
            self.inputs = inputs
            if self.retain_output:
                self._outputs = ys
            return tuple([Tensor._make(y, self, i) for i, y in enumerate(ys)])
        return tuple([constant(y) for y in ys])

    def release(self):
        """Drop the saved inputs and arrays: the graph below this node is freed."""
        # everything the forward kept (inputs, masks, saved arrays) goes at once
        self.__dict__.clear()
        self._released = True

    def __repr__(self):
        return f"<{self.name}>"


def _describe(inputs):
    return ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in inputs)


def _unify_backends(fn, inputs):
    """Slow path when input array types differ: NumPy scalars become 0-d arrays; two
    different backends raise an error that says how to move one operand."""
    xs = tuple(np.asarray(x.data) if isinstance(x.data, np.generic) else x.data for x in inputs)
    first = type(xs[0])
    if any(type(d) is not first for d in xs):
        _raise_mixed_backends(fn, inputs)
    return xs, first


def _raise_mixed_backends(fn, inputs):
    names = [backend_of(x.data) for x in inputs]
    detail = ", ".join(f"input {i} on {n}" for i, n in enumerate(names))
    cupy_idx = [i for i, n in enumerate(names) if n == "cupy"]
    numpy_idx = [i for i, n in enumerate(names) if n == "numpy"]
    raise RuntimeError(
        f"{fn.name}: tensors on different backends cannot meet in one op ({detail}). "
        f"Move input(s) {numpy_idx} to the GPU with `t.to('cupy')`, or input(s) {cupy_idx} "
        f"to the CPU with `t.to('numpy')`; `model.to(name)` moves a whole module.")


def _check_finite(fn, inputs, arrays, phase):
    for i, a in enumerate(arrays):
        if a is None or a.dtype.kind not in "fc":
            continue
        xp = get_array_module(a)
        if not bool(xp.isfinite(a).all()):
            kind = "NaN" if bool(xp.isnan(a).any()) else "Inf"
            where = "output" if phase == "forward" else "gradient for input"
            raise FloatingPointError(
                f"anomaly: {fn.name} {phase} produced {kind} in its {where} {i} "
                f"(input shapes: {_describe(inputs)})")


# A Function makes Tensors, and Tensor's operators call Functions (through ops).
# This import comes last, once Function exists, so that tensor.py and the ops it
# imports can load this module by name whichever of the two is imported first.
from .tensor import Tensor, constant  # noqa: E402
