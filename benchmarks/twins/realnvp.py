"""RealNVP's PyTorch twin, written from the paper (Dinh et al. 2017) with tinygen's module
names, so its ``state_dict`` loads 1:1:

    x ∈ (0, 1) → y = logit(α + (1 - 2α) x)                    log-det Σ log((1-2α) / (p (1-p)))
    affine coupling: y_b = x_b ⊙ s + t, s = sigmoid(raw + 2), (raw, t) = net(x_a)   log-det Σ log s
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
    def __init__(self, channels, hidden, mask, flip):
        super().__init__()
        self.mask, self.flip = mask, flip
        self.net = coupling_network(channels // 2 if mask == "channel" else channels + 1, hidden,
                                    channels if mask == "channel" else 2 * channels)

    def forward(self, x):
        if self.mask == "channel":
            a, b = x.chunk(2, 1)
            if self.flip:
                a, b = b, a
            raw = self.net(a)
            s, t = torch.sigmoid(raw[:, :raw.shape[1] // 2] + 2), raw[:, raw.shape[1] // 2:]
            y = torch.cat((b * s + t, a) if self.flip else (a, b * s + t), 1)
            return y, s.log().flatten(1).sum(1)
        h, w = x.shape[2:]
        rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        m = ((rows + cols + int(self.flip)) % 2 == 0).to(x.dtype)[None, None]
        raw = self.net(torch.cat((x * m, m.expand(x.shape[0], 1, h, w)), 1))
        s, t = torch.sigmoid(raw[:, :raw.shape[1] // 2] + 2), raw[:, raw.shape[1] // 2:]
        return x * m + (1 - m) * (x * s + t), ((1 - m) * s.log()).flatten(1).sum(1)


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
            level = [Coupling(c, hidden, "checkerboard", bool(i % 2)) for i in range(3)] + [Squeeze()]
            c *= 4
            levels.append(level + [Coupling(c, hidden, "channel", bool(i % 2)) for i in range(3)])
            c //= 2
        levels.append([Coupling(c, hidden, "checkerboard", bool(i % 2)) for i in range(4)])
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
