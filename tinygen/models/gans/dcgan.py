"""DCGAN (Radford et al., 2016): strided (transposed) convolutions with batch norm.

G: z → 7×7 transposed conv → 4×4 stride-2 transposed convs (7 → 14 → 28), batch norm
and ReLU between, tanh out. D: 4×4 stride-2 convs, batch norm after the second,
LeakyReLU(0.2), one logit; trained with the logit losses of ``losses``. Two optional
stabilisers for D: a minibatch standard-deviation channel (Karras et al. 2018) and
spectral normalisation (Miyato et al. 2018).
"""
from __future__ import annotations

from ... import nn
from ...autograd.ops import cat


class DCGANGenerator(nn.Module):
    """Radford et al.: transposed convs with batch norm and ReLU, tanh output (1×28×28)."""

    def __init__(self, latent_dim=100, width=64):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z)


def dcgan_discriminator_convs(in_channels=1, width=64, spectral_norm=False):
    """The DCGAN discriminator's feature layers, (N, C, 28, 28) → (N, 2·width·7·7); the
    conditional discriminators (conditional.py) share them. With ``spectral_norm``
    each conv's weight is divided by its top singular value and batch norm is left out,
    as in Miyato et al.'s SN-GAN discriminators."""
    if spectral_norm:
        sn = nn.utils.spectral_norm
        return [sn(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2),
                sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
                nn.Flatten()]
    return [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten()]


class MinibatchStdDev(nn.Module):
    """Karras et al. (2018), §3: append one channel that tells D how varied its batch is.

    The batch of N is split into N/g groups of g samples; sample i is in group i mod (N/g):

        σ[j, c, h, w] = sqrt(mean_k (x[k, j] - mean_k x[k, j])² + ε)   over the g members k
        s[j]          = mean_{c,h,w} σ[j, c, h, w]
        output        = concat(x, s[i mod (N/g)] as a constant (1, H, W) map)   (C + 1 channels)

    A generator that draws too few kinds of image gives its batches a small s, which D can
    then reject — the cheap form of Salimans et al.'s minibatch discrimination.
    """

    def __init__(self, group_size=4, eps=1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"MinibatchStdDev(group_size={self.group_size}) needs a batch size "
                             f"divisible by {g}, got {n}")
        groups = x.reshape(g, n // g, c, h, w)
        centred = groups - groups.mean(0, keepdim=True)
        sigma = ((centred * centred).mean(0) + self.eps).sqrt()            # (n/g, c, h, w)
        s = sigma.mean((1, 2, 3)).reshape(1, n // g, 1, 1, 1)
        s_map = s.expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
        return cat([x, s_map], 1)

    def extra_repr(self):
        return f"group_size={self.group_size}"


class DCGANDiscriminator(nn.Module):
    """Strided convs, batch norm after the second, LeakyReLU(0.2), one logit; with
    ``minibatch_std`` a MinibatchStdDev channel joins the last feature map (7×7); with
    ``spectral_norm`` every layer is spectrally normalised and there is no batch norm."""

    def __init__(self, width=64, minibatch_std=0, spectral_norm=False):
        super().__init__()
        convs = dcgan_discriminator_convs(1, width, spectral_norm)[:-1]      # without Flatten
        if minibatch_std:
            convs.append(MinibatchStdDev(minibatch_std))
        head = nn.Linear((2 * width + bool(minibatch_std)) * 7 * 7, 1)
        self.net = nn.Sequential(*convs, nn.Flatten(), nn.utils.spectral_norm(head) if spectral_norm else head)

    def forward(self, x):
        return self.net(x)
