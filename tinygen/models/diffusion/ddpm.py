"""Denoising diffusion probabilistic model (Ho, Jain & Abbeel, 2020).

Forward (noising) process, fixed, with a linear schedule β_1 … β_T (T = 1000, 1e-4 → 0.02):

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 - ᾱ_t) I),    α_t = 1 - β_t,  ᾱ_t = Π_{s ≤ t} α_s

so x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε in one step. A network ε_θ(x_t, t) learns to predict
the noise; the training loss is the paper's L_simple (eq. 14):

    L = E_{t, x_0, ε} ‖ε - ε_θ(√ᾱ_t x_0 + √(1 - ᾱ_t) ε, t)‖²     (mean over pixels here)

Sampling runs the learned reverse process from x_T ~ N(0, I) (Algorithm 2):

    x_{t-1} = (x_t - β_t/√(1 - ᾱ_t) · ε_θ(x_t, t)) / √α_t + σ_t z,   σ_t² = β_t,  z ~ N(0, I)

With ``steps`` < T the reverse process visits an evenly spaced subsequence τ of the
timesteps, with β's recomputed so that ᾱ is unchanged on τ: β'_i = 1 - ᾱ_{τ_i}/ᾱ_{τ_{i-1}}
(Nichol & Dhariwal, 2021, sec. 4); this trades sample quality for speed.
Images live in [-1, 1] (pixels scaled by 2x - 1).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...creation import full, randint, randn, tensor
from .unet import UNet


def linear_beta_schedule(num_steps=1000, beta_start=1e-4, beta_end=0.02):
    """β_1 … β_T, float64 (the products ᾱ_t are taken in double precision)."""
    return np.linspace(beta_start, beta_end, num_steps, dtype=np.float64)


class DDPM(nn.Module):
    """ε_θ (a UNet) with the noise schedule, L_simple and ancestral sampling."""

    def __init__(self, channels=32, num_steps=1000, in_channels=1, image_size=28):
        super().__init__()
        self.net = UNet(in_channels, channels)
        self.num_steps, self.image_shape = num_steps, (in_channels, image_size, image_size)
        betas = linear_beta_schedule(num_steps)
        alpha_bars = np.cumprod(1.0 - betas)
        self.betas, self.alpha_bars = betas, alpha_bars           # host copies, for the sampler
        # per-timestep √ᾱ_t and √(1 - ᾱ_t) as buffers: looked up on the device each step
        self.register_buffer("sqrt_alpha_bar", tensor(np.sqrt(alpha_bars).astype(np.float32)), persistent=False)
        self.register_buffer("sqrt_one_minus_alpha_bar", tensor(np.sqrt(1.0 - alpha_bars).astype(np.float32)),
                             persistent=False)

    def _check(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"DDPM expects images (N, {', '.join(map(str, self.image_shape))}) in [-1, 1], "
                             f"got {tuple(x.shape)}")

    def q_sample(self, x0, t, noise):
        """x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε, for integer timesteps t (N,) (0-based: t = 0 is step 1)."""
        shape = (-1, 1, 1, 1)
        return self.sqrt_alpha_bar[t].reshape(shape) * x0 + self.sqrt_one_minus_alpha_bar[t].reshape(shape) * noise

    def loss(self, x0):
        """L_simple: mean ‖ε - ε_θ(x_t, t)‖² with t ~ U{1, …, T} and ε ~ N(0, I) per image."""
        self._check(x0)
        t = randint(0, self.num_steps, (x0.shape[0],), device=x0.device)
        noise = randn(*x0.shape, dtype=x0.dtype, device=x0.device)
        predicted = self.net(self.q_sample(x0, t, noise), t)
        return ((noise - predicted) ** 2).mean()

    def timestep_subsequence(self, steps):
        """An evenly spaced, increasing subsequence τ of 0 … T-1 ending at T-1, and its β'."""
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be in 1 … {self.num_steps}, got {steps}")
        tau = np.unique(np.round(np.linspace(0, self.num_steps - 1, steps)).astype(np.int64))
        alpha_bars = self.alpha_bars[tau]
        previous = np.concatenate([[1.0], alpha_bars[:-1]])
        return tau, 1.0 - alpha_bars / previous

    def sample(self, n, steps=None, progress=False):
        """n images in [-1, 1] by ancestral sampling over ``steps`` timesteps (default all T);
        ``progress``: a tqdm bar over the reverse steps."""
        tau, betas = self.timestep_subsequence(steps or self.num_steps)
        alpha_bars = np.cumprod(1.0 - betas)
        weight = self.net.conv_in.weight
        was_training = self.training
        self.eval()
        with no_grad():
            x = randn(n, *self.image_shape, dtype=weight.dtype, device=weight.device)
            reverse = range(len(tau) - 1, -1, -1)
            if progress:
                import sys
                from tqdm import tqdm
                reverse = tqdm(reverse, desc=f"reverse process ({n} images)", file=sys.stderr, mininterval=1.0)
            for i in reverse:
                t = full((n,), int(tau[i]), dtype="int64", device=weight.device)   # made on the device
                eps = self.net(x, t)
                beta, alpha_bar = float(betas[i]), float(alpha_bars[i])     # Python floats: x stays float32
                mean = (x - (beta / math.sqrt(1.0 - alpha_bar)) * eps) / math.sqrt(1.0 - beta)
                x = mean + math.sqrt(beta) * randn(*x.shape, dtype=x.dtype, device=x.device) if i > 0 else mean
        self.train(was_training)
        return x.clamp(-1.0, 1.0)
