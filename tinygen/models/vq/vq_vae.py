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

Codebook entries that no encoder output ever picks get no gradient ("dead codes"), and
a codebook trained by the loss above lags behind an encoder that moves fast (a first
probe here used 7 of 64 codes). So by default (``ema_decay=0.99``) the entries are instead
running means of the encoder outputs assigned to them (the paper's appendix A.1), an
entry nobody picks restarts at a random encoder output, and the codebook starts from
encoder outputs of the first training batch. ``ema_decay=None`` gives the loss above.
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...autograd.ops import where as tg_where
from ...creation import randint, randn, tensor, zeros
from ...nn import functional as F


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantization of (N, D, H, W) vectors onto K codebook entries
    ``embedding`` (K, D).

    ``ema_decay=None``: the entries are parameters, trained by the codebook loss.
    ``ema_decay=γ``: the entries are buffers, each the running mean of the encoder outputs
    assigned to it (van den Oord et al. 2017, app. A.1), updated in training forwards:

        N_k ← γ N_k + (1-γ) n_k,      m_k ← γ m_k + (1-γ) Σ_{i: k_i = k} z_e,i,
        e_k = m_k / Ñ_k,   Ñ_k = (N_k + ε) / (Σ_j N_j + K ε) · Σ_j N_j   (Laplace smoothing)

    and an entry whose N_k falls below ``dead_threshold`` (default: fewer than one vector
    per batch) restarts at a random encoder output of the batch. The codebook loss is then 0 (the averages do its work)."""

    def __init__(self, num_codes=64, code_dim=16, beta=0.25, ema_decay=None, dead_threshold=1.0,
                 eps=1e-5):
        super().__init__()
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.ema_decay, self.dead_threshold, self.eps = ema_decay, dead_threshold, eps
        embedding = randn(num_codes, code_dim)
        if ema_decay is None:
            self.embedding = nn.Parameter(embedding)
        else:
            self.register_buffer("embedding", embedding)
            self.register_buffer("cluster_size", zeros(num_codes))
            self.register_buffer("embed_sum", embedding.clone())
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
            e = self.embedding
            distances = (flat * flat).sum(1, keepdim=True) - 2.0 * (flat @ e.T) + (e * e).sum(1)
            return distances.argmin(1).reshape(n, h, w)

    def lookup(self, codes):
        """Codebook vectors for integer codes (N, H, W) → (N, D, H, W)."""
        return F.embedding(codes, self.embedding).permute(0, 3, 1, 2)

    def _flat(self, z_e):
        return z_e.detach().permute(0, 2, 3, 1).reshape(-1, self.code_dim)

    def _random_rows(self, flat):
        """K rows of ``flat`` drawn uniformly (with replacement), on flat's device."""
        return flat[randint(0, flat.shape[0], (self.num_codes,), device=flat.device)]

    def _init_from(self, z_e):
        """Codebook ← K encoder outputs drawn from the batch."""
        self.embedding.data[...] = self._random_rows(self._flat(z_e)).data
        if self.ema_decay is not None:
            self.embed_sum.data[...] = self.embedding.data
            self.cluster_size.data[...] = 1.0
        self.initialized.data[...] = 1.0

    def _ema_update(self, z_e, codes):
        """The running cluster sizes and sums, the smoothed means, and dead-code restarts;
        all on the device (no host sync)."""
        gamma = self.ema_decay
        with no_grad():
            flat = self._flat(z_e)
            assign = F.one_hot(codes.reshape(-1), self.num_codes).to(flat.dtype)      # (M, K)
            self.cluster_size.data[...] = (gamma * self.cluster_size + (1 - gamma) * assign.sum(0)).data
            self.embed_sum.data[...] = (gamma * self.embed_sum + (1 - gamma) * (assign.T @ flat)).data
            total = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.eps) / (total + self.num_codes * self.eps) * total
            means = self.embed_sum / smoothed.unsqueeze(1)
            dead = (self.cluster_size < self.dead_threshold).unsqueeze(1)
            restart = self._random_rows(flat)
            self.embedding.data[...] = tg_where(dead, restart, means).data
            self.embed_sum.data[...] = tg_where(dead, restart, self.embed_sum).data
            self.cluster_size.data[...] = tg_where(dead.squeeze(1), 1.0, self.cluster_size).data

    def forward(self, z_e):
        """(z_q with the straight-through gradient, codes, codebook loss, commitment loss);
        the losses are summed over each image's positions and dimensions, averaged over N."""
        if self.training and self._check_initialized:
            if not bool(self.initialized.item()):     # a fresh model, not a loaded one
                self._init_from(z_e)
            self._check_initialized = False
        codes = self.nearest_codes(z_e)
        if self.training and self.ema_decay is not None:
            self._ema_update(z_e, codes)
        z_q = self.lookup(codes)
        if self.ema_decay is None:
            codebook_loss = ((z_e.detach() - z_q) ** 2).flatten(1).sum(1).mean()      # ‖sg[z_e] - e‖²
        else:
            codebook_loss = zeros((), dtype=z_e.dtype, device=z_e.device)
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

    def __init__(self, num_codes=64, code_dim=16, hidden=64, beta=0.25, ema_decay=0.99):
        super().__init__()
        self.num_codes, self.code_dim = num_codes, code_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, hidden // 2, 4, 2, 1), nn.ReLU(),            # 28 → 14
            nn.Conv2d(hidden // 2, hidden, 4, 2, 1), nn.ReLU(),       # 14 → 7
            nn.Conv2d(hidden, hidden, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(hidden, code_dim, 1))
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta, ema_decay)
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

    def mean_image(self, codes, pixel_temperature=1.0):
        """E[x | z_q] under the tempered decoder p_τ(x_i) ∝ p(x_i | z_q)^(1/τ): σ(ℓ/τ).

        τ = 1 is the decoder's own mean σ(ℓ); τ < 1 pushes each pixel toward its more
        likely value (τ → 0: the binary mode), which sharpens the soft strokes a small
        codebook leaves; the codes, and the likelihood, are untouched."""
        if not pixel_temperature > 0:
            raise ValueError(f"pixel_temperature must be positive, got {pixel_temperature}")
        logits = self.decode(codes)
        return F.sigmoid(logits if pixel_temperature == 1.0 else logits / pixel_temperature)

    def reconstruction_nll(self, x):
        """-log p(x | z_q(x)) per image, in nats, shape (N,)."""
        logits = self.decode(self.encode(x))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
