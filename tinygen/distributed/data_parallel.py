"""Data parallelism: every rank holds the whole model and trains on its shard of each batch.

With the same starting weights on every rank (``broadcast_module``) and the gradients
averaged after each backward,

    g = (1/W) Σ_r ∇θ L_r,      L_r the loss of rank r's B/W images,

every rank takes the same optimizer step, and W ranks × B/W images give the update of
one process × B (for a loss that is a mean over the batch, and with ``SyncBatchNorm``
where the model has batch norm). The gradients go in one all-reduce over a flat buffer
per dtype: one message per step instead of one per parameter.
"""
from __future__ import annotations

from ..autograd.tensor import constant
from ..backend import get_array_module
from ..nn.module import Module
from .state import communicator


def broadcast_module(module, root=0):
    """Every parameter and buffer ← root's, in place (call once, before training)."""
    comm = communicator()
    if comm.size == 1:
        return module
    for tensor in list(module.parameters()) + [b for _, b in module.named_buffers()]:
        if tensor is not None:
            tensor.data[...] = comm.broadcast(tensor.data, root)
    return module


def average_gradients(parameters):
    """p.grad ← the mean over the ranks of p.grad, for every p that has a gradient (the
    same ones on every rank: the ranks run the same code)."""
    comm = communicator()
    params = [p for p in parameters if p.grad is not None]
    if comm.size == 1 or not params:
        return
    by_dtype = {}
    for p in params:
        by_dtype.setdefault(p.grad.dtype, []).append(p)
    for group in by_dtype.values():
        xp = get_array_module(group[0].grad.data)
        flat = xp.concatenate([p.grad.data.reshape(-1) for p in group])
        flat = comm.all_reduce(flat, "sum")
        flat *= flat.dtype.type(1.0 / comm.size)
        offset = 0
        for p in group:
            n = p.grad.data.size
            p.grad = constant(flat[offset:offset + n].reshape(p.grad.shape))
            offset += n


class DistributedOptimizer:
    """An optimizer whose ``step()`` first averages its parameters' gradients over the
    ranks (ChainerMN's multi-node optimizer). Everything else is the wrapped optimizer's:
    its state_dict keys do not change, so checkpoints load with or without it."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self):
        average_gradients(p for group in self.optimizer.param_groups for p in group["params"])
        self.optimizer.step()

    def __getattr__(self, name):           # zero_grad, param_groups, state_dict, ...
        return getattr(self.optimizer, name)


class DistributedDataParallel(Module):
    """PyTorch's wrapper: rank 0's weights broadcast at construction; the forward is the
    module's; ``average_gradients()`` after backward (or a ``DistributedOptimizer``).
    Its state_dict keys carry PyTorch's ``module.`` prefix; save ``ddp.module`` to get
    the plain model's keys."""

    def __init__(self, module):
        super().__init__()
        self.module = broadcast_module(module)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def average_gradients(self):
        average_gradients(self.module.parameters())
