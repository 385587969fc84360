"""Conv2d and ConvTranspose2d layers (weights (Cout, Cin/g, kh, kw) and (Cin, Cout/g, kh, kw))."""
from __future__ import annotations

import math

from ... import creation
from .. import functional as F, init
from ..functional.conv import _pair
from ..module import Module
from ..parameter import Parameter


class _ConvNd(Module):
    def __init__(self, weight_shape, in_channels, out_channels, kernel_size, stride, padding,
                 dilation, groups, bias, dtype):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels {in_channels} and out_channels {out_channels} must be "
                             f"divisible by groups {groups}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding")
        self.dilation, self.groups = _pair(dilation, "dilation"), groups
        self.weight = Parameter(creation.empty(*weight_shape, *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch: kaiming_uniform(a=√5) ⇒ U(-1/√fan_in, 1/√fan_in); the bias uses the same bound
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode {padding_mode!r}")
        super().__init__((out_channels, in_channels // groups), in_channels, out_channels,
                         kernel_size, stride, padding, dilation, groups, bias, dtype)
        self._padding_mode = padding_mode

    def forward(self, x):
        if self._padding_mode != "zeros" and not isinstance(self.padding, str):
            ph, pw = self.padding
            x = F.pad(x, (pw, pw, ph, ph), mode=self._padding_mode)
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class ConvTranspose2d(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=None):
        super().__init__((in_channels, out_channels // groups), in_channels, out_channels,
                         kernel_size, stride, padding, dilation, groups, bias, dtype)
        self._output_padding = _pair(output_padding, "output_padding")

    @property
    def output_padding(self):
        return self._output_padding

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding, self.groups, self.dilation)

    def extra_repr(self):
        s = super().extra_repr()
        if self._output_padding != (0, 0):
            s += f", output_padding={self._output_padding}"
        return s
