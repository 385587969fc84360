"""WGAN-GP (Gulrajani et al., 2017): a critic f without batch norm and a gradient penalty.

    L_f = mean f(G(z)) - mean f(x_real) + λ · mean_i (‖∇_x̂ f(x̂_i)‖₂ - 1)²,
    x̂_i = ε_i x_i + (1 - ε_i) G(z)_i,  ε_i ~ U[0, 1],  ‖·‖₂ over all non-batch dims
    L_G = -mean f(G(z))

G is the DCGAN's (``dcgan.DCGANGenerator``).
"""
from __future__ import annotations

from ... import nn
from ...autograd import grad as autograd_grad
from ...creation import rand


def gradient_penalty(critic, real, fake, weight=10.0):
    """λ · mean_i (‖∇_x̂ f(x̂_i)‖₂ - 1)², with the norm per sample over all non-batch dims.

    The gradient is taken with create_graph=True, so the penalty can itself be
    differentiated with respect to the critic's parameters (double backward).
    """
    n = real.shape[0]
    eps = rand(n, *([1] * (real.ndim - 1)), dtype=real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    (g,) = autograd_grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = ((g * g).flatten(1).sum(1) + 1e-12).sqrt()
    return weight * ((norms - 1.0) ** 2).mean()


class WGANCritic(nn.Module):
    """A DCGAN-style critic with no batch norm (it would make the penalty's per-sample
    gradients depend on the rest of the batch): conv 64 → conv 128 → linear 1, LeakyReLU."""

    def __init__(self, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x):
        return self.net(x)
