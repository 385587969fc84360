"""Batch norm whose statistics are the whole global batch's, across the ranks.

Each rank sums its own part; one all-reduce adds the parts up:

    S₁ = Σ_r Σ x,   S₂ = Σ_r Σ x²,   n = Σ_r N_r·H·W          (per channel)
    μ = S₁ / n,     σ² = S₂ / n - μ²,   y = γ (x - μ) / √(σ² + ε) + β

The all-reduce is an op: y_s = Σ_r x_r on every rank s, so ∂L/∂x_r = Σ_s ∂L/∂y_s,
which is the same all-reduce on the gradients. With it, backward (and double
backward) through the statistics needs no code of its own. Running statistics use
the global batch, with the unbiased σ² · n/(n - 1), as ``nn.BatchNorm2d`` does.
"""
from __future__ import annotations

from .. import nn
from ..autograd import ops
from ..autograd.function import Function
from ..autograd.tensor import constant
from ..backend import get_array_module
from .state import communicator


class AllReduceSum(Function):
    """y = Σ_r x_r over the ranks;  ∂L/∂x_r = Σ_s ∂L/∂y_s"""

    def __init__(self, comm):
        self.comm = comm

    def forward(self, x):
        return self.comm.all_reduce(x, "sum")

    def backward(self, gy):
        return AllReduceSum(self.comm)(gy)


def all_reduce_op(x):
    """The differentiable sum over the ranks of a Tensor."""
    return AllReduceSum(communicator())(x)


class SyncBatchNorm(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` with global-batch statistics in training; the same parameters,
    buffers and state_dict keys, so its weights load into a BatchNorm2d and back."""

    def forward(self, x):
        if not self.training or communicator().size == 1:
            return super().forward(x)
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}) expects (N, {self.num_features}, H, W), "
                             f"got shape {tuple(x.shape)}")
        c = self.num_features
        local_n = x.shape[0] * x.shape[2] * x.shape[3]
        count = constant(get_array_module(x.data).full((c,), local_n, dtype=x.dtype))   # n_r per channel
        sums = all_reduce_op(ops.cat([ops.sum(x, (0, 2, 3)), ops.sum(x * x, (0, 2, 3)), count]))
        s1, s2, n = sums[:c], sums[c:2 * c], sums[2 * c:]
        mean = s1 / n
        var = s2 / n - mean * mean
        shape = (1, c, 1, 1)
        y = (x - mean.reshape(shape)) * (var + self.eps).reshape(shape) ** -0.5
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            m, total = self.momentum, float(n.data[0])
            self.running_mean.data *= 1 - m
            self.running_mean.data += m * mean.data.astype(self.running_mean.dtype, copy=False)
            self.running_var.data *= 1 - m
            self.running_var.data += (m * total / (total - 1)) * var.data.astype(self.running_var.dtype, copy=False)
        return y


def convert_sync_batchnorm(module):
    """Every BatchNorm2d in ``module`` becomes a SyncBatchNorm holding the same tensors
    (PyTorch's ``SyncBatchNorm.convert_sync_batchnorm``). Returns the module."""
    for name, child in list(module._modules.items()):
        if type(child) is nn.BatchNorm2d:
            sync = SyncBatchNorm.__new__(SyncBatchNorm)
            sync.__dict__.update(child.__dict__)
            module._modules[name] = sync
        elif child is not None:
            convert_sync_batchnorm(child)
    return module
