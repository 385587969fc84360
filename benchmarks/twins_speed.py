"""Each family's training step beside its PyTorch twin (benchmarks/twins/), in one process,
interleaved (one tinygen step, one PyTorch step, ...), float32, the examples' batch sizes.

    python benchmarks/twins_speed.py [--steps 20]

Stop every other process first (kill -STOP): it measures the machine's two cores. The
twins start from tinygen's weights (state_dict 1:1) and see the same batch.
"""
import argparse
import importlib.util
import os
import time

import numpy as np
import torch

import tinygen as tg
from _timing import try_torch
from tinygen import optim
from tinygen.models import VAE, gans

HERE = os.path.dirname(os.path.abspath(__file__))


def twin(name):
    spec = importlib.util.spec_from_file_location(f"twin_{name}", os.path.join(HERE, "twins", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vae_case(rng):
    vae_twin = twin("vae")
    model = VAE(16)
    theirs = vae_twin.VAE(16)
    theirs.load_state_dict(vae_twin.ported(model.state_dict()))
    opt, t_opt = optim.Adam(model.parameters(), 1e-3), torch.optim.Adam(theirs.parameters(), 1e-3)
    x = (rng.random((128, 1, 28, 28)) < 0.3).astype(np.float32)
    xs, tx = tg.tensor(x), torch.from_numpy(x)

    def ours():
        loss, _ = model.loss(xs)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def pytorch():
        loss, _, _ = theirs.loss(tx, torch.randn(128, 16))
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
    return ours, pytorch


def gan_case(rng, arch):
    dc = twin("dcgan")
    mlp = twin("mlp_gan")
    latent = 100
    if arch == "mlp":
        G, D = gans.MLPGenerator(latent), gans.MLPDiscriminator()
        tG, tD = mlp.torch_generator(latent), mlp.torch_discriminator()
        mlp.port(G, tG)
        mlp.port(D, tD)
        t_gen = lambda z: tG(z).reshape(-1, 1, 28, 28)                  # noqa: E731
        t_dis = lambda x: tD(x.reshape(x.shape[0], -1))                 # noqa: E731
    else:
        G = gans.DCGANGenerator(latent)
        D = gans.WGANCritic() if arch == "wgan-gp" else gans.DCGANDiscriminator()
        tG, tD = dc.Generator(latent), dc.WGANCritic() if arch == "wgan-gp" else dc.Discriminator()
        tG.load_state_dict(dc.ported(G.state_dict()))
        tD.load_state_dict(dc.ported(D.state_dict()))
        t_gen, t_dis = tG, tD
    lr, betas = (1e-4, (0.5, 0.9)) if arch == "wgan-gp" else (2e-4, (0.5, 0.999))
    opt_g, opt_d = optim.Adam(G.parameters(), lr, betas), optim.Adam(D.parameters(), lr, betas)
    t_g, t_d = torch.optim.Adam(tG.parameters(), lr, betas), torch.optim.Adam(tD.parameters(), lr, betas)
    real = rng.uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32)
    xs, tx = tg.tensor(real), torch.from_numpy(real)
    loss_of = gans.WGANGP(10.0) if arch == "wgan-gp" else gans.LogitGAN()
    bce = torch.nn.BCEWithLogitsLoss()

    def ours():                            # one D step and one G step (WGAN-GP: the critic's step)
        fake = G(tg.randn(64, latent))
        d_loss, _ = loss_of.discriminator(D, xs, None, fake.detach(), None)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = loss_of.generator(D, fake, None)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    def pytorch():
        fake = t_gen(torch.randn(64, latent))
        if arch == "wgan-gp":
            eps = torch.rand(64, 1, 1, 1)
            d_loss = t_dis(fake.detach()).mean() - t_dis(tx).mean() + dc.gradient_penalty(t_dis, tx, fake, eps)
        else:
            d_loss = bce(t_dis(tx), torch.ones(64, 1)) + bce(t_dis(fake.detach()), torch.zeros(64, 1))
        t_d.zero_grad()
        d_loss.backward()
        t_d.step()
        g_loss = -t_dis(fake).mean() if arch == "wgan-gp" else bce(t_dis(fake), torch.ones(64, 1))
        t_g.zero_grad()
        g_loss.backward()
        t_g.step()
    return ours, pytorch


def interleaved(ours, theirs, steps, block=5, warmup=3):
    """Median step time of each, alternating blocks of ``block`` steps: single steps would
    hand the cores from one library's thread pool to the other's while it still spins
    (OpenBLAS and OpenMP threads busy-wait after a call), which slows whichever comes next."""
    for _ in range(warmup):
        ours()
        theirs()
    times = {ours: [], theirs: []}
    for _ in range(-(-steps // block)):
        for fn in (ours, theirs):
            fn()                                 # the first step of a block lets the other pool go idle
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[fn].append(time.perf_counter() - start)
    return float(np.median(times[ours])), float(np.median(times[theirs]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    try_torch()                                   # PyTorch on all cores, as tinygen's BLAS
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    cases = {"VAE (batch 128)": vae_case(rng), "MLP GAN (64, D + G step)": gan_case(rng, "mlp"),
             "DCGAN (64, D + G step)": gan_case(rng, "dcgan"),
             "WGAN-GP (64, critic + G step)": gan_case(rng, "wgan-gp")}
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), tinygen on numpy "
          f"{np.__version__}; median of {args.steps} interleaved steps")
    print(f"{'family':32s} {'tinygen ms':>11s} {'pytorch ms':>11s} {'ratio':>7s}")
    for name, (ours, theirs) in cases.items():
        a, b = interleaved(ours, theirs, args.steps)
        print(f"{name:32s} {a * 1e3:11.1f} {b * 1e3:11.1f} {a / b:6.2f}x")


if __name__ == "__main__":
    main()
