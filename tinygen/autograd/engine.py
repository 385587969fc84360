"""Reverse-mode differentiation: walk the graph from the outputs back to the leaves.

The walk is iterative (Kahn's algorithm), so a graph of any depth works:

1. Count, for every Function reachable from the outputs, how many of its
   output uses still have to send it a gradient (``pending``).
2. Start from the output Functions. Pop a Function whose count reached zero,
   call its ``backward`` with the summed gradients of its outputs, and hand
   each input's gradient on to the Function that produced that input (or, for
   a leaf, add it to ``leaf.grad``).
3. Unless ``retain_graph``, release each Function right after its backward:
   its saved arrays and its links to its inputs go, so the graph is freed.

With ``create_graph`` the backward calls run with grad mode on, so the
gradients are themselves differentiable Tensors.
"""
from __future__ import annotations

from .grad_mode import state
from .function import _check_finite, _describe
from .ops.math import cast
from .tensor import Tensor, constant, ones_like_data


def _accumulate(old, new):
    if old is None:
        return new
    return old + new


def run_backward(outputs, grad_outputs, retain_graph=False, create_graph=False, inputs=None):
    """Propagate ``grad_outputs`` from ``outputs`` to the leaves.

    Without ``inputs``: add gradients into every leaf's ``.grad``.
    With ``inputs`` (a list of Tensors): return their gradients instead, and
    touch no ``.grad``; only the part of the graph that leads to them runs.
    """

    # -- 1. count the pending gradients of every reachable Function -----
    pending = {}
    roots = []
    for y in outputs:
        fn = y.grad_fn
        if fn is not None and fn not in pending:
            pending[fn] = 0
            roots.append(fn)
    stack = list(roots)
    while stack:
        fn = stack.pop()
        if fn._released:
            raise RuntimeError(
                f"trying to backward through the graph a second time ({fn.name} was already "
                f"freed). Pass retain_graph=True to the first backward() or autograd.grad() "
                f"if you need to go through it again.")
        for x in fn.inputs:
            producer = x.grad_fn
            if producer is not None:
                if producer in pending:
                    pending[producer] += 1
                else:
                    pending[producer] = 1
                    stack.append(producer)

    # -- which edges lead to a requested input (only with ``inputs``) --
    wanted_leaf = wanted_node = useful = None
    if inputs is not None:
        wanted_leaf = {id(t): k for k, t in enumerate(inputs) if t.grad_fn is None}
        wanted_node = {(t.grad_fn, t._output_index): k for k, t in enumerate(inputs)
                       if t.grad_fn is not None}
        useful = _functions_leading_to(pending, roots, wanted_leaf, wanted_node)
        captured = [None] * len(inputs)

    # -- 2. seed the output gradients ------------------------------------
    buffers = {}
    for y, gy in zip(outputs, grad_outputs):
        if y.grad_fn is None:
            if inputs is not None and id(y) in wanted_leaf:
                k = wanted_leaf[id(y)]
                captured[k] = _accumulate(captured[k], gy)
            elif inputs is None and y.requires_grad:
                _add_to_leaf(y, gy, create_graph)
            continue
        slots = buffers.setdefault(y.grad_fn, [None] * y.grad_fn.n_outputs)
        slots[y._output_index] = _accumulate(slots[y._output_index], gy)

    ready = [fn for fn in roots if pending[fn] == 0]
    previous_mode = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        while ready:
            fn = ready.pop()
            grads = buffers.pop(fn, None) or [None] * fn.n_outputs
            if fn._retained:
                _fill_retained(fn._retained, grads, create_graph)
            if inputs is not None:
                for i, g in enumerate(grads):
                    k = wanted_node.get((fn, i))
                    if k is not None:
                        captured[k] = _accumulate(captured[k], g)
            fn_inputs = fn.inputs
            needs = fn.needs_input_grad
            if useful is not None:
                needs = tuple(n and ((x.grad_fn is None and id(x) in wanted_leaf)
                                     or x.grad_fn in useful
                                     or (x.grad_fn, x._output_index) in wanted_node)
                              for n, x in zip(needs, fn_inputs))
            if any(g is not None for g in grads) and any(needs):
                saved_needs = fn.needs_input_grad
                fn.needs_input_grad = needs
                try:
                    gxs = fn.backward(*grads)
                except FloatingPointError as inner:
                    if not state.anomaly or str(inner).startswith("anomaly: " + fn.name):
                        raise
                    # an op inside this backward hit NaN/Inf: blame the op being differentiated
                    raise FloatingPointError(
                        f"anomaly: {fn.name} backward produced a non-finite value (input shapes: "
                        f"{_describe(fn_inputs)}); inside it, {inner}") from inner
                finally:
                    fn.needs_input_grad = saved_needs
                if not isinstance(gxs, tuple):
                    gxs = (gxs,)
                if len(gxs) != len(fn_inputs):
                    raise RuntimeError(f"{fn.name}.backward returned {len(gxs)} gradients "
                                       f"for {len(fn_inputs)} inputs")
                if state.anomaly:
                    _check_finite(fn, fn_inputs, [g.data if g is not None else None for g in gxs], "backward")
            else:
                gxs = (None,) * len(fn_inputs)

            for x, gx, need in zip(fn_inputs, gxs, needs):
                producer = x.grad_fn
                if gx is not None and need:
                    if gx.shape != x.shape:
                        raise RuntimeError(
                            f"{fn.name}.backward returned a gradient of shape {gx.shape} "
                            f"for an input of shape {x.shape}")
                    if producer is None:
                        if inputs is None:
                            _add_to_leaf(x, gx, create_graph)
                        else:
                            k = wanted_leaf.get(id(x))
                            if k is not None:
                                captured[k] = _accumulate(captured[k], gx)
                    else:
                        slots = buffers.get(producer)
                        if slots is None:
                            slots = buffers[producer] = [None] * producer.n_outputs
                        i = x._output_index
                        slots[i] = _accumulate(slots[i], gx)
                if producer is not None:
                    pending[producer] -= 1
                    if pending[producer] == 0:
                        ready.append(producer)
            if not retain_graph:
                fn.release()
    finally:
        state.grad_enabled = previous_mode

    if inputs is not None:
        return captured
    return None


def _add_to_leaf(leaf, g, create_graph):
    g = _in_dtype_of(leaf, g)
    if not create_graph:
        g = constant(g.data)   # a plain array: no graph hangs on .grad
    if leaf.grad is None:
        leaf.grad = g
    else:
        leaf.grad = leaf.grad + g


def _in_dtype_of(x, g):
    """A gradient comes back in its input's dtype, as in PyTorch: a float32 leaf that met
    a float64 tensor still gets a float32 ``.grad``."""
    if g.dtype == x.dtype:
        return g
    return cast(g, x.dtype)


def _fill_retained(retained, grads, create_graph):
    """Give non-leaf tensors that called retain_grad() their gradient."""
    for i, ref in retained.items():
        t = ref()
        if t is not None and grads[i] is not None:
            g = grads[i] if create_graph else grads[i].detach()
            t.grad = g if t.grad is None else t.grad + g


def _functions_leading_to(pending, roots, wanted_leaf, wanted_node):
    """The Functions from which some requested input can be reached."""
    # topological order, outputs first (Kahn's algorithm on a copy of the counts)
    counts = dict(pending)
    order, ready = [], [fn for fn in roots if counts[fn] == 0]
    while ready:
        fn = ready.pop()
        order.append(fn)
        for x in fn.inputs:
            p = x.grad_fn
            if p is not None:
                counts[p] -= 1
                if counts[p] == 0:
                    ready.append(p)
    useful = set()
    for fn in reversed(order):   # inputs side first
        for x in fn.inputs:
            p = x.grad_fn
            if (p is None and id(x) in wanted_leaf) or (p is not None and p in useful) \
                    or (p is not None and (p, x._output_index) in wanted_node):
                useful.add(fn)
                break
    return useful


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """``tg.autograd.backward``: add d(tensors)/d(leaf) into every leaf's ``.grad``."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors]
    seeds = []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn: it was computed under no_grad() or from tensors without "
                               "requires_grad=True")
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; "
                                   f"this output has shape {t.shape}: pass a gradient")
            g = ones_like_data(t)
        seeds.append(g)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(list(tensors), seeds, retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """d(outputs)/d(inputs), returned as a tuple and never stored in ``.grad``.

    With ``create_graph=True`` the gradients carry a graph of their own, so a
    loss built from them (a gradient penalty) can be differentiated again.
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    seeds = []
    for y, g in zip(outputs, grad_outputs):
        if not y.requires_grad:
            raise RuntimeError("an output passed to autograd.grad does not require grad")
        if g is None:
            if y.data.size != 1:
                raise RuntimeError(f"grad_outputs must be given for non-scalar outputs "
                                   f"(shape {y.shape})")
            g = ones_like_data(y)
        seeds.append(g)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("an input passed to autograd.grad does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    grads = run_backward(outputs, seeds, retain_graph=retain_graph,
                         create_graph=create_graph, inputs=inputs)
    for k, g in enumerate(grads):
        if g is None and not allow_unused:
            raise RuntimeError(f"input {k} of autograd.grad was not used to compute the outputs; "
                               f"pass allow_unused=True if that is expected")
        if g is not None:
            g = _in_dtype_of(inputs[k], g)
            grads[k] = g if create_graph else g.detach()
    return tuple(grads)
