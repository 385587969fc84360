"""A deep belief network turned into a classifier (Hinton & Salakhutdinov, 2006): the RBMs'
recognition weights initialise a sigmoid MLP, a softmax layer goes on top, and
backpropagation fine-tunes all of it on the labels.

    h_0 = v,    h_l = sigmoid(W_l h_{l-1} + c_l)      (W_l, c_l: RBM_l's weight and hidden bias)
    p(y | v) = softmax(U h_L + d)
    L = mean_n -log p(y_n | v_n)

``DBNClassifier(sizes)`` alone is the same network from random initialisation: the
control that shows what the generative pretraining adds.
"""
from __future__ import annotations

from ... import nn
from ...nn import functional as F


class DBNClassifier(nn.Module):
    """Sigmoid layers of ``sizes`` (784, 500, 500, 2000, ...) and a linear softmax layer."""

    def __init__(self, sizes=(784, 500, 500, 2000), num_classes=10):
        super().__init__()
        self.sizes = tuple(sizes)
        self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
        self.classify = nn.Linear(sizes[-1], num_classes)

    @classmethod
    def from_dbn(cls, dbn, num_classes=10):
        """The classifier whose hidden layers start as ``dbn``'s bottom-up passes p(h_l | h_{l-1}),
        in the DBN's dtype and on its backend."""
        weight = dbn.rbms[0].weight
        model = cls(dbn.sizes, num_classes).to(weight.dtype).to(weight.device)
        model.load_rbms(dbn)
        return model

    def load_rbms(self, dbn):
        """Copy each RBM's W (laid out like nn.Linear's weight) and hidden bias c into its layer."""
        if tuple(dbn.sizes) != self.sizes:
            raise ValueError(f"the DBN's sizes {tuple(dbn.sizes)} are not the classifier's {self.sizes}")
        for layer, rbm in zip(self.hidden, dbn.rbms):
            layer.weight.data[...] = rbm.weight.data
            layer.bias.data[...] = rbm.hidden_bias.data
        return self

    def forward(self, v):
        """Logits U h_L + d for images or vectors v (N, 784) / (N, 1, 28, 28)."""
        h = v.flatten(1)
        for layer in self.hidden:
            h = F.sigmoid(layer(h))
        return self.classify(h)
