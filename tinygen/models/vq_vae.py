"""VQ-VAE (van den Oord et al., 2017, "Neural Discrete Representation Learning") for
binarized MNIST, and its learned prior.

The encoder maps x to a grid of vectors z_e(x) (N, D, 7, 7). Each vector is replaced by
its nearest codebook entry,

    k_i = argmin_j ‖z_e,i - e_j‖²,    z_q,i = e_{k_i},

and the decoder gives Bernoulli logits for x from z_q. The loss per image (eq. 3):

    L = -log p(x | z_q)  +  ‖sg[z_e] - z_q‖²  +  β ‖z_e - sg[z_q]‖²
        reconstruction      codebook            commitment

with sg = stop-gradient (``detach``). The argmin has no gradient, so the decoder's
gradient is copied straight through to the encoder: z_q enters the decoder as
z_e + sg[z_q - z_e], which is z_q in value and z_e in gradient. The codebook term moves
the entries toward the encoder outputs; the commitment term (β = 0.25) keeps the
encoder from drifting away from them. Here every term is summed over its image (pixels,
or positions × D), like the VAE's ELBO, so the reconstruction term is in nats.

The prior is fitted afterwards: a ``CategoricalPixelCNN`` over the 7×7 code maps of
the training images. Sampling draws a code map from it and decodes. With a one-point
posterior q(k|x) = δ(k = k(x)), whose entropy is 0, the ELBO gives the likelihood bound

    -log p(x) ≤ -log p(x | z_q(x)) - log p_prior(k(x)),

reported by the example in nats, comparable with the VAE's and the PixelCNN's.

Codebook entries that no encoder output ever picks get no gradient ("dead codes"); the
quantizer starts its codebook from encoder outputs of the first training batch (a
common remedy) instead of tiny random vectors, so every entry starts where data is.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..creation import tensor
from ..nn import functional as F


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantization of (N, D, H, W) vectors onto K codebook entries (K, D)."""

    def __init__(self, num_codes=64, code_dim=16, beta=0.25):
        super().__init__()
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.codebook = nn.Embedding(num_codes, code_dim)
        # 0 until the first training batch has set the codebook from encoder outputs
        self.register_buffer("initialized", tensor(np.zeros((), np.float32)))
        self._check_initialized = True    # read the buffer once per process, not every step

    def nearest_codes(self, z_e):
        """k (N, H, W) = argmin_j ‖z_e - e_j‖², computed as ‖z‖² - 2 z·e_j + ‖e_j‖² (one GEMM)."""
        n, d, h, w = z_e.shape
        if d != self.code_dim:
            raise ValueError(f"expected {self.code_dim}-dim vectors (N, {self.code_dim}, H, W), "
                             f"got {tuple(z_e.shape)}")
        with no_grad():
            flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)
            e = self.codebook.weight
            distances = (flat * flat).sum(1, keepdim=True) - 2.0 * (flat @ e.T) + (e * e).sum(1)
            return distances.argmin(1).reshape(n, h, w)

    def lookup(self, codes):
        """Codebook vectors for integer codes (N, H, W) → (N, D, H, W)."""
        return self.codebook(codes).permute(0, 3, 1, 2)

    def _init_from(self, z_e):
        """Codebook ← K encoder outputs drawn from the batch (with replacement if too few)."""
        flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, self.code_dim).numpy()
        rng = np.random.default_rng(0)
        pick = rng.choice(len(flat), self.num_codes, replace=len(flat) < self.num_codes)
        self.codebook.weight.data[...] = tensor(flat[pick], dtype=self.codebook.weight.dtype,
                                                device=self.codebook.weight.device).data
        self.initialized.data[...] = 1.0

    def forward(self, z_e):
        """(z_q with the straight-through gradient, codes, codebook loss, commitment loss);
        the losses are summed over each image's positions and dimensions, averaged over N."""
        if self.training and self._check_initialized:
            if not bool(self.initialized.item()):     # a fresh model, not a loaded one
                self._init_from(z_e)
            self._check_initialized = False
        codes = self.nearest_codes(z_e)
        z_q = self.lookup(codes)
        codebook_loss = ((z_e.detach() - z_q) ** 2).flatten(1).sum(1).mean()          # ‖sg[z_e] - e‖²
        commitment_loss = self.beta * ((z_e - z_q.detach()) ** 2).flatten(1).sum(1).mean()  # β‖z_e - sg[e]‖²
        z_q_straight_through = z_e + (z_q - z_e).detach()
        return z_q_straight_through, codes, codebook_loss, commitment_loss


def code_perplexity(codes, num_codes):
    """exp(H(p̂)) of the codes' empirical distribution p̂: how many codes are in effective use."""
    counts = np.bincount(np.asarray(codes).ravel(), minlength=num_codes).astype(np.float64)
    p = counts / counts.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


class VQVAE(nn.Module):
    """Encoder 28×28 → 7×7×D (two stride-2 convs, a 3×3 and a 1×1), quantizer, mirror decoder
    to Bernoulli logits (N, 1, 28, 28)."""

    def __init__(self, num_codes=64, code_dim=16, hidden=64, beta=0.25):
        super().__init__()
        self.num_codes, self.code_dim = num_codes, code_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, hidden // 2, 4, 2, 1), nn.ReLU(),            # 28 → 14
            nn.Conv2d(hidden // 2, hidden, 4, 2, 1), nn.ReLU(),       # 14 → 7
            nn.Conv2d(hidden, hidden, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(hidden, code_dim, 1))
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, hidden, 3, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(hidden, hidden // 2, 4, 2, 1), nn.ReLU(),   # 7 → 14
            nn.ConvTranspose2d(hidden // 2, 1, 4, 2, 1))                   # 14 → 28

    def _check(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"VQVAE expects images (N, 1, 28, 28), got {tuple(x.shape)}")

    def forward(self, x):
        """(logits, codes, codebook loss, commitment loss)."""
        self._check(x)
        z_q, codes, codebook_loss, commitment_loss = self.quantizer(self.encoder(x))
        return self.decoder(z_q), codes, codebook_loss, commitment_loss

    def loss(self, x):
        """L = -log p(x|z_q) + ‖sg[z_e] - z_q‖² + β‖z_e - sg[z_q]‖², batch means; and its parts."""
        logits, codes, codebook_loss, commitment_loss = self(x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        return rec + codebook_loss + commitment_loss, {
            "rec": rec, "codebook": codebook_loss, "commitment": commitment_loss, "codes": codes}

    def encode(self, x):
        """The code map k(x), (N, 7, 7) integers."""
        self._check(x)
        return self.quantizer.nearest_codes(self.encoder(x))

    def decode(self, codes):
        """Bernoulli logits of x given a code map."""
        return self.decoder(self.quantizer.lookup(codes))

    def reconstruction_nll(self, x):
        """-log p(x | z_q(x)) per image, in nats, shape (N,)."""
        logits = self.decode(self.encode(x))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
