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

DDIM (Song, Meng & Ermon, 2021, eq. 12) walks the same subsequence with a deterministic
update (η = 0) that needs far fewer steps: from the predicted clean image
x̂_0 = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t, clipped to [-1, 1] (ε̂ then re-derived from it),

    x_prev = √ᾱ_prev x̂_0 + √(1 - ᾱ_prev - σ²) ε̂ + σ z,   σ = η √((1 - ᾱ_prev)/(1 - ᾱ_t)) √(1 - ᾱ_t/ᾱ_prev)

Classifier-free guidance (Ho & Salimans, 2022): a conditional ε_θ(x_t, t, y) is trained
with the label replaced by the null label ∅ with probability p_uncond, so one network is
both conditional and unconditional; sampling uses, with guidance scale w,

    ε̃ = (1 + w) ε_θ(x_t, t, y) - w ε_θ(x_t, t, ∅)

(w = 0: the plain conditional model; larger w: more typical digits, less variety).
Images live in [-1, 1] (pixels scaled by 2x - 1).
"""
from __future__ import annotations

import math

import numpy as np

from ... import nn
from ...autograd.grad_mode import no_grad
from ...autograd.ops import cat
from ...autograd.tensor import Tensor
from ...backend import get_array_module
from ...creation import full, rand, randint, randn, tensor
from .unet import UNet


def linear_beta_schedule(num_steps=1000, beta_start=1e-4, beta_end=0.02):
    """β_1 … β_T, float64 (the products ᾱ_t are taken in double precision)."""
    return np.linspace(beta_start, beta_end, num_steps, dtype=np.float64)


class DDPM(nn.Module):
    """ε_θ (a UNet) with the noise schedule, L_simple, and ancestral and DDIM sampling;
    with ``num_classes`` K > 0, class-conditional with classifier-free guidance
    (``p_uncond``: how often training drops the label to ∅)."""

    SAMPLERS = ("ancestral", "ddim")

    def __init__(self, channels=32, num_steps=1000, in_channels=1, image_size=28, num_classes=0, p_uncond=0.1):
        super().__init__()
        self.net = UNet(in_channels, channels, num_classes=num_classes)
        self.num_classes, self.p_uncond = num_classes, p_uncond
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

    def _labels(self, labels, n):
        """Labels as int64 (n,) for a conditional model; None for an unconditional one."""
        if not self.num_classes:
            if labels is not None:
                raise ValueError("this DDPM is unconditional (num_classes=0) but got labels")
            return None
        if labels is None:
            raise ValueError(f"this DDPM is class-conditional: pass labels in 0 … {self.num_classes - 1}")
        labels = labels if isinstance(labels, Tensor) else tensor(np.asarray(labels), dtype="int64")
        if labels.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        return labels

    def loss(self, x0, labels=None):
        """L_simple: mean ‖ε - ε_θ(x_t, t[, y])‖² with t ~ U{1, …, T} and ε ~ N(0, I) per image;
        a conditional model sees y replaced by ∅ with probability p_uncond."""
        self._check(x0)
        y = self._labels(labels, x0.shape[0])
        t = randint(0, self.num_steps, (x0.shape[0],), device=x0.device)
        noise = randn(*x0.shape, dtype=x0.dtype, device=x0.device)
        if y is not None:
            dropped = (rand(x0.shape[0], device=x0.device) < self.p_uncond).data
            y = tensor(get_array_module(dropped).where(dropped, self.num_classes, y.data), dtype="int64",
                       device=x0.device)
        predicted = self.net(self.q_sample(x0, t, noise), t, y)
        return ((noise - predicted) ** 2).mean()

    def predict_noise(self, x, t, y=None, guidance=0.0):
        """ε̂ = ε_θ(x_t, t) unconditionally; ε̃ = (1 + w) ε_θ(x_t, t, y) - w ε_θ(x_t, t, ∅) with labels
        (w = 0: one conditional pass; otherwise both passes in one batch of 2N)."""
        if y is None or not guidance:
            return self.net(x, t, y)
        null = full((x.shape[0],), self.num_classes, dtype="int64", device=x.device)
        both = self.net(cat((x, x)), cat((t, t)), cat((y, null)))
        conditional, unconditional = both[:x.shape[0]], both[x.shape[0]:]
        return (1.0 + guidance) * conditional - guidance * unconditional

    def timestep_subsequence(self, steps):
        """An evenly spaced, increasing subsequence τ of 0 … T-1 ending at T-1, and its β'."""
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be in 1 … {self.num_steps}, got {steps}")
        tau = np.unique(np.round(np.linspace(0, self.num_steps - 1, steps)).astype(np.int64))
        alpha_bars = self.alpha_bars[tau]
        previous = np.concatenate([[1.0], alpha_bars[:-1]])
        return tau, 1.0 - alpha_bars / previous

    def sample(self, n, steps=None, progress=False, labels=None, guidance=0.0, sampler="ancestral", eta=0.0,
               snapshots=0):
        """n images in [-1, 1] over ``steps`` timesteps (default all T): ``sampler`` "ancestral"
        (Algorithm 2) or "ddim" (η = ``eta``; 0 is deterministic); a conditional model draws
        the digits ``labels`` (n,) with guidance scale ``guidance``; ``progress``: a tqdm bar.
        ``snapshots`` > 0 keeps x_t at that many evenly spaced points of the reverse process
        (x_T first, the final x_0 last) in ``self.last_trajectory``, a list of (t, array)."""
        if sampler not in self.SAMPLERS:
            raise ValueError(f"sampler must be one of {self.SAMPLERS}, got {sampler!r}")
        if sampler == "ancestral" and eta:
            raise ValueError(f"eta is the DDIM sampler's noise share (got {eta}); the ancestral sampler's "
                             "variance is β_t (sampler='ddim', eta=1 gives the posterior variance β̃_t)")
        y = self._labels(labels, n)
        tau, betas = self.timestep_subsequence(self.num_steps if steps is None else steps)
        alpha_bars = np.cumprod(1.0 - betas)
        weight = self.net.conv_in.weight
        if y is not None:
            y = y.to(weight.device)
        was_training = self.training
        self.eval()
        with no_grad():
            x = randn(n, *self.image_shape, dtype=weight.dtype, device=weight.device)
            reverse = range(len(tau) - 1, -1, -1)
            keep = set(np.linspace(len(tau) - 1, 0, snapshots).round().astype(int)[:-1]) if snapshots > 1 else set()
            self.last_trajectory = []
            if progress:
                import sys
                from tqdm import tqdm
                reverse = tqdm(reverse, desc=f"{sampler} ({n} images)", file=sys.stderr, mininterval=1.0)
            for i in reverse:
                if i in keep:                                    # x_t before this step, t = τ_i + 1
                    self.last_trajectory.append((int(tau[i]) + 1, x.clamp(-1.0, 1.0).numpy()))
                t = full((n,), int(tau[i]), dtype="int64", device=weight.device)   # made on the device
                eps = self.predict_noise(x, t, y, guidance)
                # Python floats from the float64 schedule: x stays float32
                alpha_bar, alpha_bar_prev = float(alpha_bars[i]), float(alpha_bars[i - 1]) if i > 0 else 1.0
                if sampler == "ancestral":
                    x = self.ancestral_step(x, eps, float(betas[i]), alpha_bar, last=i == 0)
                else:
                    x = self.ddim_step(x, eps, alpha_bar, alpha_bar_prev, eta)
        self.train(was_training)
        if snapshots:
            self.last_trajectory.append((0, x.clamp(-1.0, 1.0).numpy()))
        return x.clamp(-1.0, 1.0)

    def ancestral_step(self, x, eps, beta, alpha_bar, last):
        """x_{t-1} = (x_t - β_t/√(1 - ᾱ_t) ε̂) / √α_t + σ_t z with σ_t² = β_t (no noise at the last step)."""
        mean = (x - (beta / math.sqrt(1.0 - alpha_bar)) * eps) / math.sqrt(1.0 - beta)
        return mean if last else mean + math.sqrt(beta) * randn(*x.shape, dtype=x.dtype, device=x.device)

    def ddim_step(self, x, eps, alpha_bar, alpha_bar_prev, eta):
        """x_prev = √ᾱ_prev x̂_0 + √(1 - ᾱ_prev - σ²) ε̂ + σ z, x̂_0 = (x_t - √(1 - ᾱ_t) ε̂)/√ᾱ_t.
        x̂_0 is clipped to the data range [-1, 1] and ε̂ re-derived from the clipped x̂_0,
        ε̂ = (x_t - √ᾱ_t x̂_0)/√(1 - ᾱ_t), so that x_t and x_prev share one (x̂_0, ε̂) pair.
        Clipping x̂_0 alone would pair a clipped x̂_0 with the unclipped ε̂: near t = T, where
        x̂_0 divides by √ᾱ_t ≈ 0, that mismatch adds noise the later steps never remove
        (guided samples, whose ε̃ extrapolates, fall apart)."""
        x0 = ((x - math.sqrt(1.0 - alpha_bar) * eps) / math.sqrt(alpha_bar)).clamp(-1.0, 1.0)
        eps = (x - math.sqrt(alpha_bar) * x0) / math.sqrt(1.0 - alpha_bar)
        sigma = eta * math.sqrt((1.0 - alpha_bar_prev) / (1.0 - alpha_bar) * (1.0 - alpha_bar / alpha_bar_prev))
        x_prev = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(max(1.0 - alpha_bar_prev - sigma ** 2, 0.0)) * eps
        return x_prev + sigma * randn(*x.shape, dtype=x.dtype, device=x.device) if sigma > 0 else x_prev
