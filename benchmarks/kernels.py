"""conv2d, conv_transpose2d and batch_norm kernels, and whole training steps of the convolutional
VAE and a DCGAN, on NumPy, side by side with PyTorch CPU in the same run.

    python benchmarks/kernels.py            # times and ratios
    python benchmarks/kernels.py --memory   # also peak memory of the VAE step (subprocesses)
    python benchmarks/kernels.py --kernels-only [--no-form-swap]   # the kernels alone

The models are written out here for both frameworks with the same layers, so
the comparison is like for like (tinygen's own copies live in tinygen.models).
"""
import argparse
import functools
import json
import resource
import subprocess
import sys

import numpy as np

import tinygen as tg
import tinygen.nn.functional as F
from _timing import best_time, report, try_torch

BATCH = 128


def seed_vae(lib):
    """The convolutional VAE: conv 32/64 stride 2 → dense 128 → μ, log σ² (16) → dense 7·7·64 →
    convT 64/32 stride 2 → convT 1 (logits)."""
    L = lib.nn
    encoder = L.Sequential(L.Conv2d(1, 32, 3, stride=2, padding=1), L.ReLU(),
                           L.Conv2d(32, 64, 3, stride=2, padding=1), L.ReLU(),
                           L.Flatten(), L.Linear(3136, 128), L.ReLU(), L.Linear(128, 32))
    decoder = L.Sequential(L.Linear(16, 3136), L.ReLU(), L.Unflatten(1, (64, 7, 7)),
                           L.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), L.ReLU(),
                           L.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), L.ReLU(),
                           L.ConvTranspose2d(32, 1, 3, stride=1, padding=1))
    return encoder, decoder


def vae_step_fn(lib, Fn):
    encoder, decoder = seed_vae(lib)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = lib.optim.Adam(params, lr=1e-3)
    rng = np.random.default_rng(0)
    x = lib.tensor((rng.random((BATCH, 1, 28, 28)) > 0.5).astype(np.float32))
    eps = lib.tensor(rng.standard_normal((BATCH, 16)).astype(np.float32))

    def step():
        h = encoder(x)
        mu, logvar = h[:, :16], h[:, 16:]
        z = mu + (0.5 * logvar).exp() * eps
        logits = decoder(z)
        rec = Fn.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum()
        loss = (rec + kl) / BATCH
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def dcgan(lib):
    L = lib.nn
    G = L.Sequential(L.Unflatten(1, (100, 1, 1)),
                     L.ConvTranspose2d(100, 256, 7, 1, 0, bias=False), L.BatchNorm2d(256), L.ReLU(),
                     L.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), L.BatchNorm2d(128), L.ReLU(),
                     L.ConvTranspose2d(128, 1, 4, 2, 1), L.Tanh())
    D = L.Sequential(L.Conv2d(1, 64, 4, 2, 1), L.LeakyReLU(0.2),
                     L.Conv2d(64, 128, 4, 2, 1, bias=False), L.BatchNorm2d(128), L.LeakyReLU(0.2),
                     L.Flatten(), L.Linear(128 * 7 * 7, 1))
    return G, D


def dcgan_step_fn(lib, Fn):
    G, D = dcgan(lib)
    opt_g = lib.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = lib.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    real = lib.tensor(rng.uniform(-1, 1, (BATCH, 1, 28, 28)).astype(np.float32))
    z = lib.tensor(rng.standard_normal((BATCH, 100)).astype(np.float32))
    ones = lib.tensor(np.ones((BATCH, 1), np.float32))
    zeros = lib.tensor(np.zeros((BATCH, 1), np.float32))

    def step():
        fake = G(z)
        d_loss = Fn.binary_cross_entropy_with_logits(D(real), ones) + \
            Fn.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = Fn.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    return step


def kernel_cases(lib, Fn):
    rng = np.random.default_rng(0)

    def t(shape):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)

    x1, w1 = t((BATCH, 32, 14, 14)), t((64, 32, 3, 3))
    x2, w2 = t((BATCH, 64, 7, 7)), t((64, 32, 3, 3))
    x3, g3, b3 = t((BATCH, 64, 14, 14)), t((64,)), t((64,))
    x4, w4 = t((BATCH // 2, 128, 28, 28)), t((1, 128, 7, 7))

    def conv():
        Fn.conv2d(x1, w1, stride=2, padding=1).sum().backward()

    def conv_t():
        Fn.conv_transpose2d(x2, w2, stride=2, padding=1, output_padding=1).sum().backward()

    def bn():
        (Fn.batch_norm(x3, None, None, g3, b3, training=True) ** 2).sum().backward()

    def conv_to_image():
        Fn.conv2d(x4, w4, padding=3).sum().backward()

    # the DDPM U-Net's other kernels, at its 28×28 level (16 channels, batch 64)
    x5, g5, b5 = t((64, 16, 28, 28)), t((16,)), t((16,))
    x6 = t((64, 32, 14, 14))

    def group_norm():
        (Fn.group_norm(x5, 8, g5, b5) ** 2).sum().backward()

    def silu():
        (Fn.silu(x5) ** 2).sum().backward()

    def upsample():
        Fn.interpolate(x6, scale_factor=2).sum().backward()
    return [(f"conv2d 128→1 7x7 s1 28x28 b{BATCH // 2} (seed G), f+b",
             conv_to_image),
            ("conv2d 32→64 3x3 s2, 14x14, fwd+bwd", conv),
            ("conv_transpose2d 64→32 3x3 s2, 7x7, fwd+bwd", conv_t),
            ("batch_norm 64ch 14x14 train, fwd+bwd", bn),
            ("group_norm 16ch/8 groups 28x28 b64, fwd+bwd", group_norm),
            ("silu 16ch 28x28 b64, fwd+bwd", silu),
            ("nearest x2 upsampling 32ch 14x14 b64, f+b", upsample)]


def _peak_rss_mib():
    """VmHWM: this process's peak resident memory. (ru_maxrss would be inherited from the
    parent across fork+exec, which hides the child's own peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_probe(framework, case):
    """Run in a subprocess: peak RSS growth (MiB) from the built model through 5 training steps."""
    if framework == "torch":
        import torch
        torch.set_num_threads(2)
        lib, Fn = torch, torch.nn.functional
    else:
        lib, Fn = tg, F
    step = (vae_step_fn if case == "vae" else dcgan_step_fn)(lib, Fn)
    before = _peak_rss_mib()   # model built, no step yet
    for _ in range(5):
        step()
    after = _peak_rss_mib()
    print(json.dumps({"peak_growth_mib": after - before, "peak_total_mib": after}))


def measure_memory(framework, case):
    out = subprocess.run([sys.executable, __file__, "--probe", framework, case],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--kernels-only", action="store_true", help="skip the training steps")
    parser.add_argument("--no-form-swap", action="store_true",
                        help="turn off the stride-1 conv2d ⇄ conv_transpose2d swap in the kernel rows "
                             "(swap_forms=False, for comparison)")
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        return memory_probe(*args.probe)
    if args.no_form_swap:      # the kernel rows call F.conv2d / F.conv_transpose2d directly
        F.conv2d = functools.partial(F.conv2d, swap_forms=False)
        F.conv_transpose2d = functools.partial(F.conv_transpose2d, swap_forms=False)
    torch = try_torch()
    tF = torch.nn.functional if torch else None
    rows = []
    ours_cases = kernel_cases(tg, F)
    theirs_cases = kernel_cases(torch, tF) if torch else [(None, None)] * len(ours_cases)
    for (name, ours), (_, theirs) in zip(ours_cases, theirs_cases):
        rows.append((name, best_time(ours, repeats=10), best_time(theirs, repeats=10) if theirs else None))
    versus = f" vs torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ""
    if args.kernels_only:
        return report(rows, f"kernels on NumPy {np.__version__}{versus}")
    rows.append((f"seed-VAE training step (batch {BATCH})", best_time(vae_step_fn(tg, F), repeats=20),
                 best_time(vae_step_fn(torch, tF), repeats=20) if torch else None))
    rows.append((f"DCGAN training step, D+G (batch {BATCH})", best_time(dcgan_step_fn(tg, F), repeats=5),
                 best_time(dcgan_step_fn(torch, tF), repeats=5) if torch else None))
    report(rows, f"kernels and training steps on NumPy {np.__version__}{versus}")
    if args.memory:
        print("\npeak memory growth over 5 steps (MiB, VmHWM in a fresh subprocess)")
        for case in ("vae", "dcgan"):
            ours = measure_memory("tinygen", case)["peak_growth_mib"]
            line = f"{case:8s} tinygen {ours:8.1f}"
            if torch:
                theirs = measure_memory("torch", case)["peak_growth_mib"]
                line += f"   pytorch {theirs:8.1f}   ratio {ours / max(theirs, 1e-9):5.2f}x"
            print(line)


if __name__ == "__main__":
    main()
