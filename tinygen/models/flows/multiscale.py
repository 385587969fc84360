"""The multi-scale architecture shared by RealNVP and Glow (Dinh et al., 2017, sec. 3.6).

Pixels k ∈ {0, …, 255} are dequantized, x = (k + u)/256 with u ~ U(0, 1)^D, mapped to the
real line by the logit transform, then through levels of invertible layers. After every
level but the last, half of the channels are factored out as latents z_l ~ N(0, I), so
later levels work on fewer dimensions. The exact log-density of x ∈ (0, 1)^D is

    log p(x) = Σ_l log N(z_l; 0, I) + Σ_layers logdet,

or, with a learned split prior (Glow), each factored-out z_l ~ N(μ_l, σ_l²) with (μ_l, log σ_l)
from a zero-initialised conv of the half h_l that stays: ``forward`` returns ε_l = (z_l -
μ_l)/σ_l, which is N(0, I) under the prior, and the log-det gains -Σ log σ_l, so the formula
above holds for the ε_l unchanged (and sampling draws ε and inverts the same affine map).

and because the dequantized density of k in [0, 256)^D is p(x)/256^D, the discrete
negative log-likelihood is bounded by (Theis et al., 2016)

    -log P(k) ≤ E_u[-log p(x)] + D log 256,    reported as bits/dim = that / (D ln 2).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...autograd.ops import cat
from ...creation import rand, randn, zeros
from ...distributions import standard_normal_log_density
from .layers import LogitTransform


class MultiScaleFlow(nn.Module):
    """``levels``: lists of flow layers; half the channels leave after each level but the last."""

    def __init__(self, levels, image_shape=(1, 28, 28), alpha=0.05, split_priors=None):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.preprocess = LogitTransform(alpha)
        self.levels = nn.ModuleList([nn.ModuleList(level) for level in levels])
        if split_priors is not None:          # one per split: h_l → (μ_l, log σ_l) of z_l
            self.split_priors = nn.ModuleList(split_priors)

    def _split_prior(self, index, h):
        """(μ, log σ) of the z that left beside h at split ``index``, or None without a prior."""
        if not hasattr(self, "split_priors"):
            return None
        return self.split_priors[index](h).chunk(2, 1)

    def _check(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"{type(self).__name__} expects images (N, {', '.join(map(str, self.image_shape))}) "
                             f"in (0, 1), got {tuple(x.shape)}")

    def forward(self, x):
        """x ∈ (0, 1) → (the latents [z_1, …, z_L], Σ logdet per sample)."""
        self._check(x)
        h, logdet = self.preprocess(x)
        latents = []
        for index, level in enumerate(self.levels):
            for layer in level:
                h, layer_logdet = layer(h)
                logdet = logdet + layer_logdet
            if index < len(self.levels) - 1:
                z, h = h.chunk(2, 1)
                prior = self._split_prior(index, h)
                if prior is not None:              # ε = (z - μ)/σ, log-det -Σ log σ
                    mean, log_scale = prior
                    z = (z - mean) * (-log_scale).exp()
                    logdet = logdet - log_scale.flatten(1).sum(1)
                latents.append(z)
        latents.append(h)
        return latents, logdet

    def log_prob(self, x):
        """log p(x) per image, x ∈ (0, 1)^D (density w.r.t. that unit cube)."""
        latents, logdet = self(x)
        return sum(standard_normal_log_density(z.flatten(1)) for z in latents) + logdet

    def bits_per_dim(self, x):
        """Per image: (-log p(x) + D log 256) / (D ln 2), the dequantized bound on -log₂ P(k) / D."""
        d = math.prod(self.image_shape)
        return (-self.log_prob(x) + d * math.log(256.0)) / (d * math.log(2.0))

    def loss(self, x):
        """The training loss: mean bits/dim of a batch of dequantized images."""
        return self.bits_per_dim(x).mean()

    @staticmethod
    def dequantize(pixels01):
        """Images scaled k/255 ∈ [0, 1] → x = (k + u)/256, u ~ U(0, 1): uniform dequantization.
        (k/255·255 is k up to float rounding, far below the 1/256 bin width.)"""
        u = rand(*pixels01.shape, dtype=pixels01.dtype, device=pixels01.device)
        return (pixels01 * 255.0 + u) / 256.0

    def inverse(self, latents, bound=None):
        """The latents [z_1, …, z_L] → x ∈ (0, 1). With ``bound``, every intermediate value
        is clamped to ±bound after each layer (see ``sample``); returns (x, a per-sample
        bool mask of the images that touched the bound) then."""
        h = latents[-1]
        touched = None
        for index in range(len(self.levels) - 1, -1, -1):
            if index < len(self.levels) - 1:
                z = latents[index]
                prior = self._split_prior(index, h)
                if prior is not None:              # z = μ + σ ε
                    mean, log_scale = prior
                    if bound is not None:          # σ ≤ bound: exp must not overflow to inf
                        log_scale = log_scale.clamp(max=math.log(bound))
                    z = z * log_scale.exp() + mean
                    z, touched = self._bounded(z, bound, touched)
                h = cat((z, h), 1)
            for layer in reversed(self.levels[index]):
                h, touched = self._bounded(layer.inverse(h), bound, touched)
        x = self.preprocess.inverse(h)
        return x if bound is None else (x, touched)

    @staticmethod
    def _bounded(h, bound, touched):
        """h clamped to ±bound, and the per-sample mask of images that touched it so far."""
        if bound is None:
            return h, touched
        hit = (h.abs() >= bound).flatten(1).any(1)
        return h.clamp(-bound, bound), (hit if touched is None else (touched | hit))

    def latent_shapes(self):
        """The per-image shapes of z_1 … z_L, found by one forward pass of a blank image."""
        was_training = self.training
        self.eval()
        with no_grad():
            weight = self._some_parameter()
            probe = zeros(1, *self.image_shape, dtype=weight.dtype, device=weight.device) + 0.5
            shapes = [tuple(z.shape[1:]) for z in self(probe)[0]]
        self.train(was_training)
        return shapes

    def _some_parameter(self):
        """Any parameter: it carries the model's dtype and backend."""
        return next(iter(self.parameters()))

    def sample(self, n, temperature=1.0, bound=1e4):
        """x = f⁻¹(z), z_l ~ N(0, T² I) (T < 1: the 'reduced temperature' samples of Glow).

        A draw far in the tails can make a coupling's inverse divide by a scale near 0 and
        push a value out of float range (then inf - inf = NaN downstream). Each intermediate
        value is therefore clamped to ±``bound`` — far beyond anything data maps to — and
        ``self.last_clamped`` counts the samples that touched it (report it with the samples)."""
        if not temperature >= 0:
            raise ValueError(f"temperature must be at least 0 (0: every draw is f⁻¹(0)), got {temperature}")
        was_training = self.training
        self.eval()
        with no_grad():
            weight = self._some_parameter()
            latents = [randn(n, *shape, dtype=weight.dtype, device=weight.device) * temperature
                       for shape in self.latent_shapes()]
            # a tail draw's log(s = 0) and overflowing products are expected here: the clamp
            # catches and counts them, so NumPy need not warn about each one
            with np.errstate(divide="ignore", over="ignore"):
                x, touched = self.inverse(latents, bound)
            self.last_clamped = int(touched.numpy().sum())
        self.train(was_training)
        return x.clamp(0.0, 1.0)
