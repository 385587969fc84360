"""Glow's PyTorch twin, written from the paper (Kingma & Dhariwal 2018) with tinygen's
module and buffer names, so its ``state_dict`` loads 1:1; it shares RealNVP's twin for the
logit transform, the squeeze and the affine coupling:

    ActNorm: y = (x + b) ⊙ exp(log s) per channel, log-det H·W Σ log s; the first training
             batch sets b = -mean, log s = -log(std + 1e-6)
    1×1 conv: W = P L (U + diag(sign ⊙ exp(log|s|))), log-det H·W Σ log|s|
    split prior: the half z that leaves beside h is N(μ, σ²), (μ, log σ) = conv3×3(h);
             ε = (z - μ)/σ is scored under N(0, I), with log-det -Σ log σ
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from .realnvp import Coupling, Logit, Squeeze, ported  # noqa: F401  (ported: the same helper)


class ActNorm(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.register_buffer("initialized", torch.zeros(()))

    def forward(self, x):
        if self.training and not self.initialized:
            with torch.no_grad():
                mean = x.mean((0, 2, 3), keepdim=True)
                std = ((x - mean) ** 2).mean((0, 2, 3), keepdim=True).sqrt()
                self.bias.copy_(-mean)
                self.log_scale.copy_(-(std + 1e-6).log())
                self.initialized.fill_(1.0)
        return (x + self.bias) * self.log_scale.exp(), (self.log_scale.sum() * x.shape[2] * x.shape[3]).expand(x.shape[0])


class InvertibleConv1x1(nn.Module):
    def __init__(self, c):
        super().__init__()
        for name in ("permutation", "lower_mask", "identity"):
            self.register_buffer(name, torch.zeros(c, c))
        self.register_buffer("sign_s", torch.zeros(c))
        self.lower, self.upper = nn.Parameter(torch.zeros(c, c)), nn.Parameter(torch.zeros(c, c))
        self.log_s = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        lower = self.lower * self.lower_mask + self.identity
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        w = self.permutation @ lower @ upper
        return F.conv2d(x, w[:, :, None, None]), (self.log_s.sum() * x.shape[2] * x.shape[3]).expand(x.shape[0])


class Glow(nn.Module):
    def __init__(self, num_levels=2, steps_per_level=8, hidden=64, alpha=0.05):
        super().__init__()
        self.preprocess = Logit(alpha)
        levels, c, priors = [], 1, []
        for index in range(num_levels):
            c *= 4
            level = [Squeeze()]
            for _ in range(steps_per_level):
                level += [ActNorm(c), InvertibleConv1x1(c), Coupling(c, hidden, "channel", False)]
            levels.append(level)
            if index < num_levels - 1:
                c //= 2
                priors.append(nn.Conv2d(c, 2 * c, 3, padding=1))
        self.levels = nn.ModuleList([nn.ModuleList(level) for level in levels])
        self.split_priors = nn.ModuleList(priors)

    def loss(self, x):
        h, logdet = self.preprocess(x)
        log_p = 0.0
        for index, level in enumerate(self.levels):
            for layer in level:
                h, ld = layer(h)
                logdet = logdet + ld
            if index < len(self.levels) - 1:
                z, h = h.chunk(2, 1)
                mean, log_scale = self.split_priors[index](h).chunk(2, 1)
                eps = (z - mean) * torch.exp(-log_scale)
                logdet = logdet - log_scale.flatten(1).sum(1)
                log_p = log_p + (-0.5 * (math.log(2 * math.pi) + eps * eps)).flatten(1).sum(1)
        log_p = log_p + (-0.5 * (math.log(2 * math.pi) + h * h)).flatten(1).sum(1) + logdet
        d = x[0].numel()
        return ((-log_p + d * math.log(256.0)) / (d * math.log(2.0))).mean()
