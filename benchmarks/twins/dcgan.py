"""DCGAN's PyTorch twin: the same modules in the same order, so tinygen's ``state_dict``
loads into it 1:1 (``twin.load_state_dict(ported(G.state_dict()))``), spectral norm
included (PyTorch's ``weight_orig`` / ``weight_u`` / ``weight_v`` names are tinygen's).

tests/test_twins.py trains both for 25 steps on the same batches and noise and compares
every loss and tensor. torch is not a tinygen dependency: ``pip install -e ".[parity]"``.
"""
import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    """tinygen.models.gans.DCGANGenerator: z → 7×7 → 14×14 → 28×28, BN + ReLU, tanh."""

    def __init__(self, latent_dim=100, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """tinygen.models.gans.DCGANDiscriminator, plain or spectrally normalised."""

    def __init__(self, width=64, spectral_norm=False):
        super().__init__()
        if spectral_norm:
            sn = nn.utils.spectral_norm
            layers = [sn(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2),
                      sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
                      nn.Flatten(), sn(nn.Linear(2 * width * 7 * 7, 1))]
        else:
            layers = [nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def ported(state):
    """A tinygen state_dict (NumPy arrays) as PyTorch tensors, key for key."""
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


class WGANCritic(nn.Module):
    """tinygen.models.gans.WGANCritic: conv 64 → conv 128 → linear 1, LeakyReLU, no batch norm."""

    def __init__(self, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x):
        return self.net(x)


def gradient_penalty(critic, real, fake, eps, weight=10.0):
    """λ · mean_i (‖∇_x̂ f(x̂_i)‖₂ - 1)² at x̂ = ε x + (1 - ε) G(z), with the given ε."""
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = ((g * g).flatten(1).sum(1) + 1e-12).sqrt()
    return weight * ((norms - 1) ** 2).mean()
