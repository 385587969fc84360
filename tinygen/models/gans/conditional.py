"""Class-conditional GANs: CGAN (Mirza & Osindero, 2014) and ACGAN (Odena et al., 2017).

Both generators are the DCGAN generator fed [z, onehot(y)], so G(z, y) draws the digit y.
They differ in how the discriminator uses the label:

    CGAN:  D(x, y) sees the label as 10 constant one-hot planes concatenated to the
           image (the paper's input conditioning, in its convolutional form):
               ℓ(x, y) = wᵀφ([x, planes(y)]) + b.
           Losses: the usual GAN losses on ℓ(x, y). (A projection term e_yᵀφ at the
           output, Miyato & Koyama 2018, was tried first: without spectral norm it let
           D win outright within one epoch and G collapsed to one saturated image per
           class; with the planes alone the game stays balanced. RESULTS.md.)

    ACGAN: D(x) does not see the label; it has two heads on one trunk φ(x):
           a real/fake logit ℓ(x) and class logits c(x). With y_f the labels fed to G,
               L_D = BCE(ℓ(x), 1 - s) + BCE(ℓ(G(z, y_f)), 0)
                     + CE(c(x), y) + CE(c(G(z, y_f)), y_f)     (class loss on real and fake)
               L_G = BCE(ℓ(G(z, y_f)), 1) + CE(c(G(z, y_f)), y_f)
"""
from __future__ import annotations

from ... import nn
from ...autograd import ops
from ...autograd.tensor import Tensor
from ...creation import ones, randint, randn
from ...nn import functional as F
from .dcgan import DCGANGenerator, dcgan_discriminator_convs
from .losses import discriminator_loss, generator_loss


def _labels_like(labels, n):
    if labels is None or len(labels) != n:
        raise ValueError(f"a conditional model needs one label per sample: got "
                         f"{None if labels is None else len(labels)} labels for {n} samples")
    return labels


class ConditionalGenerator(nn.Module):
    """G(z, y): the DCGAN generator (tanh output in [-1, 1]) with [z, onehot(y)] as its input."""

    def __init__(self, latent_dim=100, num_classes=10, width=64):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.body = DCGANGenerator(latent_dim + num_classes, width)

    def forward(self, z, labels):
        _labels_like(labels, z.shape[0])
        return self.body(ops.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], 1))

    def sample(self, n=None, labels=None):
        """Images of the requested digits; ``labels=None`` draws n labels uniformly."""
        if labels is None:
            if n is None:
                raise ValueError("pass labels=... (or n for uniformly drawn labels)")
            labels = randint(0, self.num_classes, (n,))
        elif not isinstance(labels, Tensor):      # (an ndarray has .data too)
            from ...creation import tensor
            labels = tensor(labels, dtype="int64")
        return self(randn(len(labels), self.latent_dim), labels)


class _Trunk(nn.Module):
    """φ(x): the DCGAN discriminator's convolutions, (N, C, 28, 28) → (N, 128·7·7) features."""

    def __init__(self, in_channels, width):
        super().__init__()
        self.net = nn.Sequential(*dcgan_discriminator_convs(in_channels, width))

    def forward(self, x):
        return self.net(x)


class CGANDiscriminator(nn.Module):
    """ℓ(x, y) = wᵀφ([x, planes(y)]) + b: the label as one-hot planes beside the image.

    The first conv sees 1 + C channels, but the C label planes are constant, so what
    they add is a per-class map that does not depend on the image. With W = [W_x, W_y]
    split by input channel (W_y[:, k] the kernel that reads plane k),

        conv([x, planes(y)]) = conv(x; W_x) + b + M[y],   M[k] = conv(1; W_y[:, k])

    where 1 is an all-ones plane the size of the image (M[k] differs from a constant only
    where the kernel overhangs the zero padding). ``forward`` computes it that way: M
    for all C classes costs one conv of one plane, instead of C extra input channels
    for every image. The weight keeps the layout (width, 1 + C, 4, 4) of the conv on
    the concatenated input, and the outputs are the same (tests/test_gan.py).
    """

    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.num_classes = num_classes
        self.trunk = _Trunk(1 + num_classes, width)
        self.out = nn.Linear(2 * width * 7 * 7, 1)

    def forward(self, x, labels):
        n, _, h, w = x.shape
        _labels_like(labels, n)
        first, *rest = self.trunk.net
        weight, width, c = first.weight, first.out_channels, self.num_classes
        image_part = F.conv2d(x, weight[:, :1], first.bias, first.stride, first.padding)
        # M: the C classes' kernels as C·width output channels over one all-ones plane
        class_kernels = weight[:, 1:].transpose(0, 1).reshape(c * width, 1, *weight.shape[2:])
        ones_plane = ones(1, 1, h, w, dtype=x.dtype, device=x.device)
        class_maps = F.conv2d(ones_plane, class_kernels, None, first.stride, first.padding)
        class_maps = class_maps.reshape(c, -1)                              # row k: M[k], flattened
        label_part = F.embedding(labels, class_maps).reshape(image_part.shape)
        features = image_part + label_part
        for layer in rest:
            features = layer(features)
        return self.out(features)


class ACGANDiscriminator(nn.Module):
    """φ(x) → (ℓ(x), c(x)): a real/fake logit (N, 1) and class logits (N, num_classes)."""

    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.num_classes = num_classes
        self.trunk = _Trunk(1, width)
        self.adversarial = nn.Linear(2 * width * 7 * 7, 1)
        self.classifier = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, x):
        features = self.trunk(x)
        return self.adversarial(features), self.classifier(features)


def acgan_discriminator_loss(real_out, real_labels, fake_out, fake_labels, label_smoothing=0.0):
    """L_D = BCE(ℓ(x), 1 - s) + BCE(ℓ(x_f), 0) + CE(c(x), y) + CE(c(x_f), y_f); ``*_out`` = (ℓ, c)."""
    (real_logit, real_class), (fake_logit, fake_class) = real_out, fake_out
    return discriminator_loss(real_logit, fake_logit, label_smoothing) + \
        F.cross_entropy(real_class, real_labels) + F.cross_entropy(fake_class, fake_labels)


def acgan_generator_loss(fake_out, fake_labels, non_saturating=True):
    """L_G = BCE(ℓ(x_f), 1) + CE(c(x_f), y_f): look real, and look like the requested digit."""
    fake_logit, fake_class = fake_out
    return generator_loss(fake_logit, non_saturating) + F.cross_entropy(fake_class, fake_labels)
