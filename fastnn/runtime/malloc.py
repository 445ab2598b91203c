"""Keep the memory of freed arrays in the process, so that the next layer's fresh arrays
do not page-fault (glibc's malloc, Linux).

Every forward and backward pass returns new arrays, and most are larger than glibc's
mmap threshold (128 KiB, raised only as far as the largest block freed so far), so each
comes straight from the kernel and goes back to it when freed: every 4 KiB page of every
output is a page fault on first touch, paid again on the next call (benchmarks/NOTES.md, "Small calls",
has the measurements: convolutions, a SimpleConvNet step, an RBM epoch).

With ``FASTNN_MALLOC=keep-freed`` in the environment, fastnn sets glibc's
``M_MMAP_THRESHOLD`` to 32 MiB (its largest allowed value: bigger arrays are still mapped
and unmapped) and ``M_TRIM_THRESHOLD`` to 128 MiB at import, through ``mallopt``: up to
128 MiB of freed memory may then stay in the process's resident size.  Not the default:
it changes the allocator of the whole process (it sped up PyTorch in the same process
more than fastnn, benchmarks/NOTES.md, "Small calls"), and steady training loops gain little because glibc raises its threshold by
itself once blocks of a size have been freed.  Ignored where the user set
``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` or the C library is not glibc.
"""
import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 128 * 2**20

settings = None  # what keep_freed_memory set, for build_info()


def keep_freed_memory():
    """With FASTNN_MALLOC=keep-freed, set glibc's thresholds (see the module's docstring);
    returns a description of what was set, or None."""
    global settings
    user_chose = any(k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"))
    if user_chose or os.environ.get("FASTNN_MALLOC") != "keep-freed":
        return None
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD):
        settings = f"glibc mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold {TRIM_THRESHOLD >> 20} MiB"
    return settings
