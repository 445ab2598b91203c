"""Matrix products for the dense (affine) layers, on the gather-GEMM micro-kernel.

The rule: every product of a layer runs in fastnn's own OpenMP pool, never in a second
pool that would spin beside it on the same cores (benchmarks/NOTES.md, "Threads and
waiting", measured it before NumPy's OpenBLAS could be handed to fastnn's pool).
Reading A through offset tables makes a transposed operand free: xᵀ·dout needs no copy.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stddef cimport ptrdiff_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

import numpy as np
cimport numpy as cnp

from fastnn.runtime.buffers import POISON, empty, scratch
from fastnn._kernels.plan import SMALL_PRODUCT

cnp.import_array()

_NO_TAILS_F32 = np.empty((1, 0), np.float32)  # (the tail buffers of a product without a tail)
_NO_TAILS_F64 = np.empty((1, 0), np.float64)

from fastnn._kernels.gather_gemm cimport tile_rows
from fastnn._kernels.simd cimport check_kernel
from fastnn._kernels.threads cimport (num_threads_for, num_threads_for_product,
                                      omp_get_thread_num)

cdef enum:
    ROW_CHUNK = 48  # rows per task: a multiple of both tile heights (6 and 12 rows)
    MIN_ROW_CHUNK = 12  # ... halved down to this while there are too few tasks
    TASKS_PER_THREAD = 4  # ... that is, fewer than this many per thread
    PACK_TILE = 64  # rows of a packed block filled at a time from a transposed B: 8 KiB
    TRANSPOSE_TILE = 16  # columns of the source a task of transpose() takes
    # The tail block is read in place only over this many terms or more: the last one,
    # added apart, costs each tile a store and a reload of its sums, too much beside a
    # short sum (benchmarks/NOTES.md, "Matrix products")
    IN_PLACE_MIN_TERMS = 128
    # Bytes of B (T x M) up to which a task computes whole rows of out (gemm)
    WHOLE_ROWS_B_BYTES = 262144
    # Packed blocks a thread at least, for gemm to hand them out statically
    STATIC_MIN_BLOCKS = 4


cdef int check_operand(Py_ssize_t size, Py_ssize_t full, Py_ssize_t T, Py_ssize_t ldb,
                       Py_ssize_t block_stride, Py_ssize_t L) except -1:
    """Refuse a B that its full blocks would read past (a private function's guard)."""
    if full > 0 and T > 0 and (full - 1) * block_stride + (T - 1) * ldb + L > size:
        raise ValueError(f"b holds {size} elements; {full} blocks of {T} rows of {L} lanes "
                         f"(ldb {ldb}, block stride {block_stride}) need more")
    return 0


cdef int check_rest(int kernel, Py_ssize_t L, int tail_kernel, Py_ssize_t Lt, Py_ssize_t M,
                    Py_ssize_t T, Py_ssize_t rest_rows, Py_ssize_t rest_columns,
                    bint single) except -1:
    """Refuse a tail kernel this CPU cannot run or whose lanes cannot hold the last M % L
    columns, and a b_rest that is not those columns of B."""
    if rest_columns != M % L or (M % L and rest_rows != T):
        raise ValueError(f"b_rest is ({rest_rows}, {rest_columns}); B's last columns are "
                         f"({T}, {M % L})")
    if M % L:
        check_kernel(tail_kernel, Lt, single)
        if Lt < M % L:
            raise ValueError(f"the tail kernel's {Lt} lanes cannot hold {M % L} columns")
    return 0


cdef Py_ssize_t rows_per_task(Py_ssize_t R, Py_ssize_t blocks, int threads) noexcept nogil:
    """ROW_CHUNK, halved while the (lane block, row chunk) tasks number fewer than
    TASKS_PER_THREAD a thread, so that every thread has work (a batch of 100 rows in one
    block of lanes is three 48-row tasks, one of 4 rows)."""
    cdef Py_ssize_t rows = ROW_CHUNK
    while rows > MIN_ROW_CHUNK and blocks * ((R + rows - 1) // rows) < TASKS_PER_THREAD * threads:
        rows //= 2
    return rows


def gemm(const floating[::1] a, const Py_ssize_t[::1] row_off, const Py_ssize_t[::1] col_off,
         const floating[::1] b, Py_ssize_t ldb, Py_ssize_t block_stride,
         const floating[:, :] b_rest, floating[:, ::1] out, floating[:, ::1] tail,
         int kernel, Py_ssize_t L, int tail_kernel, Py_ssize_t Lt, Py_ssize_t k_chunk):
    """out[r, :] = sum_t a[row_off[r] + col_off[t]] * B[t, :] for r < R; B (T, M), out
    (R, M), in blocks of L columns (the lanes of ``kernel``, fastnn._kernels.plan).

    Block blk < M // L of B is read from ``b``, its row t at b[blk*block_stride + t*ldb]
    onwards: B itself when its rows are contiguous (ldb = M, block_stride = L: nothing
    is packed), or B packed in blocks (ldb = L, block_stride = T*L).  When L does not
    divide M, ``b_rest`` (T, M % L) is B's last columns, of any layout, for
    ``tail_kernel`` (of Lt >= M % L lanes): read in place where its rows are contiguous
    (and the sum long: _tail_task), else packed, zero-padded, by each thread that meets them into a buffer of its own
    (read where it was written: a block packed by the calling thread and read by another
    measured slower than packing it twice); their tiles go to ``tail`` (R, Lt), scratch,
    and each task copies its rows' first M % L columns of it into out.

    With ``k_chunk`` > 0 the sum over t runs in passes of k_chunk terms, in order, each
    adding to the partial sums the last one stored in out (exact: the same bits as one
    pass), so that a pass's slices of A and B stay in the L2 for all its tasks
    (fastnn._kernels.plan says when).

    Tasks are (lane block, row chunk) pairs, each writing its own part of out: no
    reduction, any thread count.  They are unequal (a narrower tail block, a short last
    row chunk) and go to whichever thread is free, in order: in one pass, a block's row
    chunks one after another (they share the block of B); over several, a row chunk's
    blocks (they share its slice of A).  Two exceptions, below: with all of B in the L2 a
    task is a row chunk's every block (whole rows of out), and a B packed in many blocks
    goes out in the runs of blocks each thread packed.
    """
    cdef Py_ssize_t R = row_off.shape[0], T = col_off.shape[0], M = out.shape[1]
    cdef Py_ssize_t full = M // L, blocks = (M + L - 1) // L
    cdef Py_ssize_t kc = k_chunk if k_chunk > 0 else max(T, 1)
    cdef Py_ssize_t passes = max((T + kc - 1) // kc, 1)  # (one pass of none: zeros)
    cdef Py_ssize_t task, p
    cdef int threads = num_threads_for_product(R * T * blocks * L)
    check_kernel(kernel, L, floating is float)
    check_rest(kernel, L, tail_kernel, Lt, M, T, b_rest.shape[0], b_rest.shape[1],
               floating is float)
    check_operand(b.shape[0], full, T, ldb, block_stride, L)
    if R == 0 or blocks == 0:
        return
    # With all of B in the L2, a task is a row chunk across every block: its rows of out
    # are written whole, in turn (a column strip of a wide out at a time left each row's
    # partial cache lines to be fetched again for the next strip: the RBM's 943 x 20 x
    # 1682 ran at half NumPy's speed).
    cdef bint whole_rows = (passes == 1 and blocks > 1
                            and T * M * <Py_ssize_t>sizeof(floating) <= WHOLE_ROWS_B_BYTES)
    # B packed by pack_lanes (its blocks split between the threads in order, statically):
    # with blocks enough for an even split, each thread takes the same run of blocks
    # here, so that it reads the blocks it packed (a block packed by one thread and read
    # by the other cost a fetch from the other core: dout @ W.T ran at 0.65 of NumPy's
    # speed at 2 threads, 0.95 at one).
    cdef bint packed_here = (passes == 1 and not whole_rows and ldb == L
                             and full >= STATIC_MIN_BLOCKS * threads)
    cdef Py_ssize_t rows = rows_per_task(R, 1 if whole_rows else blocks, threads)
    cdef Py_ssize_t chunks = (R + rows - 1) // rows
    cdef Py_ssize_t c, blk, i
    cdef const floating *bp = &b[0] if b.shape[0] > 0 else NULL
    cdef floating[:, ::1] tails = _tail_buffers(threads, T, Lt, full < blocks, <floating>0)
    cdef int *tail_packed = _packed_flags(threads, full < blocks)
    try:
        if threads == 1:  # (a parallel region of one thread costs more than a small product)
            with nogil:
                for p in range(passes):
                    for i in range(blocks * chunks):  # (whole rows: row chunk major)
                        task = (i % blocks) * chunks + i // blocks if whole_rows else i
                        _gemm_task(0, task, p, kc, passes, chunks, rows, full, a, row_off,
                                   col_off, bp, ldb, block_stride, b_rest, out, tail, tails,
                                   tail_packed, kernel, L, tail_kernel, Lt)
        elif whole_rows:
            with nogil, parallel(num_threads=threads):
                for c in prange(chunks, schedule="dynamic"):
                    for blk in range(blocks):
                        _gemm_task(omp_get_thread_num(), blk * chunks + c, 0, kc, passes,
                                   chunks, rows, full, a, row_off, col_off, bp, ldb,
                                   block_stride, b_rest, out, tail, tails, tail_packed, kernel,
                                   L, tail_kernel, Lt)
        elif packed_here:
            with nogil, parallel(num_threads=threads):
                for task in prange(blocks * chunks, schedule="static"):
                    _gemm_task(omp_get_thread_num(), task, 0, kc, passes, chunks, rows, full,
                               a, row_off, col_off, bp, ldb, block_stride, b_rest, out, tail,
                               tails, tail_packed, kernel, L, tail_kernel, Lt)
        else:
            with nogil, parallel(num_threads=threads):
                for p in range(passes):  # every thread; the end of each prange is a barrier
                    for task in prange(blocks * chunks, schedule="dynamic"):
                        _gemm_task(omp_get_thread_num(), task, p, kc, passes, chunks, rows,
                                   full, a, row_off, col_off, bp, ldb, block_stride, b_rest, out,
                                   tail, tails, tail_packed, kernel, L, tail_kernel, Lt)
    finally:
        free(tail_packed)


cdef inline void _gemm_task(int me, Py_ssize_t task, Py_ssize_t p, Py_ssize_t kc, Py_ssize_t passes,
                            Py_ssize_t chunks, Py_ssize_t rows, Py_ssize_t full,
                            const floating[::1] a, const Py_ssize_t[::1] row_off,
                            const Py_ssize_t[::1] col_off, const floating *bp, Py_ssize_t ldb,
                            Py_ssize_t block_stride, const floating[:, :] b_rest,
                            floating[:, ::1] out, floating[:, ::1] tail,
                            floating[:, ::1] tails, int *tail_packed, int kernel, Py_ssize_t L,
                            int tail_kernel, Py_ssize_t Lt) noexcept nogil:
    """Task ``task`` of :func:`gemm`'s pass p, a (lane block, row chunk) pair, on thread
    ``me`` (its tail buffer)."""
    cdef Py_ssize_t R = row_off.shape[0], T = col_off.shape[0], M = out.shape[1]
    cdef Py_ssize_t k0 = p * kc, nk = min(kc, T - p * kc), blk, r0
    if passes == 1:
        blk = task // chunks
        r0 = (task % chunks) * rows
    else:
        blk = task % ((M + L - 1) // L)
        r0 = (task // ((M + L - 1) // L)) * rows
    if blk < full:
        tile_rows(kernel, &out[r0, blk * L], M, &a[0], &row_off[r0], min(rows, R - r0),
                  &col_off[k0], nk, bp + blk * block_stride + k0 * ldb, ldb, 0, 1, L, p > 0)
    else:
        _tail_task(me, out, tail, b_rest, tails, tail_packed, &a[0], &row_off[r0], r0,
                   min(rows, R - r0), &col_off[k0], k0, nk, p > 0, tail_kernel, Lt)


cdef floating[:, ::1] _tail_buffers(int threads, Py_ssize_t T, Py_ssize_t Lt, bint needed,
                                    floating kind):
    """Each thread's buffer for B's last columns packed (T, Lt): scratch where there is a
    tail block, else an empty one (no allocation)."""
    if floating is float:
        return scratch((threads, max(T, 1) * Lt), np.float32) if needed else _NO_TAILS_F32
    else:
        return scratch((threads, max(T, 1) * Lt), np.float64) if needed else _NO_TAILS_F64


cdef int *_packed_flags(int threads, bint needed) except? NULL:
    """Each thread's "tail packed" flag, zeroed (free() it), or NULL without a tail."""
    if not needed:
        return NULL
    cdef int *flags = <int *>calloc(threads, sizeof(int))
    if flags == NULL:
        raise MemoryError()
    return flags


cdef inline void _tail_task(int me, floating[:, ::1] out, floating[:, ::1] tail,
                            const floating[:, :] b_rest, floating[:, ::1] tails,
                            int *tail_packed, const floating *a, const Py_ssize_t *row_off,
                            Py_ssize_t r0, Py_ssize_t rows, const Py_ssize_t *col_off,
                            Py_ssize_t k0, Py_ssize_t nk, bint accumulate, int tail_kernel,
                            Py_ssize_t Lt) noexcept nogil:
    """The last, partial block of columns for rows r0 .. r0 + rows, summed over t in
    k0 .. k0 + nk, its tiles into ``tail``, copied into out after the last pass.

    Where B's rows are contiguous and there are IN_PLACE_MIN_TERMS terms or more, the
    tail kernel reads its Lt lanes of rows t < T - 1 in place: the lanes past B's last column are the next row's first values, read but
    never stored (lanes do not mix), and within B when Lt - M % L is at most a row's
    stride; only the last row is packed, zero-padded, into this thread's buffer, and its
    term added after the others (the same order, the same bits).  Otherwise this
    thread packs all of B's last columns, on its first such task."""
    cdef floating *packed = &tails[me, 0]
    cdef Py_ssize_t T = b_rest.shape[0], rest = b_rest.shape[1], l, before
    cdef Py_ssize_t row_stride = b_rest.strides[0] // sizeof(floating)
    cdef bint in_place = (b_rest.strides[1] == sizeof(floating) and T >= IN_PLACE_MIN_TERMS
                          and Lt - rest <= row_stride)
    if not tail_packed[me]:
        if in_place:
            for l in range(Lt):
                packed[l] = b_rest[T - 1, l] if l < rest else 0
        else:
            _pack_block(b_rest, 0, packed, Lt)
        tail_packed[me] = 1
    if in_place:
        before = max(min(nk, T - 1 - k0), 0)  # this pass's terms before the last row
        if before > 0:
            tile_rows(tail_kernel, &tail[r0, 0], Lt, a, row_off, rows, col_off, before,
                      &b_rest[k0, 0], row_stride, 0, 1, Lt, accumulate)
        if k0 + nk >= T:
            tile_rows(tail_kernel, &tail[r0, 0], Lt, a, row_off, rows, col_off + T - 1 - k0,
                      1, packed, Lt, 0, 1, Lt, accumulate or before > 0)
    else:
        tile_rows(tail_kernel, &tail[r0, 0], Lt, a, row_off, rows, col_off, nk,
                  packed + k0 * Lt, Lt, 0, 1, Lt, accumulate)
    if k0 + nk >= T:  # the last pass
        _copy_tail(out, tail, r0, rows, out.shape[1] - rest)


cdef inline void _copy_tail(floating[:, ::1] out, floating[:, ::1] tail, Py_ssize_t r0,
                            Py_ssize_t rows, Py_ssize_t first) noexcept nogil:
    """out[r0:r0 + rows, first:] = tail[r0:r0 + rows, :M - first]: the last, partial block
    of columns, from the tail kernel's zero-padded tiles, by the task that computed it."""
    cdef Py_ssize_t r
    for r in range(r0, r0 + rows):
        memcpy(&out[r, first], &tail[r, 0], (out.shape[1] - first) * sizeof(floating))


def gemm_transposed(const floating[:, ::1] a, const floating[::1] b, Py_ssize_t ldb,
                    Py_ssize_t block_stride, const floating[:, :] b_rest,
                    floating[:, ::1] out, floating[:, ::1] tail, int kernel, Py_ssize_t L,
                    int tail_kernel, Py_ssize_t Lt):
    """out = a.T @ B for a (T, R), B as for :func:`gemm`: as :func:`gemm` with row_off[r]
    = r and col_off[t] = t*R (the same sums in the same order, so the same bits), but
    each task first copies its row chunk's columns of a into a contiguous panel (T, rows)
    of its thread's.

    Read in place, a column of a is one element per row of a: a register tile's steps
    through t touch a new page each (a.T @ dout: the rows of a batch of 943 are 13 KB
    apart in float64), so the TLB, not the FMAs, bounds the product.  The panel is one
    contiguous copy per task, reused for every lane block of B; tasks are row chunks.
    """
    cdef Py_ssize_t T = a.shape[0], R = a.shape[1], M = out.shape[1]
    cdef Py_ssize_t full = M // L, blocks = (M + L - 1) // L
    cdef Py_ssize_t c, blk, r0, n, t
    cdef int threads = num_threads_for_product(R * T * blocks * L)
    check_kernel(kernel, L, floating is float)
    check_rest(kernel, L, tail_kernel, Lt, M, T, b_rest.shape[0], b_rest.shape[1],
               floating is float)
    check_operand(b.shape[0], full, T, ldb, block_stride, L)
    if R == 0 or blocks == 0:
        return
    cdef Py_ssize_t rows = rows_per_task(R, 1, threads)
    cdef Py_ssize_t chunks = (R + rows - 1) // rows
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] panels = scratch((threads, max(T, 1) * rows), dtype)
    cdef floating[:, ::1] tails = _tail_buffers(threads, T, Lt, full < blocks, <floating>0)
    cdef Py_ssize_t[::1] row_off = np.arange(rows, dtype=np.intp)
    cdef Py_ssize_t[::1] col_off = np.arange(max(T, 1), dtype=np.intp) * rows
    cdef const floating *bp = &b[0] if b.shape[0] > 0 else NULL
    cdef floating *panel
    cdef int me
    cdef int *tail_packed = _packed_flags(threads, full < blocks)
    try:
        with nogil, parallel(num_threads=threads):
            me = omp_get_thread_num()
            panel = &panels[me, 0]
            for c in prange(chunks, schedule="dynamic"):
                r0 = c * rows
                n = min(rows, R - r0)
                for t in range(T):
                    memcpy(panel + t * rows, &a[t, r0], n * sizeof(floating))
                for blk in range(full):
                    tile_rows(kernel, &out[r0, blk * L], M, panel, &row_off[0], n,
                              &col_off[0], T, bp + blk * block_stride, ldb, 0, 1, L, 0)
                if full < blocks:
                    _tail_task(me, out, tail, b_rest, tails, tail_packed, panel, &row_off[0],
                               r0, n, &col_off[0], 0, T, 0, tail_kernel, Lt)
    finally:
        free(tail_packed)


cdef extern from "transpose.h" nogil:
    void fastnn_pack_transposed_f32(const float *src, ptrdiff_t ld, ptrdiff_t run,
                                    ptrdiff_t K, float *packed, ptrdiff_t L)
    void fastnn_pack_transposed_f64(const double *src, ptrdiff_t ld, ptrdiff_t run,
                                    ptrdiff_t K, double *packed, ptrdiff_t L)
    void fastnn_transpose_f32(const float *src, ptrdiff_t R, ptrdiff_t C, ptrdiff_t c0,
                              ptrdiff_t c1, float *dst)
    void fastnn_transpose_f64(const double *src, ptrdiff_t R, ptrdiff_t C, ptrdiff_t c0,
                              ptrdiff_t c1, double *dst)


cdef void _pack_block(const floating[:, :] b, Py_ssize_t first, floating *packed,
                      Py_ssize_t L) noexcept nogil:
    """packed[t, l] = b[t, first + l], zero past b's columns: one block of L lanes, (T, L)
    contiguous, whatever b's layout (a transposed weight matrix included: the loop runs
    along b's contiguous axis, PACK_TILE rows of the block at a time so that the rows
    being filled stay in L1)."""
    cdef Py_ssize_t T = b.shape[0], M = b.shape[1]
    cdef Py_ssize_t run = max(min(L, M - first), 0)
    cdef Py_ssize_t tile, t, t0, t1, l
    if b.strides[1] == sizeof(floating) and run > 0:
        for t in range(T):
            memcpy(packed + t * L, &b[t, first], run * sizeof(floating))
            for l in range(run, L):
                packed[t * L + l] = 0
    elif b.strides[0] == sizeof(floating) and b.strides[1] > 0 and run > 0 and T > 0:
        # a transposed weight matrix: its rows transposed in registers (csrc/transpose.h)
        if floating is float:
            fastnn_pack_transposed_f32(&b[0, first], b.strides[1] // sizeof(floating), run, T,
                                       packed, L)
        else:
            fastnn_pack_transposed_f64(&b[0, first], b.strides[1] // sizeof(floating), run, T,
                                       packed, L)
    elif b.strides[1] <= b.strides[0]:
        for t in range(T):
            for l in range(L):
                packed[t * L + l] = b[t, first + l] if l < run else 0
    else:
        for tile in range((T + PACK_TILE - 1) // PACK_TILE):
            t0 = tile * PACK_TILE
            t1 = min(t0 + PACK_TILE, T)
            for l in range(L):
                if l < run:
                    for t in range(t0, t1):
                        packed[t * L + l] = b[t, first + l]
                else:
                    for t in range(t0, t1):
                        packed[t * L + l] = 0


def transpose(const floating[:, ::1] src, floating[:, ::1] dst):
    """dst (C, R) = src (R, C).T, in strips of TRANSPOSE_TILE columns of src, one a task
    (csrc/transpose.h: blocks transposed in registers)."""
    cdef Py_ssize_t R = src.shape[0], C = src.shape[1], strip, c0
    if dst.shape[0] != C or dst.shape[1] != R:
        raise ValueError(f"dst is ({dst.shape[0]}, {dst.shape[1]}); src.T is ({C}, {R})")
    if R == 0 or C == 0:
        return
    cdef int threads = num_threads_for(R * C)
    if threads == 1:
        with nogil:
            _transpose_columns(src, 0, C, dst)
        return
    for strip in prange((C + TRANSPOSE_TILE - 1) // TRANSPOSE_TILE, nogil=True,
                        schedule="static", num_threads=threads):
        c0 = strip * TRANSPOSE_TILE
        _transpose_columns(src, c0, min(c0 + TRANSPOSE_TILE, C), dst)


cdef inline void _transpose_columns(const floating[:, ::1] src, Py_ssize_t c0, Py_ssize_t c1,
                                    floating[:, ::1] dst) noexcept nogil:
    if floating is float:
        fastnn_transpose_f32(&src[0, 0], src.shape[0], src.shape[1], c0, c1, &dst[0, 0])
    else:
        fastnn_transpose_f64(&src[0, 0], src.shape[0], src.shape[1], c0, c1, &dst[0, 0])


def pack_lanes(const floating[:, :] b, floating[:, :, ::1] packed):
    """packed[blk, t, l] = b[t, blk*L + l], zero past b's M columns: B (T, M) in blocks of
    L lanes for :func:`gemm`, one block per task."""
    cdef Py_ssize_t T = b.shape[0]
    cdef Py_ssize_t blocks = packed.shape[0], L = packed.shape[2]
    cdef Py_ssize_t blk
    if packed.shape[1] != T:
        raise ValueError(f"packed holds blocks of {packed.shape[1]} rows; b has {T}")
    cdef int threads = num_threads_for(blocks * T * L)
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        _pack_block(b, blk * L, &packed[blk, 0, 0], L)


# -- the common small call, whole in C ---------------------------------------------------
#
# A layer's call on a small batch does little arithmetic, so its cost is the Python around
# it (benchmarks/NOTES.md, "Small calls").  These two functions accept only the common
# case, checked with C comparisons: NumPy arrays of one float dtype whose shapes fit, and
# a product the planner gives to NumPy (at most SMALL_PRODUCT multiply-adds).  They then
# make the very calls the Python path makes (NumPy's dot, the bias added once, the cache's
# copy of x, dout's column sums in row order), so the results are the same bits.  Anything
# else returns None, and fastnn.functional takes its Python path, whose checks explain
# the error.

cdef long long _SMALL_PRODUCT = SMALL_PRODUCT


cdef inline bint _float_array(object a, int typenum) noexcept:
    return type(a) is np.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum


cdef inline bint _same_float_arrays(object a, object b, object c) noexcept:
    if type(a) is not np.ndarray:
        return False
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>a)
    return ((t == cnp.NPY_FLOAT64 or t == cnp.NPY_FLOAT32)
            and _float_array(b, t) and _float_array(c, t))


cdef object _rows(cnp.ndarray x, cnp.npy_intp N, cnp.npy_intp D):
    """x as (N, D): itself when 2-D, a view when C-contiguous, else None."""
    cdef cnp.npy_intp dims[2]
    cdef cnp.PyArray_Dims shape
    if cnp.PyArray_NDIM(x) == 2:
        return x
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        return None
    dims[0], dims[1] = N, D
    shape.ptr, shape.len = dims, 2
    return cnp.PyArray_Newshape(x, &shape, cnp.NPY_CORDER)


cdef void _add_bias_rows(floating *out, const char *b, Py_ssize_t b_stride, Py_ssize_t N,
                         Py_ssize_t M) noexcept nogil:
    cdef Py_ssize_t i, j
    for i in range(N):
        for j in range(M):
            out[i * M + j] = out[i * M + j] + (<const floating *>(b + j * b_stride))[0]


cdef void _add_bias(cnp.ndarray out, cnp.ndarray b, cnp.npy_intp N, cnp.npy_intp M) noexcept:
    """out (N, M), a fresh C-contiguous product, += b (M,) (b of any stride)."""
    cdef const char *bp = <const char *>cnp.PyArray_DATA(b)
    cdef Py_ssize_t bs = cnp.PyArray_STRIDES(b)[0]
    cdef double *o64 = <double *>cnp.PyArray_DATA(out)
    cdef float *o32 = <float *>cnp.PyArray_DATA(out)
    with nogil:
        if cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT64:
            _add_bias_rows(o64, bp, bs, N, M)
        else:
            _add_bias_rows(o32, bp, bs, N, M)


cdef bint _small_product(cnp.ndarray x, cnp.ndarray w, cnp.npy_intp *N, cnp.npy_intp *D,
                         cnp.npy_intp *M) noexcept:
    """Whether x (N, ...) with D features meets w (D, M) in a product the planner leaves
    to NumPy (N, D >= 1); sets N, D and M."""
    if cnp.PyArray_NDIM(x) < 2 or cnp.PyArray_NDIM(w) != 2:
        return False
    N[0], D[0], M[0] = cnp.PyArray_DIMS(x)[0], cnp.PyArray_DIMS(w)[0], cnp.PyArray_DIMS(w)[1]
    return (N[0] > 0 and D[0] > 0 and cnp.PyArray_SIZE(x) == N[0] * D[0]
            and <long long>N[0] * D[0] * M[0] <= _SMALL_PRODUCT)


def small_matmul(a, b, bint transpose_a):
    """``fastnn.functional.matmul(a, b, transpose_a)`` for the common small call (2-D arrays
    of one float dtype, a product the planner leaves to NumPy), else None: NumPy's dot,
    as the full path would call it, without the Python checks around it."""
    if not _same_float_arrays(a, b, b):
        return None
    cdef cnp.ndarray aa = <cnp.ndarray>a, ba = <cnp.ndarray>b
    if cnp.PyArray_NDIM(aa) != 2 or cnp.PyArray_NDIM(ba) != 2:
        return None
    cdef cnp.npy_intp R = cnp.PyArray_DIMS(aa)[1 if transpose_a else 0]
    cdef cnp.npy_intp K = cnp.PyArray_DIMS(aa)[0 if transpose_a else 1]
    if cnp.PyArray_DIMS(ba)[0] != K or <long long>R * K * cnp.PyArray_DIMS(ba)[1] > _SMALL_PRODUCT:
        return None
    return cnp.PyArray_MatrixProduct(cnp.PyArray_Transpose(aa, NULL) if transpose_a else aa, ba)


def small_forward(x, w, b):
    """``fastnn.functional.affine_forward(x, w, b)`` for the common small call, else None."""
    if not _same_float_arrays(x, w, b):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w, ba = <cnp.ndarray>b
    cdef cnp.npy_intp N, D, M
    if (not _small_product(xa, wa, &N, &D, &M) or cnp.PyArray_NDIM(ba) != 1
            or cnp.PyArray_DIMS(ba)[0] != M):
        return None
    rows = _rows(xa, N, D)
    if rows is None:
        return None
    out = <cnp.ndarray>cnp.PyArray_MatrixProduct(rows, wa)
    _add_bias(out, ba, N, M)
    return out, (cnp.PyArray_NewCopy(xa, cnp.NPY_CORDER), w, b)


def small_backward(dout, cache, bint need_dx):
    """``fastnn.functional.affine_backward(dout, cache, need_dx)`` for the common small
    call (a cache of either backend's affine_forward), else None."""
    if type(cache) is not tuple or len(<tuple>cache) != 3:
        return None
    x, w, b = <tuple>cache
    if not _same_float_arrays(x, w, b) or not _float_array(dout, cnp.PyArray_TYPE(<cnp.ndarray>x)):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w, da = <cnp.ndarray>dout
    cdef cnp.npy_intp N, D, M
    if (not _small_product(xa, wa, &N, &D, &M) or M == 0 or cnp.PyArray_NDIM(da) != 2
            or cnp.PyArray_DIMS(da)[0] != N or cnp.PyArray_DIMS(da)[1] != M):
        return None
    rows = _rows(xa, N, D)
    if rows is None or not cnp.PyArray_IS_C_CONTIGUOUS(da):
        return None
    cdef cnp.PyArray_Dims x_shape
    dx = None
    if need_dx:
        x_shape.ptr, x_shape.len = cnp.PyArray_DIMS(xa), cnp.PyArray_NDIM(xa)
        dx = cnp.PyArray_Newshape(<cnp.ndarray>cnp.PyArray_MatrixProduct(
            da, cnp.PyArray_Transpose(wa, NULL)), &x_shape, cnp.NPY_CORDER)
    dw = cnp.PyArray_MatrixProduct(cnp.PyArray_Transpose(<cnp.ndarray>rows, NULL), da)
    return dx, dw, _column_sums(da, N, M)


cdef void _sum_rows(const floating *dout, floating *sums, Py_ssize_t N,
                    Py_ssize_t M) noexcept nogil:
    cdef Py_ssize_t i, j
    for j in range(M):
        sums[j] = dout[j]
    for i in range(1, N):
        for j in range(M):
            sums[j] = sums[j] + dout[i * M + j]


cdef object _column_sums(cnp.ndarray dout, cnp.npy_intp N, cnp.npy_intp M):
    """dout (N, M), C-contiguous, summed over its rows in row order (N >= 1): the order
    of NumPy's ``dout.sum(axis=0)`` for that layout, so the same bits."""
    cdef int t = cnp.PyArray_TYPE(dout)
    cdef cnp.ndarray sums = (empty((M,), (<object>dout).dtype) if POISON
                             else cnp.PyArray_EMPTY(1, &M, t, 0))
    cdef void *d = cnp.PyArray_DATA(dout)
    cdef void *out = cnp.PyArray_DATA(sums)
    with nogil:
        if t == cnp.NPY_FLOAT64:
            _sum_rows(<const double *>d, <double *>out, N, M)
        else:
            _sum_rows(<const float *>d, <float *>out, N, M)
    return sums
