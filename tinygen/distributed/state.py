"""The process's place in the job: ``init`` once, then rank, world size and collectives.

    all_reduce(t, op):   t ← op over the ranks of t      (in place, as torch.distributed)
    broadcast(t, root):  t ← root's t                     (in place)
"""
from __future__ import annotations

import sys
import time

from .communicator import MPICommunicator, NCCLCommunicator, SingleProcess, launched_by_mpi

_state = {"comm": None}


def init(backend=None, timeout_s=None):
    """Join the job that mpirun/mpiexec started; a plain ``python`` run is a world of one.

    ``backend``: "mpi" (host buffers), "nccl" (CuPy buffers, one GPU per rank), or None:
    NCCL when tinygen's backend is cupy, else MPI. Returns the communicator. An uncaught
    exception on any rank prints its traceback with the rank and aborts the whole job,
    so that no rank waits forever for one that is gone.
    """
    if _state["comm"] is not None:
        return _state["comm"]
    if not launched_by_mpi():
        _state["comm"] = SingleProcess()
        return _state["comm"]
    try:
        import mpi4py  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("distributed training needs mpi4py and an MPI: pip install -e \".[distributed]\"") from exc
    if backend is None:
        from ..backend import get_backend
        backend = "nccl" if get_backend() == "cupy" else "mpi"
    if backend not in ("mpi", "nccl"):
        raise ValueError(f"backend must be 'mpi' or 'nccl', not {backend!r}")
    if backend == "nccl":
        from mpi4py import MPI
        from ..backend import module
        cupy = module("cupy")
        local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
        cupy.cuda.Device(local % cupy.cuda.runtime.getDeviceCount()).use()   # one GPU per local rank
    comm = (NCCLCommunicator if backend == "nccl" else MPICommunicator)(timeout_s=timeout_s)
    _state["comm"] = comm
    previous = sys.excepthook

    def abort_job(kind, value, tb):
        previous(kind, value, tb)
        print(f"[rank {comm.rank}] stopped by {kind.__name__}; aborting the job", file=sys.stderr, flush=True)
        time.sleep(0.5)          # let mpiexec forward this output before the abort ends every rank
        comm.abort(1)

    sys.excepthook = abort_job
    return comm


def is_initialized():
    return _state["comm"] is not None


def communicator():
    """The communicator (a world of one if ``init`` was not called)."""
    return _state["comm"] or SingleProcess()


def rank():
    return communicator().rank


def world_size():
    return communicator().size


def is_main():
    """Rank 0: the one process that logs, checkpoints, draws pictures and scores."""
    return rank() == 0


def barrier():
    communicator().barrier()


def all_reduce(tensor, op="sum"):
    tensor.data[...] = communicator().all_reduce(tensor.data, op)
    return tensor


def broadcast(tensor, root=0):
    tensor.data[...] = communicator().broadcast(tensor.data, root)
    return tensor


def gather_object(value, root=0):
    return communicator().gather_object(value, root)
