"""VQ-VAE's PyTorch twin: encoder, EMA-codebook quantizer and decoder with tinygen's module
and buffer names (its ``state_dict`` loads 1:1), written from the paper:

    k_i = argmin_j ‖z_e,i - e_j‖²,  z_q = e_k,  decoder input z_e + sg[z_q - z_e]
    L = Σ BCE(x, decoder) + β ‖z_e - sg[z_q]‖²              (the EMA codebook has no loss term)
    N_k ← γ N_k + (1-γ) n_k,  m_k ← γ m_k + (1-γ) Σ_{k_i = k} z_e,i,  e_k = m_k / Ñ_k (Laplace)
    an entry with N_k below 1 restarts at an encoder output of the batch

``rows()`` hands out the indices of those encoder outputs (the first batch's, for the
codebook's initialisation, then one per entry per step), the same ones tinygen draws.
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class VectorQuantizer(nn.Module):
    def __init__(self, num_codes, code_dim, beta=0.25, gamma=0.99, eps=1e-5):
        super().__init__()
        self.k, self.d, self.beta, self.gamma, self.eps = num_codes, code_dim, beta, gamma, eps
        self.register_buffer("embedding", torch.zeros(num_codes, code_dim))
        self.register_buffer("cluster_size", torch.zeros(num_codes))
        self.register_buffer("embed_sum", torch.zeros(num_codes, code_dim))
        self.register_buffer("initialized", torch.zeros(()))

    def forward(self, z_e, rows):
        flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, self.d)
        with torch.no_grad():
            if not self.initialized:
                self.embedding.copy_(flat[rows()])
                self.embed_sum.copy_(self.embedding)
                self.cluster_size.fill_(1.0)
                self.initialized.fill_(1.0)
            codes = torch.cdist(flat, self.embedding).pow(2).argmin(1)
            one_hot = F.one_hot(codes, self.k).to(flat.dtype)
            self.cluster_size.mul_(self.gamma).add_(one_hot.sum(0), alpha=1 - self.gamma)
            self.embed_sum.mul_(self.gamma).add_(one_hot.T @ flat, alpha=1 - self.gamma)
            total = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.eps) / (total + self.k * self.eps) * total
            dead = self.cluster_size < 1.0
            restart = flat[rows()]
            self.embedding.copy_(torch.where(dead[:, None], restart, self.embed_sum / smoothed[:, None]))
            self.embed_sum.copy_(torch.where(dead[:, None], restart, self.embed_sum))
            self.cluster_size.copy_(torch.where(dead, torch.ones_like(self.cluster_size), self.cluster_size))
        n, _, h, w = z_e.shape
        z_q = self.embedding[codes].reshape(n, h, w, self.d).permute(0, 3, 1, 2)
        commitment = self.beta * ((z_e - z_q) ** 2).flatten(1).sum(1).mean()
        return z_e + (z_q - z_e).detach(), codes, commitment


class VQVAE(nn.Module):
    def __init__(self, num_codes=64, code_dim=16, hidden=64):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, hidden // 2, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(hidden // 2, hidden, 4, 2, 1), nn.ReLU(),
                                     nn.Conv2d(hidden, hidden, 3, 1, 1), nn.ReLU(), nn.Conv2d(hidden, code_dim, 1))
        self.quantizer = VectorQuantizer(num_codes, code_dim)
        self.decoder = nn.Sequential(nn.Conv2d(code_dim, hidden, 3, 1, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(hidden, hidden // 2, 4, 2, 1), nn.ReLU(),
                                     nn.ConvTranspose2d(hidden // 2, 1, 4, 2, 1))

    def loss(self, x, rows):
        z_q, codes, commitment = self.quantizer(self.encoder(x), rows)
        rec = F.binary_cross_entropy_with_logits(self.decoder(z_q), x, reduction="none").flatten(1).sum(1).mean()
        return rec + commitment, codes


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
