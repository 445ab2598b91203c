"""Matrix products for the dense (affine) layers, on the gather-GEMM micro-kernel.

The rule: every product of a layer runs in fastnn's own OpenMP pool, never in a second
pool that would spin beside it on the same cores (benchmarks/NOTES.md, "Threads and
waiting", measured it before NumPy's OpenBLAS could be handed to fastnn's pool).
Reading A through offset tables makes a transposed operand free: xᵀ·dout needs no copy.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stddef cimport ptrdiff_t
from libc.math cimport NAN
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

import numpy as np
cimport numpy as cnp

from fastnn.runtime.buffers import POISON, REUSE_MAX_BYTES, thread_buffers
from fastnn._kernels.plan import ROW_CHUNK as _ROW_CHUNK, SMALL_PRODUCT, matmul_plan

cnp.import_array()

from fastnn._kernels.arrays cimport fresh_array, reused_bytes
from fastnn._kernels.gather_gemm cimport tile_rows
from fastnn._kernels.simd cimport check_kernel
from fastnn._kernels.threads cimport (num_threads_for, num_threads_for_product,
                                      omp_get_thread_num)

# Rows per task (fastnn._kernels.plan, whose rules count them)
cdef Py_ssize_t ROW_CHUNK = _ROW_CHUNK

cdef enum:
    MIN_ROW_CHUNK = 12  # ... halved down to this while there are too few tasks
    TASKS_PER_THREAD = 4  # ... that is, fewer than this many per thread
    PACK_TILE = 64  # rows of a packed block filled at a time from a transposed B: 8 KiB
    TRANSPOSE_TILE = 16  # columns of the source a task of transpose() takes
    # The tail block is read in place only over this many terms or more: the last one,
    # added apart, costs each tile a store and a reload of its sums, too much beside a
    # short sum (benchmarks/NOTES.md, "Matrix products")
    IN_PLACE_MIN_TERMS = 128
    # Bytes of B (T x M) up to which a task computes whole rows of out (_gemm): half a
    # 1 MiB L2 (most of these machines; Zen 1's is 512 KiB), room left for the task's
    # rows of out
    WHOLE_ROWS_B_BYTES = 524288
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


cdef struct Product:
    # One product out (R, M) = sum over t < T of A's rows by B's, as the task functions
    # read it: pointers into memory that outlives the parallel region, strides in elements.
    const void *a  # A[r, t] at a[row_off[r] + col_off[t]]
    const Py_ssize_t *row_off
    const Py_ssize_t *col_off
    Py_ssize_t R, T, M
    const void *b  # full block blk's row t at b[blk*block_stride + t*ldb]
    Py_ssize_t ldb, block_stride, full, blocks
    const void *rest  # B's last M % L columns, in place: [t, l] at rest[t*rest_s0 + l*rest_s1]
    Py_ssize_t rest_columns, rest_s0, rest_s1
    void *out  # (R, M), C-contiguous
    void *tile  # (R, Lt): the last block's tiles, their first rest_columns copied into out
    void *tails  # (threads, max(T, 1)*Lt): each thread's packed copy of B's last columns
    int *tail_packed  # (threads,): whether that thread has packed them yet
    int kernel, tail_kernel
    Py_ssize_t L, Lt
    Py_ssize_t kc, passes, chunks, rows  # terms per pass, passes, row chunks, rows a chunk


cdef int _check_product(const Product *p, Py_ssize_t b_size, Py_ssize_t rest_rows,
                        bint single) except -1:
    """Refuse kernels this CPU cannot run, a B its full blocks would read past and a B_rest
    that is not B's last columns (a private function's guard)."""
    check_kernel(p.kernel, p.L, single)
    check_rest(p.kernel, p.L, p.tail_kernel, p.Lt, p.M, p.T, rest_rows, p.rest_columns, single)
    check_operand(b_size, p.full, p.T, p.ldb, p.block_stride, p.L)
    return 0


cdef cnp.ndarray _room(dict buffers, str tag, Py_ssize_t count, floating kind):
    """Room for ``count`` values in this thread's reused buffer ``tag`` (the data of the
    array returned, which the caller holds while it uses it): NaN-filled under
    FASTNN_POISON, like every scratch buffer (fastnn.runtime.buffers.thread_buffers)."""
    cdef cnp.ndarray room = reused_bytes(buffers, tag, count * <Py_ssize_t>sizeof(floating),
                                         _REUSE_MAX_BYTES)
    cdef floating *values = <floating *>cnp.PyArray_DATA(room)
    cdef Py_ssize_t i
    if _POISON:
        for i in range(count):
            values[i] = NAN
    return room


cdef int _gemm(Product *p, dict buffers, floating kind) except -1:
    """out = A @ B as ``p`` describes it (its scratch and task layout filled in here), in
    blocks of L columns (the lanes of ``kernel``, fastnn._kernels.plan).

    Block blk < M // L of B is read from ``b``: B itself when its rows are contiguous
    (ldb = M, block_stride = L: nothing is packed), or B packed in blocks (ldb = L,
    block_stride = T*L).  When L does not divide M, B's last columns (``rest``, any
    layout) go to ``tail_kernel`` (of Lt >= M % L lanes): read in place where their rows
    are contiguous (and the sum long: _tail_task), else packed, zero-padded, by each
    thread that meets them into a buffer of its own (read where it was written: a block
    packed by the calling thread and read by another measured slower than packing it
    twice); their tiles go to scratch (R, Lt), and each task copies its rows' first
    M % L columns into out.

    With ``kc`` < T the sum over t runs in passes of kc terms, in order, each adding to
    the partial sums the last one stored in out (exact: the same bits as one pass), so
    that a pass's slices of A and B stay in the L2 for all its tasks (fastnn._kernels.plan
    says when).

    Tasks are (lane block, row chunk) pairs, each writing its own part of out: no
    reduction, any thread count.  They are unequal (a narrower tail block, a short last
    row chunk) and go to whichever thread is free, in order: in one pass, a block's row
    chunks one after another (they share the block of B); over several, a row chunk's
    blocks (they share its slice of A).  Two exceptions, below: with all of B in the L2 a
    task is a row chunk's every block (whole rows of out), and a B packed in many blocks
    goes out in the runs of blocks each thread packed.
    """
    cdef Py_ssize_t task, c, blk, i, step
    cdef int threads = num_threads_for_product(p.R * p.T * p.blocks * p.L)
    if p.kc <= 0 or p.kc > p.T:
        p.kc = max(p.T, 1)
    p.passes = max((p.T + p.kc - 1) // p.kc, 1)  # (one pass of none: zeros)
    # With all of B in the L2, a task is a row chunk across every block: its rows of out
    # are written whole, in turn (a column strip of a wide out at a time left each row's
    # partial cache lines to be fetched again for the next strip: the RBM's 943 x 20 x
    # 1682 ran at half NumPy's speed).
    cdef bint whole_rows = (p.passes == 1 and p.blocks > 1
                            and p.T * p.M * <Py_ssize_t>sizeof(floating) <= WHOLE_ROWS_B_BYTES)
    # B packed by _pack_lanes (its blocks split between the threads in order, statically):
    # with blocks enough for an even split, each thread takes the same run of blocks
    # here, so that it reads the blocks it packed (a block packed by one thread and read
    # by the other cost a fetch from the other core: dout @ W.T ran at 0.65 of NumPy's
    # speed at 2 threads, 0.95 at one).
    cdef bint packed_here = (p.passes == 1 and not whole_rows and p.ldb == p.L
                             and p.full >= STATIC_MIN_BLOCKS * threads)
    p.rows = rows_per_task(p.R, 1 if whole_rows else p.blocks, threads)
    p.chunks = (p.R + p.rows - 1) // p.rows
    try:
        scratch = _tail_scratch(p, threads, buffers, kind)
        if threads == 1:  # (a parallel region of one thread costs more than a small product)
            with nogil:
                for step in range(p.passes):
                    for i in range(p.blocks * p.chunks):  # (whole rows: row chunk major)
                        task = (i % p.blocks) * p.chunks + i // p.blocks if whole_rows else i
                        _gemm_task(p, 0, task, step, kind)
        elif whole_rows:
            with nogil, parallel(num_threads=threads):
                for c in prange(p.chunks, schedule="dynamic"):
                    for blk in range(p.blocks):
                        _gemm_task(p, omp_get_thread_num(), blk * p.chunks + c, 0, kind)
        elif packed_here:
            with nogil, parallel(num_threads=threads):
                for task in prange(p.blocks * p.chunks, schedule="static"):
                    _gemm_task(p, omp_get_thread_num(), task, 0, kind)
        else:
            with nogil, parallel(num_threads=threads):
                for step in range(p.passes):  # every thread; the end of each prange is a barrier
                    for task in prange(p.blocks * p.chunks, schedule="dynamic"):
                        _gemm_task(p, omp_get_thread_num(), task, step, kind)
    finally:
        _free_tail_scratch(p)
    return 0


cdef inline bint _tail_into_out(const Product *p) noexcept nogil:
    """Whether the last block's tiles go to out itself: the tail kernel's Lt lanes are
    exactly B's last columns, so a tile's rows write only their own columns."""
    return p.Lt == p.rest_columns


cdef tuple _tail_scratch(Product *p, int threads, dict buffers, floating kind):
    """The last block's scratch (none without one): its tiles (R, Lt), unless they go to
    out itself (_tail_into_out), and each thread's packed copy
    of B's last columns, reused buffers (returned: the caller holds them while the
    product runs), and their "packed" flags, zeroed (free them: _free_tail_scratch)."""
    p.tile, p.tails, p.tail_packed = NULL, NULL, NULL
    if p.full == p.blocks:
        return ()
    tile = None if _tail_into_out(p) else _room(buffers, "matmul-tile", p.R * p.Lt, kind)
    tails = _room(buffers, "matmul-tails", threads * max(p.T, 1) * p.Lt, kind)
    p.tile = NULL if tile is None else cnp.PyArray_DATA(tile)
    p.tails = cnp.PyArray_DATA(tails)
    p.tail_packed = <int *>calloc(threads, sizeof(int))
    if p.tail_packed == NULL:
        raise MemoryError()
    return tile, tails


cdef void _free_tail_scratch(Product *p) noexcept:
    free(p.tail_packed)
    p.tile, p.tails, p.tail_packed = NULL, NULL, NULL


cdef inline void _gemm_task(const Product *p, int me, Py_ssize_t task, Py_ssize_t step,
                            floating kind) noexcept nogil:
    """Task ``task`` of :func:`_gemm`'s pass ``step``, a (lane block, row chunk) pair, on
    thread ``me`` (its tail buffer)."""
    cdef Py_ssize_t k0 = step * p.kc, nk = min(p.kc, p.T - step * p.kc), blk, r0
    if p.passes == 1:
        blk = task // p.chunks
        r0 = (task % p.chunks) * p.rows
    else:
        blk = task % p.blocks
        r0 = (task // p.blocks) * p.rows
    cdef const floating *a = <const floating *>p.a
    if blk < p.full:
        tile_rows(p.kernel, <floating *>p.out + r0 * p.M + blk * p.L, p.M, a, p.row_off + r0,
                  min(p.rows, p.R - r0), p.col_off + k0, nk,
                  <const floating *>p.b + blk * p.block_stride + k0 * p.ldb, p.ldb, 0, 1, p.L,
                  step > 0)
    else:
        _tail_task(p, me, a, p.row_off + r0, r0, min(p.rows, p.R - r0), p.col_off + k0, k0,
                   nk, step > 0)


cdef inline void _tail_task(const Product *p, int me, const floating *a,
                            const Py_ssize_t *row_off, Py_ssize_t r0, Py_ssize_t rows,
                            const Py_ssize_t *col_off, Py_ssize_t k0, Py_ssize_t nk,
                            bint accumulate) noexcept nogil:
    """The last, partial block of columns for rows r0 .. r0 + rows, summed over t in
    k0 .. k0 + nk, its tiles into p.tile, copied into out after the last pass; or, where
    the tail kernel's Lt lanes are exactly B's last columns, into out itself (a tile's
    rows then write only their own columns: no copy, which cost a call a row).

    Where B's rows are contiguous and there are IN_PLACE_MIN_TERMS terms or more, the
    tail kernel reads its Lt lanes of rows t < T - 1 in place: the lanes past B's last
    column are the next row's first values, read but never stored (lanes do not mix), and
    within B when Lt - M % L is at most a row's stride; only the last row is packed,
    zero-padded, into this thread's buffer, and its term added after the others (the same
    order, the same bits).  Otherwise this thread packs all of B's last columns, on its
    first such task."""
    cdef Py_ssize_t T = p.T, n = p.rest_columns, Lt = p.Lt, rs = p.rest_s0, l, r, before
    cdef floating *packed = <floating *>p.tails + me * max(T, 1) * Lt
    cdef floating *out = <floating *>p.out
    cdef bint direct = _tail_into_out(p)
    cdef floating *tile = out + r0 * p.M + p.M - n if direct else <floating *>p.tile + r0 * Lt
    cdef Py_ssize_t ldt = p.M if direct else Lt
    cdef const floating *rest = <const floating *>p.rest
    cdef bint in_place = p.rest_s1 == 1 and T >= IN_PLACE_MIN_TERMS and Lt - n <= rs
    if not p.tail_packed[me]:
        if in_place:
            for l in range(Lt):
                packed[l] = rest[(T - 1) * rs + l] if l < n else 0
        else:
            _pack_block(rest, T, n, rs, p.rest_s1, 0, packed, Lt)
        p.tail_packed[me] = 1
    if in_place:
        before = max(min(nk, T - 1 - k0), 0)  # this pass's terms before the last row
        if before > 0:
            tile_rows(p.tail_kernel, tile, ldt, a, row_off, rows, col_off, before,
                      rest + k0 * rs, rs, 0, 1, Lt, accumulate)
        if k0 + nk >= T:
            tile_rows(p.tail_kernel, tile, ldt, a, row_off, rows, col_off + T - 1 - k0,
                      1, packed, Lt, 0, 1, Lt, accumulate or before > 0)
    else:
        tile_rows(p.tail_kernel, tile, ldt, a, row_off, rows, col_off, nk,
                  packed + k0 * Lt, Lt, 0, 1, Lt, accumulate)
    if k0 + nk >= T and not direct:  # the last pass: each row's first n columns into out
        for r in range(rows):
            memcpy(out + (r0 + r) * p.M + p.M - n, tile + r * Lt, n * sizeof(floating))


cdef int _gemm_transposed(Product *p, dict buffers, floating kind) except -1:
    """out = A.T @ B for A (T, R) C-contiguous at p.a, B as for :func:`_gemm`: as
    :func:`_gemm` with row_off[r] = r and col_off[t] = t*R (the same sums in the same
    order, so the same bits), but each task first copies its row chunk's columns of A
    into a contiguous panel (T, rows) of its thread's.

    Read in place, a column of A is one element per row of A: a register tile's steps
    through t touch a new page each (a.T @ dout: the rows of a batch of 943 are 13 KB
    apart in float64), so the TLB, not the FMAs, bounds the product.  The panel is one
    contiguous copy per task, reused for every lane block of B; tasks are row chunks.
    """
    cdef Py_ssize_t T = p.T, R = p.R, c, blk, r0, n, t
    cdef int threads = num_threads_for_product(R * T * p.blocks * p.L)
    cdef const floating *a = <const floating *>p.a
    cdef const floating *bp = <const floating *>p.b
    cdef floating *out = <floating *>p.out
    p.rows = rows_per_task(R, 1, threads)
    p.chunks = (R + p.rows - 1) // p.rows
    p.kc, p.passes = max(T, 1), 1
    cdef floating *panels
    cdef floating *panel
    cdef Py_ssize_t *offsets = NULL
    cdef int me
    try:
        scratch = _tail_scratch(p, threads, buffers, kind)
        panel_room = _room(buffers, "matmul-panels", threads * max(T, 1) * p.rows, kind)
        panels = <floating *>cnp.PyArray_DATA(panel_room)
        offsets = <Py_ssize_t *>malloc((p.rows + max(T, 1)) * sizeof(Py_ssize_t))
        if offsets == NULL:
            raise MemoryError()
        for t in range(p.rows):
            offsets[t] = t  # row_off: the panel's rows ...
        for t in range(T):
            offsets[p.rows + t] = t * p.rows  # ... and col_off: its terms
        with nogil, parallel(num_threads=threads):
            me = omp_get_thread_num()
            panel = panels + me * max(T, 1) * p.rows
            for c in prange(p.chunks, schedule="dynamic"):
                r0 = c * p.rows
                n = min(p.rows, R - r0)
                for t in range(T):
                    memcpy(panel + t * p.rows, a + t * R + r0, n * sizeof(floating))
                for blk in range(p.full):
                    tile_rows(p.kernel, out + r0 * p.M + blk * p.L, p.M, panel, offsets, n,
                              offsets + p.rows, T, bp + blk * p.block_stride, p.ldb, 0, 1,
                              p.L, 0)
                if p.full < p.blocks:
                    _tail_task(p, me, panel, offsets, r0, n, offsets + p.rows, 0, T, 0)
    finally:
        free(offsets)
        _free_tail_scratch(p)
    return 0


def gemm(const floating[::1] a, const Py_ssize_t[::1] row_off, const Py_ssize_t[::1] col_off,
         const floating[::1] b, Py_ssize_t ldb, Py_ssize_t block_stride,
         const floating[:, :] b_rest, floating[:, ::1] out, int kernel, Py_ssize_t L,
         int tail_kernel, Py_ssize_t Lt, Py_ssize_t k_chunk):
    """out[r, :] = sum_t a[row_off[r] + col_off[t]] * B[t, :] for r < R; B (T, M) with its
    full blocks in ``b`` (ldb, block_stride) and its last M % L columns ``b_rest``, out
    (R, M), as :func:`_gemm` describes: the kernels' entry for tests (the library calls
    :func:`matmul`)."""
    cdef Product p
    p.a = &a[0] if a.shape[0] > 0 else NULL
    p.row_off, p.col_off = &row_off[0] if row_off.shape[0] else NULL, &col_off[0] if col_off.shape[0] else NULL
    p.R, p.T, p.M = row_off.shape[0], col_off.shape[0], out.shape[1]
    p.b = &b[0] if b.shape[0] > 0 else NULL
    p.ldb, p.block_stride, p.L, p.Lt = ldb, block_stride, L, Lt
    p.full, p.blocks = p.M // L if L > 0 else 0, (p.M + L - 1) // L if L > 0 else 0
    p.rest = &b_rest[0, 0] if b_rest.shape[0] > 0 and b_rest.shape[1] > 0 else NULL
    p.rest_columns = b_rest.shape[1]
    p.rest_s0 = b_rest.strides[0] // <Py_ssize_t>sizeof(floating)
    p.rest_s1 = b_rest.strides[1] // <Py_ssize_t>sizeof(floating)
    p.out = &out[0, 0] if out.shape[0] > 0 and out.shape[1] > 0 else NULL
    p.kernel, p.tail_kernel, p.kc = kernel, tail_kernel, k_chunk
    _check_product(&p, b.shape[0], b_rest.shape[0], floating is float)
    if p.R > 0 and p.blocks > 0:
        _gemm(&p, thread_buffers(), <floating>0)


cdef extern from "transpose.h" nogil:
    void fastnn_pack_transposed_f32(const float *src, ptrdiff_t ld, ptrdiff_t run,
                                    ptrdiff_t K, float *packed, ptrdiff_t L)
    void fastnn_pack_transposed_f64(const double *src, ptrdiff_t ld, ptrdiff_t run,
                                    ptrdiff_t K, double *packed, ptrdiff_t L)
    void fastnn_transpose_f32(const float *src, ptrdiff_t R, ptrdiff_t C, ptrdiff_t c0,
                              ptrdiff_t c1, float *dst)
    void fastnn_transpose_f64(const double *src, ptrdiff_t R, ptrdiff_t C, ptrdiff_t c0,
                              ptrdiff_t c1, double *dst)


cdef void _pack_block(const floating *b, Py_ssize_t T, Py_ssize_t M, Py_ssize_t s0,
                      Py_ssize_t s1, Py_ssize_t first, floating *packed,
                      Py_ssize_t L) noexcept nogil:
    """packed[t, l] = B[t, first + l], zero past B's M columns, for B (T, M) with element
    [t, m] at b[t*s0 + m*s1]: one block of L lanes, (T, L) contiguous, whatever B's
    layout (a transposed weight matrix included: the loop runs along B's contiguous axis,
    PACK_TILE rows of the block at a time so that the rows being filled stay in L1)."""
    cdef Py_ssize_t run = max(min(L, M - first), 0)
    cdef Py_ssize_t tile, t, t0, t1, l
    if s1 == 1 and run > 0:
        for t in range(T):
            memcpy(packed + t * L, b + t * s0 + first, run * sizeof(floating))
            for l in range(run, L):
                packed[t * L + l] = 0
    elif s0 == 1 and s1 > 0 and run > 0 and T > 0 and L % (32 // sizeof(floating)) == 0:
        # a transposed weight matrix: its rows transposed in registers (csrc/transpose.h,
        # blocks of 8 float32 / 4 float64 lanes: a slim tail's 4 / 2 take the loops below)
        if floating is float:
            fastnn_pack_transposed_f32(b + first * s1, s1, run, T, packed, L)
        else:
            fastnn_pack_transposed_f64(b + first * s1, s1, run, T, packed, L)
    elif s1 <= s0:
        for t in range(T):
            for l in range(L):
                packed[t * L + l] = b[t * s0 + (first + l) * s1] if l < run else 0
    else:
        for tile in range((T + PACK_TILE - 1) // PACK_TILE):
            t0 = tile * PACK_TILE
            t1 = min(t0 + PACK_TILE, T)
            for l in range(L):
                if l < run:
                    for t in range(t0, t1):
                        packed[t * L + l] = b[t * s0 + (first + l) * s1]
                else:
                    for t in range(t0, t1):
                        packed[t * L + l] = 0


cdef void _pack_lanes(const floating *b, Py_ssize_t T, Py_ssize_t M, Py_ssize_t s0,
                      Py_ssize_t s1, floating *packed, Py_ssize_t blocks,
                      Py_ssize_t L) noexcept nogil:
    """packed[blk, t, l] = B[t, blk*L + l] for blk < blocks (B as for _pack_block), one
    block per task."""
    cdef Py_ssize_t blk
    cdef int threads = num_threads_for(blocks * T * L)
    for blk in prange(blocks, schedule="static", num_threads=threads):
        _pack_block(b, T, M, s0, s1, blk * L, packed + blk * T * L, L)


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
    L lanes for the gather kernels, one block per task."""
    cdef Py_ssize_t T = b.shape[0], M = b.shape[1]
    if packed.shape[1] != T:
        raise ValueError(f"packed holds blocks of {packed.shape[1]} rows; b has {T}")
    if packed.shape[0] == 0 or packed.shape[2] == 0 or T == 0:
        return
    _pack_lanes(&b[0, 0] if M > 0 else NULL, T, M, b.strides[0] // <Py_ssize_t>sizeof(floating),
                b.strides[1] // <Py_ssize_t>sizeof(floating), &packed[0, 0, 0],
                packed.shape[0], packed.shape[2])


# -- matrix products: checked in C, run as the planner says ------------------------------

cdef bint _POISON = POISON
cdef cnp.npy_intp _REUSE_MAX_BYTES = REUSE_MAX_BYTES
cdef long long _SMALL_PRODUCT = SMALL_PRODUCT
cdef cnp.npy_intp _MATMUL_MIN_OUT_BYTES = 65536


cdef inline bint _float_array(object a, int typenum) noexcept:
    """Whether a is a NumPy array of that float type in this machine's byte order (a
    byte-swapped one has the same type number: read as it lies, its values are wrong)."""
    return (type(a) is np.ndarray and cnp.PyArray_TYPE(<cnp.ndarray>a) == typenum
            and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a))


cdef inline bint _same_float_arrays(object a, object b, object c) noexcept:
    """Whether a, b and c are NumPy arrays of one float type, in this machine's byte order."""
    if type(a) is not np.ndarray:
        return False
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>a)
    return ((t == cnp.NPY_FLOAT64 or t == cnp.NPY_FLOAT32) and _float_array(a, t)
            and _float_array(b, t) and _float_array(c, t))


def matmul(a, b, bint transpose_a):
    """``fastnn.functional.matmul(a, b, transpose_a)`` for 2-D NumPy arrays of one float
    dtype whose shapes fit, in this machine's byte order: a @ b, or a.T @ b, a (R, K)
    (or (K, R)), b (K, M) -> (R, M), as ``fastnn._kernels.plan`` says.  Anything else
    returns None, for the Python path, whose checks convert the operands or explain the
    error."""
    if (not _same_float_arrays(a, b, b) or cnp.PyArray_NDIM(<cnp.ndarray>a) != 2
            or cnp.PyArray_NDIM(<cnp.ndarray>b) != 2):
        return None
    cdef cnp.ndarray aa = <cnp.ndarray>a, ba = <cnp.ndarray>b
    if cnp.PyArray_DIMS(aa)[0 if transpose_a else 1] != cnp.PyArray_DIMS(ba)[0]:
        return None
    return _planned(aa, ba, transpose_a)


cdef inline object _numpy_product(cnp.ndarray a, cnp.ndarray b, bint transpose_a,
                                  cnp.npy_intp out_size, cnp.npy_intp K):
    """a @ b (or a.T @ b) by NumPy's BLAS, the planner's "numpy" form: ``np.dot``, which
    costs the least per call, except for an out of at least ``_MATMUL_MIN_OUT_BYTES``
    over more than one summed term, which ``@`` (np.matmul) computes sooner: dot
    zero-fills its out before the BLAS writes it, and matmul leaves the BLAS for a sum of
    one term with A transposed (benchmarks/NOTES.md, "Matrix products").  Either gives
    the BLAS's bits, on the calling thread at these sizes."""
    cdef object left = cnp.PyArray_Transpose(a, NULL) if transpose_a else a
    if out_size * cnp.PyArray_ITEMSIZE(a) >= _MATMUL_MIN_OUT_BYTES and K > 1:
        return left @ b
    return cnp.PyArray_MatrixProduct(left, b)


cdef object _planned(cnp.ndarray a, cnp.ndarray b, bint transpose_a, bint scratch_out=False):
    """a @ b (or a.T @ b) for operands :func:`matmul` accepted, in the planner's form;
    ``scratch_out``: a gathered product may go into this thread's reused buffer (valid
    until the next such product: the swapped form's product before its transpose)."""
    cdef cnp.npy_intp R = cnp.PyArray_DIMS(a)[1 if transpose_a else 0]
    cdef cnp.npy_intp K = cnp.PyArray_DIMS(b)[0], M = cnp.PyArray_DIMS(b)[1]
    cdef cnp.npy_intp out_dims[2]
    out_dims[0], out_dims[1] = R, M
    if <long long>R * K * M <= _SMALL_PRODUCT:  # (the planner's first rule, without a call)
        return _numpy_product(a, b, transpose_a, R * M, K)
    how = matmul_plan((<object>a).dtype, R, K, M, transpose_a,
                      cnp.PyArray_IS_C_CONTIGUOUS(b), cnp.PyArray_IS_F_CONTIGUOUS(b))
    form = how.form
    if form == "numpy":
        return _numpy_product(a, b, transpose_a, R * M, K)
    cdef cnp.ndarray product, out
    if form == "swapped":  # as (b.T @ a.T).T: the same sums in the same order
        if transpose_a:  # b.T read through b
            product = _planned(<cnp.ndarray>cnp.PyArray_GETCONTIGUOUS(b), a, True, True)
        else:  # b = W.T: W read as it lies, a.T packed
            product = _planned(<cnp.ndarray>cnp.PyArray_Transpose(b, NULL),
                               <cnp.ndarray>cnp.PyArray_Transpose(a, NULL), False, True)
        out = fresh_array(2, out_dims, cnp.PyArray_TYPE(a), _POISON)
        transpose(product, out)
        return out
    if not (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)):
        a = <cnp.ndarray>cnp.PyArray_NewCopy(a, cnp.NPY_CORDER)
    if not cnp.PyArray_ISALIGNED(b):
        b = <cnp.ndarray>cnp.PyArray_NewCopy(b, cnp.NPY_CORDER)
    cdef dict buffers = thread_buffers()
    cdef int typenum = cnp.PyArray_TYPE(a)
    if scratch_out:
        room = (_room(buffers, "matmul-product", R * M, <float>0) if typenum == cnp.NPY_FLOAT32
                else _room(buffers, "matmul-product", R * M, <double>0))
        out = cnp.PyArray_SimpleNewFromData(2, out_dims, typenum, cnp.PyArray_DATA(room))
        cnp.set_array_base(out, room)
    else:
        out = fresh_array(2, out_dims, typenum, _POISON)
    if typenum == cnp.NPY_FLOAT32:
        _gather_product(a, b, transpose_a, how, out, buffers, <float>0)
    else:
        _gather_product(a, b, transpose_a, how, out, buffers, <double>0)
    return out


cdef int _gather_product(cnp.ndarray a, cnp.ndarray b, bint transposed, object how,
                         cnp.ndarray out, dict buffers, floating kind) except -1:
    """out = a @ b (or a.T @ b) by ``how``, a gather plan, for a C-contiguous a and an
    aligned b of any layout: B's full blocks read in place (C-contiguous) or packed into a
    reused buffer, A through offset tables or, ``how.a_panels``, copied into panels; the
    scratch from ``buffers`` (fastnn.runtime.buffers.thread_buffers)."""
    cdef Product p
    cdef Py_ssize_t K = cnp.PyArray_DIMS(b)[0], i
    cdef Py_ssize_t s0 = cnp.PyArray_STRIDES(b)[0] // <Py_ssize_t>sizeof(floating)
    cdef Py_ssize_t s1 = cnp.PyArray_STRIDES(b)[1] // <Py_ssize_t>sizeof(floating)
    cdef const floating *bp = <const floating *>cnp.PyArray_DATA(b)
    cdef floating *packed
    p.R, p.T, p.M = cnp.PyArray_DIMS(out)[0], K, cnp.PyArray_DIMS(out)[1]
    p.kernel, p.L = how.kernel_id, how.lanes
    p.tail_kernel, p.Lt, p.kc = how.tail_kernel_id, how.tail_lanes, how.k_chunk
    p.full, p.blocks = p.M // p.L, (p.M + p.L - 1) // p.L
    p.a, p.out = cnp.PyArray_DATA(a), cnp.PyArray_DATA(out)
    p.rest = bp + p.full * p.L * s1
    p.rest_columns, p.rest_s0, p.rest_s1 = p.M - p.full * p.L, s0, s1
    if how.pack_b:
        packed_room = _room(buffers, "matmul-b", p.full * K * p.L, kind)
        packed = <floating *>cnp.PyArray_DATA(packed_room)
        with nogil:
            _pack_lanes(bp, K, p.full * p.L, s0, s1, packed, p.full, p.L)
        p.b, p.ldb, p.block_stride = packed, p.L, K * p.L
    else:  # B's rows as they are (the planner asks for this only when they are contiguous)
        p.b, p.ldb, p.block_stride = bp, p.M, p.L
    _check_product(&p, p.full * p.block_stride if how.pack_b else K * p.M, K, floating is float)
    if how.a_panels:
        return _gemm_transposed(&p, buffers, kind)
    cdef Py_ssize_t *offsets = <Py_ssize_t *>malloc((p.R + K) * sizeof(Py_ssize_t))
    if offsets == NULL:
        raise MemoryError()
    try:  # row r of A at row_off[r], its term t at col_off[t]: a (R, K), or (K, R) transposed
        for i in range(p.R):
            offsets[i] = i if transposed else i * K
        for i in range(K):
            offsets[p.R + i] = i * p.R if transposed else i
        p.row_off, p.col_off = offsets, offsets + p.R
        _gemm(&p, buffers, kind)
    finally:
        free(offsets)
    return 0


# -- the dense layer's common call, whole in C -------------------------------------------
#
# A layer's call on a small batch does little arithmetic, so its cost is the Python around
# it (benchmarks/NOTES.md, "Small calls").  These two functions accept only the common
# case, checked with C comparisons: NumPy arrays of one float dtype whose shapes fit.
# They then make the very calls the Python path makes (the products as :func:`matmul`
# plans them, the bias added once, the cache's copy of x, dout's column sums in row
# order), so the results are the same bits.  Anything else returns None, and
# fastnn.functional takes its Python path, whose checks convert the arrays or explain
# the error.

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


cdef bint _layer_shapes(cnp.ndarray x, cnp.ndarray w, cnp.npy_intp *N, cnp.npy_intp *D,
                        cnp.npy_intp *M) noexcept:
    """Whether x (N, ...) with D features meets w (D, M) (N, D >= 1); sets N, D and M."""
    if cnp.PyArray_NDIM(x) < 2 or cnp.PyArray_NDIM(w) != 2:
        return False
    N[0], D[0], M[0] = cnp.PyArray_DIMS(x)[0], cnp.PyArray_DIMS(w)[0], cnp.PyArray_DIMS(w)[1]
    return N[0] > 0 and D[0] > 0 and cnp.PyArray_SIZE(x) == N[0] * D[0]


def forward(x, w, b):
    """``fastnn.functional.affine_forward(x, w, b)`` for the common call: x (N, d_1, ...,
    d_k), w (D, M), b (M,) -> (out (N, M), cache); else None."""
    if not _same_float_arrays(x, w, b):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w, ba = <cnp.ndarray>b
    cdef cnp.npy_intp N, D, M
    if (not _layer_shapes(xa, wa, &N, &D, &M) or cnp.PyArray_NDIM(ba) != 1
            or cnp.PyArray_DIMS(ba)[0] != M or not cnp.PyArray_ISALIGNED(ba)):
        return None  # (b is read in C)
    rows = _rows(xa, N, D)
    if rows is None:
        return None
    out = <cnp.ndarray>_planned(<cnp.ndarray>rows, wa, False)
    _add_bias(out, ba, N, M)
    return out, (cnp.PyArray_NewCopy(xa, cnp.NPY_CORDER), w, b)


def backward(dout, cache, bint need_dx):
    """``fastnn.functional.affine_backward(dout, cache, need_dx)`` for the common call
    (a cache of either backend's affine_forward): dout (N, M) -> (dx (shape of x) or
    None, dw (D, M), db (M,)); else None."""
    if type(cache) is not tuple or len(<tuple>cache) != 3:
        return None
    x, w, b = <tuple>cache
    if not _same_float_arrays(x, w, b) or not _float_array(dout, cnp.PyArray_TYPE(<cnp.ndarray>x)):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, wa = <cnp.ndarray>w, da = <cnp.ndarray>dout
    cdef cnp.npy_intp N, D, M
    if (not _layer_shapes(xa, wa, &N, &D, &M) or M == 0 or cnp.PyArray_NDIM(da) != 2
            or cnp.PyArray_DIMS(da)[0] != N or cnp.PyArray_DIMS(da)[1] != M):
        return None
    rows = _rows(xa, N, D)
    if rows is None or not cnp.PyArray_IS_C_CONTIGUOUS(da) or not cnp.PyArray_ISALIGNED(da):
        return None  # (dout is summed in C)
    cdef cnp.PyArray_Dims x_shape
    dx = None
    if need_dx:
        x_shape.ptr, x_shape.len = cnp.PyArray_DIMS(xa), cnp.PyArray_NDIM(xa)
        dx = cnp.PyArray_Newshape(<cnp.ndarray>_planned(
            da, <cnp.ndarray>cnp.PyArray_Transpose(wa, NULL), False), &x_shape, cnp.NPY_CORDER)
    dw = _planned(<cnp.ndarray>rows, da, True)
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
    cdef cnp.ndarray sums = fresh_array(1, &M, t, _POISON)
    cdef void *d = cnp.PyArray_DATA(dout)
    cdef void *out = cnp.PyArray_DATA(sums)
    with nogil:
        if t == cnp.NPY_FLOAT64:
            _sum_rows(<const double *>d, <double *>out, N, M)
        else:
            _sum_rows(<const float *>d, <float *>out, N, M)
    return sums
