"""``clip_grad_norm_``: rescale gradients so that their global L2 norm is at most max_norm."""
from __future__ import annotations

import math

from ...autograd.tensor import Tensor, constant
from ...backend import get_array_module


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """‖g‖ = (Σ_p ‖g_p‖^q)^(1/q) over all gradients; if ‖g‖ > max_norm, every g_p ← g_p · max_norm/(‖g‖ + 1e-6).

    Returns the total norm as a 0-d Tensor (it stays on the device: no host sync).
    """
    # a generator (model.parameters(), as PyTorch users pass it) is read twice below
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in parameters if p.grad is not None]
    if not grads:
        return constant(get_array_module(None).zeros(()))
    xp = get_array_module(grads[0])
    if norm_type == math.inf:
        total = xp.max(xp.stack([xp.abs(g).max() for g in grads]))
    else:
        total = xp.sum(xp.stack([(xp.abs(g) ** norm_type).sum() for g in grads])) ** (1.0 / norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"the total gradient norm is {float(total)}; clip_grad_norm_ refuses it")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for p in parameters:
        if p.grad is not None:
            p.grad = constant((p.grad.data * coef).astype(p.grad.dtype, copy=False))
    return constant(xp.asarray(total))
