"""The CGAN's and ACGAN's PyTorch twins, with tinygen's module names (its ``state_dict``
loads 1:1). The CGAN discriminator is written the textbook way here: C one-hot label
planes concatenated to the image as input channels (tinygen computes the same as
per-class maps added after the first conv; this twin is the check that they agree).
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .dcgan import Generator as DCGANGenerator           # benchmarks/twins/dcgan.py


def trunk(in_channels, width=64):
    return nn.Sequential(nn.Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
                         nn.LeakyReLU(0.2), nn.Flatten())


class Trunk(nn.Module):
    def __init__(self, in_channels, width=64):
        super().__init__()
        self.net = trunk(in_channels, width)

    def forward(self, x):
        return self.net(x)


class ConditionalGenerator(nn.Module):
    def __init__(self, latent_dim=100, num_classes=10):
        super().__init__()
        self.num_classes = num_classes
        self.body = DCGANGenerator(latent_dim + num_classes)

    def forward(self, z, labels):
        return self.body(torch.cat([z, F.one_hot(labels, self.num_classes).to(z.dtype)], 1))


class CGANDiscriminator(nn.Module):
    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.num_classes = num_classes
        self.trunk = Trunk(1 + num_classes, width)
        self.out = nn.Linear(2 * width * 7 * 7, 1)

    def forward(self, x, labels):
        planes = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.out(self.trunk(torch.cat([x, planes], 1)))


class ACGANDiscriminator(nn.Module):
    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.trunk = Trunk(1, width)
        self.adversarial = nn.Linear(2 * width * 7 * 7, 1)
        self.classifier = nn.Linear(2 * width * 7 * 7, num_classes)

    def forward(self, x):
        f = self.trunk(x)
        return self.adversarial(f), self.classifier(f)


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
