"""BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm2d with PyTorch's buffers and defaults."""
from __future__ import annotations

from ... import creation
from .. import functional as F
from ..module import Module
from ..parameter import Parameter


def _affine(module, affine, shape, dtype):
    """γ = 1 and β = 0 as Parameters (or registered as None when not affine)."""
    if affine:
        module.weight = Parameter(creation.ones(shape, dtype=dtype))
        module.bias = Parameter(creation.zeros(shape, dtype=dtype))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _running_stats(module, track, num_features, dtype):
    if track:
        module.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype))
        module.register_buffer("running_var", creation.ones(num_features, dtype=dtype))
    else:
        module.running_mean = module.running_var = None


class _BatchNorm(Module):
    expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, affine, num_features, dtype)
        _running_stats(self, track_running_stats, num_features, dtype)
        if track_running_stats:
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype="int64"))
        else:
            self.num_batches_tracked = None

    def forward(self, x):
        if x.ndim not in self.expected_dims:
            raise ValueError(f"{type(self).__name__} expects {' or '.join(map(str, self.expected_dims))}-D "
                             f"input, got shape {tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) got {x.shape[1]} channels")
        use_batch_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        return F.batch_norm(x, self.running_mean if self.training or self.track_running_stats else None,
                            self.running_var if self.training or self.track_running_stats else None,
                            self.weight, self.bias, use_batch_stats, self.momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    expected_dims = (4,)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        _affine(self, elementwise_affine, self.normalized_shape, dtype)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"


class GroupNorm(Module):
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        _affine(self, affine, num_channels, dtype)

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"


class InstanceNorm2d(Module):
    """PyTorch's defaults: affine=False, track_running_stats=False."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, affine, num_features, dtype)
        _running_stats(self, track_running_stats, num_features, dtype)

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"InstanceNorm2d expects (N, C, H, W), got {tuple(x.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(x, self.running_mean if use_input_stats else self.running_mean,
                               self.running_var, self.weight, self.bias, use_input_stats,
                               self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"
