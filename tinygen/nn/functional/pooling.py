"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d.

* max_pool2d finds, with the im2col sliding view, the flat position of each
  window's maximum in the padded plane, then *gathers* those positions. The
  gradient is gather's adjoint, a scatter-add, so ties and overlapping windows
  are handled and double backward works.
* avg_pool2d is a depthwise conv2d with a constant 1/(k_h k_w) kernel.
* adaptive_avg_pool2d averages with two small matrices, y = A_h x A_wᵀ, where
  row i of A_h averages rows ⌊iH/h⌋ … ⌈(i+1)H/h⌉ - 1 of x.
"""
from __future__ import annotations

import numpy as np

from ...autograd import constant, ops
from ...backend import get_array_module
from .conv import _pair, conv2d
from .im2col import sliding_windows


def _pool_args(x, kernel_size, stride, padding, ceil_mode):
    if x.ndim != 4:
        raise ValueError(f"pooling expects (N, C, H, W) input, got {tuple(x.shape)}")
    if ceil_mode:
        raise ValueError("ceil_mode=True is not supported; pad the input instead")
    kernel = _pair(kernel_size, "kernel_size")
    stride = _pair(stride if stride is not None else kernel, "stride")
    padding = _pair(padding, "padding")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"padding {padding} should be at most half the kernel {kernel}")
    return kernel, stride, padding


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    kernel, stride, padding = _pool_args(x, kernel_size, stride, padding, ceil_mode)
    dilation = _pair(dilation, "dilation")
    xp = get_array_module(x.data)
    n, c, h, w = x.shape
    (ph, pw) = padding
    hp, wp = h + 2 * ph, w + 2 * pw
    # flat index of every padded pixel, pushed through the same sliding-window view
    padded = xp.pad(x.data, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf) \
        if ph or pw else x.data
    windows = sliding_windows(padded, kernel, stride, (0, 0), dilation)   # (N, C, kh, kw, Ho, Wo)
    ho, wo = windows.shape[4:]
    flat_windows = windows.reshape(n, c, kernel[0] * kernel[1], ho, wo)
    best = flat_windows.argmax(axis=2)                                     # (N, C, Ho, Wo)
    ki, kj = best // kernel[1], best % kernel[1]
    rows = xp.arange(ho).reshape(1, 1, -1, 1) * stride[0] + ki * dilation[0]
    cols = xp.arange(wo).reshape(1, 1, 1, -1) * stride[1] + kj * dilation[1]
    flat_index = (rows * wp + cols).reshape(n, c, ho * wo)
    source = ops.pad(x, (pw, pw, ph, ph), value=-np.inf) if ph or pw else x
    y = ops.reshape(ops.gather(ops.reshape(source, (n, c, hp * wp)), 2, flat_index), (n, c, ho, wo))
    if return_indices:
        # PyTorch reports indices into the unpadded plane
        index = (rows - ph) * w + (cols - pw)
        return y, constant(index.astype(np.int64))
    return y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    kernel, stride, padding = _pool_args(x, kernel_size, stride, padding, ceil_mode)
    xp = get_array_module(x.data)
    c = x.shape[1]
    area = divisor_override or kernel[0] * kernel[1]
    weight = constant(xp.full((c, 1) + kernel, 1.0 / area, dtype=x.dtype))
    y = conv2d(x, weight, stride=stride, padding=padding, groups=c)
    if not count_include_pad and (padding[0] or padding[1]) and divisor_override is None:
        ones = xp.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
        counted = conv2d(constant(ones), constant(xp.ones((1, 1) + kernel, dtype=x.dtype)),
                         stride=stride, padding=padding)
        y = y * constant(area / counted.data)
    return y


def _adaptive_matrix(xp, size_in, size_out, dtype):
    """A (size_out, size_in) matrix whose row i averages x[⌊i·in/out⌋ : ⌈(i+1)·in/out⌉]."""
    i = np.arange(size_out)
    start = (i * size_in) // size_out
    end = -((-(i + 1) * size_in) // size_out)
    cols = np.arange(size_in)
    inside = (cols[None, :] >= start[:, None]) & (cols[None, :] < end[:, None])
    return xp.asarray(inside / (end - start)[:, None], dtype=dtype)


def adaptive_avg_pool2d(x, output_size):
    oh, ow = _pair(output_size, "output_size")
    h, w = x.shape[2:]
    if h % oh == 0 and w % ow == 0:   # equal windows: a reshape and a mean
        n, c = x.shape[:2]
        return ops.mean(ops.reshape(x, (n, c, oh, h // oh, ow, w // ow)), (3, 5))
    xp = get_array_module(x.data)
    a_h = constant(_adaptive_matrix(xp, h, oh, x.dtype))
    a_w = constant(_adaptive_matrix(xp, w, ow, x.dtype))
    return ops.matmul(ops.matmul(a_h, x), ops.transpose(a_w, 0, 1))
