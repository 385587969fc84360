"""The VAE's PyTorch twin: the same modules under the same names, so tinygen's
``state_dict`` loads into it 1:1, and the same loss (the negative ELBO per image:
Σ_pixels BCE on logits + Σ_d KL(N(μ, σ²) ‖ N(0, 1)), averaged over the batch).

tests/test_twins.py trains both for 25 steps on the same batches and the same ε.
torch is not a tinygen dependency: ``pip install -e ".[parity]"``.
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class VAE(nn.Module):
    """tinygen.models.VAE (unconditional): conv 32 → conv 64 (stride 2) → 128 → μ, log σ²."""

    def __init__(self, latent_dim=16):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
        self.hidden = nn.Sequential(nn.Linear(3136, 128), nn.ReLU())
        self.mu, self.logvar = nn.Linear(128, latent_dim), nn.Linear(128, latent_dim)
        self.project = nn.Sequential(nn.Linear(latent_dim, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)))
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1))

    def loss(self, x, eps):
        """The negative ELBO with z = μ + σ ε for the given ε; returns (loss, rec, kl)."""
        h = self.hidden(self.features(x))
        mu, logvar = self.mu(h), self.logvar(h)
        logits = self.deconv(self.project(mu + (0.5 * logvar).exp() * eps))
        n = x.shape[0]
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum() / n
        return rec + kl, rec, kl


class CVAE(VAE):
    """The conditional VAE with a learned class prior: one-hot y beside the encoder's
    features and the decoder's z, and p(z|y) = N(m_y, exp(v_y)):

        KL(N(μ, σ²) ‖ N(m, s²)) = ½ (log s² - log σ² + (σ² + (μ - m)²)/s² - 1)
    """

    def __init__(self, latent_dim=16, num_classes=10):
        super().__init__(latent_dim)
        self.num_classes = num_classes
        self.hidden = nn.Sequential(nn.Linear(3136 + num_classes, 128), nn.ReLU())
        self.project = nn.Sequential(nn.Linear(latent_dim + num_classes, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)))
        self.prior_mu = nn.Embedding(num_classes, latent_dim)
        self.prior_logvar = nn.Embedding(num_classes, latent_dim)

    def loss(self, x, y, eps):
        onehot = F.one_hot(y, self.num_classes).to(x.dtype)
        h = self.hidden(torch.cat([self.features(x), onehot], 1))
        mu, logvar = self.mu(h), self.logvar(h)
        logits = self.deconv(self.project(torch.cat([mu + (0.5 * logvar).exp() * eps, onehot], 1)))
        m, v = self.prior_mu(y), self.prior_logvar(y)
        n = x.shape[0]
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        kl = 0.5 * (v - logvar + (logvar.exp() + (mu - m) ** 2) / v.exp() - 1).sum() / n
        return rec + kl, rec, kl


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
