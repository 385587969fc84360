"""PixelCNN's PyTorch twin: the same modules under the same names (the masks are built
here, independently, from the raster-order rule), so tinygen's ``state_dict`` loads into
it 1:1; the loss is the exact NLL, Σ_pixels BCE on logits, averaged over the batch.

``CategoricalPixelCNN`` is the VQ-VAE's prior: code maps (N, H, W) are embedded, the same
network gives K logits per position, and the loss is Σ_positions cross-entropy, averaged.
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def raster_mask(k, include_centre):
    """1 for the kernel taps above the centre row, and left of the centre in its row."""
    mask = torch.zeros(k, k)
    for i in range(k):
        for j in range(k):
            if i < k // 2 or (i == k // 2 and (j < k // 2 or (include_centre and j == k // 2))):
                mask[i, j] = 1.0
    return mask


class MaskedConv2d(nn.Conv2d):
    def __init__(self, cin, cout, k, mask_type):
        super().__init__(cin, cout, k, padding=k // 2)
        self.register_buffer("mask", raster_mask(k, mask_type == "B")[None, None], persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, 1, self.padding)


class ResidualBlock(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(2 * hidden, hidden, 1), nn.ReLU(),
                                  MaskedConv2d(hidden, hidden, 3, "B"), nn.ReLU(),
                                  nn.Conv2d(hidden, 2 * hidden, 1))

    def forward(self, x):
        return x + self.body(x)


class PixelCNN(nn.Module):
    def __init__(self, hidden=32, num_blocks=7, output_hidden=64, in_channels=1, out_channels=1):
        super().__init__()
        self.net = nn.Sequential(MaskedConv2d(in_channels, 2 * hidden, 7, "A"),
                                 *[ResidualBlock(hidden) for _ in range(num_blocks)],
                                 nn.ReLU(), nn.Conv2d(2 * hidden, output_hidden, 1),
                                 nn.ReLU(), nn.Conv2d(output_hidden, out_channels, 1))

    def loss(self, x):
        return F.binary_cross_entropy_with_logits(self.net(x), x, reduction="sum") / x.shape[0]


class CategoricalPixelCNN(PixelCNN):
    def __init__(self, num_categories, hidden=32, num_blocks=5, output_hidden=64, embedding_dim=16):
        super().__init__(hidden, num_blocks, output_hidden, embedding_dim, num_categories)
        self.embedding = nn.Embedding(num_categories, embedding_dim)

    def loss(self, codes):
        logits = self.net(self.embedding(codes).permute(0, 3, 1, 2))
        return F.cross_entropy(logits, codes, reduction="sum") / codes.shape[0]


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
