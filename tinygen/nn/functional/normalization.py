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
    """y = γ (x - μ_nG)/√(σ²_nG + ε) + β, statistics per sample and group (module docstring)."""

    def __init__(self, num_groups, eps):
        self.num_groups, self.eps = num_groups, eps

    def _grouped(self, a):
        """(N, C, ...) → (N, G, C/G, rest): a view, also of a batch-last conv output."""
        n, c = a.shape[:2]
        return a.reshape(n, self.num_groups, c // self.num_groups, -1)

    def forward(self, x, weight, bias):
        xp = get_array_module(x)
        xg = self._grouped(x)
        count = xg.shape[2] * xg.shape[3]
        centered = xg - xg.mean(axis=(2, 3), keepdims=True)
        var = xp.einsum("ngcp,ngcp->ng", centered, centered) / count
        inv_std = (1.0 / xp.sqrt(var + x.dtype.type(self.eps)))[:, :, None, None]
        self.centered, self.inv_std = centered, inv_std        # x̂ = centered · inv_std, never stored
        gamma = self._grouped(weight.reshape(1, -1))
        # y in x's memory order: a conv's batch-last output stays batch-last for the next
        # conv (a plain product with the (N, G, C/G, 1) factor came out NCHW-ordered)
        y = xp.multiply(centered, gamma * inv_std, out=xp.empty_like(centered))
        y += self._grouped(bias.reshape(1, -1))
        return y.reshape(x.shape)

    def backward(self, gy):
        if state.grad_enabled:
            return self._backward_differentiable(gy)
        x, weight, _ = self.inputs
        xp = get_array_module(gy.data)
        g = self._grouped(gy.data)
        count = g.shape[2] * g.shape[3]
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            g_hat = g * self._grouped(weight.data.reshape(1, -1))                            # ĝ = γ g
            mean_g_hat = g_hat.mean(axis=(2, 3), keepdims=True)
            mean_g_hat_x_hat = xp.einsum("ngcp,ngcp->ng", g_hat, self.centered)[:, :, None, None] \
                * (self.inv_std / count)
            # ∂x = inv_std (ĝ - mean ĝ - x̂ mean(ĝ x̂)),  x̂ = centered · inv_std
            g_hat -= mean_g_hat
            g_hat *= self.inv_std
            g_hat -= self.centered * (self.inv_std * self.inv_std * mean_g_hat_x_hat)
            gx = constant(g_hat.reshape(x.shape))
        if self.needs_input_grad[1]:
            # Σ_n inv_std_nG Σ_p g·centered (two einsums: one three-operand einsum was 4x slower)
            per_channel = xp.einsum("ngcp,ngcp->ngc", g, self.centered)
            gw = constant(xp.einsum("ngc,ng->gc", per_channel, self.inv_std[:, :, 0, 0])
                          .reshape(weight.shape).astype(weight.dtype, copy=False))
        if self.needs_input_grad[2]:
            gb = constant(g.sum(axis=(0, 3)).reshape(weight.shape).astype(weight.dtype, copy=False))
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
