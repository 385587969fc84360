"""Finite-difference checks of analytic gradients (use float64 inputs).

``gradcheck`` compares the vector-Jacobian product that backward computes,
uᵀJ for a random cotangent u, with central differences

    ∂(u·f)/∂xⱼ ≈ (u·f(x + ε eⱼ) - u·f(x - ε eⱼ)) / 2ε

for every input element j when the inputs are small ("full" mode), or, for
large inputs, along a few random directions v (Chainer's directional check):

    uᵀJv ≈ (u·f(x + εv) - u·f(x - εv)) / 2ε,

which costs two forward passes per direction whatever the input size.
``gradgradcheck`` runs ``gradcheck`` on the function x ↦ uᵀJ(x), whose
gradient is a second derivative, so it checks double backward.

Ops with two backward paths (a fast one on arrays, and one built from tinygen ops for
``create_graph=True``: batch norm, conv, ...) are checked on both: ``gradcheck``
takes uᵀJ once with ``create_graph=False`` and once with ``create_graph=True`` and
compares each with the differences, so the double-backward path's first derivative
is checked too, not only its second.

Tolerances are float64's: atol 1e-8, rtol 1e-6 for first derivatives, 1e-7 / 1e-5
for second ones (their differences are of a gradient, itself a sum of products).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .engine import grad as autograd_grad
from .grad_mode import enable_grad
from .tensor import Tensor, constant


class GradcheckError(AssertionError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _fn_name(fn):
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _scalarize(fn, inputs, cotangents):
    """u·f(inputs), summed over every float output."""
    outs = _as_tuple(fn(*inputs))
    total = 0.0
    for out, u in zip(outs, cotangents):
        if u is not None:
            total += float((out.data.astype(np.float64) * u).sum())
    return total


def _differentiable_outputs(outs):
    return [o for o in outs if o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-8, rtol=1e-6, raise_exception=True,
              full_limit=400, n_directions=3, seed=0, check_create_graph=True):
    """Check ``fn``'s analytic gradients against central differences.

    ``inputs``: a Tensor or tuple of Tensors; those with ``requires_grad`` are checked.
    Returns True, or raises GradcheckError naming the op, the input, the worst
    element and both values (returns False instead if ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    targets = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not targets:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in targets:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs (input {i} is {inputs[i].dtype}); "
                             f"float32 differences are too coarse")
    rng = np.random.default_rng(seed)

    with enable_grad():
        outs = _as_tuple(fn(*inputs))
    float_outs = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]
    xp = get_array_module(float_outs[0].data)
    cotangents_host = [rng.standard_normal(o.shape) for o in float_outs]
    cotangents = [xp.asarray(u) for u in cotangents_host]
    op_name = _graph_op_name(float_outs) or _fn_name(fn)

    grad_in = [inputs[i] for i in targets]
    with_graph = [(o, u) for o, u in zip(float_outs, cotangents) if o.requires_grad]

    def vjp(create_graph):
        """uᵀJ by backward; with create_graph=True through the graph-building backward."""
        if not with_graph:
            return [np.zeros(x.shape) for x in grad_in]
        with enable_grad():
            outs_now = _as_tuple(fn(*inputs)) if create_graph else None
        pairs = with_graph if not create_graph else [
            (o, u) for o, u in zip([o for o in outs_now if isinstance(o, Tensor) and o.dtype.kind == "f"],
                                   cotangents) if o.requires_grad]
        grads = autograd_grad([o for o, _ in pairs], grad_in,
                              grad_outputs=[constant(u.astype(o.dtype)) for o, u in pairs],
                              allow_unused=True, create_graph=create_graph, retain_graph=create_graph)
        return [np.zeros(x.shape) if g is None else _host(g.data) for g, x in zip(grads, grad_in)]

    analytic = vjp(create_graph=False)
    paths = [("", analytic)]
    if check_create_graph:
        paths.append((" (backward with create_graph=True)", vjp(create_graph=True)))

    cot_by_out = []
    it = iter(cotangents)
    for o in outs:
        cot_by_out.append(next(it) if isinstance(o, Tensor) and o.dtype.kind == "f" else None)

    def f_at():
        # grad mode stays on: fn may differentiate internally (a gradient penalty)
        return _scalarize(fn, inputs, cot_by_out)

    ok = True
    total = sum(inputs[i].data.size for i in targets)
    if total <= full_limit:
        for slot, i in enumerate(targets):
            x = inputs[i]
            numeric = np.zeros(x.shape)
            for j in range(x.data.size):
                k = np.unravel_index(j, x.shape)
                original = x.data[k].item()
                x.data[k] = original + eps
                plus = f_at()
                x.data[k] = original - eps
                minus = f_at()
                x.data[k] = original
                numeric[k] = (plus - minus) / (2 * eps)
            for label, grads in paths:
                ok &= _compare(grads[slot], numeric, atol, rtol, op_name, f"input {i}{label}",
                               raise_exception)
    else:
        for _ in range(n_directions):
            directions = [rng.standard_normal(inputs[i].shape) for i in targets]
            originals = [inputs[i].data.copy() for i in targets]
            for i, v in zip(targets, directions):
                inputs[i].data[...] = originals[targets.index(i)] + eps * xp.asarray(v)
            plus = f_at()
            for i, v in zip(targets, directions):
                inputs[i].data[...] = originals[targets.index(i)] - eps * xp.asarray(v)
            minus = f_at()
            for i, orig in zip(targets, originals):
                inputs[i].data[...] = orig
            numeric = (plus - minus) / (2 * eps)
            for label, grads in paths:
                predicted = sum(float((a * v).sum()) for a, v in zip(grads, directions))
                ok &= _compare(np.array([predicted]), np.array([numeric]), atol, rtol, op_name,
                               "a random direction over all inputs" + label, raise_exception)
    return bool(ok)


def _host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _graph_op_name(outs):
    for o in outs:
        if o.grad_fn is not None:
            return o.grad_fn.name
    return None


def _compare(analytic, numeric, atol, rtol, op_name, where, raise_exception):
    error = np.abs(analytic - numeric)
    allowed = atol + rtol * np.abs(numeric)
    bad = error > allowed
    if not bad.any():
        return True
    k = np.unravel_index(np.argmax(error - allowed), error.shape)
    message = (f"gradcheck failed for {op_name}, {where}: worst element {tuple(int(i) for i in k)} "
               f"has analytic {analytic[k]:.8g} vs numeric {numeric[k]:.8g} "
               f"(|diff| {error[k]:.3g} > atol {atol} + rtol {rtol}·|numeric|); "
               f"{int(bad.sum())} of {bad.size} elements differ")
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-7, rtol=1e-5,
                  raise_exception=True, seed=1, **kwargs):
    """Check second derivatives: gradcheck of x ↦ uᵀ ∂f/∂x, built with create_graph=True."""
    inputs = _as_tuple(inputs)
    targets = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with enable_grad():
        outs = [o for o in _as_tuple(fn(*inputs)) if o.dtype.kind == "f" and o.requires_grad]
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        xp = get_array_module(outs[0].data)
        grad_outputs = [constant(xp.asarray(rng.standard_normal(o.shape)))
                        for o in outs]
    grad_outputs = [g.detach().requires_grad_(True) for g in _as_tuple(grad_outputs)]
    n_in = len(inputs)

    def first_derivative(*args):
        xs, us = args[:n_in], args[n_in:]
        with enable_grad():  # a graph is needed even if the caller is in no_grad
            ys = [o for o in _as_tuple(fn(*xs)) if o.dtype.kind == "f" and o.requires_grad]
            grads = autograd_grad(ys, [xs[i] for i in targets], grad_outputs=list(us),
                                  create_graph=True, allow_unused=True)
        return tuple(g if g is not None else
                     constant(get_array_module(xs[i].data).zeros(xs[i].shape))
                     for g, i in zip(grads, targets))

    kwargs.setdefault("check_create_graph", False)     # a third derivative is not the point
    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, seed=seed, **kwargs)
