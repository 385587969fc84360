"""One small object per GAN family: how its D and its G are scored on a batch.

Each objective has two methods, written with the losses of ``losses``, ``wgan_gp``,
``conditional`` and ``infogan``:

    discriminator(D, real, real_labels, fake, fake_labels) → (L_D, (mean score on real, on fake))
    generator(D, fake, fake_labels)                        → L_G

The labels are the digits (CGAN, ACGAN), the clusters (self-conditioned GAN) or the
drawn codes (InfoGAN), and None for the unconditional GANs. The scores are D's mean
probability of "real" (the critic's mean value for WGAN-GP), for the D(x)/D(G(z))
curves. ``fake`` arrives detached in ``discriminator``: only D gets gradients there.
"""
from __future__ import annotations

from ...nn import functional as F
from .conditional import acgan_discriminator_loss, acgan_generator_loss
from .infogan import infogan_discriminator_loss, infogan_generator_loss
from .losses import (discriminator_loss, generator_loss, probability_discriminator_loss,
                     probability_generator_loss)
from .wgan_gp import gradient_penalty


class LogitGAN:
    """D(x) → one logit (D(x, y) with labels); BCE on logits, the non-saturating G loss
    unless ``saturating``; one-sided ``label_smoothing``. MLP GAN, DCGAN, CGAN,
    self-conditioned GAN."""

    def __init__(self, label_smoothing=0.0, saturating=False):
        self.label_smoothing, self.saturating = label_smoothing, saturating

    @staticmethod
    def _score(D, x, labels):
        return D(x, labels) if labels is not None else D(x)

    def discriminator(self, D, real, real_labels, fake, fake_labels):
        real_logit, fake_logit = self._score(D, real, real_labels), self._score(D, fake, fake_labels)
        loss = discriminator_loss(real_logit, fake_logit, self.label_smoothing)
        return loss, (F.sigmoid(real_logit).mean(), F.sigmoid(fake_logit).mean())

    def generator(self, D, fake, fake_labels):
        return generator_loss(self._score(D, fake, fake_labels), not self.saturating)


class ProbabilityGAN:
    """D(x) ∈ (0, 1), a sigmoid output; BCE on the probabilities (the small conv GAN)."""

    def __init__(self, label_smoothing=0.0):
        self.label_smoothing = label_smoothing

    def discriminator(self, D, real, real_labels, fake, fake_labels):
        real_prob, fake_prob = D(real), D(fake)
        loss = probability_discriminator_loss(real_prob, fake_prob, self.label_smoothing)
        return loss, (real_prob.mean(), fake_prob.mean())

    def generator(self, D, fake, fake_labels):
        return probability_generator_loss(D(fake))


class WGANGP:
    """L_f = mean f(G(z)) - mean f(x) + λ · gradient penalty;  L_G = -mean f(G(z))."""

    def __init__(self, gp_weight=10.0):
        self.gp_weight = gp_weight

    def discriminator(self, D, real, real_labels, fake, fake_labels):
        real_score, fake_score = D(real), D(fake)
        loss = fake_score.mean() - real_score.mean() + gradient_penalty(D, real, fake, self.gp_weight)
        return loss, (real_score.mean(), fake_score.mean())

    def generator(self, D, fake, fake_labels):
        return -D(fake).mean()


class ACGAN:
    """D(x) → (real/fake logit, class logits); the class loss on real and fake images."""

    def __init__(self, label_smoothing=0.0, saturating=False):
        self.label_smoothing, self.saturating = label_smoothing, saturating

    def discriminator(self, D, real, real_labels, fake, fake_labels):
        real_out, fake_out = D(real), D(fake)
        loss = acgan_discriminator_loss(real_out, real_labels, fake_out, fake_labels, self.label_smoothing)
        return loss, (F.sigmoid(real_out[0]).mean(), F.sigmoid(fake_out[0]).mean())

    def generator(self, D, fake, fake_labels):
        return acgan_generator_loss(D(fake), fake_labels, not self.saturating)


class InfoGAN:
    """ACGAN's D, but the class head Q recovers the drawn code c from fakes only; λ weighs it."""

    def __init__(self, info_weight=1.0, label_smoothing=0.0, saturating=False):
        self.info_weight, self.label_smoothing, self.saturating = info_weight, label_smoothing, saturating

    def discriminator(self, D, real, real_labels, fake, fake_labels):
        real_out, fake_out = D(real), D(fake)
        loss = infogan_discriminator_loss(real_out[0], fake_out, fake_labels, self.info_weight,
                                          self.label_smoothing)
        return loss, (F.sigmoid(real_out[0]).mean(), F.sigmoid(fake_out[0]).mean())

    def generator(self, D, fake, fake_labels):
        return infogan_generator_loss(D(fake), fake_labels, self.info_weight, not self.saturating)
