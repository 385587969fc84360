"""The workspace hands a block out again only when no array uses it any more."""
import numpy as np

from tinygen.workspace import Workspace


def test_a_block_is_reused_only_once_every_view_of_it_is_gone():
    pool = Workspace(min_bytes=64)
    a = pool.empty((4, 8), np.float32)                 # 128 bytes
    a[...] = 1.0
    view = a[1:].T                                     # a view keeps the block alive
    del a
    b = pool.empty((32,), np.float32)
    assert not np.shares_memory(b, view)               # still in use: a new block
    assert pool.total == 256
    del view
    c = pool.empty((2, 16), np.float32)                # the first block is free again
    assert pool.total == 256 and not np.shares_memory(c, b)
    c[...] = 2.0
    assert (b != 2.0).all() or b.size == 0
    d = pool.zeros((8, 4), np.float32)                 # both in use: a third block, zeroed
    assert pool.total == 384 and not d.any()


def test_small_requests_and_the_budget_fall_back_to_malloc():
    pool = Workspace(min_bytes=1024, max_bytes=4096)
    small = pool.empty((10,), np.float64)
    assert pool.total == 0 and small.shape == (10,)
    kept = pool.empty((512,), np.float64)              # 4096 bytes: the whole budget
    extra = pool.empty((512,), np.float64)             # over budget: plain memory, not kept
    assert pool.total == 4096 and not np.shares_memory(kept, extra)
    del kept
    pool.release()                                     # unused blocks go back
    assert pool.total == 0
    again = pool.empty((256,), np.float32)
    assert pool.total == 1024 and again.dtype == np.float32


def test_a_free_block_up_to_twice_the_request_serves_it_best_fit_first():
    pool = Workspace(min_bytes=64)
    big, mid = pool.empty((64,), np.float32), pool.empty((40,), np.float32)   # 256 and 160 bytes
    del big, mid
    a = pool.empty((30,), np.float32)                  # 120 bytes: the 160-byte block fits best
    assert pool.total == 416 and a.nbytes == 120 and a.base.nbytes == 160
    b = pool.empty((32,), np.float32)                  # 128 bytes: the 256-byte block is in range
    assert pool.total == 416 and b.base.nbytes == 256 and not np.shares_memory(a, b)
    del a, b
    c = pool.empty((17,), np.float32)                  # 68 bytes: both blocks are over twice that
    assert pool.total == 484 and c.base.nbytes == 68
