"""im2col and col2im in the textbook's layout, compiled.

col (N*OH*OW, C*FH*FW): row (n*OH + i)*OW + j holds the window of image n whose corner is
at padded position (i*stride, j*stride), ordered (channel, row, column); zero padding.
Threads take whole images: im2col writes only its images' rows, col2im only its images'
planes, so neither needs a reduction and the sums in col2im run in a fixed order.
"""
from cython cimport floating
from cython.parallel cimport prange

from fastnn._kernels.threads cimport num_threads_for


def im2col(const floating[:, :, :, ::1] x, floating[:, ::1] col,
           int FH, int FW, int stride, int pad, int OH, int OW):
    """Fill col (N*OH*OW, C*FH*FW) from x (N, C, H, W)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n, i, j, c, p, q, ih, iw, k
    cdef floating *row
    cdef int threads = num_threads_for(col.shape[0] * col.shape[1])
    for n in prange(N, nogil=True, schedule="static", num_threads=threads):
        for i in range(OH):
            for j in range(OW):
                row = &col[(n * OH + i) * OW + j, 0]
                k = 0
                for c in range(C):
                    for p in range(FH):
                        ih = i * stride - pad + p
                        for q in range(FW):
                            iw = j * stride - pad + q
                            if 0 <= ih < H and 0 <= iw < W:
                                row[k] = x[n, c, ih, iw]
                            else:
                                row[k] = 0
                            k = k + 1


def col2im(const floating[:, ::1] col, floating[:, :, :, ::1] x,
           int FH, int FW, int stride, int pad, int OH, int OW):
    """x (N, C, H, W) = sum of every row of col added back onto its window; x must be
    zeroed by the caller.  The adjoint of im2col."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n, i, j, c, p, q, ih, iw, k
    cdef const floating *row
    cdef int threads = num_threads_for(col.shape[0] * col.shape[1])
    for n in prange(N, nogil=True, schedule="static", num_threads=threads):
        for i in range(OH):
            for j in range(OW):
                row = &col[(n * OH + i) * OW + j, 0]
                k = 0
                for c in range(C):
                    for p in range(FH):
                        ih = i * stride - pad + p
                        for q in range(FW):
                            iw = j * stride - pad + q
                            if 0 <= ih < H and 0 <= iw < W:
                                x[n, c, ih, iw] += row[k]
                            k = k + 1
