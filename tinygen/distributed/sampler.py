"""Sharding a dataset over the ranks.

Each epoch every rank draws the same permutation (seeded by seed and epoch), pads it
by wrapping around to a multiple of W, and takes every W-th index from its rank on:

    shard_r = perm[r], perm[r + W], perm[r + 2W], ...

The shards are disjoint and together cover the (padded) dataset once per epoch. A
loader of batch b over shard r then sees positions j·W·b + r, r + W, ...: batch j of the
W ranks together is exactly batch j of size W·b of one process over ``perm``.
"""
from __future__ import annotations

import numpy as np


class DistributedSampler:
    """Indices for one rank; ``set_epoch(e)`` picks epoch e's permutation (PyTorch's API)."""

    def __init__(self, n, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        from .state import rank as current_rank, world_size
        self.n = n
        self.num_replicas = world_size() if num_replicas is None else num_replicas
        self.rank = current_rank() if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside [0, {self.num_replicas})")
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        per_rank = n // self.num_replicas if drop_last else -(-n // self.num_replicas)
        self.num_samples = per_rank

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch

    def indices(self, epoch=None):
        epoch = self.epoch if epoch is None else epoch
        order = (np.random.default_rng([self.seed, epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        total = self.num_samples * self.num_replicas
        if total > self.n:                      # pad by wrapping around
            order = np.concatenate([order, order[:total - self.n]])
        return order[:total][self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())
