"""Linear probe: how well a softmax regression on frozen features classifies.

A standard way to score learned representations (RBM/DBN hidden units, autoencoder
codes): fit p(y | f) = softmax(A f + a) on the training features (standardised with the
training mean and std), by Adam on the mean cross-entropy plus an L2 penalty on A, and
report the test accuracy. The raw pixels through the same probe are the baseline.
"""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..creation import tensor
from ..nn import functional as F
from ..random import manual_seed


def linear_probe(train_features, train_labels, test_features, test_labels, num_classes=10, epochs=30,
                 batch_size=256, lr=1e-2, weight_decay=1e-4, seed=0):
    """Test accuracy (%) of a softmax regression trained on (train_features, train_labels)."""
    train_features = np.asarray(train_features, dtype=np.float32)
    test_features = np.asarray(test_features, dtype=np.float32)
    if train_features.ndim != 2 or test_features.shape[1:] != train_features.shape[1:]:
        raise ValueError(f"features must be (N, d) with the same d; got {train_features.shape} "
                         f"and {test_features.shape}")
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    x_train = tensor((train_features - mean) / std)
    x_test = tensor((test_features - mean) / std)
    y_train = tensor(np.asarray(train_labels, dtype=np.int64))
    manual_seed(seed)
    probe = nn.Linear(train_features.shape[1], num_classes)
    opt = optim.Adam(probe.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    n = len(train_features)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(probe(x_train[idx]), y_train[idx]) \
                + weight_decay * (probe.weight ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with no_grad():
        predicted = probe(x_test).argmax(1).numpy()
    return float((predicted == np.asarray(test_labels)).mean() * 100)
