"""A small convolutional GAN without batch norm, Keras-initialised, its losses on probabilities.

G: dense 7·7·128 → two 4×4 stride-2 transposed convs (7 → 14 → 28) → 7×7 conv → sigmoid;
D: two 3×3 stride-2 convs with dropout → one dense unit → sigmoid. This is the GAN of
Keras' MNIST GAN tutorials, layer for layer (README: the models table). Its losses,
on D's probabilities rather than its logits (``losses.probability_*``):

    L_D = mean(-log D(x_real)) + mean(-log(1 - D(G(z))))
    L_G = mean(-log D(G(z)))                   (the non-saturating generator loss)
"""
from __future__ import annotations

from ... import nn
from ...nn import functional as F


def keras_init_(module):
    """Initialize as Keras does: Glorot-uniform kernels, U(±√(6/(fan_in+fan_out))),
    and zero biases (PyTorch's default draws both from U(±1/√fan_in)).

    It matters here. With PyTorch's init this GAN's D won within ~100 steps and G's
    sigmoid saturated to black images; with Keras' init the same code, losses and
    optimizer stay balanced (D(x) ≈ 0.54, D(G(z)) ≈ 0.47 after 300 steps; RESULTS.md).
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class ConvDiscriminator(nn.Module):
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
        """D(x) ∈ (0, 1): this D ends in a sigmoid, and its loss works on probabilities."""
        return F.sigmoid(self.logits(x))


class ConvGenerator(nn.Module):
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
