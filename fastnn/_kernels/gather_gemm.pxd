# The gather-GEMM micro-kernel (csrc/gather_gemm.h) and the loop that tiles it, shared by
# the convolution (conv.pyx) and dense (affine.pyx) kernels.
from cython cimport floating
from libc.stddef cimport ptrdiff_t


cdef extern from "gather_gemm.h" nogil:
    int MR "FASTNN_MR"
    int MR_TALL "FASTNN_MR_TALL"
    int KERNEL_TALL_AVX512 "FASTNN_KERNEL_TALL_AVX512"
    int KERNEL_NARROW_AVX512 "FASTNN_KERNEL_NARROW_AVX512"
    int KERNEL_NARROW_AVX2 "FASTNN_KERNEL_NARROW_AVX2"
    int KERNEL_SLIM_AVX2 "FASTNN_KERNEL_SLIM_AVX2"
    void fastnn_gather_gemm_f32(int kernel, int rows, const float *A, const ptrdiff_t *row_off,
                                const ptrdiff_t *col_off, ptrdiff_t T_count, const float *B,
                                ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
    void fastnn_gather_gemm_f64(int kernel, int rows, const double *A, const ptrdiff_t *row_off,
                                const ptrdiff_t *col_off, ptrdiff_t T_count, const double *B,
                                ptrdiff_t ldb, double *C, ptrdiff_t ldc, int accumulate)
    int MR_STRIP "FASTNN_MR_STRIP"
    int MR_PAIR_STRIP "FASTNN_MR_PAIR_STRIP"
    int KERNEL_PAIR_AVX512 "FASTNN_KERNEL_PAIR_AVX512"
    int KERNEL_QUAD_AVX512 "FASTNN_KERNEL_QUAD_AVX512"
    void fastnn_strip_f32(int kernel, int rows, const float *A, const ptrdiff_t *row_off,
                          const ptrdiff_t *col_off, ptrdiff_t T_count, const float *B,
                          ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
    void fastnn_strip_f64(int kernel, int rows, const double *A, const ptrdiff_t *row_off,
                          const ptrdiff_t *col_off, ptrdiff_t T_count, const double *B,
                          ptrdiff_t ldb, double *C, ptrdiff_t ldc, int accumulate)
    void fastnn_triples_f32(int kernel, int rows, const float *A, const ptrdiff_t *row_off,
                            const ptrdiff_t *col_off, ptrdiff_t T_count, ptrdiff_t run,
                            const float *B, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                            int accumulate)
    void fastnn_triples_f64(int kernel, int rows, const double *A, const ptrdiff_t *row_off,
                            const ptrdiff_t *col_off, ptrdiff_t T_count, ptrdiff_t run,
                            const double *B, ptrdiff_t ldb, double *C, ptrdiff_t ldc,
                            int accumulate)
    int SHIFTED_LANES_F32 "FASTNN_SHIFTED_LANES_F32"
    int SHIFTED_LANES_F64 "FASTNN_SHIFTED_LANES_F64"
    int MR_SHIFTED "FASTNN_MR_SHIFTED"
    void fastnn_shifted_gemm_f32(int rows, const float *A, const ptrdiff_t *row_off,
                                 const ptrdiff_t *col_off, ptrdiff_t T_count, const float *B,
                                 ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
    void fastnn_shifted_gemm_f64(int rows, const double *A, const ptrdiff_t *row_off,
                                 const ptrdiff_t *col_off, ptrdiff_t T_count, const double *B,
                                 ptrdiff_t ldb, double *C, ptrdiff_t ldc, int accumulate)


cdef inline void gemm(int kernel, int rows, const floating *A, const ptrdiff_t *row_off,
                      const ptrdiff_t *col_off, ptrdiff_t count, const floating *B,
                      ptrdiff_t ldb, floating *C, ptrdiff_t ldc, int accumulate) noexcept nogil:
    if floating is float:
        fastnn_gather_gemm_f32(kernel, rows, A, row_off, col_off, count, B, ldb, C, ldc, accumulate)
    else:
        fastnn_gather_gemm_f64(kernel, rows, A, row_off, col_off, count, B, ldb, C, ldc, accumulate)


cdef enum:
    # Bytes of B per pass over the rows: a block of taps (16 KB: 256 taps of 64-byte rows,
    # 128 of 128-byte AVX-512 rows) stays in L1 while every row tile streams past it.
    # Partial sums are stored in C and reloaded exactly, so the blocking does not change
    # the order of summation.
    B_BLOCK_BYTES = 16384


cdef inline int tile_height(int kernel) noexcept nogil:
    """The rows of ``kernel``'s register tile: 12 for the tiles of one vector a row
    (AVX-512's tall and narrow, AVX2's narrow and slim), else 6."""
    return (MR_TALL if kernel == KERNEL_TALL_AVX512 or kernel == KERNEL_NARROW_AVX512
            or kernel == KERNEL_NARROW_AVX2 or kernel == KERNEL_SLIM_AVX2 else MR)


cdef inline void tile_rows(int kernel, floating *C, ptrdiff_t ldc, const floating *A,
                           const Py_ssize_t *row_off, ptrdiff_t n_rows,
                           const Py_ssize_t *col_off, ptrdiff_t count,
                           const floating *B, ptrdiff_t ldb, ptrdiff_t block_stride,
                           ptrdiff_t n_blocks, ptrdiff_t L, int accumulate) noexcept nogil:
    """C[r, blk*L:(blk+1)*L] (+)= sum_t A[row_off[r] + col_off[t]] * B_blk[t*ldb : +L]
    for every row r < n_rows and lane block blk, where B_blk = B + blk*block_stride.

    An empty sum (count == 0) is zero: without ``accumulate`` the tile is still written,
    so C never keeps what its memory held before.  B is packed with the lanes L of
    ``kernel`` (a gather kernel id of csrc/gather_gemm.h, as fastnn._kernels.plan chose
    it), which runs all n_rows in tiles of MR or MR_TALL rows."""
    cdef ptrdiff_t blk, t0, n_t
    cdef ptrdiff_t t_block = B_BLOCK_BYTES // (L * sizeof(floating))
    if n_rows <= 0:
        return
    for blk in range(n_blocks):
        t0 = 0
        while True:  # at least one pass, so that count == 0 stores zeros
            n_t = count - t0 if count - t0 < t_block else t_block
            gemm(kernel, <int>n_rows, A, <const ptrdiff_t *>row_off, <const ptrdiff_t *>col_off + t0,
                 n_t, B + blk * block_stride + t0 * ldb, ldb, C + blk * L, ldc,
                 1 if accumulate or t0 > 0 else 0)
            t0 += t_block
            if t0 >= count:
                break


cdef inline bint has_windows(int kernel) noexcept nogil:
    """Whether ``kernel`` has windowed forms for 3-wide filters (tile_strips, tile_triples):
    AVX-512's tiles of one vector a row (tall) and of two (pair; quad runs as two pairs)."""
    return (kernel == KERNEL_TALL_AVX512 or kernel == KERNEL_PAIR_AVX512
            or kernel == KERNEL_QUAD_AVX512)


cdef inline void _strip(int kernel, int rows, const floating *A, const Py_ssize_t *row_off,
                        const Py_ssize_t *col_off, ptrdiff_t count, const floating *B,
                        ptrdiff_t ldb, floating *C, ptrdiff_t ldc, int accumulate) noexcept nogil:
    if floating is float:
        fastnn_strip_f32(kernel, rows, A, <const ptrdiff_t *>row_off, <const ptrdiff_t *>col_off,
                         count, B, ldb, C, ldc, accumulate)
    else:
        fastnn_strip_f64(kernel, rows, A, <const ptrdiff_t *>row_off, <const ptrdiff_t *>col_off,
                         count, B, ldb, C, ldc, accumulate)


cdef inline void _triples(int kernel, int rows, const floating *A, const Py_ssize_t *row_off,
                          const Py_ssize_t *col_off, ptrdiff_t count, ptrdiff_t run,
                          const floating *B, ptrdiff_t ldb, floating *C, ptrdiff_t ldc,
                          int accumulate) noexcept nogil:
    if floating is float:
        fastnn_triples_f32(kernel, rows, A, <const ptrdiff_t *>row_off,
                           <const ptrdiff_t *>col_off, count, run, B, ldb, C, ldc, accumulate)
    else:
        fastnn_triples_f64(kernel, rows, A, <const ptrdiff_t *>row_off,
                           <const ptrdiff_t *>col_off, count, run, B, ldb, C, ldc, accumulate)


cdef inline ptrdiff_t _window_lanes(int kernel, ptrdiff_t L) noexcept nogil:
    """The lanes one windowed call covers: a quad block runs as two pair halves."""
    return L // 2 if kernel == KERNEL_QUAD_AVX512 else L


cdef inline void tile_strips(int kernel, floating *C, ptrdiff_t ldc, const floating *A,
                             const Py_ssize_t *row_off, ptrdiff_t n_rows,
                             const Py_ssize_t *col_off, ptrdiff_t count, const floating *B,
                             ptrdiff_t ldb, ptrdiff_t block_stride, ptrdiff_t n_blocks,
                             ptrdiff_t L) noexcept nogil:
    """tile_rows(kernel, ..., accumulate=0) with its bits, for a kernel with windowed forms
    (has_windows) and taps in triples of consecutive offsets (a filter three wide:
    col_off[3g + j] = col_off[3g] + j; count a positive multiple of 3): rows whose offsets
    run on consecutively go to the strip kernel, up to 16 (tall) or 8 (pair) at a time,
    which broadcasts each element of A once for three rows.  A must be readable MR_STRIP
    elements past the last window (csrc/gather_gemm.h)."""
    cdef ptrdiff_t blk, h, r0, n, t0, n_t
    cdef ptrdiff_t width = _window_lanes(kernel, L)
    cdef ptrdiff_t most = MR_STRIP if kernel == KERNEL_TALL_AVX512 else MR_PAIR_STRIP
    cdef ptrdiff_t t_block = (B_BLOCK_BYTES // (width * sizeof(floating))) // 3 * 3
    cdef const floating *Bb
    r0 = 0
    while r0 < n_rows:
        n = 1  # the strip: rows that continue the first one's offsets
        while n < most and r0 + n < n_rows and row_off[r0 + n] == row_off[r0] + n:
            n += 1
        for blk in range(n_blocks):
            h = 0
            while h < L:  # (a quad block in two halves)
                Bb = B + blk * block_stride + h
                t0 = 0
                while t0 < count:
                    n_t = count - t0 if count - t0 < t_block else t_block
                    _strip(kernel, <int>n, A, row_off + r0, col_off + t0, n_t, Bb + t0 * ldb,
                           ldb, C + r0 * ldc + blk * L + h, ldc, t0 > 0)
                    t0 += t_block
                h += width
        r0 += n


cdef inline void tile_triples(int kernel, floating *C, ptrdiff_t ldc, const floating *A,
                              const Py_ssize_t *row_off, ptrdiff_t n_rows,
                              const Py_ssize_t *col_off, ptrdiff_t count, ptrdiff_t run,
                              const floating *B, ptrdiff_t ldb, ptrdiff_t block_stride,
                              ptrdiff_t n_blocks, ptrdiff_t L, int accumulate) noexcept nogil:
    """tile_rows(kernel, ...) with its bits, for a kernel with windowed forms (has_windows),
    rows in triples of consecutive offsets (the three taps of a filter row; n_rows a
    multiple of 3) and summed positions in runs of ``run`` consecutive offsets from the
    first (the pixels of an output row; count > 0): the triples kernel broadcasts each
    element of A once for three taps."""
    cdef ptrdiff_t blk, h, r0, t0, n_t
    cdef int rows
    cdef ptrdiff_t width = _window_lanes(kernel, L)
    cdef ptrdiff_t t_block = max(1, (B_BLOCK_BYTES // (width * sizeof(floating))) // run) * run
    cdef const floating *Bb
    for blk in range(n_blocks):
        h = 0
        while h < L:  # (a quad block in two halves)
            Bb = B + blk * block_stride + h
            t0 = 0
            while t0 < count:
                n_t = count - t0 if count - t0 < t_block else t_block
                r0 = 0
                while r0 < n_rows:
                    rows = <int>(n_rows - r0 if n_rows - r0 < MR_TALL else MR_TALL)
                    _triples(kernel, rows, A, row_off + r0, col_off + t0, n_t, run,
                             Bb + t0 * ldb, ldb, C + r0 * ldc + blk * L + h, ldc,
                             1 if accumulate or t0 > 0 else 0)
                    r0 += MR_TALL
                t0 += t_block
            h += width


cdef inline ptrdiff_t shifted_lanes(bint single) noexcept nogil:
    """Output pixels per register row of AVX-512's shifted form (it runs at that level
    only: fastnn._kernels.plan)."""
    return SHIFTED_LANES_F32 if single else SHIFTED_LANES_F64


cdef inline void shifted_rows(floating *C, ptrdiff_t ldc, const floating *A, ptrdiff_t lda,
                              ptrdiff_t n_rows, const floating *B, const Py_ssize_t *col_off,
                              ptrdiff_t count, ptrdiff_t n_pos) noexcept nogil:
    """C[r, q] = sum_{t < count} A[r*lda + t] * B[q + col_off[t]] for r < n_rows and
    q < n_pos, where n_pos >= shifted_lanes(): the last register row is moved back to end
    at n_pos (recomputing a few outputs, with the same bits), so that nothing past
    B[n_pos - 1 + col_off[t]] is ever read and nothing past C[r, n_pos - 1] written.

    Each call sums all taps at once (no partial sums through C, which the moved-back row
    would add twice): for one register row of pixels, the windows of B it reads stay in
    L1 while every row tile of A streams past them."""
    cdef ptrdiff_t L = shifted_lanes(floating is float)
    cdef ptrdiff_t q0, r0, i
    cdef int rows
    cdef ptrdiff_t row_off[16]  # >= MR_SHIFTED (a literal: Cython wants one here)
    q0 = 0
    while q0 < n_pos:
        if q0 > n_pos - L:
            q0 = n_pos - L
        r0 = 0
        while r0 < n_rows:
            rows = <int>(n_rows - r0 if n_rows - r0 < MR_SHIFTED else MR_SHIFTED)
            for i in range(rows):
                row_off[i] = (r0 + i) * lda
            if floating is float:
                fastnn_shifted_gemm_f32(rows, A, row_off, <const ptrdiff_t *>col_off, count,
                                        B + q0, 0, C + r0 * ldc + q0, ldc, 0)
            else:
                fastnn_shifted_gemm_f64(rows, A, row_off, <const ptrdiff_t *>col_off, count,
                                        B + q0, 0, C + r0 * ldc + q0, ldc, 0)
            r0 += MR_SHIFTED
        q0 += L
