"""Max and average pooling, forward and backward, over planes (N*C, H, W).

Threads take whole planes, so the backward scatter-adds of overlapping windows need no
reduction and run in a fixed order.  Windows entirely inside the image skip the bounds
checks; padding is never stored (max pooling treats it as -inf, average pooling as 0).
Max pooling keeps the window-local index (int32) of the first maximum; a NaN counts as a
maximum, and the first NaN wins, as in ``numpy.argmax``.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

from fastnn._kernels.threads cimport num_threads_for


cdef inline bint better(floating v, floating best) noexcept nogil:
    """Is v a new maximum?  NaN beats every number; the first NaN stays."""
    return v > best or (v != v and best == best)


def max_forward(const floating[:, :, ::1] x, floating[:, :, ::1] out, int[:, :, ::1] argmax,
                int ph, int pw, int stride, int pad):
    """out (P, OH, OW) = window maxima of x (P, H, W); argmax = window-local index p*pw + q."""
    cdef Py_ssize_t planes = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t n, i, j, p, q, ih, iw, ih0, iw0
    cdef floating best, v
    cdef floating neg_inf = -float("inf")
    cdef int idx
    cdef int threads = num_threads_for(x.shape[0] * H * W)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
        for i in range(OH):
            ih0 = i * stride - pad
            for j in range(OW):
                iw0 = j * stride - pad
                idx = -1
                best = neg_inf
                if ih0 >= 0 and iw0 >= 0 and ih0 + ph <= H and iw0 + pw <= W:
                    for p in range(ph):
                        for q in range(pw):
                            v = x[n, ih0 + p, iw0 + q]
                            if idx < 0 or better(v, best):
                                best = v
                                idx = <int>(p * pw + q)
                else:
                    for p in range(ph):
                        ih = ih0 + p
                        for q in range(pw):
                            iw = iw0 + q
                            v = x[n, ih, iw] if (0 <= ih < H and 0 <= iw < W) else neg_inf
                            if idx < 0 or better(v, best):
                                best = v
                                idx = <int>(p * pw + q)
                out[n, i, j] = best
                argmax[n, i, j] = idx


def max_backward(const floating[:, :, ::1] dout, const int[:, :, ::1] argmax,
                 floating[:, :, ::1] dx, int ph, int pw, int stride, int pad):
    """dx (P, H, W): each dout goes to its window's first maximum (padding drops it)."""
    cdef Py_ssize_t planes = dx.shape[0], H = dx.shape[1], W = dx.shape[2]
    cdef Py_ssize_t OH = dout.shape[1], OW = dout.shape[2]
    cdef Py_ssize_t n, i, j, ih, iw
    cdef int threads = num_threads_for(planes * H * W)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
        memset(&dx[n, 0, 0], 0, H * W * sizeof(floating))
        for i in range(OH):
            for j in range(OW):
                ih = i * stride - pad + argmax[n, i, j] // pw
                iw = j * stride - pad + argmax[n, i, j] % pw
                if 0 <= ih < H and 0 <= iw < W:
                    dx[n, ih, iw] += dout[n, i, j]


def avg_forward(const floating[:, :, ::1] x, floating[:, :, ::1] out,
                int ph, int pw, int stride, int pad):
    """out (P, OH, OW) = window sums of x (P, H, W) / (ph*pw); padding counts as zeros."""
    cdef Py_ssize_t planes = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t OH = out.shape[1], OW = out.shape[2]
    cdef Py_ssize_t n, i, j, p, q, ih, iw
    cdef floating s
    cdef floating size = ph * pw
    cdef int threads = num_threads_for(planes * H * W)
    for n in prange(planes, nogil=True, schedule="static", num_threads=threads):
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
                 int ph, int pw, int stride, int pad):
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
