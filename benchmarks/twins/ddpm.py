"""DDPM's PyTorch twin: the U-Net ε_θ(x_t, t[, y]) with tinygen's module names (its
``state_dict`` loads 1:1) and L_simple = mean ‖ε - ε_θ(√ᾱ_t x₀ + √(1 - ᾱ_t) ε, t[, y])‖²
for given t, ε and (already dropped-to-∅) labels y; ``guided_noise`` is classifier-free
guidance, (1 + w) ε_θ(x, t, y) - w ε_θ(x, t, ∅). The schedule is rebuilt here: β linear from 1e-4 to 0.02 over T
steps, ᾱ_t = Π (1 - β_s) in float64, √ᾱ_t and √(1 - ᾱ_t) stored in float32 as tinygen
stores them; the timestep sinusoids are computed in float32, as tinygen's are.
"""
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half, dtype=np.float32) / half)
    angles = t.numpy().astype(np.float32)[:, None] * freqs[None]
    return torch.from_numpy(np.concatenate([np.sin(angles), np.cos(angles)], axis=1))


class TimeResBlock(nn.Module):
    def __init__(self, cin, cout, time_dim, groups=8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x))) + self.time(e)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    def __init__(self, channels=32, time_dim=128, num_classes=0):
        super().__init__()
        c, c2, t_dim = channels, 2 * channels, 4 * time_dim
        self.time_dim, self.num_classes = time_dim, num_classes
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        if num_classes:
            self.label_embedding = nn.Embedding(num_classes + 1, t_dim)     # index K: the null label
        self.conv_in = nn.Conv2d(1, c, 3, padding=1)
        self.down1, self.pool1 = TimeResBlock(c, c, t_dim), nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.down2, self.pool2 = TimeResBlock(c, c2, t_dim), nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid1, self.mid2 = TimeResBlock(c2, c2, t_dim), TimeResBlock(c2, c2, t_dim)
        self.up2_conv, self.up2 = nn.Conv2d(c2, c2, 3, padding=1), TimeResBlock(2 * c2, c2, t_dim)
        self.up1_conv, self.up1 = nn.Conv2d(c2, c2, 3, padding=1), TimeResBlock(c2 + c, c, t_dim)
        self.norm_out, self.conv_out = nn.GroupNorm(8, c), nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x, t, y=None):
        e = self.time_mlp(timestep_embedding(t, self.time_dim).to(x.dtype))
        if self.num_classes:
            e = e + self.label_embedding(torch.full_like(t, self.num_classes) if y is None else y)
        h1 = self.down1(self.conv_in(x), e)
        h2 = self.down2(self.pool1(h1), e)
        m = self.mid2(self.mid1(self.pool2(h2), e), e)
        u = self.up2(torch.cat((F.interpolate(self.up2_conv(m), scale_factor=2), h2), 1), e)
        u = self.up1(torch.cat((F.interpolate(self.up1_conv(u), scale_factor=2), h1), 1), e)
        return self.conv_out(F.silu(self.norm_out(u)))


class DDPM(nn.Module):
    def __init__(self, channels=32, num_steps=1000, num_classes=0):
        super().__init__()
        self.net = UNet(channels, num_classes=num_classes)
        alpha_bars = np.cumprod(1.0 - np.linspace(1e-4, 0.02, num_steps, dtype=np.float64))
        self.sqrt_ab = torch.from_numpy(np.sqrt(alpha_bars).astype(np.float32))
        self.sqrt_1mab = torch.from_numpy(np.sqrt(1.0 - alpha_bars).astype(np.float32))

    def loss(self, x0, t, noise, y=None):
        a = self.sqrt_ab[t].to(x0.dtype).reshape(-1, 1, 1, 1)
        b = self.sqrt_1mab[t].to(x0.dtype).reshape(-1, 1, 1, 1)
        return ((noise - self.net(a * x0 + b * noise, t, y)) ** 2).mean()

    def guided_noise(self, x, t, y, w):
        return (1 + w) * self.net(x, t, y) - w * self.net(x, t, None)


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
