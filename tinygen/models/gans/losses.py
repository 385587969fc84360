"""The GAN losses, with D(x) = σ(ℓ(x)) and ℓ the discriminator's logit.

    on logits (the numerically stable form):
        L_D = BCE(ℓ(x_real), 1 - s) + BCE(ℓ(G(z)), 0)    (s: one-sided label smoothing)
        L_G = BCE(ℓ(G(z)), 1)          or, saturating, -BCE(ℓ(G(z)), 0) = mean(log(1 - D(G(z))))
    on probabilities (for a D that ends in a sigmoid, as ``conv_gan``'s does):
        L_D = mean(-log D(x_real)) + mean(-log(1 - D(G(z))))
        L_G = mean(-log D(G(z)))
"""
from __future__ import annotations

from ...creation import full_like, ones_like, zeros_like
from ...nn import functional as F


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """BCE on logits; ``label_smoothing`` s makes the real target 1 - s (one-sided smoothing)."""
    return F.binary_cross_entropy_with_logits(real_logits, full_like(real_logits, 1.0 - label_smoothing)) + \
        F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits))


def generator_loss(fake_logits, non_saturating=True):
    """Non-saturating: mean(-log D(G(z))). Saturating (the minimax original): mean(log(1 - D(G(z))))."""
    if non_saturating:
        return F.binary_cross_entropy_with_logits(fake_logits, ones_like(fake_logits))
    return -F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits))


def probability_discriminator_loss(d_real, d_fake, label_smoothing=0.0):
    """L_D = mean(-log D(x_real)) + mean(-log(1 - D(G(z)))) on probabilities (logs clamped at -100).
    ``label_smoothing`` s makes the real target 1 - s (one-sided); 0: the plain loss."""
    return F.binary_cross_entropy(d_real, full_like(d_real, 1.0 - label_smoothing)) + \
        F.binary_cross_entropy(d_fake, zeros_like(d_fake))


def probability_generator_loss(d_fake):
    """L_G = mean(-log D(G(z)))."""
    return F.binary_cross_entropy(d_fake, ones_like(d_fake))
