"""The small conv GAN's PyTorch twin (Keras' MNIST GAN tutorial: no batch norm, a sigmoid D,
BCE on probabilities), with tinygen's module names, so its ``state_dict`` loads 1:1.
Dropout takes its uniforms from ``uniforms()`` (kept where u ≥ p, scaled by 1/(1 - p)),
so that both sides drop the same units.
"""
import numpy as np
import torch
from torch import nn


class Dropout(nn.Module):
    def __init__(self, p, uniforms):
        super().__init__()
        self.p, self.uniforms = p, uniforms

    def forward(self, x):
        return x * (self.uniforms() >= self.p).to(x.dtype) / (1 - self.p) if self.training else x


class Discriminator(nn.Module):
    def __init__(self, uniforms):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 3, stride=2, padding=1), nn.LeakyReLU(0.2), Dropout(0.4, uniforms),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.LeakyReLU(0.2), Dropout(0.4, uniforms),
            nn.Flatten(), nn.Linear(3136, 1))

    def forward(self, x):
        return torch.sigmoid(self.net(x))


class Generator(nn.Module):
    def __init__(self, latent_dim=100):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 128), nn.LeakyReLU(0.2), nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(128, 1, 7, padding=3), nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
