"""RealNVP's PyTorch twin, written from the paper (Dinh et al. 2017) with tinygen's module
names, so its ``state_dict`` loads 1:1:

    x ∈ (0, 1) → y = logit(α + (1 - 2α) x)                    log-det Σ log((1-2α) / (p (1-p)))
    affine coupling: y_b = x_b ⊙ s + t, (raw, t) = net(x_a), log-det Σ log s, with
        s = exp(w ⊙ tanh(raw)), w a learned per-channel rescale (RealNVP), or
        s = sigmoid(raw + 2) (Glow's, the same Coupling class)
    checkerboard masks (1 where row + col + flip is even; the net sees x⊙m and m) and
    channel halves; a squeeze turns each 2×2 block into 4 channels; half the channels
    leave as N(0, I) latents after every level but the last
    loss = mean over the batch of (-log p(x) + D log 256) / (D ln 2)      (bits/dim)
"""
import math

import numpy as np
import torch
from torch import nn


def coupling_network(cin, hidden, cout):
    return nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                         nn.Conv2d(hidden, cout, 3, padding=1))


class Coupling(nn.Module):
    def __init__(self, channels, hidden, mask, flip, scale="sigmoid"):
        super().__init__()
        self.mask, self.flip, self.scale = mask, flip, scale
        self.net = coupling_network(channels // 2 if mask == "channel" else channels + 1, hidden,
                                    channels if mask == "channel" else 2 * channels)
        if scale == "tanh":
            self.rescale = nn.Parameter(torch.ones(1, channels // 2 if mask == "channel" else channels, 1, 1))

    def scale_and_shift(self, raw):
        half = raw.shape[1] // 2
        if self.scale == "tanh":
            log_s = self.rescale * torch.tanh(raw[:, :half])
        else:
            log_s = torch.sigmoid(raw[:, :half] + 2).log()
        return log_s.exp(), log_s, raw[:, half:]

    def forward(self, x):
        if self.mask == "channel":
            a, b = x.chunk(2, 1)
            if self.flip:
                a, b = b, a
            s, log_s, t = self.scale_and_shift(self.net(a))
            y = torch.cat((b * s + t, a) if self.flip else (a, b * s + t), 1)
            return y, log_s.flatten(1).sum(1)
        h, w = x.shape[2:]
        rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        m = ((rows + cols + int(self.flip)) % 2 == 0).to(x.dtype)[None, None]
        s, log_s, t = self.scale_and_shift(self.net(torch.cat((x * m, m.expand(x.shape[0], 1, h, w)), 1)))
        return x * m + (1 - m) * (x * s + t), ((1 - m) * log_s).flatten(1).sum(1)


class Squeeze(nn.Module):
    def forward(self, x):
        n, c, h, w = x.shape
        y = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)
        return y, torch.zeros(n, dtype=x.dtype)


class Logit(nn.Module):
    def __init__(self, alpha):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        p = self.alpha + (1 - 2 * self.alpha) * x
        return p.log() - (1 - p).log(), (math.log(1 - 2 * self.alpha) - p.log() - (1 - p).log()).flatten(1).sum(1)


class RealNVP(nn.Module):
    def __init__(self, num_scales=2, hidden=64, alpha=0.05):
        super().__init__()
        self.preprocess = Logit(alpha)
        levels, c = [], 1
        for _ in range(num_scales):
            level = [Coupling(c, hidden, "checkerboard", bool(i % 2), "tanh") for i in range(3)] + [Squeeze()]
            c *= 4
            levels.append(level + [Coupling(c, hidden, "channel", bool(i % 2), "tanh") for i in range(3)])
            c //= 2
        levels.append([Coupling(c, hidden, "checkerboard", bool(i % 2), "tanh") for i in range(4)])
        self.levels = nn.ModuleList([nn.ModuleList(level) for level in levels])

    def loss(self, x):
        h, logdet = self.preprocess(x)
        log_p = 0.0
        for index, level in enumerate(self.levels):
            for layer in level:
                h, ld = layer(h)
                logdet = logdet + ld
            if index < len(self.levels) - 1:
                z, h = h.chunk(2, 1)
                log_p = log_p + (-0.5 * (math.log(2 * math.pi) + z * z)).flatten(1).sum(1)
        log_p = log_p + (-0.5 * (math.log(2 * math.pi) + h * h)).flatten(1).sum(1) + logdet
        d = x[0].numel()
        return ((-log_p + d * math.log(256.0)) / (d * math.log(2.0))).mean()


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
