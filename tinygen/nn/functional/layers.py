"""linear, dropout, embedding, one_hot and interpolate."""
from __future__ import annotations

import numpy as np

from ...autograd import constant, ops
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ...random import uniform_array
from .upsample import upsample_nearest


def linear(x, weight, bias=None):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as in PyTorch."""
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features but the weight "
                         f"(out, in) = {tuple(weight.shape)} expects {weight.shape[1]}")
    y = ops.matmul(x, ops.transpose(weight, 0, 1))
    if bias is not None:
        y = y + bias
    return y


def dropout(x, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = uniform_array(x.shape, dtype=x.dtype if x.dtype.kind == "f" else None,
                         device=x.device) >= p
    return x * constant(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` picked by integer ``indices``; repeated rows add their gradients.
    Rows equal to ``padding_idx`` read the weight's row as it is but send it no gradient
    (as in PyTorch, whose nn.Embedding starts that row at zero)."""
    idx = indices.data if isinstance(indices, Tensor) else indices
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding indices must be integers, got {idx.dtype}")
    out = ops.getitem(weight, idx)
    if padding_idx is not None:
        keep = constant((idx != padding_idx)[..., None].astype(weight.dtype))
        # the same values everywhere; the padding rows' part comes from a detached copy
        out = out * keep + ops.getitem(weight.detach(), idx) * (1.0 - keep)
    return out


def one_hot(labels, num_classes=-1):
    """(…,) integer labels → (…, C) int64 one-hot, as ``torch.nn.functional.one_hot``.

    ``num_classes=-1`` means max(labels) + 1 (which reads the labels back to the host).
    Not differentiable; cast with ``.float()`` to feed it into a layer.
    """
    idx = labels.data if isinstance(labels, Tensor) else labels
    xp = get_array_module(idx)
    idx = xp.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer labels, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    # comparing with arange broadcasts to the one-hot without a scatter; it also
    # avoids a device→host check of the label range, which would sync the GPU
    out = (idx[..., None] == xp.arange(num_classes, dtype=idx.dtype)).astype(np.int64)
    return constant(out)


def _nearest_source(size_in, size_out, scale):
    """PyTorch's 'nearest': src = ⌊dst · in/out⌋ (or ⌊dst / scale⌋ when a scale is given)."""
    factor = (1.0 / scale) if scale else size_in / size_out
    return np.minimum(np.floor(np.arange(size_out) * factor).astype(np.int64), size_in - 1)


def _bilinear_matrix(size_in, size_out, align_corners, scale):
    """(size_out, size_in) matrix of linear-interpolation weights along one axis."""
    dst = np.arange(size_out, dtype=np.float64)
    if align_corners:
        src = dst * ((size_in - 1) / (size_out - 1)) if size_out > 1 else np.zeros(size_out)
    else:
        factor = (1.0 / scale) if scale else size_in / size_out
        src = np.maximum((dst + 0.5) * factor - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    hi = np.minimum(lo + 1, size_in - 1)
    frac = src - lo
    m = np.zeros((size_out, size_in))
    np.add.at(m, (np.arange(size_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(size_out), hi), frac)
    return m


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize (N, C, H, W) images: 'nearest' (s×s blocks for an integer factor s, else an index
    gather) or 'bilinear' (y = M_h x M_wᵀ)."""
    if x.ndim != 4:
        raise ValueError(f"interpolate expects (N, C, H, W), got {tuple(x.shape)}")
    h, w = x.shape[2:]
    scales = (None, None)
    if size is not None:
        oh, ow = (size, size) if isinstance(size, int) else size
    elif scale_factor is not None:
        sh, sw = (scale_factor, scale_factor) if np.isscalar(scale_factor) else scale_factor
        oh, ow = int(np.floor(h * sh)), int(np.floor(w * sw))
        scales = (sh, sw)
    else:
        raise ValueError("interpolate needs size or scale_factor")
    xp = get_array_module(x.data)
    if mode == "nearest":
        factor = oh // h if h else 0
        if factor >= 1 and (oh, ow) == (factor * h, factor * w):
            return upsample_nearest(x, factor)         # an integer factor: s×s blocks, no gather
        rows = xp.asarray(_nearest_source(h, oh, scales[0]))
        cols = xp.asarray(_nearest_source(w, ow, scales[1]))
        return ops.index_select(ops.index_select(x, 2, rows), 3, cols)
    if mode == "bilinear":
        m_h = constant(xp.asarray(_bilinear_matrix(h, oh, align_corners, scales[0]), dtype=x.dtype))
        m_w = constant(xp.asarray(_bilinear_matrix(w, ow, align_corners, scales[1]).T, dtype=x.dtype))
        return ops.matmul(ops.matmul(m_h, x), m_w)
    raise ValueError(f"interpolate mode {mode!r}; choose 'nearest' or 'bilinear'")
