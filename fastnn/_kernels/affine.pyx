"""Matrix products for the dense (affine) layers, on the gather-GEMM micro-kernel.

NumPy's matmul would be as fast alone, but it runs in OpenBLAS's own thread pool, whose
threads keep spinning after each product and take the cores from fastnn's OpenMP
kernels: a SimpleConvNet step took 35 ms that way, 11.5 ms with OpenBLAS on one thread
(benchmarks/NOTES.md).  Here the products run in fastnn's pool like everything else.
Reading A through offset tables makes a transposed operand free: xᵀ·dout needs no copy.
"""
from cython cimport floating
from cython.parallel cimport prange

from fastnn._kernels.gather_gemm cimport tile_rows
from fastnn._kernels.threads cimport num_threads_for

cdef enum:
    ROW_CHUNK = 48  # rows per task: a multiple of both tile heights (6 and 12 rows)


def gemm(const floating[::1] a, const Py_ssize_t[::1] row_off, const Py_ssize_t[::1] col_off,
         const floating[:, :, ::1] b_packed, floating[:, ::1] out):
    """out[r, :] = sum_t a[row_off[r] + col_off[t]] * B[t, :] for r < R.

    b_packed (blocks, T, L) holds B (T, M) in blocks of L columns (zero-padded);
    out (R, blocks*L).  Tasks are (lane block, row chunk) pairs, each writing its own
    part of out with the sum over t in order: no reduction, any thread count.
    """
    cdef Py_ssize_t R = row_off.shape[0], T = col_off.shape[0]
    cdef Py_ssize_t blocks = b_packed.shape[0], L = b_packed.shape[2], ld = out.shape[1]
    cdef Py_ssize_t chunks = (R + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t task, blk, r0
    cdef int threads = num_threads_for(R * T * blocks * L)
    if R == 0 or blocks == 0:
        return
    for task in prange(blocks * chunks, nogil=True, schedule="static", num_threads=threads):
        blk = task // chunks  # a thread's consecutive tasks share one block of B
        r0 = (task % chunks) * ROW_CHUNK
        tile_rows(&out[r0, blk * L], ld, &a[0], &row_off[r0], min(ROW_CHUNK, R - r0),
                  &col_off[0], T, &b_packed[blk, 0, 0], L, T * L, 1, L, 0)
