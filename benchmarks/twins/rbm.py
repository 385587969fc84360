"""The RBM's PyTorch twin, with the textbook CD update written out by hand instead of
tinygen's autograd of the free energy (an independent derivation of the same step):

    ∂L/∂W = -(⟨p(h|v) vᵀ⟩_data - ⟨p(h|v) vᵀ⟩_model),  ∂L/∂b = -(⟨v⟩_data - ⟨v⟩_model),
    ∂L/∂c = -(⟨p(h|v)⟩_data - ⟨p(h|v)⟩_model)

for L = mean F(v_data) - mean F(v_model); v_model is v_k, k Gibbs steps from the data
(CD-k) or from persistent chains (PCD-k). Its parameters carry tinygen's names, so
tinygen's ``state_dict`` loads into it 1:1.
"""
import numpy as np
import torch
from torch import nn


class RBM(nn.Module):
    def __init__(self, visible=784, hidden=500):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(hidden, visible))
        self.visible_bias = nn.Parameter(torch.zeros(visible))
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))

    def hidden_probs(self, v):
        return torch.sigmoid(v @ self.weight.T + self.hidden_bias)

    def gibbs(self, v, uniforms, steps=1):
        """``uniforms()`` hands out the draws; v → h → v as tinygen's RBM.gibbs does."""
        with torch.no_grad():
            for _ in range(steps):
                h = (uniforms() < self.hidden_probs(v)).to(v.dtype)
                v = (uniforms() < torch.sigmoid(h @ self.weight + self.visible_bias)).to(v.dtype)
        return v

    def set_cd_gradients(self, v_data, v_model):
        """The CD update as gradients of L (to be followed by an optimizer step)."""
        n = v_data.shape[0]
        with torch.no_grad():
            h_data, h_model = self.hidden_probs(v_data), self.hidden_probs(v_model)
            self.weight.grad = -(h_data.T @ v_data - h_model.T @ v_model) / n
            self.visible_bias.grad = -(v_data - v_model).mean(0)
            self.hidden_bias.grad = -(h_data - h_model).mean(0)


def ported(state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
