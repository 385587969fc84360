"""Normalization: batch_norm and group_norm (fused kernels), layer_norm, instance_norm.

All of them compute x̂ = (x - μ) / √(σ² + ε) over some axes, then y = γ x̂ + β.

batch_norm in training mode is one Function with a closed-form backward. With
M values per channel, g = ∂L/∂y:

    ∂L/∂β = Σ g        ∂L/∂γ = Σ g·x̂
    ∂L/∂x = γ/(M √(σ² + ε)) · (M g - Σ g - x̂ Σ g·x̂)

When a graph of the gradient is wanted (create_graph=True, e.g. a gradient
penalty through a batch-normed network) the same formula is evaluated with
tinygen ops on a recomputed x̂, so the backward is itself differentiable;
otherwise it runs on raw arrays (the fused fast path).

group_norm in the same way, with statistics per (sample n, group G) over the group's
M = (C/G)·H·W values instead of per channel over the batch, and γ applied per channel
before the group sums, ĝ = γ g:

    ∂L/∂x = 1/√(σ²_nG + ε) · (ĝ - mean_G ĝ - x̂ mean_G(ĝ·x̂))
    ∂L/∂γ = Σ_{n,h,w} g·x̂      ∂L/∂β = Σ_{n,h,w} g
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import Function
from ...autograd.grad_mode import state
from ...autograd import constant, ops
from ...autograd.tensor import Tensor
from ...backend import get_array_module


def xp_einsum(spec, *arrays):
    return get_array_module(arrays[0]).einsum(spec, *arrays)


def _channel_shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


class BatchNormTrain(Function):
    """y = γ (x - μ_B)/√(σ²_B + ε) + β with batch statistics (see module docstring)."""

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, weight, bias):
        xp = get_array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))
        shape = _channel_shape(x)
        count = x.size // x.shape[1]
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        # Σ (x-μ)² per channel without a squared temporary
        letters = "abcdefgh"[:x.ndim]
        self.sum_spec = f"{letters},{letters}->b"
        var = xp.einsum(self.sum_spec, centered, centered) / count
        inv_std = 1.0 / xp.sqrt(var + x.dtype.type(self.eps))
        # x̂ = (x-μ)·inv_std is never stored: y and the backward fold inv_std into
        # per-channel factors, which saves a full pass and an activation-sized array
        self.centered, self.inv_std = centered, inv_std
        self.batch_mean, self.batch_var = mean.reshape(-1), var   # for the running statistics
        y = centered * (weight * inv_std).reshape(shape)
        y += bias.reshape(shape)
        return y

    def backward(self, gy):
        x, weight, _ = self.inputs
        if state.grad_enabled:
            return self._backward_differentiable(gy)
        g = gy.data
        axes = (0,) + tuple(range(2, g.ndim))
        shape = _channel_shape(g)
        count = g.size // g.shape[1]
        g_sum = g.sum(axis=axes)
        g_xhat_sum = xp_einsum(self.sum_spec, g, self.centered) * self.inv_std     # Σ g·x̂
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            # ∂x = a·g + b + c·(x-μ), with per-channel a = γ/σ, b = -a Σg/M, c = -a Σg·x̂ /(M σ)
            a = weight.data * self.inv_std
            gx = g * a.reshape(shape)
            gx += self.centered * (-a * g_xhat_sum * self.inv_std / count).reshape(shape)
            gx += (-a * g_sum / count).reshape(shape)
            gx = constant(gx)
        if self.needs_input_grad[1]:
            gw = constant(g_xhat_sum.astype(weight.dtype, copy=False))
        if self.needs_input_grad[2]:
            gb = constant(g_sum.astype(weight.dtype, copy=False))
        return gx, gw, gb

    def _backward_differentiable(self, gy):
        x, weight, _ = self.inputs
        axes = (0,) + tuple(range(2, x.ndim))
        shape = _channel_shape(x)
        count = x.data.size // x.shape[1]
        centered = x - ops.mean(x, axes, keepdim=True)
        inv_std = (ops.mean(centered * centered, axes, keepdim=True) + self.eps) ** -0.5
        x_hat = centered * inv_std
        g_sum = ops.sum(gy, axes, keepdim=True)
        g_xhat_sum = ops.sum(gy * x_hat, axes, keepdim=True)
        gx = (ops.reshape(weight, shape) * inv_std * (1.0 / count)) * \
            (gy * float(count) - g_sum - x_hat * g_xhat_sum)
        return gx, ops.reshape(g_xhat_sum, weight.shape), ops.reshape(g_sum, weight.shape)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """PyTorch's F.batch_norm for (N, C) and (N, C, ...) inputs.

    In training the batch statistics normalize, and the running statistics are
    updated in place: r ← (1 - momentum) r + momentum · stat, with the
    *unbiased* batch variance for running_var. In eval the running statistics
    normalize.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects (N, C) or (N, C, ...) input, got {tuple(x.shape)}")
    channels = x.shape[1]
    xp = get_array_module(x.data)
    if training:
        count = x.data.size // channels
        if count < 2:
            raise ValueError(f"batch_norm in training needs more than 1 value per channel "
                             f"(input shape {tuple(x.shape)})")
        w = weight if weight is not None else constant(xp.ones(channels, dtype=x.dtype))
        b = bias if bias is not None else constant(xp.zeros(channels, dtype=x.dtype))
        fn = BatchNormTrain(eps)
        y = fn(x, w, b)
        if running_mean is not None:
            m = momentum
            rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
            rv = running_var.data if isinstance(running_var, Tensor) else running_var
            rm *= 1 - m
            rm += m * fn.batch_mean.astype(rm.dtype, copy=False)
            rv *= 1 - m
            rv += (m * count / (count - 1)) * fn.batch_var.astype(rv.dtype, copy=False)
        return y
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm in eval mode needs running_mean and running_var")
    rm = running_mean if isinstance(running_mean, Tensor) else constant(running_mean)
    rv = running_var if isinstance(running_var, Tensor) else constant(running_var)
    shape = _channel_shape(x)
    y = (x - ops.reshape(rm.detach(), shape)) * ops.reshape((rv.detach() + eps) ** -0.5, shape)
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    if bias is not None:
        y = y + ops.reshape(bias, shape)
    return y


def _normalize(x, axes, eps):
    """x̂ = (x - mean) / √(biased var + ε) over ``axes`` (composite: differentiable twice)."""
    centered = x - ops.mean(x, axes, keepdim=True)
    return centered * (ops.mean(centered * centered, axes, keepdim=True) + eps) ** -0.5


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last len(normalized_shape) dims; γ, β have that shape."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    if tuple(x.shape[-len(normalized_shape):]) != normalized_shape:
        raise ValueError(f"layer_norm: input shape {tuple(x.shape)} does not end with "
                         f"normalized_shape {normalized_shape}")
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    y = _normalize(x, axes, eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


class GroupNormFunction(Function):
    """y = γ (x - μ_nG)/√(σ²_nG + ε) + β, statistics per sample and group (module docstring).

    The kernels work on x in its own memory order, as a 4-D view with one axis for the
    samples n, one for the groups G, one for the channels c of a group and one for the
    pixels p: (N, G, c, p) for NCHW memory, (G, c, p, N) for a conv's batch-last output.
    Every sum runs over whole axes of that view (p, then c), so NumPy reduces contiguous
    memory and no transposing copy is made (reducing the batch-last output through an
    NCHW-ordered view had made group_norm 8× slower than PyTorch's in the U-Net).
    """

    # the grouped view's axes: its einsum letters, and where the samples, a group's
    # channels and the pixels sit, for NCHW memory and for batch-last memory
    AXES = {False: ("nGcp", 0, 2, 3), True: ("Gcpn", 3, 1, 2)}

    def __init__(self, num_groups, eps):
        self.num_groups, self.eps = num_groups, eps

    def _layout(self, x):
        """x's grouped 4-D view in its own memory order (sets which layout that is)."""
        moved = x.transpose(*range(1, x.ndim), 0)
        self.batch_last = x.ndim > 2 and x.shape[0] > 1 and moved.flags.c_contiguous \
            and not x.flags.c_contiguous
        self.axes, self.sample, self.channel, self.pixel = self.AXES[self.batch_last]
        return self._view(x)

    def _view(self, a):
        """An (N, C, ...) array in the layout _layout chose for x (copied if need be)."""
        n, c = a.shape[:2]
        g = self.num_groups
        if self.batch_last:
            return a.transpose(*range(1, a.ndim), 0).reshape(g, c // g, -1, n)
        return a.reshape(n, g, c // g, -1)

    def _unview(self, v, shape):
        """The inverse of _view: back to an (N, C, ...) array of ``shape`` (a view)."""
        if self.batch_last:
            return v.reshape(*shape[1:], shape[0]).transpose(len(shape) - 1, *range(len(shape) - 1))
        return v.reshape(shape)

    def _per_channel(self, param):
        """γ or β shaped to broadcast against the grouped view."""
        g = self.num_groups
        return param.reshape((g, -1, 1, 1) if self.batch_last else (1, g, -1, 1))

    def _pixel_sum(self, a, b=None):
        """Σ_p a (or Σ_p a·b, without forming the product) per sample and channel, with the
        pixel axis kept (size 1) for broadcasting. einsum runs these reductions in one pass
        even when the batch, only 16 wide for CycleGAN, is the innermost axis."""
        xp = get_array_module(a)
        out = self.axes.replace("p", "")
        total = xp.einsum(f"{self.axes}->{out}", a) if b is None else \
            xp.einsum(f"{self.axes},{self.axes}->{out}", a, b)
        return xp.expand_dims(total, self.pixel)

    def forward(self, x, weight, bias):
        xp = get_array_module(x)
        v = self._layout(x)
        count = v.shape[self.channel] * v.shape[self.pixel]
        centered = v - self._pixel_sum(v).sum(axis=self.channel, keepdims=True) / count
        var = self._pixel_sum(centered, centered).sum(axis=self.channel, keepdims=True) / count
        inv_std = 1.0 / xp.sqrt(var + x.dtype.type(self.eps))
        self.centered, self.inv_std = centered, inv_std        # x̂ = centered · inv_std, never stored
        y = centered * (self._per_channel(weight) * inv_std)
        y += self._per_channel(bias)
        return self._unview(y, x.shape)

    def backward(self, gy):
        if state.grad_enabled:
            return self._backward_differentiable(gy)
        x, weight, _ = self.inputs
        g = self._view(gy.data)
        centered, inv_std = self.centered, self.inv_std
        count = centered.shape[self.channel] * centered.shape[self.pixel]
        gamma = self._per_channel(weight.data)
        # per (sample, channel) sums over the pixels: Σ_p g and Σ_p g·centered
        sum_g = self._pixel_sum(g)
        sum_g_centered = self._pixel_sum(g, centered)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            # ∂x = inv_std (ĝ - mean_G ĝ - x̂ mean_G(ĝ x̂)),  ĝ = γ g,  x̂ = centered · inv_std
            mean_g_hat = (gamma * sum_g).sum(axis=self.channel, keepdims=True) / count
            mean_g_hat_x_hat = (gamma * sum_g_centered).sum(axis=self.channel, keepdims=True) \
                * (inv_std / count)
            gx_v = g * (gamma * inv_std)
            gx_v -= centered * (inv_std * inv_std * mean_g_hat_x_hat)
            gx_v -= inv_std * mean_g_hat
            gx = constant(self._unview(gx_v, x.shape))
        if self.needs_input_grad[1]:
            # ∂γ_c = Σ_n inv_std_nG Σ_p g·centered
            gw = constant((sum_g_centered * inv_std).sum(axis=(self.sample, self.pixel))
                          .reshape(weight.shape).astype(weight.dtype, copy=False))
        if self.needs_input_grad[2]:
            gb = constant(sum_g.sum(axis=(self.sample, self.pixel)).reshape(weight.shape)
                          .astype(weight.dtype, copy=False))
        return gx, gw, gb

    def _backward_differentiable(self, gy):
        """The same formula in tinygen ops on a recomputed x̂, for create_graph=True."""
        x, weight, _ = self.inputs
        n, c = x.shape[:2]
        shape = (n, self.num_groups, c // self.num_groups, -1)
        xg = ops.reshape(x, shape)
        centered = xg - ops.mean(xg, (2, 3), keepdim=True)
        inv_std = (ops.mean(centered * centered, (2, 3), keepdim=True) + self.eps) ** -0.5
        x_hat = centered * inv_std
        g = ops.reshape(gy, shape)
        g_hat = g * ops.reshape(weight, (1, self.num_groups, -1, 1))
        gx = inv_std * (g_hat - ops.mean(g_hat, (2, 3), keepdim=True)
                        - x_hat * ops.mean(g_hat * x_hat, (2, 3), keepdim=True))
        gw = ops.reshape(ops.sum(g * x_hat, (0, 3)), weight.shape)
        gb = ops.reshape(ops.sum(g, (0, 3)), weight.shape)
        return ops.reshape(gx, x.shape), gw, gb


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Split C channels into groups and normalize each (sample, group) over its channels and pixels."""
    if x.ndim < 2:
        raise ValueError(f"group_norm expects (N, C, ...) input, got {tuple(x.shape)}")
    c = x.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels are not divisible by {num_groups} groups")
    xp = get_array_module(x.data)
    w = weight if weight is not None else constant(xp.ones(c, dtype=x.dtype))
    b = bias if bias is not None else constant(xp.zeros(c, dtype=x.dtype))
    return GroupNormFunction(num_groups, eps)(x, w, b)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalize each (sample, channel) over its pixels (CycleGAN's normalization)."""
    if use_input_stats:
        if running_mean is not None:
            axes = tuple(range(2, x.ndim))
            data = x.data
            count = int(np.prod(x.shape[2:]))
            m = momentum
            running_mean.data *= 1 - m
            running_mean.data += m * data.mean(axis=axes).mean(axis=0)
            running_var.data *= 1 - m
            running_var.data += m * (data.var(axis=axes) * count / max(count - 1, 1)).mean(axis=0)
        # statistics per sample and channel: group_norm with one channel per group (fused)
        return group_norm(x, x.shape[1], weight, bias, eps)
    shape = _channel_shape(x)
    y = (x - ops.reshape(running_mean.detach(), shape)) * ops.reshape((running_var.detach() + eps) ** -0.5, shape)
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    if bias is not None:
        y = y + ops.reshape(bias, shape)
    return y
