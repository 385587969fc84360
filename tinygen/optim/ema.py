"""Exponential moving average of a model's weights (used for DDPM/GAN sampling).

    θ_ema ← decay · θ_ema + (1 - decay) · θ      after every optimizer step
"""
from __future__ import annotations

import copy

from ..autograd.grad_mode import no_grad


class EMA:
    def __init__(self, model, decay=0.999):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @no_grad()
    def update(self, model):
        d = self.decay
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.data *= d
            ema_p.data += (1 - d) * p.data
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.data[...] = b.data

    def state_dict(self):
        return self.model.state_dict()

    def load_state_dict(self, state):
        self.model.load_state_dict(state)
