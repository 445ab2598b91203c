# Per-image im2col / col2im, shared by im2col.pyx (whole batches) and conv.pyx (one
# image per thread).  Defined here, inline, so both modules compile the same loop.
from cython cimport floating


cdef inline void im2col_image(const floating *x, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                              floating *col, Py_ssize_t ld, Py_ssize_t FH, Py_ssize_t FW,
                              Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH,
                              Py_ssize_t OW) noexcept nogil:
    """col[p, k] (row stride ld) = x (C, H, W) at window p = (i, j), tap k = (c, p, q)."""
    cdef Py_ssize_t i, j, c, p, q, ih, iw, k
    cdef floating *row
    for i in range(OH):
        for j in range(OW):
            row = col + (i * OW + j) * ld
            k = 0
            for c in range(C):
                for p in range(FH):
                    ih = i * stride - pad + p
                    for q in range(FW):
                        iw = j * stride - pad + q
                        if 0 <= ih < H and 0 <= iw < W:
                            row[k] = x[(c * H + ih) * W + iw]
                        else:
                            row[k] = 0
                        k = k + 1


cdef inline void col2im_windows(const floating *col, Py_ssize_t ld, floating *x,
                                Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t FH,
                                Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad,
                                Py_ssize_t OW, Py_ssize_t first,
                                Py_ssize_t count) noexcept nogil:
    """x (C, H, W) += rows of col (row stride ld) added back onto their windows: row r is
    window first + r, the window at (i, j) being number i*OW + j.  Windows are taken in
    order, so a caller may go through an image's windows in chunks with the same result."""
    cdef Py_ssize_t w, i, j, c, p, q, ih, iw, k
    cdef const floating *row
    for w in range(first, first + count):
        i = w // OW
        j = w % OW
        row = col + (w - first) * ld
        k = 0
        for c in range(C):
            for p in range(FH):
                ih = i * stride - pad + p
                for q in range(FW):
                    iw = j * stride - pad + q
                    if 0 <= ih < H and 0 <= iw < W:
                        x[(c * H + ih) * W + iw] += row[k]
                    k = k + 1
