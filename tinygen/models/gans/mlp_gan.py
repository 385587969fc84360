"""The fully connected GAN of Goodfellow et al. (2014), in its common MNIST form.

G: z → 256 → 512 → 1024 → 784 (tanh); D: 784 → 512 → 256 → 1 logit; LeakyReLU(0.2)
between the layers, the logit losses of ``losses``. ``batch_norm=True`` puts batch norm
after G's second and third layers, as PyTorch-GAN's MLP GAN has it: each batch's
features are re-centred, which keeps G from drawing one kind of image for every z.
"""
from __future__ import annotations

from ... import nn


class MLPGenerator(nn.Module):
    """z → 256 → 512 → 1024 → 784 (tanh), LeakyReLU(0.2) between (batch norm before the
    second and third LeakyReLU with ``batch_norm``)"""

    def __init__(self, latent_dim=100, batch_norm=False):
        super().__init__()
        self.latent_dim = latent_dim
        norm = (lambda n: [nn.BatchNorm1d(n)]) if batch_norm else (lambda n: [])
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 512), *norm(512), nn.LeakyReLU(0.2),
            nn.Linear(512, 1024), *norm(1024), nn.LeakyReLU(0.2),
            nn.Linear(1024, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """784 → 512 → 256 → 1 logit, LeakyReLU(0.2) between."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2),
                                 nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))

    def forward(self, x):
        return self.net(x)
