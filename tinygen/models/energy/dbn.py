"""Deep belief network (Hinton, Osindero & Teh, 2006): RBMs stacked and trained greedily.

RBM_1 models the data v; RBM_2 models the hidden states h_1 ~ p(h_1|v) that RBM_1 gives
the training data; and so on up. The result is a generative model whose top two layers
form an undirected RBM and whose lower layers are directed, top-down sigmoid layers that
reuse each RBM's weights:

    h_{L-1} ~ the top RBM (Gibbs sampling),
    h_{l-1} ~ Bernoulli(sigmoid(b_l + W_lᵀ h_l))  for l = L-1 … 1,   (h_0 = v)

where b_l is RBM_l's visible bias. Each added layer improves a variational bound on
log p(v) (the paper's argument), without the up-down fine-tuning, which is left out here.

The bottom-up pass p(h_l = 1 | h_{l-1}) = sigmoid(c_l + W_l h_{l-1}) gives the features
that a classifier can be trained on (``features``).
"""
from __future__ import annotations

from ... import nn
from ...autograd.grad_mode import no_grad
from ...creation import zeros
from .rbm import RBM


class DeepBeliefNetwork(nn.Module):
    """RBMs of sizes (v, h_1), (h_1, h_2), …; ``sizes`` = (784, 500, 500) gives two."""

    def __init__(self, sizes=(784, 500, 500)):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"a DBN needs at least one RBM: sizes (visible, hidden, ...), got {sizes}")
        self.sizes = tuple(sizes)
        self.rbms = nn.ModuleList([RBM(a, b) for a, b in zip(sizes[:-1], sizes[1:])])

    def layer_input(self, v, layer, sample=True):
        """What RBM number ``layer`` (0-based) is trained on: v passed up through the RBMs
        below it, each giving h ~ p(h|input) (or its probabilities with sample=False)."""
        with no_grad():
            for rbm in self.rbms[:layer]:
                p = rbm.hidden_probs(v)
                v = rbm.bernoulli(p) if sample else p
        return v

    def features(self, v):
        """Mean-field bottom-up features: the top layer's p(h_L = 1 | …), shape (N, sizes[-1])."""
        return self.rbms[-1].hidden_probs(self.layer_input(v, len(self.rbms) - 1, sample=False))

    def sample(self, n, steps=1000):
        """n visible samples: ``steps`` Gibbs sweeps in the top RBM from noise, then one
        top-down pass through the directed layers; returns the mean images p(v | h_1)."""
        top = self.rbms[-1]
        with no_grad():
            h = top.bernoulli(zeros(n, top.visible, dtype=top.weight.dtype, device=top.weight.device) + 0.5)
            h, probs = top.gibbs(h, steps)
            for rbm in reversed(self.rbms[:-1]):
                probs = rbm.visible_probs(h)
                h = rbm.bernoulli(probs)
        return probs
