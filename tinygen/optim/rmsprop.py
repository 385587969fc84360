"""RMSprop (PyTorch's update rule).

    v ← α v + (1 - α) g²
    (centered: a ← α a + (1 - α) g, and v - a² replaces v)
    b ← μ b + g / (√v + ε);  θ ← θ - lr · b      (momentum μ > 0)
    θ ← θ - lr · g / (√v + ε)                    (otherwise)
"""
from __future__ import annotations

from .optimizer import Optimizer


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def step(self):
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, mu = group["weight_decay"], group["momentum"]
            for p, g, state in self._params_with_grad(group):
                if wd:
                    g = g + wd * p.data
                if not state:
                    state["step"] = 0
                    state["square_avg"] = g * 0
                    if mu:
                        state["momentum_buffer"] = g * 0
                    if group["centered"]:
                        state["grad_avg"] = g * 0
                state["step"] += 1
                v = state["square_avg"]
                v *= alpha
                v += (1 - alpha) * (g * g)
                if group["centered"]:
                    a = state["grad_avg"]
                    a *= alpha
                    a += (1 - alpha) * g
                    denom = (v - a * a) ** 0.5 + eps
                else:
                    denom = v ** 0.5 + eps
                if mu:
                    b = state["momentum_buffer"]
                    b *= mu
                    b += g / denom
                    p.data -= lr * b
                else:
                    p.data -= lr * (g / denom)
