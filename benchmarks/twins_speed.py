"""Each family's training step beside its PyTorch twin (benchmarks/twins/), in one process,
interleaved (blocks of tinygen steps, then of PyTorch steps), float32, the examples' batch sizes.

    python benchmarks/twins_speed.py [--steps 20] [--all] [--memory]

``--all`` adds every other family (CVAE, PixelCNN, VQ-VAE, RealNVP, Glow, the DDPM U-Net,
CycleGAN, the RBM); ``--memory`` also runs each side alone in a fresh process and reports
how far its resident memory rises above what building the models took (peak RSS);
``--memory-only`` prints that table alone, which does not need an idle machine.

Stop every other process first (kill -STOP): it measures the machine's two cores. The
twins start from tinygen's weights (state_dict 1:1) and see the same batch. Run it once
more with TINYGEN_PLAIN_MALLOC=1 for the figures a plain training script gets (no
tg.tune_host_allocator() call; see benchmarks/_timing.py).
"""
import argparse
import importlib
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

import tinygen as tg
from _timing import MALLOC, try_torch
from twins import loaded
from tinygen import optim
from tinygen.models import VAE, gans

HERE = os.path.dirname(os.path.abspath(__file__))


def twin(name):
    """benchmarks/twins/NAME.py (this script's folder is on sys.path, so ``twins`` is a package)."""
    return importlib.import_module(f"twins.{name}")


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


def step_pair(model, theirs, ours_loss, their_loss, lr=1e-3):
    """One Adam step of each side on its own loss: (ours, pytorch)."""
    opt, t_opt = optim.Adam(model.parameters(), lr), torch.optim.Adam(theirs.parameters(), lr)

    def ours():
        loss = ours_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def pytorch():
        loss = their_loss()
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
    return ours, pytorch


def other_case(rng, name):
    """One of the other families at its example's batch size: (ours, pytorch)."""
    from tinygen.models import RBM, VQVAE, CycleGAN, DDPM, Glow, PixelCNN, RealNVP
    binary = (rng.random((128, 1, 28, 28)) < 0.3).astype(np.float32)
    unit = rng.uniform(0.01, 0.99, (64, 1, 28, 28)).astype(np.float32)
    pm1 = rng.uniform(-1, 1, (128, 1, 28, 28)).astype(np.float32)
    xb, tb = tg.tensor(binary), torch.from_numpy(binary)
    if name == "CVAE (128)":
        y = rng.integers(0, 10, 128)
        cvae = VAE(16, num_classes=10, prior="class")
        t_cvae = loaded("vae", "CVAE", cvae, 16)
        yt, ty = tg.tensor(y, dtype="int64"), torch.from_numpy(y)
        return step_pair(cvae, t_cvae, lambda: cvae.loss(xb, yt)[0],
                         lambda: t_cvae.loss(tb, ty, torch.randn(128, 16))[0])
    if name == "PixelCNN (128)":
        pix = PixelCNN()
        t_pix = loaded("pixelcnn", "PixelCNN", pix)
        return step_pair(pix, t_pix, lambda: pix.loss(xb), lambda: t_pix.loss(tb))
    if name == "VQ-VAE (128)":
        vq = VQVAE()
        vq.loss(xb)                                # the first batch initialises the codebook
        t_vq = loaded("vq_vae", "VQVAE", vq)
        rows = lambda: torch.randint(0, 128 * 49, (64,))                                 # noqa: E731
        return step_pair(vq, t_vq, lambda: vq.loss(xb)[0], lambda: t_vq.loss(tb, rows)[0])
    if name in ("RealNVP (64)", "Glow (64)"):
        cls = name.split()[0]
        xu, tu = tg.tensor(unit), torch.from_numpy(unit)
        flow = {"RealNVP": RealNVP, "Glow": Glow}[cls]()
        flow.loss(xu)                              # ActNorm's data-dependent init
        t_flow = loaded(cls.lower(), cls, flow)
        return step_pair(flow, t_flow, lambda: flow.loss(xu), lambda: t_flow.loss(tu))
    if name == "DDPM U-Net (128)":
        ddpm = DDPM()
        t_ddpm = loaded("ddpm", "DDPM", ddpm)
        xp, tp = tg.tensor(pm1), torch.from_numpy(pm1)
        return step_pair(ddpm, t_ddpm, lambda: ddpm.loss(xp),
                         lambda: t_ddpm.loss(tp, torch.randint(0, 1000, (128,)), torch.randn(128, 1, 28, 28)))
    if name == "CycleGAN G step (16)":
        cycle = CycleGAN()
        t_cycle = loaded("cyclegan", "CycleGAN", cycle)
        a, b = tg.tensor(pm1[:16]), tg.tensor(pm1[16:32])
        ta, tb16 = torch.from_numpy(pm1[:16]), torch.from_numpy(pm1[16:32])
        return step_pair(cycle, t_cycle, lambda: cycle.generator_loss(a, b)[0],
                         lambda: t_cycle.generator_loss(ta, tb16)[0], lr=2e-4)
    assert name == "RBM CD-1 (100)", name
    rbm = RBM()
    t_rbm = loaded("rbm", "RBM", rbm)
    v, tv = tg.tensor(binary[:100].reshape(100, -1)), torch.from_numpy(binary[:100].reshape(100, -1))
    opt, t_opt = optim.SGD(rbm.parameters(), 0.05), torch.optim.SGD(t_rbm.parameters(), 0.05)

    def ours():                                    # CD-1, as examples/rbm_mnist.py
        v_model, _ = rbm.gibbs(v, 1)
        loss = rbm.contrastive_divergence_loss(v, v_model)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def pytorch():
        shapes = iter([(100, 500), (100, 784)])    # h, then v: what one Gibbs sweep draws
        t_rbm.set_cd_gradients(tv, t_rbm.gibbs(tv, lambda: torch.rand(next(shapes))))
        t_opt.step()
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


def case_builders(everything):
    """name -> a function of the rng that builds (ours, pytorch) step functions."""
    builders = {"VAE (batch 128)": vae_case, "MLP GAN (64, D + G step)": lambda rng: gan_case(rng, "mlp"),
                "DCGAN (64, D + G step)": lambda rng: gan_case(rng, "dcgan"),
                "WGAN-GP (64, critic + G step)": lambda rng: gan_case(rng, "wgan-gp")}
    if everything:
        for name in OTHER_CASES:
            builders[name] = lambda rng, name=name: other_case(rng, name)
    return builders


OTHER_CASES = ("CVAE (128)", "PixelCNN (128)", "VQ-VAE (128)", "RealNVP (64)", "Glow (64)",
               "DDPM U-Net (128)", "CycleGAN G step (16)", "RBM CD-1 (100)")


def peak_rise_mb(name, side, steps=5):
    """Run one side of one case alone in a fresh process; its peak RSS above the built models."""
    out = subprocess.run([sys.executable, __file__, "--all", "--only", name, "--side", side,
                          "--steps", str(steps)], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def _status_kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def measure_alone(name, side, steps):
    tg.manual_seed(0)
    ours, theirs = case_builders(True)[name](np.random.default_rng(0))
    fn = ours if side == "ours" else theirs
    # the rise of the peak above the resident size once the models are built: importing
    # torch and building both sides set a high-water mark of their own, so the mark is
    # reset first (Linux: writing 5 to clear_refs sets VmHWM to the current VmRSS)
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    for _ in range(steps):
        fn()
    print((_status_kib("VmHWM") - before) / 1024)                   # KiB -> MiB


def memory_table(builders):
    print(f"torch {torch.__version__}, tinygen on numpy {np.__version__}; peak RSS rise over 5 steps, "
          f"each side alone in a fresh process; malloc {MALLOC}")
    print(f"{'family':32s} {'tinygen MB':>11s} {'pytorch MB':>11s} {'ratio':>7s}")
    for name in builders:
        m_ours, m_theirs = peak_rise_mb(name, "ours"), peak_rise_mb(name, "pytorch")
        print(f"{name:32s} {m_ours:11.1f} {m_theirs:11.1f} {m_ours / max(m_theirs, 1e-9):6.2f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--all", action="store_true", help="every family, not only the first four")
    parser.add_argument("--memory", action="store_true", help="also each side's peak RSS rise, alone")
    parser.add_argument("--memory-only", action="store_true",
                        help="only the peak RSS rises (they do not depend on what else the machine runs)")
    parser.add_argument("--only", help=argparse.SUPPRESS)           # the --memory subprocesses
    parser.add_argument("--side", choices=("ours", "pytorch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    try_torch()                                   # PyTorch on all cores, as tinygen's BLAS
    if args.only:
        return measure_alone(args.only, args.side, args.steps)
    if args.memory_only:
        return memory_table(case_builders(args.all))
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    builders = case_builders(args.all)
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), tinygen on numpy "
          f"{np.__version__}; median of {args.steps} interleaved steps; malloc {MALLOC}")
    memory = f" {'tinygen MB':>11s} {'pytorch MB':>11s} {'ratio':>7s}" if args.memory else ""
    # seconds per 60,000 images at this step: an epoch of the example, when its step is this one
    print(f"{'family':32s} {'tinygen ms':>11s} {'pytorch ms':>11s} {'ratio':>7s} "
          f"{'tinygen s/60k':>14s} {'pytorch s/60k':>14s}{memory}")
    for name, build in builders.items():
        ours, theirs = build(rng)
        a, b = interleaved(ours, theirs, args.steps)
        steps = 60_000 / int(re.search(r"\((?:batch )?(\d+)", name).group(1))
        line = f"{name:32s} {a * 1e3:11.1f} {b * 1e3:11.1f} {a / b:6.2f}x {a * steps:14.0f} {b * steps:14.0f}"
        if args.memory:
            m_ours, m_theirs = peak_rise_mb(name, "ours"), peak_rise_mb(name, "pytorch")
            line += f" {m_ours:11.1f} {m_theirs:11.1f} {m_ours / max(m_theirs, 1e-9):6.2f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
