"""tune_host_allocator: returns whether glibc took the setting, is idempotent, and leaves
NumPy working."""
import numpy as np

import tinygen as tg


def test_tune_host_allocator_is_idempotent_and_harmless():
    first = tg.tune_host_allocator()
    assert isinstance(first, bool) and tg.tune_host_allocator() == first
    big = np.ones((4096, 1024), dtype=np.float32)          # 16 MiB: from the heap once tuned
    del big
    assert float(tg.ones(1024, 1024).sum().item()) == 1024 * 1024
