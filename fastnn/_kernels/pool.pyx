"""Max and average pooling, forward and backward, over planes (N*C, H, W).

Threads take whole planes, so the backward scatter-adds of overlapping windows need no
reduction and run in a fixed order.  Windows entirely inside the image skip the bounds
checks; padding is never stored (max pooling treats it as -inf, average pooling as 0).
Max pooling keeps the window-local index (int32) of the first maximum; a NaN counts as a
maximum, and the first NaN wins, as in ``numpy.argmax``.  The forward passes of 2 x 2
windows at stride 2 without padding (the networks' pooling) run a vector kernel,
csrc/pool_ops.h, with the same results.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

from fastnn._kernels.threads cimport num_threads_for

cdef extern from "pool_ops.h" nogil:
    void fastnn_max_pool_2x2_f32(const float *x, Py_ssize_t W, float *out, int *argmax,
                                 Py_ssize_t OH, Py_ssize_t OW)
    void fastnn_max_pool_2x2_f64(const double *x, Py_ssize_t W, double *out, int *argmax,
                                 Py_ssize_t OH, Py_ssize_t OW)
    void fastnn_avg_pool_2x2_f32(const float *x, Py_ssize_t W, float *out, Py_ssize_t OH,
                                 Py_ssize_t OW)
    void fastnn_avg_pool_2x2_f64(const double *x, Py_ssize_t W, double *out, Py_ssize_t OH,
                                 Py_ssize_t OW)


cdef inline bint is_2x2_stride_2(Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride,
                                 Py_ssize_t pad) noexcept nogil:
    """The windows csrc/pool_ops.h computes a plane at a time (the same bits)."""
    return ph == 2 and pw == 2 and stride == 2 and pad == 0


cdef inline Py_ssize_t first_column(Py_ssize_t q, Py_ssize_t stride, Py_ssize_t pad) noexcept nogil:
    """The first output j whose tap column j*stride - pad + q is >= 0."""
    return (pad - q + stride - 1) // stride if pad > q else 0


cdef inline Py_ssize_t end_column(Py_ssize_t q, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t W,
                                  Py_ssize_t OW) noexcept nogil:
    """One past the last output j whose tap column j*stride - pad + q is < W."""
    cdef Py_ssize_t last = W - 1 + pad - q
    if last < 0:
        return 0
    return min(last // stride + 1, OW)


cdef inline void max_tap(const floating *x_row, floating *out_row, int *idx_row,
                         Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t stride, int k) noexcept nogil:
    """Fold one window tap into a row of running maxima: a branch-free select over j.
    Called with a literal stride where possible, so the loads vectorise."""
    cdef Py_ssize_t j
    cdef floating v, best
    cdef int take
    for j in range(lo, hi):
        v = x_row[j * stride]
        best = out_row[j]
        take = (v > best) | ((v != v) & (best == best))  # NaN beats numbers; first NaN stays
        out_row[j] = v if take else best
        idx_row[j] = k if take else idx_row[j]


def max_forward(const floating[:, :, ::1] x, floating[:, :, ::1] out, int[:, :, ::1] argmax,
                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride, Py_ssize_t pad):
    """out (P, OH, OW) = window maxima of x (P, H, W); argmax = window-local index p*pw + q.

    Taps outer, a row of outputs inner.  Starting each output at (-inf, tap 0) and
    skipping padding gives exactly numpy.argmax over the -inf-padded window: the first
    maximum, or the first NaN.
    """
    cdef Py_ssize_t planes = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t n, i, j, p, q, ih, lo, hi
    cdef floating neg_inf = -float("inf")
    cdef floating *out_row
    cdef int *idx_row
    cdef const floating *x_row
    cdef int k
    cdef int threads = num_threads_for(x.shape[0] * H * W)
    cdef bint two_by_two = is_2x2_stride_2(ph, pw, stride, pad)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
        if two_by_two and OH > 0 and OW > 0:
            if floating is float:
                fastnn_max_pool_2x2_f32(&x[n, 0, 0], W, &out[n, 0, 0], &argmax[n, 0, 0], OH, OW)
            else:
                fastnn_max_pool_2x2_f64(&x[n, 0, 0], W, &out[n, 0, 0], &argmax[n, 0, 0], OH, OW)
            continue
        for i in range(OH):
            out_row = &out[n, i, 0]
            idx_row = &argmax[n, i, 0]
            for j in range(OW):
                out_row[j] = neg_inf
                idx_row[j] = 0
            for p in range(ph):
                ih = i * stride - pad + p
                if ih < 0 or ih >= H:
                    continue
                for q in range(pw):
                    k = <int>(p * pw + q)
                    lo = first_column(q, stride, pad)
                    hi = end_column(q, stride, pad, W, OW)
                    x_row = &x[n, ih, 0] - pad + q
                    if stride == 2:
                        max_tap(x_row, out_row, idx_row, lo, hi, 2, k)
                    elif stride == 1:
                        max_tap(x_row, out_row, idx_row, lo, hi, 1, k)
                    else:
                        max_tap(x_row, out_row, idx_row, lo, hi, stride, k)


def max_backward(const floating[:, :, ::1] dout, const int[:, :, ::1] argmax,
                 floating[:, :, ::1] dx, Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride, Py_ssize_t pad):
    """dx (P, H, W): each dout goes to its window's first maximum (padding drops it)."""
    cdef Py_ssize_t planes = dx.shape[0], H = dx.shape[1], W = dx.shape[2]
    cdef Py_ssize_t OH = dout.shape[1], OW = dout.shape[2]
    cdef Py_ssize_t n, i, j, ih, iw
    cdef int k, width = <int>pw  # window indices are int: 32-bit division, not 64-bit
    cdef int threads = num_threads_for(planes * H * W)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
        memset(&dx[n, 0, 0], 0, H * W * sizeof(floating))
        for i in range(OH):
            for j in range(OW):
                k = argmax[n, i, j]
                ih = i * stride - pad + k // width
                iw = j * stride - pad + k % width
                if 0 <= ih < H and 0 <= iw < W:
                    dx[n, ih, iw] += dout[n, i, j]


def avg_forward(const floating[:, :, ::1] x, floating[:, :, ::1] out,
                Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride, Py_ssize_t pad):
    """out (P, OH, OW) = window sums of x (P, H, W) / (ph*pw); padding counts as zeros."""
    cdef Py_ssize_t planes = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t n, i, j, p, q, ih, iw
    cdef floating s
    cdef floating size = ph * pw
    cdef int threads = num_threads_for(planes * H * W)
    cdef bint two_by_two = is_2x2_stride_2(ph, pw, stride, pad)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
        if two_by_two and OH > 0 and OW > 0:
            if floating is float:
                fastnn_avg_pool_2x2_f32(&x[n, 0, 0], W, &out[n, 0, 0], OH, OW)
            else:
                fastnn_avg_pool_2x2_f64(&x[n, 0, 0], W, &out[n, 0, 0], OH, OW)
            continue
        for i in range(OH):
            for j in range(OW):
                s = 0
                for p in range(ph):
                    ih = i * stride - pad + p
                    if 0 <= ih < H:
                        for q in range(pw):
                            iw = j * stride - pad + q
                            if 0 <= iw < W:
                                s = s + x[n, ih, iw]
                out[n, i, j] = s / size


def avg_backward(const floating[:, :, ::1] dout, floating[:, :, ::1] dx,
                 Py_ssize_t ph, Py_ssize_t pw, Py_ssize_t stride, Py_ssize_t pad):
    """dx (P, H, W): each window's elements get dout / (ph*pw)."""
    cdef Py_ssize_t planes = dx.shape[0], H = dx.shape[1], W = dx.shape[2]
    cdef Py_ssize_t OH = dout.shape[1], OW = dout.shape[2]
    cdef Py_ssize_t n, i, j, p, q, ih, iw
    cdef floating share
    cdef floating size = ph * pw
    cdef int threads = num_threads_for(planes * H * W)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
        memset(&dx[n, 0, 0], 0, H * W * sizeof(floating))
        for i in range(OH):
            for j in range(OW):
                share = dout[n, i, j] / size
                for p in range(ph):
                    ih = i * stride - pad + p
                    if 0 <= ih < H:
                        for q in range(pw):
                            iw = j * stride - pad + q
                            if 0 <= iw < W:
                                dx[n, ih, iw] += share
