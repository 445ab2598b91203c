"""This machine's compute ceiling, measured by the benchmark: a register-only FMA loop
at the vector width of the running level (fastnn._kernels.simd)."""
from cython.parallel cimport parallel, prange
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from fastnn._kernels.simd cimport LEVEL_AVX512, current_level

cdef extern from "fma_peak.h" nogil:
    int FMA_ACCUMULATORS "FASTNN_FMA_ACCUMULATORS"
    float fastnn_fma_loop_f32(int level, long iterations, float a, float b)
    double fastnn_fma_loop_f64(int level, long iterations, double a, double b)


cdef double now() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec + 1e-9 * t.tv_nsec


def fma_gflops(int threads, bint single_precision, long iterations=20_000_000):
    """GFLOP/s of ``threads`` threads each running the FMA loop (2 FLOPs per lane per FMA)
    with the vectors of the current level: 64 bytes at AVX-512, 32 otherwise."""
    cdef int t
    cdef double start, seconds, sink = 0
    cdef int level = current_level()
    cdef int lanes = (8 if single_precision else 4) * (2 if level == LEVEL_AVX512 else 1)
    with nogil:
        start = now()
        for t in prange(threads, num_threads=threads, schedule="static"):
            if single_precision:
                sink += fastnn_fma_loop_f32(level, iterations, 0.999999, 1e-7)
            else:
                sink += fastnn_fma_loop_f64(level, iterations, 0.999999, 1e-7)
        seconds = now() - start
    if sink != sink:  # keeps the loops alive; never true for these inputs
        raise ArithmeticError("FMA loop produced NaN")
    return 2.0 * FMA_ACCUMULATORS * lanes * iterations * threads / seconds / 1e9
