"""No leaks: many forward+backward calls do not grow the process's memory.

The per-thread buffers of the kernels are malloc'ed and freed inside each call, outside
Python's view, so the resident size is checked as well as tracemalloc's count.
"""
import gc
import os
import tracemalloc

import numpy as np
import pytest

from fastnn import functional as fast

CALLS = 10_000


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def one_step(x, w, b):
    out, cache = fast.conv_forward(x, w, b, {"stride": 1, "pad": 1})
    dx, dw, db = fast.conv_backward(out, cache)
    out, cache = fast.max_pool_forward(dx, {"pool_height": 2, "pool_width": 2, "stride": 2})
    fast.max_pool_backward(out, cache)
    out, cache = fast.spatial_batchnorm_forward(dx, np.ones(3), np.zeros(3), {"mode": "train"})
    fast.spatial_batchnorm_backward(out, cache)
    out, cache = fast.relu_forward(dx)
    fast.relu_backward(out, cache)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc for the resident size")
def test_ten_thousand_steps_do_not_grow_memory():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    b = np.zeros(4)
    for _ in range(200):  # warm up: caches, allocator arenas, OpenMP's pool
        one_step(x, w, b)
    tracemalloc.start()
    try:
        gc.collect()
        rss_before = resident_bytes()
        traced_before, _ = tracemalloc.get_traced_memory()
        for _ in range(CALLS):
            one_step(x, w, b)
        gc.collect()  # garbage in reference cycles is not a leak
        traced_after, _ = tracemalloc.get_traced_memory()
        rss_after = resident_bytes()
    finally:
        tracemalloc.stop()
    # One leaked byte per call would show as 10 kB; one leaked buffer per call as megabytes.
    assert traced_after - traced_before < 64 * 1024
    assert rss_after - rss_before < 4 * 2**20
