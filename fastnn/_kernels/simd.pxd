# The instruction-set level the matrix kernels run at (csrc/simd.h), chosen once at
# import (FASTNN_SIMD, else the best the CPU runs) and changeable by set_level, and the
# check that a kernel id handed to a private function is one this CPU runs.

cdef extern from "simd.h" nogil:
    int LEVEL_BASELINE "FASTNN_LEVEL_BASELINE"
    int LEVEL_AVX2 "FASTNN_LEVEL_AVX2"
    int LEVEL_AVX512 "FASTNN_LEVEL_AVX512"

cdef int current_level() noexcept nogil
cdef int check_kernel(int kernel, Py_ssize_t lanes, bint single) except -1
cdef bint cpu_runs(int level) noexcept nogil
