"""ReLU forward and backward, and the Adam update: one pass each, threads over fixed
blocks of elements (no reduction: any thread count gives the same bits).

NumPy's version makes temporaries (np.maximum, a boolean mask, np.where), several passes
over memory where one will do (benchmarks/NOTES.md, "Small calls").
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

from fastnn._kernels.threads cimport num_threads_for

cdef enum:
    BLOCK = 16384  # elements per task: large enough to amortise scheduling, fits L1/L2


def relu_forward(const floating[::1] x, floating[::1] out):
    """out = max(x, 0) with NumPy's semantics: NaN stays NaN, -0.0 becomes +0.0."""
    cdef Py_ssize_t n = x.shape[0], blocks = (n + BLOCK - 1) // BLOCK, blk, i, end
    cdef floating v
    cdef int threads = num_threads_for(n)
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        end = min((blk + 1) * BLOCK, n)
        for i in range(blk * BLOCK, end):
            v = x[i]
            out[i] = v if (v > 0) | (v != v) else 0


def relu_backward(const floating[::1] x, const floating[::1] dout, floating[::1] dx):
    """dx = dout where x > 0, else 0."""
    cdef Py_ssize_t n = x.shape[0], blocks = (n + BLOCK - 1) // BLOCK, blk, i, end
    cdef floating d
    cdef int threads = num_threads_for(n)
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        end = min((blk + 1) * BLOCK, n)
        for i in range(blk * BLOCK, end):
            d = dout[i]  # loaded unconditionally, so the select compiles without a branch
            dx[i] = d if x[i] > 0 else 0


def adam_update(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                double lr_t, double beta1, double beta2, double eps):
    """One Adam step in one pass, the same operations in the same order as
    fastnn.optim.Adam's NumPy form (so the same bits; contraction is off in this build):
    m += (1 - beta1) * (g - m); v += (1 - beta2) * (g*g - v); p -= m * lr_t / (sqrt(v) + eps),
    each constant rounded to the arrays' type first, as NumPy does with a Python float."""
    cdef Py_ssize_t n = p.shape[0], blocks = (n + BLOCK - 1) // BLOCK, blk, i, end
    cdef floating c1 = <floating>(1 - beta1), c2 = <floating>(1 - beta2)
    cdef floating lr = <floating>lr_t, e = <floating>eps, a
    cdef int threads = num_threads_for(n)
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        end = min((blk + 1) * BLOCK, n)
        for i in range(blk * BLOCK, end):
            a = (g[i] - m[i]) * c1
            m[i] = m[i] + a
            a = (g[i] * g[i] - v[i]) * c2
            v[i] = v[i] + a
            a = sqrt(v[i])  # rounded to the type here, as np.sqrt does, before + eps
            a = a + e
            p[i] = p[i] - (m[i] * lr) / a
