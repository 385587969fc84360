"""Per-op overhead of the autograd engine, side by side with PyTorch eager on the CPU.

    python benchmarks/overhead.py

Case 1: a chain of 1,000 small elementwise ops on a (16,) tensor, forward and
backward: the time is almost all Python-side bookkeeping, so it measures the
engine, not the math. Case 2: one training step of a 3-layer MLP
(784-256-256-10, batch 64, softmax cross-entropy, plain SGD).
"""
import numpy as np

import tinygen as tg
import tinygen.nn.functional as F
from _timing import best_time, report, try_torch

CHAIN = 1000


def chain_tinygen():
    x = tg.randn(16, requires_grad=True)

    def step():
        y = x
        for i in range(CHAIN // 4):
            y = (y * 1.0001 + 0.001).tanh() - 0.0001
        y.sum().backward()
        x.grad = None
    return step


def chain_torch(torch):
    x = torch.randn(16, requires_grad=True)

    def step():
        y = x
        for i in range(CHAIN // 4):
            y = (y * 1.0001 + 0.001).tanh() - 0.0001
        y.sum().backward()
        x.grad = None
    return step


def mlp_data():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((64, 784)).astype(np.float32)
    ys = rng.integers(0, 10, 64)
    sizes = [(784, 256), (256, 256), (256, 10)]
    weights = [(rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32) for s in sizes]
    return xs, ys, weights


def mlp_tinygen():
    xs, ys, weights = mlp_data()
    x = tg.tensor(xs)
    onehot = tg.tensor(np.eye(10, dtype=np.float32)[ys])
    params = [tg.tensor(w, requires_grad=True) for w in weights]
    biases = [tg.zeros(w.shape[1], requires_grad=True) for w in weights]

    def step():
        h = x
        for i, (w, b) in enumerate(zip(params, biases)):
            h = h @ w + b
            if i < 2:
                h = F.relu(h)
        loss = -(F.log_softmax(h, dim=1) * onehot).sum(1).mean()
        loss.backward()
        with tg.no_grad():
            for p in params + biases:
                p.data -= 0.01 * p.grad.data
                p.grad = None
    return step


def mlp_torch(torch):
    xs, ys, weights = mlp_data()
    x = torch.from_numpy(xs)
    target = torch.from_numpy(ys)
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    biases = [torch.zeros(w.shape[1], requires_grad=True) for w in weights]

    def step():
        h = x
        for i, (w, b) in enumerate(zip(params, biases)):
            h = h @ w + b
            if i < 2:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, target)
        loss.backward()
        with torch.no_grad():
            for p in params + biases:
                p -= 0.01 * p.grad
                p.grad = None
    return step


def main():
    torch = try_torch()
    rows = []
    ours = best_time(chain_tinygen(), repeats=7)
    theirs = best_time(chain_torch(torch), repeats=7) if torch else None
    rows.append((f"chain of {CHAIN} ops, fwd+bwd", ours, theirs))
    rows.append(("  per op", ours / CHAIN, theirs / CHAIN if theirs else None))
    ours = best_time(mlp_tinygen(), repeats=20)
    theirs = best_time(mlp_torch(torch), repeats=20) if torch else None
    rows.append(("3-layer MLP training step (batch 64)", ours, theirs))
    report(rows, f"autograd overhead (numpy {np.__version__}"
                 + (f", torch {torch.__version__})" if torch else ", no torch installed)"))


if __name__ == "__main__":
    main()
