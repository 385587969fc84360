"""A convolutional autoencoder whose bottleneck serves as features for classification.

    code  f = encoder(x̃)            (N, code_dim), x̃ = x with masking noise (or x itself)
    x̂    = sigmoid(decoder(f))
    loss  = Σ_pixels BCE(x, x̂)       per image, in nats (x binarized, or grey levels in [0, 1])

Trained without labels, the code keeps what is needed to redraw the digit; a linear
classifier on it (``tinygen.metrics.linear_probe``) then shows how much of the class
that is, especially with few labels. With ``noise > 0`` it is a denoising autoencoder
(Vincent et al., 2008): each pixel of the input is zeroed with probability ``noise`` and
the clean image is the target, which pushes the code toward the digit's structure
rather than its individual pixels.

The layers mirror the VAE's (conv 32 and 64, stride 2; dense 128), with a
deterministic code in place of μ and log σ². ``features(x, layer)`` reads any of the
encoder's layers: the code, the 128-unit hidden layer, or the last conv block's
64×7×7 map. The wider layers keep more of the digit than a 32-d code can, so a linear
probe on them classifies better (the usual trade-off: a probe's accuracy grows with the
width it reads).
"""
from __future__ import annotations

from ... import nn
from ...creation import rand
from ...nn import functional as F


class Autoencoder(nn.Module):
    # how many of ``encoder``'s modules make each readable layer (conv and hidden end after a ReLU)
    LAYERS = {"conv": 4, "hidden": 7, "code": 8}

    def __init__(self, code_dim=32, noise=0.0):
        super().__init__()
        if not 0.0 <= noise < 1.0:
            raise ValueError(f"noise is the probability of zeroing an input pixel, in [0, 1); got {noise}")
        self.code_dim, self.noise = code_dim, noise
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, code_dim))
        self.decoder = nn.Sequential(
            nn.Linear(code_dim, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1))

    def encode(self, x):
        """The code f(x), (N, code_dim); no noise (features are taken from clean inputs)."""
        self.encode_check(x)
        return self.encoder(x)

    @staticmethod
    def encode_check(x):
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"Autoencoder expects images (N, 1, 28, 28), got {tuple(x.shape)}")

    def features(self, x, layer="code"):
        """The encoder's activations at ``layer`` ("code", "hidden" or "conv"), flattened
        to (N, width); no noise."""
        if layer not in self.LAYERS:
            raise ValueError(f"layer must be one of {sorted(self.LAYERS)}; got {layer!r}")
        if layer == "code":
            return self.encode(x)
        self.encode_check(x)
        return self.encoder[:self.LAYERS[layer]](x).flatten(1)

    def corrupt(self, x):
        """Masking noise: each pixel kept with probability 1 - noise, else set to 0."""
        if not self.noise:
            return x
        keep = rand(*x.shape, dtype=x.dtype, device=x.device) >= self.noise
        return x * keep.to(x.dtype)

    def forward(self, x):
        """Reconstruction logits from the (corrupted, when training) input."""
        return self.decoder(self.encode(self.corrupt(x) if self.training else x))

    def loss(self, x):
        """Σ_pixels BCE(x, sigmoid(logits)), batch mean (nats per image)."""
        logits = self(x)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
