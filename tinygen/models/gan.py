"""GAN building blocks: seed 004's GAN layer for layer, the MLP GAN of seed 000, a DCGAN,
a WGAN-GP critic, their losses and the gradient penalty.

Losses, with D(x) = σ(ℓ(x)) and ℓ the discriminator's logit:

    seed 004 (on probabilities, exactly as the seed states them):
        L_D = mean(-log D(x_real)) + mean(-log(1 - D(G(z))))
        L_G = mean(-log D(G(z)))                   (the non-saturating generator loss)
    on logits (the numerically stable form of the same thing):
        L_D = BCE(ℓ(x_real), 1 - s) + BCE(ℓ(G(z)), 0)    (s: one-sided label smoothing)
        L_G = BCE(ℓ(G(z)), 1)          or, saturating, -BCE(ℓ(G(z)), 0) = mean(log(1 - D(G(z))))
    WGAN-GP (Gulrajani et al., 2017), critic f without batch norm:
        L_f = mean f(G(z)) - mean f(x_real) + λ · mean_i (‖∇_x̂ f(x̂_i)‖₂ - 1)²,
        x̂_i = ε_i x_i + (1 - ε_i) G(z)_i,  ε_i ~ U[0, 1],  ‖·‖₂ over all non-batch dims
        L_G = -mean f(G(z))
"""
from __future__ import annotations

from .. import nn
from ..autograd import grad as autograd_grad
from ..autograd.ops import cat
from ..creation import full_like, ones_like, rand, zeros_like
from ..nn import functional as F


# -- seed 004 ------------------------------------------------------------------------

def keras_init_(module):
    """Initialize like the seed's Keras model: Glorot-uniform kernels, U(±√(6/(fan_in+fan_out))),
    and zero biases (PyTorch's default draws both from U(±1/√fan_in)).

    It matters here. With PyTorch's init the seed GAN's D won within ~100 steps and G's
    sigmoid saturated to black images; with Keras' init the same code, losses and
    optimizer stay balanced (D(x) ≈ 0.54, D(G(z)) ≈ 0.47 after 300 steps; RESULTS.md).
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class SeedDiscriminator(nn.Module):
    """conv 64 3×3 s2 LeakyReLU(0.2) Dropout(0.4), twice → flatten (3136) → dense 1 → sigmoid.
    Initialized as Keras would (``keras_init_``)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.4),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Dropout(0.4),
            nn.Flatten(), nn.Linear(3136, 1))
        keras_init_(self)

    def logits(self, x):
        return self.net(x)

    def forward(self, x):
        """D(x) ∈ (0, 1), as the seed's sigmoid output."""
        return F.sigmoid(self.logits(x))


class SeedGenerator(nn.Module):
    """dense 7·7·128 LeakyReLU(0.2) → convT 128 4×4 s2 LeakyReLU, twice → conv 1 7×7 → sigmoid.

    Keras' "same" padding is padding=1 for the 4×4 stride-2 transposed convs (7 → 14 → 28)
    and padding=3 for the 7×7 conv. Initialized as Keras would (``keras_init_``).
    """

    def __init__(self, latent_dim=100):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 128), nn.LeakyReLU(0.2), nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(128, 128, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(128, 1, 7, padding=3), nn.Sigmoid())
        keras_init_(self)

    def forward(self, z):
        return self.net(z)


def seed_discriminator_loss(d_real, d_fake, label_smoothing=0.0):
    """L_D = mean(-log D(x_real)) + mean(-log(1 - D(G(z)))) on probabilities (logs clamped at -100).
    ``label_smoothing`` s makes the real target 1 - s (one-sided); 0 is the seed's loss."""
    return F.binary_cross_entropy(d_real, full_like(d_real, 1.0 - label_smoothing)) + \
        F.binary_cross_entropy(d_fake, zeros_like(d_fake))


def seed_generator_loss(d_fake):
    """L_G = mean(-log D(G(z)))."""
    return F.binary_cross_entropy(d_fake, ones_like(d_fake))


# -- losses on logits ------------------------------------------------------------------

def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """BCE on logits; ``label_smoothing`` s makes the real target 1 - s (one-sided smoothing)."""
    return F.binary_cross_entropy_with_logits(real_logits, full_like(real_logits, 1.0 - label_smoothing)) + \
        F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits))


def generator_loss(fake_logits, non_saturating=True):
    """Non-saturating: mean(-log D(G(z))). Saturating (the minimax original): mean(log(1 - D(G(z))))."""
    if non_saturating:
        return F.binary_cross_entropy_with_logits(fake_logits, ones_like(fake_logits))
    return -F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits))


# -- WGAN-GP ----------------------------------------------------------------------------

def gradient_penalty(critic, real, fake, weight=10.0):
    """λ · mean_i (‖∇_x̂ f(x̂_i)‖₂ - 1)², with the norm per sample over all non-batch dims.

    The gradient is taken with create_graph=True, so the penalty can itself be
    differentiated with respect to the critic's parameters (double backward).
    """
    n = real.shape[0]
    eps = rand(n, *([1] * (real.ndim - 1)), dtype=real.dtype)
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    (g,) = autograd_grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = ((g * g).flatten(1).sum(1) + 1e-12).sqrt()
    return weight * ((norms - 1.0) ** 2).mean()


class WGANCritic(nn.Module):
    """A DCGAN-style critic with no batch norm (it would make the penalty's per-sample
    gradients depend on the rest of the batch): conv 64 → conv 128 → linear 1, LeakyReLU."""

    def __init__(self, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x):
        return self.net(x)


# -- MLP GAN (seed 000) and DCGAN -------------------------------------------------------

class MLPGenerator(nn.Module):
    """z → 256 → 512 → 1024 → 784 (tanh), LeakyReLU(0.2) between: seed 000's "simple GAN"."""

    def __init__(self, latent_dim=100):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh(),
            nn.Unflatten(1, (1, 28, 28)))

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """784 → 512 → 256 → 1 logit, LeakyReLU(0.2) between."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2),
                                 nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))

    def forward(self, x):
        return self.net(x)


class DCGANGenerator(nn.Module):
    """Radford et al.: transposed convs with batch norm and ReLU, tanh output (1×28×28)."""

    def __init__(self, latent_dim=100, width=64):
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z)


def dcgan_discriminator_convs(in_channels=1, width=64, spectral_norm=False):
    """The DCGAN discriminator's feature layers, (N, C, 28, 28) → (N, 2·width·7·7); the
    conditional discriminators (conditional_gan.py) share them. With ``spectral_norm``
    each conv's weight is divided by its top singular value and batch norm is left out,
    as in Miyato et al.'s SN-GAN discriminators."""
    if spectral_norm:
        sn = nn.utils.spectral_norm
        return [sn(nn.Conv2d(in_channels, width, 4, 2, 1)), nn.LeakyReLU(0.2),
                sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
                nn.Flatten()]
    return [nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten()]


class MinibatchStdDev(nn.Module):
    """Karras et al. (2018), §3: append one channel that tells D how varied its batch is.

    The batch of N is split into N/g groups of g samples; sample i is in group i mod (N/g):

        σ[j, c, h, w] = sqrt(mean_k (x[k, j] - mean_k x[k, j])² + ε)   over the g members k
        s[j]          = mean_{c,h,w} σ[j, c, h, w]
        output        = concat(x, s[i mod (N/g)] as a constant (1, H, W) map)   (C + 1 channels)

    A generator that draws too few kinds of image gives its batches a small s, which D can
    then reject — the cheap form of Salimans et al.'s minibatch discrimination.
    """

    def __init__(self, group_size=4, eps=1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x):
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            raise ValueError(f"MinibatchStdDev(group_size={self.group_size}) needs a batch size "
                             f"divisible by {g}, got {n}")
        groups = x.reshape(g, n // g, c, h, w)
        centred = groups - groups.mean(0, keepdim=True)
        sigma = ((centred * centred).mean(0) + self.eps).sqrt()            # (n/g, c, h, w)
        s = sigma.mean((1, 2, 3)).reshape(1, n // g, 1, 1, 1)
        s_map = s.expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
        return cat([x, s_map], 1)

    def extra_repr(self):
        return f"group_size={self.group_size}"


class DCGANDiscriminator(nn.Module):
    """Strided convs, batch norm after the second, LeakyReLU(0.2), one logit; with
    ``minibatch_std`` a MinibatchStdDev channel joins the last feature map (7×7); with
    ``spectral_norm`` every layer is spectrally normalised and there is no batch norm."""

    def __init__(self, width=64, minibatch_std=0, spectral_norm=False):
        super().__init__()
        convs = dcgan_discriminator_convs(1, width, spectral_norm)[:-1]      # without Flatten
        if minibatch_std:
            convs.append(MinibatchStdDev(minibatch_std))
        head = nn.Linear((2 * width + bool(minibatch_std)) * 7 * 7, 1)
        self.net = nn.Sequential(*convs, nn.Flatten(), nn.utils.spectral_norm(head) if spectral_norm else head)

    def forward(self, x):
        return self.net(x)
