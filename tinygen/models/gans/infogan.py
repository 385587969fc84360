"""InfoGAN (Chen et al., 2016) with one categorical code: an *unconditional* DCGAN whose
latent is [z, onehot(c)], c ~ Cat(K) uniform, and whose D has a second head Q(c | x).

No labels are used. InfoGAN adds to the GAN game a lower bound on the mutual information
between the code and the image, I(c; G(z, c)) ≥ E[log Q(c | G(z, c))] + H(c) = L_I,
and maximises it with both G and Q (eq. 5 of the paper; H(c) is a constant):

    min_{G,Q} max_D  V(D, G) - λ L_I(G, Q)

With ℓ D's real/fake logit and q Q's logits, on a real batch x and codes c with x_f = G(z, c):

    L_D = BCE(ℓ(x), 1 - s) + BCE(ℓ(x_f), 0) + λ · CE(q(x_f), c)
    L_G = BCE(ℓ(x_f), 1)                     + λ · CE(q(x_f), c)

(λ = 1 for a categorical code, as in the paper.) The networks are the ACGAN's: G is
``ConditionalGenerator`` fed the code instead of a label, and ``ACGANDiscriminator``'s class
head plays Q — but its real-image term, CE(c(x), y), is absent: Q never sees a label.

Why a discrete code helps an unconditional GAN on MNIST: with a continuous latent only,
the z-space regions that G maps to different digits must meet somewhere, and the images
drawn near those borders are between two digits. A categorical code lets G switch digit
without drawing the in-between images, and when the code comes to mean "digit" the digit
mix follows the code's uniform prior (RESULTS.md compares it with the plain DCGAN).
"""
from __future__ import annotations

import numpy as np

from ...nn import functional as F
from .losses import discriminator_loss, generator_loss


def infogan_discriminator_loss(real_logit, fake_out, codes, info_weight=1.0, label_smoothing=0.0):
    """L_D = BCE(ℓ(x), 1 - s) + BCE(ℓ(x_f), 0) + λ · CE(q(x_f), c); ``fake_out`` = (ℓ, q)."""
    fake_logit, fake_code_logits = fake_out
    return discriminator_loss(real_logit, fake_logit, label_smoothing) + \
        info_weight * F.cross_entropy(fake_code_logits, codes)


def infogan_generator_loss(fake_out, codes, info_weight=1.0, non_saturating=True):
    """L_G = BCE(ℓ(x_f), 1) + λ · CE(q(x_f), c): look real, and keep the code readable."""
    fake_logit, fake_code_logits = fake_out
    return generator_loss(fake_logit, non_saturating) + info_weight * F.cross_entropy(fake_code_logits, codes)


def code_accuracy(codes, predicted_digits, num_classes=10):
    """How well the code means "digit" (1 - the InfoGAN paper's error rate): the share of
    samples whose predicted digit is their code's digit under the best one-to-one matching
    of codes to digits (the Hungarian method, as clustering accuracy is scored; a model
    that draws one digit for every code scores 1/K, not 1). Returns (digit of each code,
    accuracy)."""
    from scipy.optimize import linear_sum_assignment
    codes, predicted_digits = np.asarray(codes), np.asarray(predicted_digits)
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (codes, predicted_digits), 1)
    code_index, digit = linear_sum_assignment(-counts)
    return digit.tolist(), float(counts[code_index, digit].sum() / max(len(codes), 1))
