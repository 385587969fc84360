"""One family's training step timed alone (no PyTorch in the process): the figure to compare
before and after a kernel change, or with and without the malloc tuning.

    python benchmarks/step_alone.py vae                    # the convolutional VAE, batch 128
    python benchmarks/step_alone.py ddpm --channels 16     # the DDPM U-Net, batch 64
    python benchmarks/step_alone.py pixelcnn --hidden 16 --blocks 15
    python benchmarks/step_alone.py cyclegan               # the G step of the zoo's CycleGAN
    TINYGEN_PLAIN_MALLOC=1 python benchmarks/step_alone.py vae      # without tune_host_allocator
    python benchmarks/step_alone.py pixelcnn --pytorch     # its PyTorch twin's step, alone too

To time an older commit, run this file with PYTHONPATH pointing at a checkout of it.
``--pytorch`` (pixelcnn, ddpm) times the twin (benchmarks/twins/) instead, on the same
batch from tinygen's initial weights, in a process of its own; set OMP_NUM_THREADS as
OPENBLAS_NUM_THREADS for a like-for-like figure.
Prints the median and the best of --steps steps after 3 of warm-up, and the minor page
faults per step (memory the allocator handed back to the system and touched again).
"""
import argparse
import resource
import time

import numpy as np

import tinygen as tg
import tinygen.nn.functional as F
from _timing import MALLOC
from tinygen import optim


def vae_step(args):
    from kernels import vae_step_fn
    return vae_step_fn(tg, F)


def training_step(loss, opt):
    """A step function: loss() backward, then the optimizer's step (tinygen's or torch's)."""
    def step():
        value = loss()
        opt.zero_grad()
        value.backward()
        opt.step()
    return step


def adam_step(loss, parameters, lr):
    return training_step(loss, optim.Adam(parameters, lr))


def ddpm_step(args):
    from tinygen.models.diffusion import DDPM
    model = DDPM(args.channels)
    x = tg.tensor(np.random.default_rng(0).uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32))
    return adam_step(lambda: model.loss(x), model.parameters(), 2e-4)


def pixelcnn_step(args):
    from tinygen.models import PixelCNN
    model = PixelCNN(args.hidden, args.blocks)
    x = tg.tensor((np.random.default_rng(0).random((64, 1, 28, 28)) < 0.3).astype(np.float32))
    return adam_step(lambda: model.loss(x), model.parameters(), 1e-3)


def cyclegan_step(args):
    from tinygen.models.translation.cyclegan import CycleGAN
    model = CycleGAN(gen_width=16, num_blocks=3, disc_width=32)
    rng = np.random.default_rng(0)
    a, b = (tg.tensor(rng.uniform(-1, 1, (32, 1, 28, 28)).astype(np.float32)) for _ in range(2))
    return adam_step(lambda: model.generator_loss(a, b)[0], list(model.G.parameters()) + list(model.F.parameters()),
                     2e-4)


def ddpm_twin_step(args):
    import torch
    from twins import loaded
    from tinygen.models.diffusion import DDPM
    model = loaded("ddpm", "DDPM", DDPM(args.channels), args.channels)
    x = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (64, 1, 28, 28)).astype(np.float32))
    return training_step(lambda: model.loss(x, torch.randint(0, 1000, (64,)), torch.randn_like(x)),
                         torch.optim.Adam(model.parameters(), 2e-4))


def pixelcnn_twin_step(args):
    import torch
    from twins import loaded
    from tinygen.models import PixelCNN
    model = loaded("pixelcnn", "PixelCNN", PixelCNN(args.hidden, args.blocks), args.hidden, args.blocks)
    x = torch.from_numpy((np.random.default_rng(0).random((64, 1, 28, 28)) < 0.3).astype(np.float32))
    return training_step(lambda: model.loss(x), torch.optim.Adam(model.parameters(), 1e-3))


STEPS = {"vae": vae_step, "ddpm": ddpm_step, "pixelcnn": pixelcnn_step, "cyclegan": cyclegan_step}
TWIN_STEPS = {"ddpm": ddpm_twin_step, "pixelcnn": pixelcnn_twin_step}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(STEPS))
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--channels", type=int, default=16, help="ddpm: U-Net channels at 28×28")
    parser.add_argument("--hidden", type=int, default=16, help="pixelcnn: h")
    parser.add_argument("--blocks", type=int, default=15, help="pixelcnn: residual blocks")
    parser.add_argument("--pytorch", action="store_true", help="time the PyTorch twin's step instead")
    args = parser.parse_args()
    if args.pytorch and args.family not in TWIN_STEPS:
        parser.error(f"--pytorch times the twins of {', '.join(sorted(TWIN_STEPS))}, not {args.family}")
    tg.manual_seed(0)
    step = (TWIN_STEPS if args.pytorch else STEPS)[args.family](args)
    for _ in range(3):
        step()
    times = []
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    # page faults: memory handed back to the system and faulted in again each step
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.steps
    name = args.family + (" (PyTorch twin)" if args.pytorch else "")
    print(f"{name}: median {np.median(times) * 1e3:.1f} ms, best {min(times) * 1e3:.1f} ms "
          f"per step, {faults:.0f} page faults per step (malloc {MALLOC})")


if __name__ == "__main__":
    main()
