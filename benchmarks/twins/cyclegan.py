"""CycleGAN's PyTorch twin: both generators and both PatchGAN discriminators with
tinygen's module names (its ``state_dict`` loads 1:1), and the paper's losses:

    generators: LSGAN(D_B(G(a)), 1) + LSGAN(D_A(F(b)), 1) + λ_cyc (|F(G(a)) - a| + |G(F(b)) - b|)
                + λ_id λ_cyc (|G(b) - b| + |F(a) - a|)
    discriminators: ½ [LSGAN(D(real), 1) + LSGAN(D(fake), 0)] each
"""
import numpy as np
import torch
from torch import nn


class ResnetBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


def generator(channels=1, w=32, blocks=6):
    return nn.Sequential(
        nn.Conv2d(channels, w, 7, padding=3, padding_mode="reflect"), nn.InstanceNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * w), nn.ReLU(),
        nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.InstanceNorm2d(4 * w), nn.ReLU(),
        *[ResnetBlock(4 * w) for _ in range(blocks)],
        nn.ConvTranspose2d(4 * w, 2 * w, 3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(2 * w), nn.ReLU(),
        nn.ConvTranspose2d(2 * w, w, 3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(w), nn.ReLU(),
        nn.Conv2d(w, channels, 7, padding=3, padding_mode="reflect"), nn.Tanh())


def discriminator(channels=1, w=64):
    return nn.Sequential(
        nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 4, 2, 1), nn.InstanceNorm2d(2 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * w, 4 * w, 4, 1, 1), nn.InstanceNorm2d(4 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(4 * w, 1, 4, 1, 1))


class Wrapped(nn.Module):           # tinygen's ResnetGenerator / PatchDiscriminator keep their layers in .net
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)


class CycleGAN(nn.Module):
    def __init__(self, gen_width=32, num_blocks=6, disc_width=64, lambda_cycle=10.0, lambda_identity=0.5):
        super().__init__()
        self.G, self.F = Wrapped(generator(1, gen_width, num_blocks)), Wrapped(generator(1, gen_width, num_blocks))
        self.D_A, self.D_B = Wrapped(discriminator(1, disc_width)), Wrapped(discriminator(1, disc_width))
        self.lc, self.li = lambda_cycle, lambda_identity

    def generator_loss(self, a, b):
        mse, l1 = (lambda s, t: ((s - t) ** 2).mean()), (lambda x, y: (x - y).abs().mean())
        fake_b, fake_a = self.G(a), self.F(b)
        loss = mse(self.D_B(fake_b), 1.0) + mse(self.D_A(fake_a), 1.0) + \
            self.lc * (l1(self.F(fake_b), a) + l1(self.G(fake_a), b)) + \
            self.li * self.lc * (l1(self.G(b), b) + l1(self.F(a), a))
        return loss, fake_a, fake_b

    def discriminator_loss(self, a, b, fake_a, fake_b):
        mse = lambda s, t: ((s - t) ** 2).mean()                              # noqa: E731
        return 0.5 * (mse(self.D_A(a), 1.0) + mse(self.D_A(fake_a.detach()), 0.0)) + \
            0.5 * (mse(self.D_B(b), 1.0) + mse(self.D_B(fake_b.detach()), 0.0))


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
