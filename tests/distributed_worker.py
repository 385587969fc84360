"""What tests/test_distributed.py runs under ``mpiexec -n 2``: one scenario per call,
``python tests/distributed_worker.py SCENARIO``. Rank 0 checks and exits 0 on success;
a failed check raises, which aborts the job (distributed.init's excepthook)."""
import sys
import time

import numpy as np

import tinygen as tg
from tinygen import data, distributed, nn, optim
from tinygen.nn import functional as F

BATCH, STEPS = 8, 10


def images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8), rng.integers(0, 4, n)


def build(batch_norm):
    tg.manual_seed(3)
    # no conv bias before batch norm: its gradient is 0 up to rounding, which Adam would blow up
    layers = [nn.Conv2d(1, 4, 3, padding=1, bias=not batch_norm)] + ([nn.BatchNorm2d(4)] if batch_norm else []) + \
        [nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 4)]
    return nn.Sequential(*layers).double()


def train(model, loader, opt):
    loader.set_epoch(0)
    for step, (x, y) in enumerate(loader):
        if step == STEPS:
            break
        loss = F.cross_entropy(model(x.double()), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def parity(batch_norm):
    """W ranks × B/W images per step = 1 process × B, to 1e-10, over 10 Adam steps."""
    comm = distributed.init()
    x, y = images(BATCH * STEPS)
    dataset = data.ArrayDataset(x, y)
    model = distributed.broadcast_module(distributed.convert_sync_batchnorm(build(batch_norm)))
    sampler = distributed.DistributedSampler(len(dataset), shuffle=True, seed=5)
    loader = data.DataLoader(dataset, BATCH // comm.size, sampler=sampler)
    train(model, loader, distributed.DistributedOptimizer(optim.Adam(model.parameters(), lr=1e-2)))
    if comm.rank == 0:           # the reference: one process, the whole batch, plain BatchNorm2d
        alone = build(batch_norm)
        train(alone, data.DataLoader(dataset, BATCH, shuffle=True, seed=5), optim.Adam(alone.parameters(), lr=1e-2))
        mine, theirs = model.state_dict(), alone.state_dict()
        assert list(mine) == list(theirs)
        for key in theirs:
            a, b = np.asarray(mine[key], dtype=np.float64), np.asarray(theirs[key], dtype=np.float64)
            scale = max(np.abs(b).max(), 1e-300)
            assert np.abs(a - b).max() <= 1e-10 * scale, (key, np.abs(a - b).max(), scale)
            assert key.endswith("num_batches_tracked") or np.abs(b).max() > 0, key
        print(f"parity ok ({'SyncBatchNorm' if batch_norm else 'no batch norm'}): {len(theirs)} tensors")


def sampler():
    """The ranks' shards are disjoint and cover the dataset once per epoch (n not a multiple of W: padded)."""
    comm = distributed.init()
    for n in (10, 11):
        for epoch in (0, 1):
            s = distributed.DistributedSampler(n, seed=2)
            s.set_epoch(epoch)
            shards = distributed.gather_object(s.indices().tolist())
            if comm.rank == 0:
                flat = sum(shards, [])
                assert len(flat) == comm.size * len(s) and set(flat) == set(range(n)), (n, shards)
                assert len(flat) - len(set(flat)) == comm.size * len(s) - n     # only the padding repeats
                assert sorted(shards[0]) != sorted(shards[1])
    if comm.rank == 0:
        print("sampler ok")


def collectives():
    comm = distributed.init()
    t = tg.tensor([1.0, 2.0]) * (comm.rank + 1)
    distributed.all_reduce(t)
    assert t.numpy().tolist() == [3.0, 6.0], t
    m = distributed.all_reduce(tg.tensor([float(comm.rank)]), "max")
    assert m.item() == comm.size - 1
    b = distributed.broadcast(tg.tensor([float(comm.rank + 7)]), root=1)
    assert b.item() == 8.0
    x = tg.tensor([1.0, float(comm.rank)], dtype="float64", requires_grad=True)
    y = distributed.all_reduce_op(x)                 # differentiable: ∂L/∂x_r = Σ_s ∂L_s/∂y_s
    (y * y).sum().backward()
    expected = 2 * y.detach().numpy() * comm.size
    assert np.allclose(x.grad.numpy(), expected), (x.grad, expected)
    distributed.barrier()
    if comm.rank == 0:
        print(f"collectives ok on {comm.name}")


def nccl():
    """The NCCL communicator on CuPy arrays (on the test suite's CuPy stand-in, its calls
    reach the stand-in's cupy.cuda.nccl, which does them over MPI)."""
    tg.use_backend("cupy")
    comm = distributed.init()
    assert comm.name == "nccl", comm.name
    collectives()
    p = nn.Linear(3, 2).to("cupy")
    p.weight.grad = tg.ones(2, 3) * (comm.rank + 1)
    p.bias.grad = tg.ones(2) * (comm.rank + 1)
    distributed.average_gradients(p.parameters())
    assert np.allclose(tg.get_array_module(p.weight.grad.data).asnumpy(p.weight.grad.data), 1.5)
    if comm.rank == 0:
        print("nccl ok")


def failure(kind):
    """Rank 1 raises (or hangs); rank 0 must not wait forever in its all_reduce."""
    comm = distributed.init()
    if comm.rank == 1:
        if kind == "raise":
            raise RuntimeError("rank 1 fails on purpose")
        time.sleep(600)
    distributed.all_reduce(tg.ones(3))
    print("rank 0 was not stopped", flush=True)


if __name__ == "__main__":
    scenario = sys.argv[1]
    {"parity": lambda: parity(False), "parity-syncbn": lambda: parity(True), "sampler": sampler,
     "collectives": collectives, "nccl": nccl, "raise": lambda: failure("raise"),
     "hang": lambda: failure("hang")}[scenario]()
