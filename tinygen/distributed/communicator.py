"""Communicators: the collective operations that data-parallel training needs, over an
existing engine (ChainerMN's design). Every rank calls the same collectives in the
same order; each is a blocking call on a whole array.

    all_reduce(a, op):  every rank gets  op_r a_r  (op: sum, max or min)
    broadcast(a, root): every rank gets root's a
    barrier():          no rank leaves before all have arrived

Three back ends, chosen by ``distributed.init``:

* ``SingleProcess``: world size 1, every collective is the identity (a plain run).
* ``MPICommunicator``: mpi4py on host (NumPy) buffers, for CPUs and CPU clusters. A
  collective that waits longer than ``timeout_s`` (another rank died or hangs) prints
  which collective on which rank and aborts the whole job instead of hanging.
* ``NCCLCommunicator``: NCCL through ``cupy.cuda.nccl`` on GPU (CuPy) buffers, set up
  over MPI (rank 0 draws NCCL's unique id and broadcasts it); one GPU per rank.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..backend import get_array_module

OPS = ("sum", "max", "min")


class SingleProcess:
    """World size 1: the collectives return their input."""
    name = "single"
    rank, size = 0, 1

    def all_reduce(self, array, op="sum"):
        _check_op(op)
        return array

    def broadcast(self, array, root=0):
        return array

    def barrier(self):
        pass

    def gather_object(self, value, root=0):
        return [value]

    def abort(self, code=1):
        raise SystemExit(code)


class MPICommunicator:
    """Collectives over MPI (mpi4py), on host arrays; a CuPy array goes through the host."""
    name = "mpi"

    def __init__(self, comm=None, timeout_s=None):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = comm or MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout_s = float(os.environ.get("TINYGEN_DIST_TIMEOUT_S", 300) if timeout_s is None else timeout_s)
        self._ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def _wait(self, request, what):
        """Wait for a non-blocking collective; past the timeout, abort the job with a reason."""
        deadline, spins = time.monotonic() + self.timeout_s, 0
        while not request.Test():
            spins += 1
            if spins > 1000:             # a short collective finishes while spinning; then nap
                time.sleep(1e-4)
            if time.monotonic() > deadline:
                print(f"[rank {self.rank}] {what} waited {self.timeout_s:.0f} s for the other ranks: one "
                      f"of them has stopped (its error is above) or hangs; aborting the job",
                      file=sys.stderr, flush=True)
                time.sleep(0.5)      # let mpiexec forward the message before the abort
                self.abort(1)

    def all_reduce(self, array, op="sum"):
        _check_op(op)
        xp = get_array_module(array)
        host = np.ascontiguousarray(array if xp is np else xp.asnumpy(array))
        out = np.empty_like(host)
        self._wait(self.comm.Iallreduce(host, out, op=self._ops[op]), f"all_reduce({op})")
        return out if xp is np else xp.asarray(out)

    def broadcast(self, array, root=0):
        xp = get_array_module(array)
        host = np.ascontiguousarray(array if xp is np else xp.asnumpy(array)).copy()
        self._wait(self.comm.Ibcast(host, root=root), "broadcast")
        return host if xp is np else xp.asarray(host)

    def barrier(self):
        self._wait(self.comm.Ibarrier(), "barrier")

    def gather_object(self, value, root=0):
        """Python objects (RNG states) from every rank, on ``root``; None elsewhere."""
        return self.comm.gather(value, root=root)

    def abort(self, code=1):
        self.comm.Abort(code)


class NCCLCommunicator(MPICommunicator):
    """Collectives over NCCL on CuPy arrays, on the current CUDA stream; host (NumPy) arrays
    and Python objects still go over MPI."""
    name = "nccl"

    def __init__(self, comm=None, timeout_s=None):
        super().__init__(comm, timeout_s)
        from cupy.cuda import nccl
        self.nccl = nccl
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.comm.bcast(uid, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._nccl_ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        self._nccl_types = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                            np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.int64): nccl.NCCL_INT64,
                            np.dtype(np.int32): nccl.NCCL_INT32}

    def _device_type(self, array):
        if array.dtype not in self._nccl_types:
            raise TypeError(f"NCCL collectives take {sorted(map(str, self._nccl_types))}, not {array.dtype}")
        return self._nccl_types[array.dtype]

    def all_reduce(self, array, op="sum"):
        xp = get_array_module(array)
        if xp is np:
            return super().all_reduce(array, op)
        _check_op(op)
        send = xp.ascontiguousarray(array)
        out = xp.empty_like(send)
        stream = xp.cuda.get_current_stream()
        self.nccl_comm.allReduce(send.data.ptr, out.data.ptr, send.size, self._device_type(send),
                                 self._nccl_ops[op], stream.ptr)
        return out

    def broadcast(self, array, root=0):
        xp = get_array_module(array)
        if xp is np:
            return super().broadcast(array, root)
        buffer = xp.ascontiguousarray(array).copy()
        stream = xp.cuda.get_current_stream()
        self.nccl_comm.bcast(buffer.data.ptr, buffer.size, self._device_type(buffer), root, stream.ptr)
        return buffer


def _check_op(op):
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, not {op!r}")


def launched_by_mpi():
    """True when mpirun/mpiexec (MPICH's hydra, Open MPI, PMIx, Slurm's PMI) started this process."""
    return any(name in os.environ for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                                               "PMIX_RANK", "MPI_LOCALNRANKS"))
