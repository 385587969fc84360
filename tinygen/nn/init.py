"""Weight initialisers with PyTorch's names and formulas. Each fills a tensor in place.

fan_in = size(1) · receptive field, fan_out = size(0) · receptive field;
xavier: std = gain·√(2/(fan_in + fan_out)); kaiming: std = gain/√fan,
gain = √(2/(1 + a²)) for leaky_relu with slope a. A uniform with bound
√3·std has that std.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend as _backend
from ..autograd.grad_mode import no_grad
from ..random import normal_array, uniform_array


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
                        "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError("fan in and fan out need a tensor with at least 2 dims")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor, array):
    with no_grad():
        tensor.data[...] = array
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    return _fill(tensor, uniform_array(tensor.shape, a, b, tensor.dtype, tensor.device))


def normal_(tensor, mean=0.0, std=1.0):
    return _fill(tensor, normal_array(tensor.shape, mean, std, tensor.dtype, tensor.device))


def constant_(tensor, val):
    return _fill(tensor, val)


def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (sign-fixed)."""
    if tensor.ndim < 2:
        raise ValueError("orthogonal_ needs a tensor with at least 2 dims")
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = normal_array((rows, cols), dtype=np.float64, device="numpy")
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, _backend.to_backend((gain * q).reshape(tensor.shape).astype(tensor.dtype),
                                             tensor.device))
