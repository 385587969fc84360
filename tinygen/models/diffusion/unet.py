"""A small U-Net for 28×28 images that takes a diffusion timestep: DDPM's noise predictor ε_θ(x_t, t).

    t ──sinusoidal──► MLP ─► time embedding, added inside every residual block
    x_t ─ conv ─ Res(C) ─┬─ down ─ Res(2C) ─┬─ down ─ Res(2C) ─ Res(2C) ─ up ─ Res(2C) ─ up ─ Res(C) ─ conv ─ ε̂
            28×28        │      14×14       │        7×7                 ▲ 14×14     ▲ 28×28
                         └──────────────────┼──────── skip (concat) ─────┼───────────┘
                                            └──────── skip (concat) ─────┘

Residual blocks are GroupNorm → SiLU → conv 3×3, twice, with the projected time embedding
added between (Ho et al., 2020, app. B, at MNIST size: two resolutions, no attention).
The output conv starts at zero, so the untrained model predicts ε̂ = 0.

With ``num_classes`` K > 0 the network is ε_θ(x_t, t, y): a learned embedding of the label
y ∈ {0 … K-1, ∅} is added to the time embedding, where the extra index K is the null label
∅ that classifier-free guidance trains and samples with (Ho & Salimans, 2022).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd.ops import cat
from ...backend import get_array_module
from ...creation import full, tensor
from ...nn import functional as F


def timestep_embedding(t, dim):
    """Transformer-style sinusoids of integer timesteps t (N,): [sin(t ω_i), cos(t ω_i)],
    ω_i = 10000^(-i/(dim/2)), shape (N, dim). Not differentiable (t is an index)."""
    xp = get_array_module(t.data)
    half = dim // 2
    freqs = xp.exp(-math.log(10000.0) * xp.arange(half, dtype=np.float32) / half)
    angles = t.data.astype(np.float32)[:, None] * freqs[None]
    return tensor(xp.concatenate([xp.sin(angles), xp.cos(angles)], axis=1), device=t.device)


class TimeResBlock(nn.Module):
    """h = conv(SiLU(GN(x))) + W e_t;  out = skip(x) + conv(SiLU(GN(h)))."""

    def __init__(self, in_channels, out_channels, time_dim, groups=8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.time = nn.Linear(time_dim, out_channels)
        self.norm2, self.conv2 = nn.GroupNorm(groups, out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x, time_embedding):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(time_embedding).unsqueeze(2).unsqueeze(3)
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    """ε_θ(x_t, t) for (N, C, 28, 28) inputs; ``channels`` C₀ at 28×28, 2C₀ below."""

    def __init__(self, in_channels=1, channels=32, time_dim=128, num_classes=0):
        super().__init__()
        c, c2 = channels, 2 * channels
        self.time_dim, self.num_classes = time_dim, num_classes
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, 4 * time_dim), nn.SiLU(), nn.Linear(4 * time_dim, 4 * time_dim))
        t_dim = 4 * time_dim
        if num_classes:
            self.label_embedding = nn.Embedding(num_classes + 1, t_dim)     # index K is the null label ∅
        self.conv_in = nn.Conv2d(in_channels, c, 3, padding=1)
        self.down1, self.pool1 = TimeResBlock(c, c, t_dim), nn.Conv2d(c, c, 3, stride=2, padding=1)      # 28 → 14
        self.down2, self.pool2 = TimeResBlock(c, c2, t_dim), nn.Conv2d(c2, c2, 3, stride=2, padding=1)   # 14 → 7
        self.mid1, self.mid2 = TimeResBlock(c2, c2, t_dim), TimeResBlock(c2, c2, t_dim)
        self.up2_conv, self.up2 = nn.Conv2d(c2, c2, 3, padding=1), TimeResBlock(2 * c2, c2, t_dim)        # 7 → 14
        self.up1_conv, self.up1 = nn.Conv2d(c2, c2, 3, padding=1), TimeResBlock(c2 + c, c, t_dim)         # 14 → 28
        self.norm_out, self.conv_out = nn.GroupNorm(8, c), nn.Conv2d(c, in_channels, 3, padding=1)
        self.conv_out.weight.data[...] = 0.0
        self.conv_out.bias.data[...] = 0.0

    def forward(self, x, t, y=None):
        """ε̂ for images x (N, C, H, W), timesteps t (N,) and, if the net is conditional,
        labels y (N,) with K meaning ∅ (y=None: ∅ for every image)."""
        if x.ndim != 4 or x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"UNet expects (N, C, H, W) with H, W divisible by 4, got {tuple(x.shape)}")
        e = self.time_mlp(timestep_embedding(t, self.time_dim).to(x.dtype))
        if self.num_classes:
            if y is None:
                y = full((x.shape[0],), self.num_classes, dtype="int64", device=x.device)
            e = e + self.label_embedding(y)
        elif y is not None:
            raise ValueError("this UNet is unconditional (num_classes=0) but got labels")
        h1 = self.down1(self.conv_in(x), e)                                     # C₀ @ 28
        h2 = self.down2(self.pool1(h1), e)                                      # 2C₀ @ 14
        m = self.mid2(self.mid1(self.pool2(h2), e), e)                          # 2C₀ @ 7
        # conv first, then nearest ×2: the same kind of layer, at a quarter of the cost
        u = self.up2(cat((F.interpolate(self.up2_conv(m), scale_factor=2), h2), 1), e)
        u = self.up1(cat((F.interpolate(self.up1_conv(u), scale_factor=2), h1), 1), e)
        return self.conv_out(F.silu(self.norm_out(u)))
