"""tinygen.distributed: in this process (a world of one, and the sampler for any W), and
under ``mpiexec -n 2`` (tests/distributed_worker.py) where mpi4py and an MPI are
installed (``pip install -e ".[distributed]"``; CI installs them)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygen as tg
from tinygen import distributed, nn, optim

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")
FAKE_CUPY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_cupy")


def mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip('the distributed tests need mpi4py and an MPI: pip install -e ".[distributed]"')
    found = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if found is None:
        pytest.skip("no mpiexec on PATH (the mpich wheel of the [distributed] extra provides one)")
    return found


def run_ranks(scenario, n=2, timeout=240, **env):
    command = [mpiexec(), "-n", str(n), sys.executable, WORKER, scenario]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env})


@pytest.mark.parametrize("scenario, expected", [
    ("collectives", "collectives ok on mpi"),
    ("sampler", "sampler ok"),
    ("parity", "parity ok (no batch norm)"),
    ("parity-syncbn", "parity ok (SyncBatchNorm)")])
def test_two_ranks(scenario, expected):
    """2 ranks × B/2 give one process × B's parameters after 10 Adam steps (≤ 1e-10, float64),
    with SyncBatchNorm's running statistics too; the shards cover each epoch once."""
    result = run_ranks(scenario)
    assert result.returncode == 0 and expected in result.stdout, result.stdout + result.stderr


def test_nccl_path_on_the_cupy_stand_in():
    result = run_ranks("nccl", PYTHONPATH=FAKE_CUPY + os.pathsep + os.environ.get("PYTHONPATH", ""))
    assert result.returncode == 0 and "nccl ok" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["raise", "hang"])
def test_a_failing_rank_stops_the_job_with_a_message(kind):
    """An exception on rank 1, or a rank 1 that never arrives: rank 0 does not wait forever."""
    result = run_ranks(kind, timeout=120, TINYGEN_DIST_TIMEOUT_S="3")
    assert result.returncode != 0 and "rank 0 was not stopped" not in result.stdout, result.stdout + result.stderr
    said = result.stderr
    if kind == "raise":
        assert "rank 1 fails on purpose" in said and "[rank 1] stopped by RuntimeError" in said, said
    else:
        assert "[rank 0] all_reduce(sum) waited 3 s" in said, said


@pytest.mark.parametrize("n, world", [(10, 2), (11, 2), (7, 3), (3, 4)])
def test_sampler_shards_are_disjoint_and_cover_the_epoch(n, world):
    shards = [distributed.DistributedSampler(n, num_replicas=world, rank=r, seed=1).indices(4)
              for r in range(world)]
    assert all(len(s) == -(-n // world) for s in shards)
    flat = np.concatenate(shards)
    assert set(flat.tolist()) == set(range(n)) and len(flat) - n == world * len(shards[0]) - n
    # batch j of size b on every rank = batch j of size W·b of one process over the same order
    order = np.random.default_rng([1, 4]).permutation(n)
    order = np.concatenate([order, order[:world * len(shards[0]) - n]])
    b = 1
    for j in range(len(shards[0])):
        together = sorted(np.concatenate([s[j * b:(j + 1) * b] for s in shards]).tolist())
        assert together == sorted(order[j * world * b:(j + 1) * world * b].tolist())
    with pytest.raises(ValueError, match="outside"):
        distributed.DistributedSampler(n, num_replicas=world, rank=world)


def test_a_world_of_one_changes_nothing():
    """Without mpirun: rank 0 of 1, identity collectives, and the wrappers pass through."""
    assert not distributed.launched_by_mpi() or pytest.skip("running under mpirun")
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    t = tg.tensor([1.0, 2.0])
    assert distributed.all_reduce(t).numpy().tolist() == [1.0, 2.0]
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    sync = distributed.convert_sync_batchnorm(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)))
    assert type(sync[1]).__name__ == "SyncBatchNorm" and list(sync.state_dict()) == list(model.state_dict())
    sync.load_state_dict(model.state_dict())
    x = tg.randn(4, 1, 5, 5)
    np.testing.assert_allclose(sync(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(sync[1].running_var.numpy(), model[1].running_var.numpy(), rtol=1e-6)
    opt = distributed.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    assert opt.state_dict().keys() == opt.optimizer.state_dict().keys()
    ddp = distributed.DistributedDataParallel(model)
    assert all(k.startswith("module.") for k in ddp.state_dict())


@pytest.mark.parametrize("example, flags", [
    ("vae_mnist", ["--iwae-k", "2", "--iwae-n", "8", "--expost-components", "0"]),
    ("gan_mnist", ["--arch", "dcgan", "--ema", "0.9"])])
def test_examples_train_distributed_and_resume_exactly(example, flags, tmp_path):
    """``mpiexec -n 2 python examples/X.py --distributed``: two epochs straight, or one and
    then --resume for the second, end in the same checkpoint bit for bit (every rank's
    random stream is in it); rank 0 alone writes the run's files."""
    path = os.path.join(os.path.dirname(WORKER), "..", "examples", f"{example}.py")
    common = [mpiexec(), "-n", "2", sys.executable, path, "--quick", "--distributed", "--limit", "256",
              "--batch-size", "32", "--fid-n", "100", *flags]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}

    def run(*more):
        result = subprocess.run(common + list(more), capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result
    straight = run("--epochs", "2", "--out", str(tmp_path / "straight"))
    assert straight.stdout.count("metrics:") == 1            # one rank reports
    run("--epochs", "1", "--out", str(tmp_path / "resumed"))
    run("--epochs", "2", "--resume", "--out", str(tmp_path / "resumed"))
    a, b = (tg.load(tmp_path / name / "checkpoint.npz") for name in ("straight", "resumed"))
    assert a["config"]["world_size"] == 2 and len(a["rng_ranks"]) == 2
    for part in ("models", "optimizers"):
        for key in a[part]:
            np.testing.assert_equal(a[part][key], b[part][key], err_msg=f"{part} {key}")
