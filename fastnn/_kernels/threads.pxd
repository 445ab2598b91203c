# OpenMP helpers shared by every kernel module: cimport them from here, never from
# Cython's `openmp` module, so that a build without OpenMP still compiles.

cdef extern from "fastnn_omp.h" nogil:
    int FASTNN_HAVE_OPENMP
    int FASTNN_OPENMP_VERSION
    int omp_get_max_threads()
    int omp_get_thread_num()
    void omp_set_num_threads(int n)

# Below this many elements of work a kernel stays serial: a parallel region costs
# a few microseconds, more than small work saves (PyTorch uses the same grain).
cdef enum:
    PARALLEL_GRAIN = 32768
    # The same for a matrix product, in multiply-adds: a multiply-add costs far less than
    # an elementwise step, so a product needs this many before a second thread gains
    # more than waking it costs (benchmarks/NOTES.md, "Matrix products").
    PRODUCT_GRAIN = 524288

cdef int effective_num_threads() noexcept nogil
cdef int num_threads_for(Py_ssize_t work) noexcept nogil


cdef inline int num_threads_for_product(Py_ssize_t multiply_adds) noexcept nogil:
    return 1 if multiply_adds < PRODUCT_GRAIN else effective_num_threads()
