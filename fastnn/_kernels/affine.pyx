"""Matrix products for the dense (affine) layers, on the gather-GEMM micro-kernel.

The rule: every product of a layer runs in fastnn's own OpenMP pool, never in a second
pool that would spin beside it on the same cores (benchmarks/NOTES.md, "Threads and
waiting", measured it before NumPy's OpenBLAS could be handed to fastnn's pool).
Reading A through offset tables makes a transposed operand free: xᵀ·dout needs no copy.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.string cimport memcpy

import numpy as np

from fastnn.runtime.buffers import scratch

from fastnn._kernels.gather_gemm cimport tile_rows
from fastnn._kernels.simd cimport check_kernel
from fastnn._kernels.threads cimport num_threads_for, omp_get_thread_num

cdef enum:
    ROW_CHUNK = 48  # rows per task: a multiple of both tile heights (6 and 12 rows)


def gemm(const floating[::1] a, const Py_ssize_t[::1] row_off, const Py_ssize_t[::1] col_off,
         const floating[:, :, ::1] b_packed, floating[:, ::1] out, floating[:, ::1] tail,
         int kernel):
    """out[r, :] = sum_t a[row_off[r] + col_off[t]] * B[t, :] for r < R.

    b_packed (blocks, T, L) holds B (T, M) in blocks of L columns (zero-padded); out
    (R, M).  The full blocks are written into out; when L does not divide M, the last
    block goes to ``tail`` (R, L), whose first M % L columns the caller copies (no padded
    copy of the whole output).  ``kernel`` is the gather kernel packed with L lanes
    (fastnn._kernels.plan, "matmul").  Tasks are (lane block, row chunk) pairs, each writing its
    own part with the sum over t in order: no reduction, any thread count.
    """
    cdef Py_ssize_t R = row_off.shape[0], T = col_off.shape[0], M = out.shape[1]
    cdef Py_ssize_t blocks = b_packed.shape[0], L = b_packed.shape[2]
    cdef Py_ssize_t full = M // L
    cdef Py_ssize_t chunks = (R + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t task, blk, r0
    cdef int threads = num_threads_for(R * T * blocks * L)
    check_kernel(kernel, L, floating is float)
    if R == 0 or blocks == 0:
        return
    for task in prange(blocks * chunks, nogil=True, schedule="static", num_threads=threads):
        blk = task // chunks  # a thread's consecutive tasks share one block of B
        r0 = (task % chunks) * ROW_CHUNK
        if blk < full:
            tile_rows(kernel, &out[r0, blk * L], M, &a[0], &row_off[r0], min(ROW_CHUNK, R - r0),
                      &col_off[0], T, &b_packed[blk, 0, 0], L, T * L, 1, L, 0)
        else:
            tile_rows(kernel, &tail[r0, 0], L, &a[0], &row_off[r0], min(ROW_CHUNK, R - r0),
                      &col_off[0], T, &b_packed[blk, 0, 0], L, T * L, 1, L, 0)


def gemm_transposed(const floating[:, ::1] a, const floating[:, :, ::1] b_packed,
                    floating[:, ::1] out, floating[:, ::1] tail, int kernel):
    """out = a.T @ B for a (T, R): as :func:`gemm` with row_off[r] = r and col_off[t] =
    t*R (the same sums in the same order, so the same bits), but each task first copies
    its ROW_CHUNK columns of a into a contiguous panel (T, ROW_CHUNK) of its thread's.

    Read in place, a column of a is one element per row of a: a register tile's steps
    through t touch a new page each (a.T @ dout: the rows of a batch of 943 are 13 KB
    apart in float64), so the TLB, not the FMAs, bounds the product.  The panel is one
    contiguous copy per task, reused for every lane block of B; tasks are row chunks.
    """
    cdef Py_ssize_t T = a.shape[0], R = a.shape[1], M = out.shape[1]
    cdef Py_ssize_t blocks = b_packed.shape[0], L = b_packed.shape[2]
    cdef Py_ssize_t full = M // L
    cdef Py_ssize_t chunks = (R + ROW_CHUNK - 1) // ROW_CHUNK
    cdef Py_ssize_t c, blk, r0, rows, t
    cdef int threads = num_threads_for(R * T * blocks * L)
    check_kernel(kernel, L, floating is float)
    if R == 0 or blocks == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] panels = scratch((threads, max(T, 1) * ROW_CHUNK), dtype)
    cdef Py_ssize_t[::1] row_off = np.arange(ROW_CHUNK, dtype=np.intp)
    cdef Py_ssize_t[::1] col_off = np.arange(max(T, 1), dtype=np.intp) * ROW_CHUNK
    cdef floating *panel
    with nogil, parallel(num_threads=threads):
        panel = &panels[omp_get_thread_num(), 0]
        for c in prange(chunks, schedule="static"):
            r0 = c * ROW_CHUNK
            rows = min(ROW_CHUNK, R - r0)
            for t in range(T):
                memcpy(panel + t * ROW_CHUNK, &a[t, r0], rows * sizeof(floating))
            for blk in range(blocks):
                if blk < full:
                    tile_rows(kernel, &out[r0, blk * L], M, panel, &row_off[0], rows,
                              &col_off[0], T, &b_packed[blk, 0, 0], L, T * L, 1, L, 0)
                else:
                    tile_rows(kernel, &tail[r0, 0], L, panel, &row_off[0], rows,
                              &col_off[0], T, &b_packed[blk, 0, 0], L, T * L, 1, L, 0)


def pack_lanes(const floating[:, :] b, floating[:, :, ::1] packed):
    """packed[blk, t, l] = b[t, blk*L + l], zero past b's M columns: B (T, M) in blocks of
    L lanes for :func:`gemm`, one parallel pass whatever b's layout (a transposed weight
    matrix included: the loop runs along b's contiguous axis)."""
    cdef Py_ssize_t T = b.shape[0], M = b.shape[1]
    cdef Py_ssize_t blocks = packed.shape[0], L = packed.shape[2]
    cdef Py_ssize_t blk, t, l, m
    cdef bint rows_contiguous = b.strides[1] <= b.strides[0]
    cdef int threads = num_threads_for(blocks * T * L)
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        if rows_contiguous:
            for t in range(T):
                for l in range(L):
                    m = blk * L + l
                    packed[blk, t, l] = b[t, m] if m < M else 0
        else:
            for l in range(L):
                m = blk * L + l
                for t in range(T):
                    packed[blk, t, l] = b[t, m] if m < M else 0
