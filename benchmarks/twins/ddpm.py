"""DDPM's PyTorch twin: the U-Net ε_θ(x_t, t[, y]) with tinygen's module names (its
``state_dict`` loads 1:1) and L_simple = mean ‖ε - ε_θ(√ᾱ_t x₀ + √(1 - ᾱ_t) ε, t[, y])‖²
for given t, ε and (already dropped-to-∅) labels y; ``guided_noise`` is classifier-free
guidance, (1 + w) ε_θ(x, t, y) - w ε_θ(x, t, ∅). The schedule is rebuilt here: β linear from 1e-4 to 0.02 over T
steps, ᾱ_t = Π (1 - β_s) in float64, √ᾱ_t and √(1 - ᾱ_t) stored in float32 as tinygen
stores them; the timestep sinusoids are computed in float32, as tinygen's are.

tests/test_twins.py trains both side by side and compares every loss and tensor. Run as a
script, it trains the zoo's DDPM recipe in PyTorch (tinygen's initial weights ported, its
data order, Adam, the gradient clip, the EMA) and reports what the example reports: the
test L_simple on the same fixed (t, ε) and the samples of the same sampler, scored with
tinygen's metrics, beside ``python examples/ddpm_mnist.py --channels 16 --epochs 10
--fid-n 1000 --sample-steps 100``:

    python benchmarks/twins/ddpm.py --channels 16 --epochs 10 --fid-n 1000 --sample-steps 100

(a checkpoint after every epoch; the same command with ``--resume`` continues it).
"""
import argparse
import copy
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half, dtype=np.float32) / half)
    angles = t.numpy().astype(np.float32)[:, None] * freqs[None]
    return torch.from_numpy(np.concatenate([np.sin(angles), np.cos(angles)], axis=1))


class TimeResBlock(nn.Module):
    def __init__(self, cin, cout, time_dim, groups=8):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time = nn.Linear(time_dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x))) + self.time(e)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(self.norm2(h)))


class UNet(nn.Module):
    def __init__(self, channels=32, time_dim=128, num_classes=0):
        super().__init__()
        c, c2, t_dim = channels, 2 * channels, 4 * time_dim
        self.time_dim, self.num_classes = time_dim, num_classes
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        if num_classes:
            self.label_embedding = nn.Embedding(num_classes + 1, t_dim)     # index K: the null label
        self.conv_in = nn.Conv2d(1, c, 3, padding=1)
        self.down1, self.pool1 = TimeResBlock(c, c, t_dim), nn.Conv2d(c, c, 3, stride=2, padding=1)
        self.down2, self.pool2 = TimeResBlock(c, c2, t_dim), nn.Conv2d(c2, c2, 3, stride=2, padding=1)
        self.mid1, self.mid2 = TimeResBlock(c2, c2, t_dim), TimeResBlock(c2, c2, t_dim)
        self.up2_conv, self.up2 = nn.Conv2d(c2, c2, 3, padding=1), TimeResBlock(2 * c2, c2, t_dim)
        self.up1_conv, self.up1 = nn.Conv2d(c2, c2, 3, padding=1), TimeResBlock(c2 + c, c, t_dim)
        self.norm_out, self.conv_out = nn.GroupNorm(8, c), nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x, t, y=None):
        e = self.time_mlp(timestep_embedding(t, self.time_dim).to(x.dtype))
        if self.num_classes:
            e = e + self.label_embedding(torch.full_like(t, self.num_classes) if y is None else y)
        h1 = self.down1(self.conv_in(x), e)
        h2 = self.down2(self.pool1(h1), e)
        m = self.mid2(self.mid1(self.pool2(h2), e), e)
        u = self.up2(torch.cat((F.interpolate(self.up2_conv(m), scale_factor=2), h2), 1), e)
        u = self.up1(torch.cat((F.interpolate(self.up1_conv(u), scale_factor=2), h1), 1), e)
        return self.conv_out(F.silu(self.norm_out(u)))


class DDPM(nn.Module):
    def __init__(self, channels=32, num_steps=1000, num_classes=0):
        super().__init__()
        self.net = UNet(channels, num_classes=num_classes)
        alpha_bars = np.cumprod(1.0 - np.linspace(1e-4, 0.02, num_steps, dtype=np.float64))
        self.alpha_bars = alpha_bars                      # float64, for the sampler
        self.sqrt_ab = torch.from_numpy(np.sqrt(alpha_bars).astype(np.float32))
        self.sqrt_1mab = torch.from_numpy(np.sqrt(1.0 - alpha_bars).astype(np.float32))

    def loss(self, x0, t, noise, y=None):
        a = self.sqrt_ab[t].to(x0.dtype).reshape(-1, 1, 1, 1)
        b = self.sqrt_1mab[t].to(x0.dtype).reshape(-1, 1, 1, 1)
        return ((noise - self.net(a * x0 + b * noise, t, y)) ** 2).mean()

    def guided_noise(self, x, t, y, w):
        return (1 + w) * self.net(x, t, y) - w * self.net(x, t, None)


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


def test_loss(model, eval_n, eval_seed):
    """examples/ddpm_mnist.py's test L_simple: t and ε drawn once from ``eval_seed``."""
    from tinygen import data
    images, _ = data.load_mnist("test")
    x_all = images[:eval_n, None].astype(np.float32) / 127.5 - 1.0
    rng = np.random.default_rng(eval_seed)
    t_all = rng.integers(0, len(model.sqrt_ab), len(x_all))
    eps_all = rng.standard_normal(x_all.shape).astype(np.float32)
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x_all), 500):
            x0, t, eps = (torch.from_numpy(a[i:i + 500]) for a in (x_all, t_all, eps_all))
            total += model.loss(x0, t, eps).item() * len(x0)
    return total / len(x_all)


def ancestral_samples(model, n, steps):
    """tinygen's DDPM.sample(sampler="ancestral"): Algorithm 2 on an evenly spaced
    subsequence τ of the timesteps, β'_i = 1 - ᾱ_{τ_i}/ᾱ_{τ_{i-1}}, σ_i² = β'_i, no noise
    at the last step; images in [-1, 1]."""
    T = len(model.alpha_bars)
    tau = np.unique(np.round(np.linspace(0, T - 1, steps)).astype(np.int64))
    alpha_bars = model.alpha_bars[tau]
    betas = 1.0 - alpha_bars / np.concatenate([[1.0], alpha_bars[:-1]])
    alpha_bars = np.cumprod(1.0 - betas)
    x = torch.randn(n, 1, 28, 28)
    with torch.no_grad():
        for i in range(len(tau) - 1, -1, -1):
            eps = model.net(x, torch.full((n,), int(tau[i]), dtype=torch.int64))
            beta = float(betas[i])
            x = (x - beta / math.sqrt(1.0 - float(alpha_bars[i])) * eps) / math.sqrt(1.0 - beta)
            if i > 0:
                x = x + math.sqrt(beta) * torch.randn_like(x)
    return x.clamp(-1.0, 1.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description="DDPM trained in PyTorch the way examples/ddpm_mnist.py trains it")
    parser.add_argument("--channels", type=int, default=32, help="U-Net channels at 28×28")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs")
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam's learning rate")
    parser.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average")
    parser.add_argument("--grad-clip", type=float, default=1.0, help="clip the global gradient norm")
    parser.add_argument("--sample-steps", type=int, default=1000, help="ancestral reverse steps per sample")
    parser.add_argument("--eval-n", type=int, default=10_000, help="test images for the test loss")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from twins.training import add_run_flags
    add_run_flags(parser, "runs/twin_ddpm")
    args = parser.parse_args(argv)
    import tinygen as tg
    from tinygen import data
    from tinygen.models import DDPM as TinygenDDPM
    from twins.training import ema_update, load_checkpoint, save_checkpoint, score_and_write, use_threads
    torch.manual_seed(args.seed)
    use_threads()
    tg.manual_seed(args.seed)                         # the example's initial weights
    model = DDPM(args.channels)
    model.net.load_state_dict(ported(TinygenDDPM(args.channels).net.state_dict()))
    images, labels = data.load_mnist("train")
    loader = data.DataLoader(data.ArrayDataset(images, labels), 64, shuffle=True, seed=args.seed,
                             scale_to="pm1", resident=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    ema = copy.deepcopy(model)
    started = time.time()
    parts = {"model": model, "ema": ema, "opt": opt}
    first, wall_time_s = load_checkpoint(args.out, parts) if args.resume else (0, 0.0)
    started -= wall_time_s                            # wall time counts the earlier epochs too
    for epoch in range(first, args.epochs):
        loader.set_epoch(epoch)
        total, count = 0.0, 0
        for x, _ in loader:
            x0 = torch.from_numpy(x.numpy())
            t = torch.randint(0, len(model.sqrt_ab), (len(x0),))
            loss = model.loss(x0, t, torch.randn_like(x0))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            opt.step()
            ema_update(ema, model, args.ema)
            total, count = total + loss.item(), count + 1
        print(f"epoch {epoch + 1}: L_simple {total / count:.4f} ({time.time() - started:.0f} s)", flush=True)
        save_checkpoint(args.out, parts, epoch + 1, time.time() - started)
    ema.eval()
    l_simple = test_loss(ema, args.eval_n, 1234)
    print(f"test L_simple {l_simple:.5f}", flush=True)
    torch.manual_seed(args.seed)
    samples = torch.cat([ancestral_samples(ema, min(500, args.fid_n - i), args.sample_steps)
                         for i in range(0, args.fid_n, 500)])
    score_and_write(samples, args.out, started, epochs=args.epochs, channels=args.channels,
                    test_l_simple=round(l_simple, 5), test_n=args.eval_n, sampler="ancestral",
                    sample_steps=args.sample_steps, ema=args.ema)


if __name__ == "__main__":
    sys.exit(main())
