"""The M2 model of Kingma et al. (2014), "Semi-supervised learning with deep generative
models": a VAE whose latent has a discrete part y (the class) beside a continuous part
z, trained on a few labelled and many unlabelled examples at once.

    generative model   p(y) = Cat(1/K),   p(z) = N(0, I),   p(x | y, z)
    inference model    q(y | x) = Cat(softmax(classifier(x))),   q(z | x, y) = N(μ, diag σ²)

A labelled pair (x, y) gets the negative ELBO with y observed,

    L(x, y) = -E_q(z|x,y)[log p(x | y, z)] + KL(q(z|x,y) ‖ p(z)) - log p(y),

an unlabelled x the negative ELBO with y summed out under the classifier,

    U(x) = Σ_y q(y|x) L(x, y) - H(q(y|x)),

and the objective adds the classifier's cross-entropy on the labelled pairs, since
through U alone q(y|x) would learn only what helps the generative model:

    J = Σ_labelled [L(x, y) - α log q(y|x)] + Σ_unlabelled U(x),    α = 0.1 N in the paper.

``loss`` estimates J / N from one labelled and one unlabelled batch (N = N_l + N_u):
each batch mean weighted by its share of N, so its scale is nats per example.

M1+M2 (the paper's best): x is an M1 VAE's latent code rather than pixels, and
p(x | y, z) a diagonal Gaussian (``likelihood="gaussian"``); on pixels it is Bernoulli
(``"bernoulli"``, x in [0, 1]).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd import ops
from ...creation import randn, tensor
from ...distributions import gaussian_log_density
from ...nn import functional as F
from .vae import gaussian_kl

LIKELIHOODS = ("gaussian", "bernoulli")


class SemiSupervisedVAE(nn.Module):
    """M2 over flat inputs x (N, input_dim): a classifier and a conditional VAE, one hidden
    layer of ``hidden`` ReLUs in each of the three networks."""

    def __init__(self, input_dim, latent_dim=50, hidden=500, num_classes=10, likelihood="gaussian"):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}; got {likelihood!r}")
        self.input_dim, self.latent_dim, self.num_classes = input_dim, latent_dim, num_classes
        self.likelihood = likelihood
        self.classifier = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
        self.encoder = nn.Sequential(nn.Linear(input_dim + num_classes, hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)
        outputs = 2 * input_dim if likelihood == "gaussian" else input_dim
        self.decoder = nn.Sequential(nn.Linear(latent_dim + num_classes, hidden), nn.ReLU(),
                                     nn.Linear(hidden, outputs))

    def _check(self, x):
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"SemiSupervisedVAE expects inputs (N, {self.input_dim}), got {tuple(x.shape)}")

    def _with_label(self, h, labels):
        return ops.cat([h, F.one_hot(labels, self.num_classes).to(h.dtype)], 1)

    def classify(self, x):
        """Logits of q(y | x), (N, K)."""
        self._check(x)
        return self.classifier(x)

    def log_likelihood(self, x, y, z):
        """log p(x | y, z) per example, (N,)."""
        out = self.decoder(self._with_label(z, y))
        if self.likelihood == "gaussian":
            mean, logvar = out[:, :self.input_dim], out[:, self.input_dim:]
            return gaussian_log_density(x, mean, logvar)
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)

    def labelled_loss(self, x, y, noise=None):
        """L(x, y) per example, (N,): one reparameterised z = μ + σ ε ~ q(z | x, y), with ε
        ~ N(0, I) drawn here unless ``noise`` (N, latent_dim) gives it."""
        self._check(x)
        h = self.encoder(self._with_label(x, y))
        mu, logvar = self.mu(h), self.logvar(h)
        noise = randn(*mu.shape, dtype=mu.dtype) if noise is None else noise
        z = mu + (0.5 * logvar).exp() * noise
        kl = gaussian_kl(mu, logvar).sum(1)
        return -self.log_likelihood(x, y, z) + kl + math.log(self.num_classes)

    def unlabelled_loss(self, x, noise=None):
        """U(x) = Σ_y q(y|x) L(x, y) - H(q(y|x)) per example, (N,); every class in one batch
        (``noise``, if given, (K, N, latent_dim): class y's ε)."""
        self._check(x)
        n, k = x.shape[0], self.num_classes
        every_class = tensor(np.repeat(np.arange(k), n))               # y = 0 for all x, then 1, ...
        noise = None if noise is None else noise.reshape(k * n, self.latent_dim)
        loss_per_class = self.labelled_loss(x.repeat(k, 1), every_class, noise).reshape(k, n).transpose(0, 1)
        log_q = F.log_softmax(self.classify(x), 1)
        q = log_q.exp()
        return (q * loss_per_class).sum(1) + (q * log_q).sum(1)

    def loss(self, x_labelled, y_labelled, x_unlabelled, n_labelled, n_unlabelled, alpha=None):
        """J / N and its parts from one batch of each kind; ``alpha`` defaults to the paper's 0.1 N."""
        n = n_labelled + n_unlabelled
        alpha = 0.1 * n if alpha is None else alpha
        labelled = self.labelled_loss(x_labelled, y_labelled).mean()
        unlabelled = self.unlabelled_loss(x_unlabelled).mean()
        cross_entropy = F.cross_entropy(self.classify(x_labelled), y_labelled)
        total = (n_labelled / n) * (labelled + alpha * cross_entropy) + (n_unlabelled / n) * unlabelled
        return total, {"labelled": labelled, "unlabelled": unlabelled, "cross_entropy": cross_entropy}
