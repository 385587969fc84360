"""``tinygen.distributed``: data-parallel training across processes and machines.

The shape is ChainerMN's: a communicator over an existing engine (MPI for CPUs, NCCL
for GPUs), parameters broadcast once from rank 0, one all-reduce of the gradients per
step over a flat buffer, and the dataset sharded per rank. Launch with

    mpirun -n 2 python examples/vae_mnist.py --distributed

``init()`` reads what mpirun set; without mpirun every call below works with a world of
one process.
"""
from .communicator import MPICommunicator, NCCLCommunicator, SingleProcess, launched_by_mpi
from .state import (init, is_initialized, communicator, rank, world_size, is_main, barrier,
                    all_reduce, broadcast, gather_object)
from .data_parallel import (DistributedDataParallel, DistributedOptimizer, average_gradients,
                            broadcast_module)
from .sampler import DistributedSampler
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm, all_reduce_op
