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



def _sanitized():
    from fastnn.runtime import build_record
    return any(arg.startswith("-fsanitize=address") for arg in build_record()["compile_args"])


# A reused buffer larger than this is not kept: its page faults are a small part of the
# work of a call that needs that much scratch, and the memory goes back when it is done.
# Under AddressSanitizer none is kept: each is fresh and of its exact size, so that a
# kernel reading or writing past its scratch is reported.
REUSE_MAX_BYTES = 0 if _sanitized() else 64 * 2**20


def thread_buffers():
    """This thread's reused scratch buffers, tag -> 1-D uint8 array (kept between calls).

    A call's scratch comes from here rather than from a fresh block: glibc maps a block
    above its mmap threshold fresh and unmaps it when freed, and trims the top of its
    heap, so the scratch of a call that allocates blocks of several sizes (a layer's
    backward: two products) faulted in every 4 KiB page again on every call
    (benchmarks/NOTES.md, "Matrix products").  A buffer grows to the largest size asked
    for and is never shrunk, up to REUSE_MAX_BYTES; a tag is used once per call, so a
    buffer is never in two uses at a time (other threads have their own); a larger
    one is made fresh, used and freed.  Never part of a result or a cache; NaN-filled
    under FASTNN_POISON by its users, like every scratch buffer."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    return buffers


def reused(tag, shape, dtype):
    """This thread's reused scratch buffer ``tag`` (:func:`thread_buffers`) as a
    C-contiguous array of ``shape`` and ``dtype``, for scratch that a call fills and
    uses before it returns: valid until the tag's next use in this thread.  NaN-filled
    under FASTNN_POISON, like every scratch buffer."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffers = thread_buffers()
    found = buffers.get(tag)
    if found is None or found.nbytes < nbytes:
        found = np.empty(max(nbytes, 1), np.uint8)
        if nbytes <= REUSE_MAX_BYTES:
            buffers[tag] = found
    array = found[:nbytes].view(dtype).reshape(shape)
    if POISON:
        array.fill(_poison_value(dtype))
    return array
