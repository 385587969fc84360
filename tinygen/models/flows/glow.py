"""Glow (Kingma & Dhariwal, 2018) for 28×28 grey images.

Each level: a squeeze, then K flow steps of [ActNorm → invertible 1×1 conv → affine
coupling on channel halves], then (except the last level) half the channels leave as
latents. For MNIST with ``num_levels=2``: 1×28×28 → 4×14×14, K steps, 2 leave →
8×7×7, K steps. The 1×1 convolutions replace RealNVP's fixed channel swaps by learned
channel mixings; ActNorm replaces batch norm (it works with batches of one). The
half that leaves at a split has the paper's learned prior: z ~ N(μ(h), σ(h)²) from a
zero-initialised 3×3 conv of the half h that stays (``learned_split_prior``, as in the
paper's code); the last level's latents are N(0, I).
"""
from __future__ import annotations

from ... import nn
from .layers import ActNorm, AffineCoupling, InvertibleConv1x1, Squeeze
from .multiscale import MultiScaleFlow


def zero_conv(in_channels, out_channels):
    """A 3×3 conv that starts at zero: the split prior starts as N(0, I)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
    conv.weight.data[...] = 0.0
    conv.bias.data[...] = 0.0
    return conv


class Glow(MultiScaleFlow):
    def __init__(self, num_levels=2, steps_per_level=8, hidden=64, in_channels=1, image_size=28, alpha=0.05,
                 learned_split_prior=True):
        levels, channels, priors = [], in_channels, []
        for index in range(num_levels):
            channels *= 4
            level = [Squeeze()]
            for step in range(steps_per_level):
                level += [ActNorm(channels), InvertibleConv1x1(channels, seed=index * 1000 + step),
                          AffineCoupling(channels, hidden, "channel")]
            levels.append(level)
            if index < num_levels - 1:
                channels //= 2                               # half leave as latents
                priors.append(zero_conv(channels, 2 * channels))
        super().__init__(levels, (in_channels, image_size, image_size), alpha,
                         priors if learned_split_prior else None)
