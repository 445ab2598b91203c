"""Kernels called from many Python threads at once (the GIL is released inside them)."""
import threading

import numpy as np
import pytest

import fastnn
from fastnn import functional as fast


def workload(seed):
    """Forward+backward of conv, pooling and batchnorm on inputs of their own."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 5, 17, 15)).astype(np.float32 if seed % 2 else np.float64)
    w = rng.standard_normal((7, 5, 3, 3)).astype(x.dtype)
    out, cache = fast.conv_forward(x, w, np.zeros(7, x.dtype), {"stride": 1, "pad": 1})
    results = list(fast.conv_backward(np.sin(out), cache))
    out, cache = fast.max_pool_forward(out, {"pool_height": 2, "pool_width": 2, "stride": 2})
    results += [out, fast.max_pool_backward(np.cos(out), cache)]
    out, cache = fast.spatial_batchnorm_forward(out, np.ones(7), np.zeros(7), {"mode": "train"})
    results += [out, *fast.spatial_batchnorm_backward(np.sin(out), cache)]
    return results


def run_in_threads(target, count):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_eight_python_threads_give_the_serial_results():
    expected = [workload(seed) for seed in range(8)]
    got = [None] * 8

    def job(i):
        for _ in range(3):
            got[i] = workload(i)

    run_in_threads(job, 8)
    for want, have in zip(expected, got):
        for a, b in zip(want, have):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not fastnn.build_info()["openmp"], reason="a build without OpenMP has one thread")
def test_set_num_threads_while_other_threads_compute():
    """Results do not depend on the thread count, so changing it mid-flight changes nothing."""
    expected = [workload(seed) for seed in range(4)]
    before = fastnn.get_num_threads()
    stop = threading.Event()
    got = [None] * 4

    def change_thread_count():
        n = 0
        while not stop.is_set():
            fastnn.set_num_threads(1 + n % 3)
            n += 1

    def job(i):
        for _ in range(5):
            got[i] = workload(i)

    changer = threading.Thread(target=change_thread_count)
    changer.start()
    try:
        run_in_threads(job, 4)
    finally:
        stop.set()
        changer.join(timeout=60)
        fastnn.set_num_threads(before)
    for want, have in zip(expected, got):
        for a, b in zip(want, have):
            np.testing.assert_array_equal(a, b)
