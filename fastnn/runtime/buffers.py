"""Fresh arrays for the compiled backend's outputs and the kernels' scratch memory.

Every array a kernel is meant to fill completely comes from :func:`empty` (outputs) or
:func:`scratch` (per-thread buffers), never from ``np.empty`` directly.  With the
environment variable ``FASTNN_POISON=1`` set when fastnn is imported, both return arrays
filled with NaN (floating) or the most negative integer (integer), so a kernel that leaves
part of an output unwritten returns NaN instead of whatever the memory held: the tests
run with it on (``tests/conftest.py``), where a NaN cannot pass a comparison with the
reference.  Without it they are plain ``np.empty``: no cost.
"""
import os
import threading

import numpy as np

POISON = os.environ.get("FASTNN_POISON", "").strip().lower() in ("1", "true", "yes", "on")


def _poison_value(dtype):
    dtype = np.dtype(dtype)
    return np.nan if dtype.kind == "f" else np.iinfo(dtype).min


def empty(shape, dtype):
    """An output array a kernel will fill completely (NaN-filled under FASTNN_POISON)."""
    if POISON:
        return np.full(shape, _poison_value(dtype), dtype=dtype)
    return np.empty(shape, dtype=dtype)


scratch = empty  # per-thread buffers: same rule, a separate name for the reader


_local = threading.local()


def reused(tag, shape, dtype):
    """A scratch array that a call fills and drops before returning, reused by the next
    call with the same ``tag`` in this thread.  A fresh large array costs a page fault per
    4 KB on first touch (glibc hands blocks above its mmap threshold back to the system
    when they are freed; benchmarks/NOTES.md, "Recommenders", measured it for their
    products).  Never part of a result or a cache; NaN-filled under FASTNN_POISON like
    every scratch buffer."""
    arrays = getattr(_local, "arrays", None)
    if arrays is None:
        arrays = _local.arrays = {}
    a = arrays.get(tag)
    if a is None or a.shape != tuple(shape) or a.dtype != dtype:
        a = arrays[tag] = np.empty(shape, dtype=dtype)
    if POISON:
        a.fill(_poison_value(dtype))
    return a
