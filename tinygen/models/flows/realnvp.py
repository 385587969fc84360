"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017) for 28×28 grey images.

Each scale: 3 affine couplings with alternating checkerboard masks, a squeeze, 3 affine
couplings with alternating channel halves, then half the channels leave as latents; the
last scale is 4 checkerboard couplings. For MNIST that is 1×28×28 → 4×14×14 (2 leave)
→ 8×7×7 (4 leave) → 4 couplings on 4×7×7 with ``num_scales=2``. The coupling networks
are small conv nets (flow_layers.coupling_network); the paper's deep ResNets and batch
norm are left out, so this is the architecture at MNIST size, not the paper's capacity.
The couplings scale by s = exp(w ⊙ tanh(raw)) as in the paper: with no ActNorm, they are
the only layers that can expand (see AffineCoupling).
"""
from __future__ import annotations

from .layers import AffineCoupling, Squeeze
from .multiscale import MultiScaleFlow


class RealNVP(MultiScaleFlow):
    def __init__(self, num_scales=2, hidden=64, in_channels=1, image_size=28, alpha=0.05):
        levels, channels = [], in_channels
        for _ in range(num_scales):
            level = [AffineCoupling(channels, hidden, "checkerboard", bool(i % 2), "tanh") for i in range(3)]
            level.append(Squeeze())
            channels *= 4
            level += [AffineCoupling(channels, hidden, "channel", bool(i % 2), "tanh") for i in range(3)]
            levels.append(level)
            channels //= 2                                   # half leave as latents
        levels.append([AffineCoupling(channels, hidden, "checkerboard", bool(i % 2), "tanh") for i in range(4)])
        super().__init__(levels, (in_channels, image_size, image_size), alpha)
