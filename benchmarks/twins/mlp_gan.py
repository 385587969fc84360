"""The MLP GAN trained in PyTorch the way examples/gan_mnist.py --arch mlp trains it, and
scored with tinygen's metrics: a recipe's limit shows in both, a bug in one.

    python benchmarks/twins/mlp_gan.py --epochs 10 --out runs/twin_mlp_gan

Same networks (z 100 → 256 → 512 → 1024 → 784, tanh; D 784 → 512 → 256 → 1, LeakyReLU
0.2), same initial weights (tinygen's, ported 1:1 through the state_dict), same data
order (tinygen's DataLoader), Adam 2e-4 with betas (0.5, 0.999), batch 64, BCE on logits,
the non-saturating G loss, 10,000 samples scored in the MNIST reference feature space.
torch is not a tinygen dependency: `pip install torch==2.13.0` (CPU) first.
"""
import argparse
import os
import sys
import time

import torch
from torch import nn

import tinygen as tg
from tinygen.models import gans

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # run as a script too
from twins.training import as_torch, gan_step, mnist_batches, score_and_write, use_threads  # noqa: E402


def torch_generator(latent_dim=100):
    return nn.Sequential(nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                         nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())


def torch_discriminator():
    return nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                         nn.Linear(256, 1))


def port(ours, theirs):
    """tinygen's weights → the PyTorch twin, Linear layer by Linear layer, in order (the same
    (out, in) weight layout; tinygen's D starts with a Flatten, so the indices differ)."""
    mine = [m for _, m in ours.named_modules() if isinstance(m, tg.nn.Linear)]
    twins = [m for m in theirs if isinstance(m, nn.Linear)]
    assert len(mine) == len(twins)
    with torch.no_grad():
        for a, b in zip(mine, twins):
            b.weight.copy_(torch.from_numpy(a.weight.detach().numpy()))
            b.bias.copy_(torch.from_numpy(a.bias.detach().numpy()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs")
    parser.add_argument("--seed", type=int, default=0, help="tinygen's seed: weights and data order")
    parser.add_argument("--fid-n", type=int, default=10_000, help="samples to score")
    parser.add_argument("--out", default="runs/twin_mlp_gan", help="where metrics.json goes")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    use_threads()
    tg.manual_seed(args.seed)
    G, D = torch_generator(), torch_discriminator()
    port(gans.MLPGenerator(100), G)
    port(gans.MLPDiscriminator(), D)
    loader = mnist_batches(args.seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    started = time.time()
    for epoch in range(args.epochs):
        loader.set_epoch(epoch)
        for real, _ in loader:
            d_loss, g_loss = gan_step(G, D, opt_g, opt_d, as_torch(real).reshape(-1, 784), 100)
        print(f"epoch {epoch + 1}: d_loss {d_loss.item():.3f} g_loss {g_loss.item():.3f} "
              f"({time.time() - started:.0f} s)", flush=True)
    with torch.no_grad():
        samples = G(torch.randn(args.fid_n, 100))
    score_and_write(samples, args.out, started, epochs=args.epochs)


if __name__ == "__main__":
    sys.exit(main())
