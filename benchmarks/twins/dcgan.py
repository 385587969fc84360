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
the non-saturating G loss, samples from the EMA of G). ``--arch wgan-gp`` trains the zoo's
WGAN-GP the same way, beside ``python examples/gan_mnist.py --arch wgan-gp --ema 0.999
--n-critic 2 --lr 2e-4``:

    python benchmarks/twins/dcgan.py --arch wgan-gp --ema 0.999 --n-critic 2 --lr 2e-4 --epochs 12

(the critic of ``WGANCritic`` with the gradient penalty, Adam with betas (0.5, 0.9), a G
step after every n_critic-th batch of an epoch). torch is not a tinygen dependency:
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


def wgan_gp_step(G, D, opt_g, opt_d, real, latent_dim, batch, n_critic, gp_weight=10.0):
    """One batch of examples/gan_mnist.py's WGAN-GP: a critic step on
    L_f = mean f(G(z)) - mean f(x) + λ·penalty, then, after every n_critic-th batch of the
    epoch (``batch`` counts from 0), a G step on L_G = -mean f(G(z)) through the same G(z).
    Returns the critic's loss and G's (None when G did not step)."""
    n = real.shape[0]
    fake = G(torch.randn(n, latent_dim))
    eps = torch.rand(n, 1, 1, 1)
    d_loss = D(fake.detach()).mean() - D(real).mean() + gradient_penalty(D, real, fake, eps, gp_weight)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    if batch % n_critic != n_critic - 1:
        return d_loss, None
    g_loss = -D(fake).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return d_loss, g_loss


def main(argv=None):
    parser = argparse.ArgumentParser(description="DCGAN or WGAN-GP trained in PyTorch the way "
                                                 "examples/gan_mnist.py trains it")
    parser.add_argument("--arch", choices=("dcgan", "wgan-gp"), default="dcgan", help="which GAN to train")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs")
    parser.add_argument("--spectral-norm", action="store_true", help="dcgan: D spectrally normalised, no batch norm")
    parser.add_argument("--lr", type=float, default=None,
                        help="D's learning rate, and G's unless --g-lr (default: the example's, "
                             "2e-4 for dcgan, 1e-4 for wgan-gp)")
    parser.add_argument("--g-lr", type=float, default=None, help="G's learning rate when it differs from D's")
    parser.add_argument("--n-critic", type=int, default=5, help="wgan-gp: critic steps per G step")
    parser.add_argument("--ema", type=float, default=0.0, help="sample from an EMA of G's weights")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from twins.training import add_run_flags
    add_run_flags(parser, None)
    args = parser.parse_args(argv)
    args.out = args.out or f"runs/twin_{args.arch.replace('-', '')}"
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
    import gan_mnist
    import tinygen as tg
    from twins.training import (as_torch, ema_update, gan_step, load_checkpoint, mnist_batches, save_checkpoint,
                                 score_and_write, use_threads)
    torch.manual_seed(args.seed)
    use_threads()
    tg.manual_seed(args.seed)                         # the example's initial weights
    spec, wgan = gan_mnist.ARCHS[args.arch], args.arch == "wgan-gp"
    lr = args.lr or spec["lr"]
    ours_g, ours_d = gan_mnist.build(args.arch, 100, spectral_norm=args.spectral_norm)
    G, D = Generator(100), WGANCritic() if wgan else Discriminator(spectral_norm=args.spectral_norm)
    G.load_state_dict(ported(ours_g.state_dict()))
    D.load_state_dict(ported(ours_d.state_dict()))
    loader = mnist_batches(args.seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=args.g_lr or lr, betas=spec["betas"])
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=spec["betas"])
    ema = copy.deepcopy(G) if args.ema else None
    started = time.time()
    parts = {"G": G, "D": D, "opt_g": opt_g, "opt_d": opt_d, **({"ema": ema} if ema is not None else {})}
    first, wall_time_s = load_checkpoint(args.out, parts) if args.resume else (0, 0.0)
    started -= wall_time_s                            # wall time counts the earlier epochs too
    for epoch in range(first, args.epochs):
        loader.set_epoch(epoch)
        for batch, (real, _) in enumerate(loader):
            if wgan:
                d_loss, g_step_loss = wgan_gp_step(G, D, opt_g, opt_d, as_torch(real), 100, batch, args.n_critic)
            else:
                d_loss, g_step_loss = gan_step(G, D, opt_g, opt_d, as_torch(real), 100)
            if g_step_loss is not None:
                g_loss = g_step_loss
                if ema is not None:
                    ema_update(ema, G, args.ema)
        print(f"epoch {epoch + 1}: d_loss {d_loss.item():.3f} g_loss {g_loss.item():.3f} "
              f"({time.time() - started:.0f} s)", flush=True)
        save_checkpoint(args.out, parts, epoch + 1, time.time() - started)
    sampler = ema if ema is not None else G
    sampler.eval()
    with torch.no_grad():
        samples = torch.cat([sampler(torch.randn(500, 100)) for _ in range(args.fid_n // 500)])
    score_and_write(samples, args.out, started, arch=args.arch, epochs=args.epochs,
                    spectral_norm=args.spectral_norm, lr=lr, g_lr=args.g_lr or lr, ema=args.ema,
                    **({"n_critic": args.n_critic} if wgan else {}))


if __name__ == "__main__":
    sys.exit(main())
