"""cupy.cuda.nccl on the stand-in: NCCL's collectives on device pointers, carried out by
MPI on the host memory behind the stand-in's arrays.

Written after CuPy's documented API (``get_unique_id``, ``NcclCommunicator(ndev,
commId, rank)``, ``allReduce(sendbuf, recvbuf, count, datatype, op, stream)``,
``bcast(buff, count, datatype, root, stream)`` and the ``NCCL_*`` constants), not read
from a wheel: the manifest does not list this compiled module. Like NCCL it takes raw
pointers, so a caller that passes an array instead of ``a.data.ptr`` fails here too.
"""
import ctypes

import numpy as np

NCCL_INT32, NCCL_INT64, NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 2, 4, 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = 0, 1, 2, 3
_DTYPES = {NCCL_INT32: np.int32, NCCL_INT64: np.int64, NCCL_FLOAT16: np.float16,
           NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}


def get_unique_id():
    """NCCL's 128-byte id, as CuPy returns it (a tuple of ints)."""
    return tuple(int(b) for b in np.random.default_rng().integers(-128, 128, 128))


def _view(ptr, count, datatype):
    dtype = np.dtype(_DTYPES[datatype])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype, count=count)


class NcclCommunicator:
    def __init__(self, ndev, commId, rank):
        from mpi4py import MPI
        if not (isinstance(commId, tuple) and len(commId) == 128):
            raise TypeError("commId must be the tuple that get_unique_id() returns")
        self._mpi = MPI
        self._comm = MPI.COMM_WORLD
        if self._comm.Get_size() != ndev or self._comm.Get_rank() != rank:
            raise ValueError(f"NcclCommunicator({ndev}, ..., {rank}) does not match the MPI job "
                             f"({self._comm.Get_size()} ranks, this is {self._comm.Get_rank()})")
        self.ndev, self.rank = ndev, rank

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        for name, value in (("sendbuf", sendbuf), ("recvbuf", recvbuf), ("stream", stream)):
            if not isinstance(value, int):
                raise TypeError(f"allReduce: {name} must be a pointer (int), not {type(value).__name__}")
        ops = {NCCL_SUM: self._mpi.SUM, NCCL_PROD: self._mpi.PROD, NCCL_MAX: self._mpi.MAX,
               NCCL_MIN: self._mpi.MIN}
        send = _view(sendbuf, count, datatype).copy()
        self._comm.Allreduce(send, _view(recvbuf, count, datatype), op=ops[op])

    def bcast(self, buff, count, datatype, root, stream):
        if not isinstance(buff, int):
            raise TypeError(f"bcast: buff must be a pointer (int), not {type(buff).__name__}")
        self._comm.Bcast(_view(buff, count, datatype), root=root)

    def rank_id(self):
        return self.rank

    def size(self):
        return self.ndev
