"""Adam and AdamW (PyTorch's update rules, with optional amsgrad).

    m ← β₁ m + (1 - β₁) g            v ← β₂ v + (1 - β₂) g²
    m̂ = m / (1 - β₁ᵗ)                v̂ = v / (1 - β₂ᵗ)
    θ ← θ - lr · m̂ / (√v̂ + ε)

Adam adds weight decay to the gradient (g ← g + λθ); AdamW decays the
weights directly (θ ← θ - lr·λ·θ) before the update.
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def step(self):
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd = group["weight_decay"]
            for p, g, state in self._params_with_grad(group):
                if group["maximize"]:
                    g = -g
                if wd and self.decoupled:
                    p.data *= 1 - lr * wd
                elif wd:
                    g = g + wd * p.data
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = g * 0
                    state["exp_avg_sq"] = g * 0
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = g * 0
                state["step"] += 1
                t = state["step"]
                m, v = state["exp_avg"], state["exp_avg_sq"]
                xp = get_array_module(m)
                work = xp.empty_like(m)    # one scratch array: every line below updates in place
                m *= beta1
                m += xp.multiply(g, 1 - beta1, out=work)                  # m ← β₁ m + (1 - β₁) g
                v *= beta2
                work = xp.multiply(g, g, out=work)
                work *= 1 - beta2
                v += work                                                 # v ← β₂ v + (1 - β₂) g²
                if group["amsgrad"]:
                    vmax = state["max_exp_avg_sq"]
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                bias1 = 1 - beta1 ** t
                bias2 = 1 - beta2 ** t
                denom = xp.sqrt(v, out=work)
                denom /= math.sqrt(bias2)
                denom += eps                                              # √v̂ + ε
                step = xp.divide(m, denom, out=work)
                step *= lr / bias1
                p.data -= step                                            # θ ← θ - lr · m̂ / (√v̂ + ε)


class AdamW(Adam):
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
