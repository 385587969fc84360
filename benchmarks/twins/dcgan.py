"""DCGAN's PyTorch twin: the same modules in the same order, so tinygen's ``state_dict``
loads into it 1:1 (``twin.load_state_dict(ported(G.state_dict()))``), spectral norm
included (PyTorch's ``weight_orig`` / ``weight_u`` / ``weight_v`` names are tinygen's).

tests/test_twins.py trains both for 25 steps on the same batches and noise and compares
every loss and tensor. Run as a script, it trains the zoo's DCGAN recipe in PyTorch and
scores it with tinygen's metrics, beside ``python examples/gan_mnist.py --arch dcgan
--spectral-norm --g-lr 1e-3 --ema 0.999 --epochs 40``:

    python benchmarks/twins/dcgan.py --spectral-norm --g-lr 1e-3 --ema 0.999 --epochs 40

(a checkpoint after every epoch; the same command with ``--resume`` continues it)
(tinygen's initial weights ported, its data order, Adam with betas (0.5, 0.999), D at 2e-4,
the non-saturating G loss, samples from the EMA of G). torch is not a tinygen dependency:
``pip install -e ".[parity]"``.
"""
import argparse
import copy
import os
import sys
import time

import numpy as np
import torch
from torch import nn


class Generator(nn.Module):
    """tinygen.models.gans.DCGANGenerator: z → 7×7 → 14×14 → 28×28, BN + ReLU, tanh."""

    def __init__(self, latent_dim=100, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, 4 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    """tinygen.models.gans.DCGANDiscriminator, plain or spectrally normalised."""

    def __init__(self, width=64, spectral_norm=False):
        super().__init__()
        if spectral_norm:
            sn = nn.utils.spectral_norm
            layers = [sn(nn.Conv2d(1, width, 4, 2, 1)), nn.LeakyReLU(0.2),
                      sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
                      nn.Flatten(), sn(nn.Linear(2 * width * 7 * 7, 1))]
        else:
            layers = [nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
                      nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def ported(state):
    """A tinygen state_dict (NumPy arrays) as PyTorch tensors, key for key."""
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


class WGANCritic(nn.Module):
    """tinygen.models.gans.WGANCritic: conv 64 → conv 128 → linear 1, LeakyReLU, no batch norm."""

    def __init__(self, width=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))

    def forward(self, x):
        return self.net(x)


def gradient_penalty(critic, real, fake, eps, weight=10.0):
    """λ · mean_i (‖∇_x̂ f(x̂_i)‖₂ - 1)² at x̂ = ε x + (1 - ε) G(z), with the given ε."""
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = ((g * g).flatten(1).sum(1) + 1e-12).sqrt()
    return weight * ((norms - 1) ** 2).mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description="DCGAN trained in PyTorch the way examples/gan_mnist.py trains it")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs")
    parser.add_argument("--spectral-norm", action="store_true", help="D spectrally normalised, no batch norm")
    parser.add_argument("--g-lr", type=float, default=2e-4, help="G's learning rate (D: 2e-4)")
    parser.add_argument("--ema", type=float, default=0.0, help="sample from an EMA of G's weights")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from twins.training import add_run_flags
    add_run_flags(parser, "runs/twin_dcgan")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
    import gan_mnist
    import tinygen as tg
    from twins.training import (as_torch, ema_update, gan_step, load_checkpoint, mnist_batches, save_checkpoint,
                                 score_and_write, use_threads)
    torch.manual_seed(args.seed)
    use_threads()
    tg.manual_seed(args.seed)                         # the example's initial weights
    ours_g, ours_d = gan_mnist.build("dcgan", 100, spectral_norm=args.spectral_norm)
    G, D = Generator(100), Discriminator(spectral_norm=args.spectral_norm)
    G.load_state_dict(ported(ours_g.state_dict()))
    D.load_state_dict(ported(ours_d.state_dict()))
    loader = mnist_batches(args.seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.g_lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    ema = copy.deepcopy(G) if args.ema else None
    started = time.time()
    parts = {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d, **({"ema": ema} if ema is not None else {})}
    first, wall_time_s = load_checkpoint(args.out, parts) if args.resume else (0, 0.0)
    started -= wall_time_s                            # wall time counts the earlier epochs too
    for epoch in range(first, args.epochs):
        loader.set_epoch(epoch)
        for real, _ in loader:
            d_loss, g_loss = gan_step(G, D, opt_g, opt_d, as_torch(real), 100)
            if ema is not None:
                ema_update(ema, G, args.ema)
        print(f"epoch {epoch + 1}: d_loss {d_loss.item():.3f} g_loss {g_loss.item():.3f} "
              f"({time.time() - started:.0f} s)", flush=True)
        save_checkpoint(args.out, parts, epoch + 1, time.time() - started)
    sampler = ema if ema is not None else G
    sampler.eval()
    with torch.no_grad():
        samples = torch.cat([sampler(torch.randn(500, 100)) for _ in range(args.fid_n // 500)])
    score_and_write(samples, args.out, started, epochs=args.epochs, spectral_norm=args.spectral_norm,
                    g_lr=args.g_lr, ema=args.ema)


if __name__ == "__main__":
    sys.exit(main())
