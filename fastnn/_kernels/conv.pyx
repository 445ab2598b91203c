"""Direct convolution: forward, and a fused backward (dx, dw, db), with no im2col buffer.

Every pass is a gather-GEMM micro-kernel of ``csrc/gather_gemm.h`` (tiled by
``gather_gemm.pxd``): a register tile of rows x L lanes, where the rows index pixels (or
filter taps) and the matrix entries are read straight from a zero-padded image through
two offset tables.  Which form and which kernel (so which L) each pass takes is decided
by ``fastnn._kernels.plan`` alone; these functions run what they are handed.

* forward:        out[n, f, p]  = sum_k xpad[n, row(p) + col(k)] * w[f, k]
                   Or the "shifted" form (AVX-512, stride 1, planes that fill its
                   rows): lanes over 48 (24) consecutive output pixels of the padded
                   plane, w broadcast, out written channel by channel (correlate_plane;
                   the same FMAs in the same order, so the same bits).
* backward data, two ways:
    - "dilated":  dx[n, c, q]   = sum_j E[n, rowE(q) + colE(j)] * wflip[c, j], where E is
                   dout dilated by the stride and padded: a stride-1 convolution with the
                   flipped, transposed filters.  Lanes over input channels: for many
                   channels and stride 1 (else lanes or the dilation's zeros are wasted).
    - "columns":  dcol[p, k]    = sum_f dout[n, f, p] * w[f, k], then col2im of dcol into
                   dx: lanes over the C*HH*WW filter taps, for few input channels.
* backward weights: dw[f, k]    = sum_n sum_p xpad[n, col(k) + row(p)] * dout[n, f, p]

Threads take whole images.  The forward pass writes the zero-padded input batch xpad
(N, C, H + 2*pad, W + 2*pad): it reads from it, and the backward pass reads it again, so
the cache holds a snapshot of x at the price of writing it once (no separate copy, no
second padding).  Other extra memory is per thread and independent of the batch size:
backward, an output gradient, and output tiles of a chunk of pixels at a time, about
64 KB, whatever the image size.  It is allocated by NumPy before the parallel region (one
row per thread), so a failed allocation is a MemoryError raised before any kernel runs,
and nothing can leak.  Geometry is Py_ssize_t throughout.  dw and db are summed per fixed
chunk of images (the chunks depend on N only) and the chunks are added in order
afterwards, so results are the same for any thread count.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stddef cimport ptrdiff_t
from libc.math cimport isfinite
from libc.string cimport memcpy, memset

import numpy as np

from fastnn.runtime.buffers import scratch

from fastnn._kernels.gather_gemm cimport (KERNEL_QUAD_AVX512, MR_STRIP, MR_TALL, has_windows,
                                          shifted_lanes, shifted_rows, tile_height, tile_rows,
                                          tile_strips, tile_triples)
from fastnn._kernels.im2col cimport col2im_windows
from fastnn._kernels.simd cimport LEVEL_AVX512, check_kernel, cpu_runs
from fastnn._kernels.threads cimport num_threads_for, omp_get_thread_num


cdef inline void pad_image(const floating *x, floating *xpad, ptrdiff_t C, ptrdiff_t H,
                           ptrdiff_t W, ptrdiff_t pad) noexcept nogil:
    """x (C, H, W) -> xpad (C, H + 2*pad, W + 2*pad), the zero border included (so xpad
    may come uninitialized: zeroing the whole batch first was a serial pass of its own)."""
    cdef ptrdiff_t c, i, Hp = H + 2 * pad, Wp = W + 2 * pad
    cdef floating *plane
    cdef floating *dst
    if pad == 0:
        memcpy(xpad, x, C * H * W * sizeof(floating))
        return
    for c in range(C):
        plane = xpad + c * Hp * Wp
        memset(plane, 0, (pad * Wp + pad) * sizeof(floating))  # top rows, first left pad
        for i in range(H):
            dst = plane + (i + pad) * Wp + pad
            memcpy(dst, x + (c * H + i) * W, W * sizeof(floating))
            memset(dst + W, 0, 2 * pad * sizeof(floating))  # right pad, next row's left
        memset(plane + (pad + H) * Wp + pad, 0, (pad * Wp - pad) * sizeof(floating))


cdef inline void untile(const floating *tile, ptrdiff_t ld, floating *out, ptrdiff_t channels,
                        ptrdiff_t pixels, ptrdiff_t first, ptrdiff_t count,
                        const floating *bias) noexcept nogil:
    """tile (count, ld) -> out (channels, pixels) at pixels first .. first+count-1, adding
    bias[c] when given.

    In blocks of 16 pixels: the block's rows of the tile (16 x ld) stay in L1 while each
    channel writes one contiguous run of 16 outputs (a column-at-a-time copy would read
    one float per cache line of the tile)."""
    cdef ptrdiff_t c, p, p0, p1
    cdef floating bc
    for p0 in range(0, count, 16):
        p1 = min(p0 + 16, count)
        for c in range(channels):
            bc = bias[c] if bias != NULL else 0
            for p in range(p0, p1):
                out[c * pixels + first + p] = tile[p * ld + c] + bc


cdef inline void untile_rows(const floating *tile, ptrdiff_t ld, floating *out,
                             ptrdiff_t channels, ptrdiff_t plane, const Py_ssize_t *dest,
                             ptrdiff_t count, const floating *bias) noexcept nogil:
    """As :func:`untile` for rows that go anywhere: tile row r (< count) to out[dest[r] +
    c*plane] for each channel c, adding bias[c] when given (dest[r] = image *
    channels*plane + pixel: a borders.Schedule's rows, in its order).  untile stays for
    rows in their natural order: through a table of places it is slower there
    (benchmarks/NOTES.md, "The border's taps left out")."""
    cdef ptrdiff_t c, r, r0, r1
    cdef floating bc
    for r0 in range(0, count, 16):
        r1 = min(r0 + 16, count)
        for c in range(channels):
            bc = bias[c] if bias != NULL else 0
            for r in range(r0, r1):
                out[dest[r] + c * plane] = tile[r * ld + c] + bc


cdef inline void run_schedule(int kernel, floating *tile, ptrdiff_t ld, ptrdiff_t rows_per_pass,
                              const floating *A, const Py_ssize_t *rows, const Py_ssize_t *dest,
                              const Py_ssize_t *segments, ptrdiff_t n_segments,
                              const Py_ssize_t *taps, const floating *B, ptrdiff_t T, ptrdiff_t L,
                              ptrdiff_t n_blocks, floating *out, ptrdiff_t channels,
                              ptrdiff_t plane, const floating *bias) noexcept nogil:
    """The gather pass of one group of images on a borders.Schedule: each segment (first
    row, rows, first tap, taps) sums its rows over its taps, rows_per_pass rows at a time
    (a multiple of the tile height, so the tiles stay the schedule's), into tile, then
    out.  B: the weights packed (n_blocks, T, L) in the order of the schedule's taps."""
    cdef ptrdiff_t s, r0, n, t0, nt, p, count
    for s in range(n_segments):
        r0, n, t0, nt = segments[4 * s], segments[4 * s + 1], segments[4 * s + 2], segments[4 * s + 3]
        p = 0
        while p < n:
            count = min(rows_per_pass, n - p)
            tile_rows(kernel, tile, ld, A, rows + r0 + p, count, taps + t0, nt, B + t0 * L, L,
                      T * L, n_blocks, L, 0)
            untile_rows(tile, ld, out, channels, plane, dest + r0 + p, count, bias)
            p = p + rows_per_pass


cdef inline void compact(const floating *tile, ptrdiff_t ld, ptrdiff_t start, ptrdiff_t end,
                         floating *out, ptrdiff_t channels, ptrdiff_t out_h, ptrdiff_t out_w,
                         ptrdiff_t row_len, const floating *bias) noexcept nogil:
    """out (channels, out_h, out_w)[c, oh, ow] = tile[c, q - start] (+ bias[c]) at the
    positions q = oh*row_len + ow in [start, end) with ow < out_w: a band of the shifted
    form's output, whose rows carry row_len - out_w positions that are not outputs."""
    cdef ptrdiff_t c, oh, ow, lo, hi
    cdef floating bc
    for c in range(channels):
        bc = bias[c] if bias != NULL else 0
        oh = start // row_len
        while oh * row_len < end:
            lo = max(start - oh * row_len, 0)
            hi = min(end - oh * row_len, out_w)
            for ow in range(lo, hi):
                out[(c * out_h + oh) * out_w + ow] = tile[c * ld + oh * row_len + ow - start] + bc
            oh = oh + 1


cdef inline void correlate_plane(const floating *A, ptrdiff_t rows, ptrdiff_t K,
                                 const floating *B, const Py_ssize_t *taps, floating *tile,
                                 ptrdiff_t band, floating *out, ptrdiff_t out_h,
                                 ptrdiff_t out_w, ptrdiff_t row_len,
                                 const floating *bias) noexcept nogil:
    """out (rows, out_h, out_w)[r, oh, ow] = sum_{t < K} A[r*K + t] * B[oh*row_len + ow +
    taps[t]] (+ bias[r]): a stride-1 correlation in the shifted form (lanes over output
    pixels), ``band`` positions at a time through tile (rows, band).

    Positions run over whole rows of row_len, the last ones past out_w included, so that
    a register row of pixels is one contiguous load per tap; what they compute is dropped.
    The last position is that of the last output, so B is read no further than the last
    output's window; (out_h - 1)*row_len + out_w >= shifted_lanes() is required (one
    register row of positions), and band must be a multiple of the lanes."""
    cdef ptrdiff_t L = shifted_lanes(floating is float)
    cdef ptrdiff_t total = (out_h - 1) * row_len + out_w
    cdef ptrdiff_t start = 0, end, first
    while start < total:
        end = min(start + band, total)
        first = end - L if end - start < L else start  # a short last band moves back
        shifted_rows(tile, band, A, K, rows, B + first, taps, K, end - first)
        compact(tile, band, first, end, out, rows, out_h, out_w, row_len, bias)
        start = end


def shifted_band(Py_ssize_t rows, Py_ssize_t lanes):
    """Positions per band of the shifted form: a multiple of the lanes (> 0), so that a
    (rows, band) tile stays within about 64 KB float32, at least one register row."""
    return max(lanes, (16384 // max(rows, 1)) // lanes * lanes)


cdef inline ptrdiff_t pixel_chunk(ptrdiff_t ld) noexcept nogil:
    """Pixels per pass, so that a (pixels, ld) tile stays within about 64 KB (at most 96
    rows, at least one register tile): the per-thread tile is small whatever the image."""
    cdef ptrdiff_t rows = (16384 // ld) // MR_TALL * MR_TALL if ld > 0 else MR_TALL
    return MR_TALL if rows < MR_TALL else (96 if rows > 96 else rows)


def windowed_dx(int kernel, Py_ssize_t WW, Py_ssize_t F, Py_ssize_t pixels):
    """Whether the dilated dx runs in the windowed form of ``kernel``'s tiles (the strip
    kernel: same bits, each element of E broadcast once for three rows), an image at a
    time, rather than on a borders.Schedule: for a kernel with windowed forms, 3-wide
    filters and planes whose pixels fill the tiles nearly alone (at most 1/32 of the rows
    computed for nothing; a 7x7 plane, 49 rows in nine 6-row tiles, fills them better
    several images at a time, as a schedule does)."""
    cdef ptrdiff_t mr = tile_height(kernel)
    return (has_windows(kernel) and WW == 3 and F > 0 and pixels > 0
            and 32 * ((pixels + mr - 1) // mr * mr) <= 33 * pixels)


def pixel_offsets(ptrdiff_t out_h, ptrdiff_t out_w, ptrdiff_t stride, ptrdiff_t row_len):
    """Offset of each output pixel's window corner in a padded image with rows of row_len."""
    oh, ow = np.divmod(np.arange(out_h * out_w, dtype=np.intp), out_w)
    return np.ascontiguousarray(oh * stride * row_len + ow * stride, dtype=np.intp)


def tap_offsets(ptrdiff_t channels, ptrdiff_t plane_h, ptrdiff_t plane_w, ptrdiff_t kh, ptrdiff_t kw):
    """Offset of each filter tap (c, i, j), in that order, in planes of plane_h x plane_w."""
    c = np.arange(channels, dtype=np.intp)[:, None, None]
    i = np.arange(kh, dtype=np.intp)[None, :, None]
    j = np.arange(kw, dtype=np.intp)[None, None, :]
    return ((c * plane_h + i) * plane_w + j).ravel()


def forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] xpad_batch,
            const floating[:, :, ::1] w_packed, const floating[::1] b,
            floating[:, :, :, ::1] out, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t HH,
            Py_ssize_t WW, int kernel, schedule):
    """out (N, F, OH, OW) = conv(x (N, C, H, W), w) + b, and xpad_batch (N, C, H + 2*pad,
    W + 2*pad) = x zero-padded (for the backward pass), all of it written here; in the
    form and with the kernel fastnn._kernels.plan chose ("conv_forward").

    ``schedule``: a borders.Schedules of the gather form (lanes over the filters): its
    tasks' images, their rows' order and the taps each tile sums, and w_packed (F_blocks,
    T, L): w[f, c, i, j] at [f // L, t, f % L] for the schedule's taps t (tap_index[t] =
    (c*HH + i)*WW + j), zero where f >= F, for the gather ``kernel``.  None: the shifted
    form (stride 1, AVX-512 and (OH - 1)*(W + 2*pad) + OW >= its lanes; ``kernel``
    unused), one image a task, and w_packed (1, F, C*HH*WW), the rows of w as they are.

    Each task pads its images and tiles them: an output pixel's sum does not depend on
    the rows it shares a tile with, nor on the border taps a schedule leaves out.
    """
    cdef ptrdiff_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef ptrdiff_t F = out.shape[1], P = out.shape[2] * out.shape[3]
    cdef ptrdiff_t n_blocks = w_packed.shape[0], K = C * HH * WW, L = w_packed.shape[2]
    cdef ptrdiff_t T = w_packed.shape[1]
    cdef ptrdiff_t Hp = H + 2 * pad, Wp = W + 2 * pad, ld = n_blocks * L
    cdef bint shifted = schedule is None
    cdef ptrdiff_t G = 1 if shifted else schedule.images
    cdef Py_ssize_t[::1] taps = tap_offsets(C, Hp, Wp, HH, WW) if shifted else schedule.taps
    cdef Py_ssize_t[::1] rows, dest, tail_rows, tail_dest
    cdef Py_ssize_t[:, ::1] segments, tail_segments
    cdef int threads = num_threads_for(N * F * P * K)
    cdef ptrdiff_t task, n, n0, images, n_segments = 0, n_tail_segments = 0
    cdef ptrdiff_t rows_per_pass = pixel_chunk(ld)
    cdef floating *tile
    if N == 0:
        return
    dtype = np.float32 if floating is float else np.float64
    cdef ptrdiff_t lanes = shifted_lanes(floating is float)
    if shifted and (stride != 1 or not cpu_runs(LEVEL_AVX512)
                    or (out.shape[2] - 1) * Wp + out.shape[3] < lanes):
        raise ValueError("forward: the shifted form needs stride 1, AVX-512 and a plane "
                         "of at least one register row of positions")
    if not shifted:
        check_kernel(kernel, L, floating is float)
        rows, dest, segments = schedule.main.rows, schedule.main.dest, schedule.main.segments
        tail_rows, tail_dest = schedule.tail.rows, schedule.tail.dest
        tail_segments = schedule.tail.segments
        n_segments, n_tail_segments = segments.shape[0], tail_segments.shape[0]
        if taps.shape[0] != T:
            raise ValueError(f"forward: w_packed has {T} taps, the schedule {taps.shape[0]}")
    cdef ptrdiff_t band = shifted_band(F, lanes) if shifted else 0
    cdef floating[:, ::1] tiles = scratch(
        (threads, F * band if shifted else rows_per_pass * ld), dtype)
    with nogil, parallel(num_threads=threads):
        tile = &tiles[omp_get_thread_num(), 0]
        for task in prange((N + G - 1) // G, schedule="dynamic"):
            n0 = task * G
            images = min(G, N - n0)
            for n in range(n0, n0 + images):
                pad_image(&x[n, 0, 0, 0], &xpad_batch[n, 0, 0, 0], C, H, W, pad)
            if F == 0 or P == 0:  # only the padding is wanted
                continue
            if shifted:
                correlate_plane(&w_packed[0, 0, 0], F, K, &xpad_batch[n0, 0, 0, 0], &taps[0],
                                tile, band, &out[n0, 0, 0, 0], out.shape[2], out.shape[3], Wp,
                                &b[0])
            elif images == G:
                run_schedule(kernel, tile, ld, rows_per_pass, &xpad_batch[n0, 0, 0, 0], &rows[0],
                             &dest[0], &segments[0, 0], n_segments, &taps[0], &w_packed[0, 0, 0],
                             T, L, n_blocks, &out[n0, 0, 0, 0], F, P, &b[0])
            else:  # the batch's last, smaller group
                run_schedule(kernel, tile, ld, rows_per_pass, &xpad_batch[n0, 0, 0, 0],
                             &tail_rows[0], &tail_dest[0], &tail_segments[0, 0], n_tail_segments,
                             &taps[0], &w_packed[0, 0, 0], T, L, n_blocks, &out[n0, 0, 0, 0], F,
                             P, &b[0])


cdef extern from "transpose.h" nogil:
    void fastnn_transpose_sum_f32(const float *dout, float *doutT, float *sums, ptrdiff_t F,
                                  ptrdiff_t P, ptrdiff_t ld)
    void fastnn_transpose_sum_f64(const double *dout, double *doutT, double *sums, ptrdiff_t F,
                                  ptrdiff_t P, ptrdiff_t ld)


cdef inline void transpose_and_sum(const floating *dout, floating *doutT, floating *sums,
                                   ptrdiff_t F, ptrdiff_t P, ptrdiff_t Fpad) noexcept nogil:
    """doutT (P, Fpad)[p, f] = dout (F, P)[f, p], and sums[f] = the sum of dout[f, :]
    (in the order of p): in register-transposed blocks, csrc/transpose.h."""
    if floating is float:
        fastnn_transpose_sum_f32(dout, doutT, sums, F, P, Fpad)
    else:
        fastnn_transpose_sum_f64(dout, doutT, sums, F, P, Fpad)


cdef extern from "chunk_sums.h" nogil:
    void fastnn_sum_chunks_f32(const float *partials, ptrdiff_t chunks, ptrdiff_t stride,
                               ptrdiff_t n, float *out)
    void fastnn_sum_chunks_f64(const double *partials, ptrdiff_t chunks, ptrdiff_t stride,
                               ptrdiff_t n, double *out)


cdef inline void sum_chunks(const floating *partials, ptrdiff_t chunks, ptrdiff_t stride,
                            ptrdiff_t n, floating *out) noexcept nogil:
    """out[i] = the sum over j < chunks, in order from j = 0, of partials[j*stride + i]."""
    if floating is float:
        fastnn_sum_chunks_f32(partials, chunks, stride, n, out)
    else:
        fastnn_sum_chunks_f64(partials, chunks, stride, n, out)


cdef inline void dilate_gradient(const floating *dout, floating *E, ptrdiff_t F,
                                 ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t stride,
                                 ptrdiff_t top, ptrdiff_t left, ptrdiff_t Eh,
                                 ptrdiff_t Ew) noexcept nogil:
    """E (F, Eh, Ew) = 0, then E[f, top + oh*stride, left + ow*stride] = dout[f, oh, ow]
    where that lies inside E (the rest would only reach padding)."""
    cdef ptrdiff_t f, i, j, u, v
    cdef ptrdiff_t run = min(OW, Ew - left)  # stride 1: a row's values that fit, at once
    memset(E, 0, F * Eh * Ew * sizeof(floating))
    for f in range(F):
        for i in range(OH):
            u = top + i * stride
            if u >= Eh:
                break
            if stride == 1 and run > 0:
                memcpy(&E[(f * Eh + u) * Ew + left], &dout[(f * OH + i) * OW], run * sizeof(floating))
                continue
            for j in range(OW):
                v = left + j * stride
                if v >= Ew:
                    break
                E[(f * Eh + u) * Ew + v] = dout[(f * OH + i) * OW + j]


def backward(const floating[:, :, :, ::1] xpad_batch, const floating[:, :, :, ::1] dout,
             floating[:, :, :, ::1] dx, floating[:, ::1] dw, floating[::1] db,
             floating[:, :, ::1] dw_partial, floating[:, ::1] db_partial, Py_ssize_t stride,
             Py_ssize_t pad, Py_ssize_t HH, Py_ssize_t WW, ptrdiff_t chunk,
             const floating[:, :, ::1] w_packed, int kernel, bint dx_via_columns,
             int dw_kernel, Py_ssize_t dw_lanes, dw_schedule, bint need_dx=True,
             dx_schedule=None):
    """dx (N, C, H, W) (unless ``need_dx`` is false: dx is then left as it is, the
    gradient of a network's input being of no use), dw (F, C*HH*WW) and db (F,), from
    xpad_batch (N, C, H + 2*pad, W + 2*pad), the input zero-padded by the forward pass.

    dw and db are summed per chunk of ``chunk`` images into dw_partial (chunks, C*HH*WW,
    Fpad) and db_partial (chunks, Fpad), scratch written here (a chunk's first image
    stores, the others add), and the chunks' sums are then added in their order, in
    parallel over the taps: the same result for any thread count.  (Zeroing the partials
    and summing them in NumPy would be two serial passes over them; benchmarks/NOTES.md,
    "Convolution kernels", measured what they cost.)

    w_packed is, for the "dilated" dx (dx_via_columns false), the flipped filters
    (C_blocks, F*HH*WW, L): w[f, c, HH-1-i, WW-1-j] at [c // L, (f*HH + i)*WW + j, c % L];
    for the "columns" dx, the filters (K_blocks, F, L): w[f, k] at [k // L, f, k % L],
    k = (c*HH + i)*WW + j.  Zero where the lane index runs past C (or K).  ``kernel``
    (packed with L lanes) runs dx's products and ``dw_kernel`` (``dw_lanes``, which
    divide Fpad) dw's (fastnn._kernels.plan, "conv_backward").

    dw's rows (its taps) run in the order of ``dw_schedule`` (a borders.TapSchedule):
    an image whose dout is finite (its sums, db's terms, are) sums each tile of taps over
    the output rows where they land inside the image only; any other, over every pixel.

    The dilated dx runs on ``dx_schedule``, a borders.Schedules (its tasks' images, their
    rows' order and the taps of E each tile sums; w_packed's rows are then its taps,
    tap_index[t] = (f*HH + i)*WW + j), or, where None, in the windowed form of the
    kernel's tiles (:func:`windowed_dx`), an image at a time.
    """
    cdef ptrdiff_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef ptrdiff_t F = dout.shape[1], OH = dout.shape[2], OW = dout.shape[3], P = OH * OW
    cdef ptrdiff_t K = C * HH * WW, Fpad = dw_partial.shape[2]
    cdef ptrdiff_t blocks = w_packed.shape[0], T = w_packed.shape[1], L = w_packed.shape[2]
    cdef ptrdiff_t ld = blocks * L  # row length of the dx tile: Cpad or Kpad
    cdef ptrdiff_t Hp = H + 2 * pad, Wp = W + 2 * pad
    # E: dout dilated by the stride, with HH-1 (WW-1) zeros before it: dx is then a
    # stride-1 correlation of E with the flipped filters, read at offset pad.
    cdef ptrdiff_t Eh = H + pad + HH - 1, Ew = W + pad + WW - 1
    cdef Py_ssize_t[::1] x_pixels = pixel_offsets(OH, OW, stride, Wp)
    cdef Py_ssize_t[::1] dw_taps = dw_schedule.taps, dw_order = dw_schedule.order
    cdef Py_ssize_t[:, ::1] dw_segments = dw_schedule.segments
    cdef ptrdiff_t seg, r0, n_rows, q0, n_pixels
    cdef bint finite
    cdef Py_ssize_t[::1] dx_rows, dx_taps, dx_dest, tail_rows, tail_dest
    cdef Py_ssize_t[:, ::1] dx_segments, tail_segments
    cdef ptrdiff_t dx_row_count = 0, e_size = 0 if dx_via_columns else F * Eh * Ew
    cdef ptrdiff_t n_segments = 0, n_tail_segments = 0
    cdef bint scheduled = not dx_via_columns and dx_schedule is not None
    cdef ptrdiff_t G = dx_schedule.images if scheduled else 1
    if dx_via_columns:  # rows: pixels of a dout plane; taps: the F planes
        dx_rows, dx_taps, dx_row_count = pixel_offsets(OH, OW, 1, OW), tap_offsets(F, OH, OW, 1, 1), P
    elif scheduled:
        dx_rows, dx_dest = dx_schedule.main.rows, dx_schedule.main.dest
        dx_segments, dx_taps = dx_schedule.main.segments, dx_schedule.taps
        tail_rows, tail_dest = dx_schedule.tail.rows, dx_schedule.tail.dest
        tail_segments = dx_schedule.tail.segments
        n_segments, n_tail_segments = dx_segments.shape[0], tail_segments.shape[0]
        if dx_taps.shape[0] != T:
            raise ValueError(f"backward: w_packed has {T} taps, dx_schedule {dx_taps.shape[0]}")
    elif windowed_dx(kernel, WW, F, H * W):
        dx_rows = pixel_offsets(H, W, 1, Ew) + (pad * Ew + pad)
        dx_taps, dx_row_count = tap_offsets(F, Eh, Ew, HH, WW), H * W
    elif need_dx:
        raise ValueError("backward: the dilated dx needs dx_schedule where the kernel has "
                         "no windowed form for it (windowed_dx)")
    # The tiles' windowed forms (same bits, fewer loads) where the taps of a filter row
    # are three consecutive offsets and, for dw, the pixels of an output row too; dw's
    # 6x4 tile runs plain (faster than its windowed form as two 6x2 halves).
    cdef bint dw_windows = (has_windows(dw_kernel) and dw_kernel != KERNEL_QUAD_AVX512
                            and WW == 3 and F > 0 and stride == 1)
    cdef ptrdiff_t n_groups = (N + G - 1) // G
    cdef ptrdiff_t n_chunks = dw_partial.shape[0]
    cdef int threads = num_threads_for(N * F * P * K)
    cdef ptrdiff_t j, g, n, n0, images, f, p0, count, rows_per_pass = pixel_chunk(ld)
    cdef floating *doutT
    cdef floating *sums
    cdef floating *E
    cdef floating *dxtile
    cdef floating *acc
    cdef ptrdiff_t k
    check_kernel(kernel, L, floating is float)
    check_kernel(dw_kernel, dw_lanes, floating is float)
    if dw_taps.shape[0] != K:
        raise ValueError(f"backward: dw_schedule has {dw_taps.shape[0]} taps, the filters {K}")
    if Fpad % dw_lanes:
        raise ValueError(f"backward: dw_partial's last dimension must be a multiple of "
                         f"dw_lanes ({dw_lanes}), got {Fpad}")
    if N == 0:
        dw[:, :] = 0
        db[:] = 0
        return
    dtype = np.float32 if floating is float else np.float64
    cdef floating[:, ::1] doutTs = np.zeros((threads, P * Fpad), dtype)  # lanes >= F stay 0
    cdef floating[:, ::1] sums_rows = scratch((threads, Fpad), dtype)
    # E of a group of images, zeroed per image, then slack that the strip kernel may read
    # (csrc/gather_gemm.h)
    cdef floating[:, ::1] Es = scratch((threads, G * e_size + MR_STRIP + 1), dtype)
    cdef floating[:, ::1] dxtiles = scratch((threads, rows_per_pass * ld), dtype)
    with nogil, parallel(num_threads=threads):
        doutT = &doutTs[omp_get_thread_num(), 0]
        sums = &sums_rows[omp_get_thread_num(), 0]
        E = &Es[omp_get_thread_num(), 0]
        memset(E + G * e_size, 0, (MR_STRIP + 1) * sizeof(floating))
        dxtile = &dxtiles[omp_get_thread_num(), 0]
        for j in prange(n_chunks, schedule="static"):
            for n in range(j * chunk, min((j + 1) * chunk, N)):
                # db and the transposed gradient (P, Fpad) for dw, in one read of dout
                transpose_and_sum(&dout[n, 0, 0, 0], doutT, sums, F, P, Fpad)
                for f in range(F):
                    if n == j * chunk:
                        db_partial[j, f] = sums[f]
                    else:
                        db_partial[j, f] += sums[f]
                # dw[k, f] (+)= sum_p xpad[tap k + pixel p] * doutT[p, f], over the pixels
                # where the taps land inside the image (finite dout) or over all
                finite = True
                for f in range(F):
                    finite = finite and isfinite(sums[f])
                for seg in range(dw_segments.shape[0] if finite else 1):
                    if finite:
                        r0, n_rows = dw_segments[seg, 0], dw_segments[seg, 1]
                        q0, n_pixels = dw_segments[seg, 2], dw_segments[seg, 3]
                    else:
                        r0, n_rows, q0, n_pixels = 0, K, 0, P
                    if dw_windows and n_pixels > 0:
                        tile_triples(dw_kernel, &dw_partial[j, r0, 0], Fpad, &xpad_batch[n, 0, 0, 0],
                                     &dw_taps[r0], n_rows, &x_pixels[q0], n_pixels, OW,
                                     doutT + q0 * Fpad, Fpad, dw_lanes, Fpad // dw_lanes, dw_lanes,
                                     n > j * chunk)
                    else:
                        tile_rows(dw_kernel, &dw_partial[j, r0, 0], Fpad, &xpad_batch[n, 0, 0, 0],
                                  &dw_taps[r0], n_rows, &x_pixels[q0], n_pixels, doutT + q0 * Fpad,
                                  Fpad, dw_lanes, Fpad // dw_lanes, dw_lanes, n > j * chunk)
        # dx, unless not wanted: a group of images at a time, their rows (output windows,
        # or input pixels) in passes of rows_per_pass
        if need_dx:
            for g in prange(n_groups, schedule="dynamic"):
                n0 = g * G
                images = min(G, N - n0)
                for n in range(n0, n0 + images):
                    if dx_via_columns:
                        memset(&dx[n, 0, 0, 0], 0, C * H * W * sizeof(floating))
                    else:
                        dilate_gradient(&dout[n, 0, 0, 0], E + (n - n0) * e_size, F, OH, OW,
                                        stride, HH - 1, WW - 1, Eh, Ew)
                if scheduled and images == G:
                    run_schedule(kernel, dxtile, ld, rows_per_pass, E, &dx_rows[0], &dx_dest[0],
                                 &dx_segments[0, 0], n_segments, &dx_taps[0], &w_packed[0, 0, 0],
                                 T, L, blocks, &dx[n0, 0, 0, 0], C, H * W, <floating *>NULL)
                    continue
                if scheduled:  # the batch's last, smaller group
                    run_schedule(kernel, dxtile, ld, rows_per_pass, E, &tail_rows[0],
                                 &tail_dest[0], &tail_segments[0, 0], n_tail_segments,
                                 &dx_taps[0], &w_packed[0, 0, 0], T, L, blocks,
                                 &dx[n0, 0, 0, 0], C, H * W, <floating *>NULL)
                    continue
                p0 = 0  # one image: the columns form, or the windowed dilated one
                while p0 < dx_row_count:
                    count = min(rows_per_pass, dx_row_count - p0)
                    if dx_via_columns:
                        tile_rows(kernel, dxtile, ld, &dout[n0, 0, 0, 0], &dx_rows[p0], count,
                                  &dx_taps[0], F, &w_packed[0, 0, 0], L, T * L, blocks, L, 0)
                        col2im_windows(dxtile, ld, &dx[n0, 0, 0, 0], C, H, W, HH, WW, stride, pad,
                                       OW, p0, count)
                    else:
                        tile_strips(kernel, dxtile, ld, E, &dx_rows[p0], count, &dx_taps[0],
                                    T, &w_packed[0, 0, 0], L, T * L, blocks, L)
                        untile(dxtile, ld, &dx[n0, 0, 0, 0], C, H * W, p0, count, <floating *>NULL)
                    p0 = p0 + rows_per_pass
    # The chunks' partial sums, added in chunk order, a block of taps at a time (a few
    # KB: each chunk's block is one contiguous run), then written transposed into dw
    cdef ptrdiff_t k0, k1, taps_per_block = max(1, 8192 // (max(Fpad, 1) * sizeof(floating)))
    cdef floating[:, ::1] acc_rows = scratch((threads, taps_per_block * Fpad), dtype)
    with nogil, parallel(num_threads=threads):
        acc = &acc_rows[omp_get_thread_num(), 0]
        for j in prange((K + taps_per_block - 1) // taps_per_block, schedule="static"):
            k0 = j * taps_per_block
            k1 = min(k0 + taps_per_block, K)
            sum_chunks(&dw_partial[0, k0, 0], n_chunks, K * Fpad, (k1 - k0) * Fpad, acc)
            for k in range(k0, k1):
                for f in range(F):
                    dw[f, dw_order[k]] = acc[(k - k0) * Fpad + f]
    for f in range(F):
        db[f] = db_partial[0, f]
        for j in range(1, n_chunks):
            db[f] = db[f] + db_partial[j, f]
