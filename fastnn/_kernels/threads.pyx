"""The thread count every fastnn kernel uses.

One rule, in one place: a kernel runs on ``effective_num_threads()`` threads, which is
OpenMP's own default for the calling thread (``OMP_NUM_THREADS``, else the number of
cores; threadpoolctl lowers it through ``omp_set_num_threads``), capped by the
process-wide limit that ``fastnn.set_num_threads`` sets.  Kernels pass it to every
``prange`` as ``num_threads`` so no parallel region oversubscribes.
"""

from libc.stdint cimport uintptr_t

cdef extern from "blas_threads.h" nogil:
    int fastnn_forked
    int fastnn_register_fork_handler()
    uintptr_t fastnn_blas_callback_address()

# The process-wide limit; 0 means "none set".  A plain int: reads and writes of an
# aligned int are atomic on every platform we build for, and a kernel reads it once.
cdef int _thread_limit = 0

# GNU OpenMP hangs in a forked child whose parent used a parallel region: a child runs
# every kernel on one thread (csrc/blas_threads.h).
fastnn_register_fork_handler()


cdef int effective_num_threads() noexcept nogil:
    if fastnn_forked:
        return 1
    cdef int n = omp_get_max_threads()
    if _thread_limit > 0 and _thread_limit < n:
        n = _thread_limit
    return n if n > 0 else 1


cdef int num_threads_for(Py_ssize_t work) noexcept nogil:
    if work < PARALLEL_GRAIN:
        return 1
    return effective_num_threads()


def set_num_threads(int n):
    """Set the number of threads fastnn's kernels use, for the whole process.

    It also sets OpenMP's count for the calling thread, so a value above the default
    (``OMP_NUM_THREADS`` or the core count) takes effect there; threadpoolctl's
    ``threadpool_limits`` can lower it again temporarily.  Results do not depend on it.
    """
    global _thread_limit
    _thread_limit = n
    omp_set_num_threads(n)


def get_num_threads():
    """The number of threads a fastnn kernel called from this thread would use (1 in a
    process forked from one that used fastnn's threads)."""
    return effective_num_threads()


def forked():
    """True in a process forked from the one that loaded fastnn (its kernels then run on
    one thread: GNU OpenMP cannot be used again after a fork)."""
    return bool(fastnn_forked)


def blas_callback_address():
    """The address of the C function that runs OpenBLAS's parallel jobs on fastnn's
    OpenMP threads, for ``openblas_set_threads_callback_function`` (fastnn.runtime.waiting)."""
    return fastnn_blas_callback_address()


def openmp_enabled():
    """True when this build was compiled with OpenMP."""
    return bool(FASTNN_HAVE_OPENMP)


def openmp_version():
    """The OpenMP specification the build targeted, as yyyymm (0 without OpenMP)."""
    return FASTNN_OPENMP_VERSION
