"""A small convolutional VAE (the layers of Keras' MNIST VAE example) and its conditional
version, fed the one-hot label.

Encoder q(z|x): conv 32 3×3 s2 ReLU → conv 64 3×3 s2 ReLU → flatten (3136) →
dense 128 ReLU → μ (latent_dim) and log σ² (latent_dim).
Decoder p(x|z): dense 3136 ReLU → reshape (64, 7, 7) → convT 64 3×3 s2 ReLU →
convT 32 3×3 s2 ReLU → convT 1 3×3 s1 → Bernoulli logits (sigmoid = mean image).

Keras' "same" padding becomes padding=1 here (and output_padding=1 for the
stride-2 transposed convs), PyTorch's way of getting the same shapes
(28 → 14 → 7 and back). The parameter count equals the Keras model's: 533,473
for latent_dim=16.

The conditional VAE feeds a one-hot label to both halves: appended to the
flattened features before the encoder's dense layer, and to z before the
decoder's dense layer. With ``prior="class"`` its prior is learned per class,
p(z|y) = N(m_y, diag exp(v_y)) (two embedding tables, initialised to N(0, I)), as
in Sohn et al.'s CVAE with a prior network: sampling z ~ p(z|y) then draws the
styles that digit y actually has, instead of any style from N(0, I).
"""
from __future__ import annotations


import numpy as np

from ... import nn
from ...autograd import ops
from ...autograd.tensor import Tensor
from ...creation import randn, tensor
from ...nn import functional as F
from ...backend import to_numpy
from ...distributions import gaussian_log_density, iwae_bound, standard_normal_log_density


def gaussian_kl(mu, logvar, prior_mu=None, prior_logvar=None):
    """KL(N(μ, σ²) ‖ N(m, s²)) per dimension = ½ (log s² - log σ² + (σ² + (μ - m)²)/s² - 1);
    with no prior given, N(0, 1): -½ (1 + log σ² - μ² - σ²)."""
    if prior_mu is None:
        return -0.5 * (1.0 + logvar - mu * mu - logvar.exp())
    diff = mu - prior_mu
    return 0.5 * (prior_logvar - logvar + (logvar.exp() + diff * diff) / prior_logvar.exp() - 1.0)


def vae_loss(logits, x, mu, logvar, kind="elbo", beta=1.0, prior=(None, None)):
    """The VAE loss and its parts, averaged over the batch.

    kind="elbo" (default), the negative ELBO per image, in nats:
        L = Σ_pixels BCE(x, sigmoid(logits)) + Σ_d KL_d,
        KL_d = KL(N(μ_d, σ²_d) ‖ N(0, 1)) = -½ (1 + log σ²_d - μ²_d - σ²_d)
        (or against a learned prior N(m, s²) given as ``prior`` = (m, log s²); see gaussian_kl)
    kind="mean", means instead of sums (as the Keras example writes it):
        L = mean_pixels BCE + mean_d KL_d
      Relative to the ELBO this divides reconstruction by 784 and the KL by 16,
      i.e. it down-weights reconstruction by 784/16 = 49 against the KL (for the
      default 16 latents): blurrier reconstructions, a smoother latent space, and
      a loss that is no longer a bound on log p(x).
    beta weights the KL term, L = rec + β·KL (β = 1: the ELBO); the parts are returned
    unweighted, so "rec" + "kl" is always the β = 1 loss.
    """
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1)
    kl = gaussian_kl(mu, logvar, *prior)
    if kind == "elbo":
        rec, kld = bce.sum(1).mean(), kl.sum(1).mean()
    elif kind == "mean":
        rec, kld = bce.mean(), kl.mean()
    else:
        raise ValueError(f"loss kind must be 'elbo' or 'mean', not {kind!r}")
    return (rec + kld if beta == 1.0 else rec + beta * kld), {"rec": rec, "kl": kld}


class VAE(nn.Module):
    """The convolutional VAE above; ``num_classes > 0`` makes it the conditional VAE."""

    def __init__(self, latent_dim=16, num_classes=0, prior="standard"):
        super().__init__()
        if prior not in ("standard", "class") or (prior == "class" and not num_classes):
            raise ValueError(f"prior must be 'standard', or 'class' for a conditional VAE; got {prior!r}")
        self.latent_dim, self.num_classes, self.prior_kind = latent_dim, num_classes, prior
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten())
        self.hidden = nn.Sequential(nn.Linear(3136 + num_classes, 128), nn.ReLU())
        self.mu = nn.Linear(128, latent_dim)
        self.logvar = nn.Linear(128, latent_dim)
        self.project = nn.Sequential(nn.Linear(latent_dim + num_classes, 7 * 7 * 64), nn.ReLU(),
                                     nn.Unflatten(1, (64, 7, 7)))
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1))
        if prior == "class":     # p(z|y) = N(m_y, exp(v_y)), starting at N(0, I)
            self.prior_mu = nn.Embedding(num_classes, latent_dim)
            self.prior_logvar = nn.Embedding(num_classes, latent_dim)
            nn.init.zeros_(self.prior_mu.weight)
            nn.init.zeros_(self.prior_logvar.weight)

    def prior(self, labels=None):
        """(m, log s²) of p(z|y) per label, or (None, None) for the standard normal."""
        if self.prior_kind == "standard":
            return None, None
        return self.prior_mu(labels), self.prior_logvar(labels)

    # -- the two halves -------------------------------------------------------------
    def _condition(self, h, labels):
        if not self.num_classes:
            return h
        if labels is None:
            raise ValueError("this VAE is conditional: pass labels")
        return ops.cat([h, F.one_hot(labels, self.num_classes).to(h.dtype)], 1)

    def encode(self, x, labels=None):
        """q(z|x) = N(μ, diag exp(log σ²))"""
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"the VAE expects (N, 1, 28, 28) images, got {tuple(x.shape)}")
        h = self.hidden(self._condition(self.features(x), labels))
        return self.mu(h), self.logvar(h)

    def decode(self, z, labels=None):
        """Bernoulli logits of p(x|z), shape (N, 1, 28, 28)."""
        return self.deconv(self.project(self._condition(z, labels)))

    @staticmethod
    def reparameterize(mu, logvar):
        """z = μ + σ ⊙ ε, ε ~ N(0, I): the sample is a differentiable function of μ, σ."""
        return mu + (0.5 * logvar).exp() * randn(*mu.shape, dtype=mu.dtype)

    def forward(self, x, labels=None):
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar)
        return self.decode(z, labels), mu, logvar

    # -- losses ----------------------------------------------------------------------
    def loss(self, x, labels=None, kind="elbo", beta=1.0):
        """The training loss and its parts (see ``vae_loss``) for a batch x."""
        logits, mu, logvar = self(x, labels)
        return vae_loss(logits, x, mu, logvar, kind, beta, self.prior(labels))

    # -- evaluation ------------------------------------------------------------------
    def negative_elbo(self, x, labels=None):
        """-ELBO per image (nats), one sample of z, as a float64 NumPy array."""
        logits, mu, logvar = self(x, labels)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = gaussian_kl(mu, logvar, *self.prior(labels)).sum(1)
        return to_numpy((rec + kl).data).astype(np.float64)

    def iwae_log_likelihood(self, x, k=1000, labels=None, chunk=250):
        """IWAE_k estimate of log p(x) per image (float64 NumPy), k importance samples.

        log wᵢ = log p(x|zᵢ) + log p(zᵢ) - log q(zᵢ|x);  IWAE_k = log-mean-exp(log wᵢ).
        Samples are drawn ``chunk`` at a time to bound memory.
        """
        n = x.shape[0]
        mu, logvar = self.encode(x, labels)
        prior_mu, prior_logvar = self.prior(labels)
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            # (m, N, D) samples for every image at once
            eps = randn(m, n, self.latent_dim, dtype=mu.dtype)
            z = mu + (0.5 * logvar).exp() * eps
            flat_z = z.reshape(m * n, self.latent_dim)
            flat_labels = None
            if labels is not None:
                flat_labels = tensor(np.tile(to_numpy(labels.data), m), device=x.device)
            logits = self.decode(flat_z, flat_labels).reshape(m, n, 784)
            target = x.reshape(1, n, 784).expand(m, n, 784)
            log_px = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
            log_prior = standard_normal_log_density(z) if prior_mu is None else \
                gaussian_log_density(z, prior_mu, prior_logvar)
            lw = log_px + log_prior - gaussian_log_density(z, mu, logvar)
            log_w.append(to_numpy(lw.data).astype(np.float64))
        return iwae_bound(np.concatenate(log_w, axis=0))

    def sample(self, n=None, labels=None):
        """Mean images sigmoid(decoder(z)), z ~ p(z) (N(0, I), or p(z|y) with prior="class");
        conditional: one image per label."""
        if self.num_classes:
            if labels is None:
                raise ValueError("a conditional VAE samples given labels: model.sample(labels=...)")
            n = len(labels)
        elif n is None:
            raise ValueError("sample(n): how many images?")
        if labels is not None and not isinstance(labels, Tensor):      # (an ndarray has .data too)
            labels = tensor(np.asarray(labels), dtype="int64")
        return F.sigmoid(self.decode(self.sample_latents(n, labels), labels))

    def sample_latents(self, n, labels=None):
        """n draws z ~ p(z): N(0, I), or m_y + s_y ⊙ ε per label with the class prior."""
        z = randn(n, self.latent_dim)
        prior_mu, prior_logvar = self.prior(labels)
        return z if prior_mu is None else prior_mu + (0.5 * prior_logvar).exp() * z
