"""im2col and col2im in the textbook's layout, compiled.

col (N*OH*OW, C*FH*FW): row (n*OH + i)*OW + j holds the window of image n whose corner is
at padded position (i*stride, j*stride), ordered (channel, row, column); zero padding.
Threads take whole images: im2col writes only its images' rows, col2im only its images'
planes, so neither needs a reduction and the sums in col2im run in a fixed order.
"""
from cython cimport floating
from cython.parallel cimport prange

from fastnn._kernels.im2col cimport col2im_windows, im2col_image
from fastnn._kernels.threads cimport num_threads_for


def im2col(const floating[:, :, :, ::1] x, floating[:, ::1] col,
           Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH,
           Py_ssize_t OW):
    """Fill col (N*OH*OW, C*FH*FW) from x (N, C, H, W)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n, P = OH * OW, ld = col.shape[1]
    cdef int threads = num_threads_for(col.shape[0] * col.shape[1])
    for n in prange(N, nogil=True, schedule="static", num_threads=threads):
        im2col_image(&x[n, 0, 0, 0], C, H, W, &col[n * P, 0], ld, FH, FW, stride, pad, OH, OW)


def col2im(const floating[:, ::1] col, floating[:, :, :, ::1] x,
           Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH,
           Py_ssize_t OW):
    """x (N, C, H, W) += every row of col (N*OH*OW, C*FH*FW) added back onto its window;
    the caller zeroes x.  The adjoint of im2col."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t n, P = OH * OW, ld = col.shape[1]
    cdef int threads = num_threads_for(col.shape[0] * col.shape[1])
    for n in prange(N, nogil=True, schedule="static", num_threads=threads):
        col2im_windows(&col[n * P, 0], ld, &x[n, 0, 0, 0], C, H, W, FH, FW, stride, pad, OW, 0, P)
