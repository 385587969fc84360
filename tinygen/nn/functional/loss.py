"""Losses, each with reduction='mean' | 'sum' | 'none' (PyTorch's definitions).

    mse_loss          (x - y)²
    l1_loss           |x - y|
    binary_cross_entropy              -[y log p + (1-y) log(1-p)], each log clamped at -100
    binary_cross_entropy_with_logits  (1-y) z + w_y · softplus(-z),  w_y = 1 + (pos_weight-1) y
    nll_loss          -w_t · logp[t]     ('mean' divides by Σ w_t over non-ignored targets)
    cross_entropy     nll_loss(log_softmax(z)), optionally with label smoothing ε:
                      (1-ε)·nll + ε·(-Σ_c w_c logp_c)/C
    kl_div            y (log y - x)    (x holds log-probabilities)
    gaussian_nll_loss ½ (log max(σ², eps) + (x - y)²/max(σ², eps)) [+ ½ log 2π]
"""
from __future__ import annotations

import math

import numpy as np

from ...autograd import constant, ops
from ...autograd.tensor import Tensor
from ...autograd.function import Function
from ...backend import get_array_module
from .activation import log_softmax, softplus


def _reduce(loss, reduction):
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def _check_same_shape(name, x, y):
    if x.shape != y.shape:
        raise ValueError(f"{name}: input shape {tuple(x.shape)} and target shape "
                         f"{tuple(y.shape)} differ")


def _as_target(target, like):
    if isinstance(target, Tensor):
        return target
    return constant(get_array_module(like.data).asarray(target, dtype=like.dtype))


def mse_loss(x, target, reduction="mean"):
    target = _as_target(target, x)
    _check_same_shape("mse_loss", x, target)
    diff = x - target
    return _reduce(diff * diff, reduction)


def l1_loss(x, target, reduction="mean"):
    target = _as_target(target, x)
    _check_same_shape("l1_loss", x, target)
    return _reduce(ops.abs(x - target), reduction)


class ClampedLog(Function):
    """y = max(ln x, -100);  dy/dx = 1/x where ln x > -100, else 0 (PyTorch's BCE clamp)"""

    def forward(self, x):
        xp = get_array_module(x)
        with np.errstate(divide="ignore"):
            return xp.maximum(xp.log(x), x.dtype.type(-100.0))

    def backward(self, gy):
        x = self.inputs[0]
        inside = x.data > math.exp(-100.0)
        safe_x = ops.where(constant(inside), x, 1.0)
        return gy * constant(inside.astype(gy.dtype)) / safe_x


def binary_cross_entropy(p, target, weight=None, reduction="mean"):
    """BCE on probabilities p ∈ [0, 1]; use the _with_logits form when you have logits."""
    target = _as_target(target, p)
    _check_same_shape("binary_cross_entropy", p, target)
    # checked on the host only: on a GPU it would wait for the device every step (there a
    # probability outside [0, 1] gives NaN, which detect_anomaly() names)
    if get_array_module(p.data) is np and ((p.data < 0) | (p.data > 1)).any():
        raise ValueError("binary_cross_entropy: input probabilities must lie in [0, 1]")
    loss = -(target * ClampedLog()(p) + (1.0 - target) * ClampedLog()(1.0 - p))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(logits, target, weight=None, reduction="mean",
                                     pos_weight=None):
    target = _as_target(target, logits)
    _check_same_shape("binary_cross_entropy_with_logits", logits, target)
    if pos_weight is None:
        loss = (1.0 - target) * logits + softplus(-logits)
    else:
        loss = (1.0 - target) * logits + (1.0 + (pos_weight - 1.0) * target) * softplus(-logits)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _class_last(x):
    """(N, C, d1, ...) → (N·d1·..., C), so class scores sit on the last axis."""
    if x.ndim <= 2:
        return x
    c = x.shape[1]
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    return ops.reshape(ops.permute(x, perm), (-1, c))


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """-log_probs[n, target[n]], weighted; ignore_index targets count for nothing."""
    t = target.data if isinstance(target, Tensor) else target
    if get_array_module(t) is np:         # a list or NumPy array; a device array stays put
        t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss targets must be class indices (integers), got {t.dtype}")
    out_shape = t.shape
    lp = _class_last(log_probs)
    t = t.reshape(-1)
    xp = get_array_module(lp.data)
    t = xp.asarray(t)
    c = lp.shape[-1]
    valid = t != ignore_index
    out_of_range = valid & ((t < 0) | (t >= c))
    if xp is np and out_of_range.any():
        raise IndexError(f"nll_loss: target out of range for {c} classes")
    safe_t = xp.where(valid & ~out_of_range, t, 0)
    picked = ops.reshape(ops.gather(lp, 1, safe_t.reshape(-1, 1)), (-1,))
    w = xp.ones(c, dtype=lp.dtype) if weight is None else \
        (weight.data if isinstance(weight, Tensor) else xp.asarray(weight, dtype=lp.dtype))
    per_item_w = w[safe_t] * valid.astype(lp.dtype)
    if xp is not np:
        # on a GPU the check above would wait for the device every step; instead an
        # out-of-range target makes its loss NaN, which detect_anomaly() names
        per_item_w = xp.where(out_of_range, xp.asarray(np.nan, dtype=lp.dtype), per_item_w)
    loss = -picked * constant(per_item_w)
    if reduction == "mean":
        return ops.sum(loss) / constant(per_item_w.sum())      # a device scalar: no sync
    if reduction == "none":
        return ops.reshape(loss, out_shape)
    return _reduce(loss, reduction)


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy on class indices (or on class probabilities of logits' shape)."""
    log_p = log_softmax(logits, dim=1)
    t = target.data if isinstance(target, Tensor) else target
    if getattr(t, "dtype", np.dtype(np.int64)).kind == "f":      # soft targets
        target = _as_target(target, logits)
        _check_same_shape("cross_entropy", logits, target)
        c = logits.shape[1]
        if label_smoothing:
            target = target * (1.0 - label_smoothing) + label_smoothing / c
        per_item = -ops.sum(log_p * target, 1)
        return _reduce(per_item, reduction)
    nll = nll_loss(log_p, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    xp = get_array_module(log_p.data)
    c = logits.shape[1]
    lp = _class_last(log_p)
    tt = xp.asarray(t).reshape(-1)
    valid = (tt != ignore_index).astype(lp.dtype)
    w = xp.ones(c, dtype=lp.dtype) if weight is None else \
        (weight.data if isinstance(weight, Tensor) else xp.asarray(weight, dtype=lp.dtype))
    smooth = -ops.sum(lp * constant(w), 1) * constant(valid) * (1.0 / c)
    if reduction == "mean":
        denominator = (w[xp.where(tt != ignore_index, tt, 0)] * valid).sum()   # stays on the device
        smooth = ops.sum(smooth) / constant(denominator)
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    else:
        smooth = ops.reshape(smooth, nll.shape)
    return nll * (1.0 - label_smoothing) + smooth * label_smoothing


def kl_div(x, target, reduction="mean", log_target=False):
    """Σ target·(log target - x), with x = log-probabilities (PyTorch's argument order)."""
    target = _as_target(target, x)
    if log_target:
        loss = ops.exp(target) * (target - x)
    else:
        positive = target.data > 0
        safe = ops.where(constant(positive), target, 1.0)
        loss = target * ops.log(safe) - target * x
    if reduction == "batchmean":
        return ops.sum(loss) * (1.0 / x.shape[0])
    return _reduce(loss, reduction)


def gaussian_nll_loss(x, target, var, full=False, eps=1e-6, reduction="mean"):
    """½(log σ² + (x - y)²/σ²), σ² clamped at eps in value only (the gradient passes, as in PyTorch)."""
    target = _as_target(target, x)
    var = _as_target(var, x)
    if var.ndim < x.ndim and var.shape == x.shape[:-1]:
        var = ops.unsqueeze(var, -1)
    xp = get_array_module(var.data)
    if xp is np and (var.data < 0).any():      # host only, as in binary_cross_entropy
        raise ValueError("gaussian_nll_loss: var has negative entries")
    var = var + constant(xp.maximum(var.data, eps) - var.data)   # clamp in value only
    loss = 0.5 * (ops.log(var) + (x - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
