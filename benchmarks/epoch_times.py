"""Time per epoch of each example's model on MNIST: the mean time of a few real training
steps (the examples' own step functions and batch sizes) × steps per epoch.

    python benchmarks/epoch_times.py                       # every model, NumPy
    python benchmarks/epoch_times.py --only vae dcgan      # some of them
    python benchmarks/epoch_times.py --backend cupy        # on a GPU

Data loading and the per-epoch grid are left out (both are small); RESULTS.md
quotes these figures as "time per epoch".
"""
import argparse
import importlib.util
import pathlib
import time
from types import SimpleNamespace

import numpy as np

import tinygen as tg
from tinygen import optim

from tinygen.models import VAE, DDPM, RBM, Autoencoder, CycleGAN, Glow, PixelCNN, RealNVP, VQVAE

# the GAN example's networks and steps, loaded by path (the examples are scripts, not a package)
_spec = importlib.util.spec_from_file_location(
    "gan_mnist", pathlib.Path(__file__).resolve().parents[1] / "examples" / "gan_mnist.py")
gan_mnist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gan_mnist)

TRAIN_SIZE = 60_000
GAN_ARGS = SimpleNamespace(gp_weight=10.0, label_smoothing=0.0, saturating=False, n_critic=5)


def sync():
    """Wait for the GPU (a no-op on NumPy), so wall time covers the work."""
    if tg.get_backend() == "cupy":
        import cupy
        cupy.cuda.Stream.null.synchronize()


def vae_step(conditional, batch=128):
    model = VAE(16, num_classes=10 if conditional else 0, prior="class" if conditional else "standard")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x = tg.tensor((np.random.default_rng(0).random((batch, 1, 28, 28)) < 0.13).astype(np.float32))
    y = tg.randint(0, 10, (batch,)) if conditional else None

    def step():
        loss, _ = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step, batch


def gan_step(arch, batch=64, spectral_norm=False, num_clusters=50):
    G, D = gan_mnist.build(arch, 100, spectral_norm=spectral_norm, num_clusters=num_clusters)
    spec = gan_mnist.ARCHS[arch]
    opt_g = optim.Adam(G.parameters(), lr=2e-4, betas=spec["betas"])
    opt_d = optim.Adam(D.parameters(), lr=2e-4, betas=spec["betas"])
    real = tg.rand(batch, 1, 28, 28) * 2 - 1
    conditional = spec.get("conditional", False) or spec.get("clustered", False)
    num_classes = num_clusters if spec.get("clustered") else 10
    every_g = GAN_ARGS.n_critic if arch == "wgan-gp" else 1
    counter = [0]

    def step():
        labels = tg.randint(0, num_classes, (batch,)) if conditional else None
        fake = gan_mnist.generate(G, tg.randn(batch, 100), labels)
        gan_mnist.discriminator_step(gan_mnist.objective(arch, GAN_ARGS), D, opt_d, real, labels, fake, labels)
        if counter[0] % every_g == every_g - 1:
            gan_mnist.generator_step(gan_mnist.objective(arch, GAN_ARGS), D, opt_g, fake, labels)
        counter[0] += 1
    return step, batch


def loss_step(model, x, loss=lambda model, x: model.loss(x), lr=1e-3):
    """One Adam step on ``loss(model, x)``: the examples' step for the likelihood models."""
    opt = optim.Adam(model.parameters(), lr=lr)

    def step():
        value = loss(model, x)
        opt.zero_grad()
        value.backward()
        opt.step()
    return step, x.shape[0]


def binary(batch):
    return tg.tensor((np.random.default_rng(0).random((batch, 1, 28, 28)) < 0.13).astype(np.float32))


def rbm_step(batch=100):
    rbm = RBM(784, 500)
    opt = optim.SGD(rbm.parameters(), lr=0.05, momentum=0.9)
    v = binary(batch).flatten(1)

    def step():
        loss = rbm.contrastive_divergence_loss(v, rbm.gibbs(v, 1)[0])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step, batch


def cyclegan_step(batch=32):
    model = CycleGAN(num_blocks=3)
    opt_g = optim.Adam(model.generator_parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = optim.Adam(model.discriminator_parameters(), lr=2e-4, betas=(0.5, 0.999))
    a, b = tg.rand(batch, 1, 28, 28) * 2 - 1, tg.rand(batch, 1, 28, 28) * 2 - 1

    def step():
        g_loss, _, fake_a, fake_b = model.generator_loss(a, b)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_loss, _ = model.discriminator_loss(a, b, fake_a, fake_b)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
    return step, batch


CASES = {
    "vae": lambda: vae_step(False), "cvae": lambda: vae_step(True),
    **{arch: (lambda arch=arch: gan_step(arch)) for arch in ("mlp", "conv", "dcgan", "cgan", "acgan", "wgan-gp",
                                                               "selfcond")},
    "dcgan-sn": lambda: gan_step("dcgan", spectral_norm=True),      # --spectral-norm
    "selfcond200": lambda: gan_step("selfcond", num_clusters=200),  # --clusters 200 (50: the default)
    # the other families, with their examples' default sizes and batches
    "pixelcnn": lambda: loss_step(PixelCNN(), binary(64)),
    "vqvae": lambda: loss_step(VQVAE(), binary(128), lambda m, x: m.loss(x)[0]),
    "glow": lambda: loss_step(Glow(), Glow.dequantize(tg.rand(64, 1, 28, 28))),
    "realnvp": lambda: loss_step(RealNVP(), RealNVP.dequantize(tg.rand(64, 1, 28, 28))),
    "ddpm": lambda: loss_step(DDPM(), tg.rand(64, 1, 28, 28) * 2 - 1, lr=2e-4),
    "autoencoder": lambda: loss_step(Autoencoder(), tg.rand(128, 1, 28, 28)),
    "rbm": rbm_step,
    "cyclegan": cyclegan_step,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["numpy", "cupy"], default="numpy")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES))
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    tg.use_backend(args.backend)
    tg.manual_seed(0)
    tg.tune_host_allocator()          # as the examples do
    print(f"time per MNIST epoch ({TRAIN_SIZE} images) on {args.backend}, mean of {args.steps} steps")
    print(f"{'model':12s} {'batch':>6s} {'ms/step':>9s} {'s/epoch':>9s} {'img/s':>8s}")
    for name in args.only or CASES:
        step, batch = CASES[name]()
        for _ in range(3):
            step()
        sync()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        per_step = (time.perf_counter() - start) / args.steps
        steps_per_epoch = TRAIN_SIZE // batch
        print(f"{name:12s} {batch:6d} {per_step * 1e3:9.1f} {per_step * steps_per_epoch:9.1f} "
              f"{batch / per_step:8.0f}", flush=True)


if __name__ == "__main__":
    main()
