"""ReLU and sigmoid forward and backward, and the optimizers' updates: one pass
each, threads over fixed blocks of elements (no reduction: any thread count gives the
same bits).

NumPy's version makes temporaries (np.maximum, a boolean mask, np.where), several passes
over memory where one will do (benchmarks/NOTES.md, "Small calls").
"""
from cython cimport floating
from cython.parallel cimport prange

import numpy as np
cimport numpy as cnp

from fastnn.runtime.buffers import POISON
from fastnn._kernels.arrays cimport fresh_array
from fastnn._kernels.plan import SMALL_ELEMENTWISE
from fastnn._kernels.threads cimport num_threads_for

cnp.import_array()

cdef extern from "sigmoid.h" nogil:
    void fastnn_sigmoid_f64(const double *x, const double *bias, const double *mask,
                            double *out, Py_ssize_t n)
    void fastnn_sigmoid_f32(const float *x, const float *bias, const float *mask,
                            float *out, Py_ssize_t n)
    void fastnn_sigmoid_grad_f64(const double *out, const double *dout, double *dx,
                                 Py_ssize_t n)
    void fastnn_sigmoid_grad_f32(const float *out, const float *dout, float *dx,
                                 Py_ssize_t n)

cdef extern from "optim_steps.h" nogil:
    void fastnn_adam_f64(double *p, const double *g, double *m, double *v, Py_ssize_t n,
                         double c1, double c2, double lr, double eps)
    void fastnn_adam_f32(float *p, const float *g, float *m, float *v, Py_ssize_t n,
                         float c1, float c2, float lr, float eps)
    void fastnn_rmsprop_f64(double *p, const double *g, double *h, Py_ssize_t n,
                            double decay, double c, double step, double eps)
    void fastnn_rmsprop_f32(float *p, const float *g, float *h, Py_ssize_t n,
                            float decay, float c, float step, float eps)

    void fastnn_cs231n_adam_f64(double *w, const double *g, double *m, double *v,
                                Py_ssize_t n, double b1, double c1, double b2, double c2,
                                double k1, double k2, double lr, double eps)
    void fastnn_cs231n_adam_f32(float *w, const float *g, float *m, float *v, Py_ssize_t n,
                                float b1, float c1, float b2, float c2, float k1, float k2,
                                float lr, float eps)
    void fastnn_cs231n_rmsprop_f64(double *w, const double *g, double *h, Py_ssize_t n,
                                   double decay, double c, double lr, double eps)
    void fastnn_cs231n_rmsprop_f32(float *w, const float *g, float *h, Py_ssize_t n,
                                   float decay, float c, float lr, float eps)
    void fastnn_cs231n_momentum_f64(double *w, const double *g, double *u, Py_ssize_t n,
                                    double mu, double lr)
    void fastnn_cs231n_momentum_f32(float *w, const float *g, float *u, Py_ssize_t n,
                                    float mu, float lr)

cdef enum:
    BLOCK = 16384  # elements per task at most: large enough to amortise scheduling


cdef inline Py_ssize_t task_length(Py_ssize_t n, int threads) noexcept nogil:
    """Elements per task for n elements on ``threads``: at most BLOCK, in a number of
    tasks that ``threads`` divides, so that the static split gives each thread as much
    (33,640 elements in tasks of 16,384 left one of two threads idle)."""
    cdef Py_ssize_t tasks = max((n + BLOCK - 1) // BLOCK, 1)
    tasks = (tasks + threads - 1) // threads * threads
    return max((n + tasks - 1) // tasks, 1)


def relu_forward(const floating[::1] x, floating[::1] out):
    """out = max(x, 0) with NumPy's semantics: NaN stays NaN, -0.0 becomes +0.0."""
    cdef Py_ssize_t n = x.shape[0], blocks, blk, i, end, length
    cdef floating v
    cdef int threads = num_threads_for(n)
    length = task_length(n, threads)
    blocks = (n + length - 1) // length
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        end = min((blk + 1) * length, n)
        for i in range(blk * length, end):
            v = x[i]
            out[i] = v if (v > 0) | (v != v) else 0


def relu_backward(const floating[::1] x, const floating[::1] dout, floating[::1] dx):
    """dx = dout where x > 0, else 0."""
    cdef Py_ssize_t n = x.shape[0], blocks, blk, i, end, length
    cdef floating d
    cdef int threads = num_threads_for(n)
    length = task_length(n, threads)
    blocks = (n + length - 1) // length
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        end = min((blk + 1) * length, n)
        for i in range(blk * length, end):
            d = dout[i]  # loaded unconditionally, so the select compiles without a branch
            dx[i] = d if x[i] > 0 else 0


cdef enum Rule:
    # the optimizer steps of csrc/optim_steps.h
    ADAM, RMSPROP, CS231N_ADAM, CS231N_RMSPROP, CS231N_MOMENTUM


cdef inline void _step_run(Rule rule, floating *p, const floating *g, floating *a,
                           floating *b, Py_ssize_t n, const floating *c) noexcept nogil:
    """One rule's step on a run of n elements: p the parameters, g the gradient, a and b
    the state (or NULL), c the constants in the order of the C function's arguments."""
    if floating is double:
        if rule == ADAM:
            fastnn_adam_f64(p, g, a, b, n, c[0], c[1], c[2], c[3])
        elif rule == RMSPROP:
            fastnn_rmsprop_f64(p, g, a, n, c[0], c[1], c[2], c[3])
        elif rule == CS231N_ADAM:
            fastnn_cs231n_adam_f64(p, g, a, b, n, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
        elif rule == CS231N_RMSPROP:
            fastnn_cs231n_rmsprop_f64(p, g, a, n, c[0], c[1], c[2], c[3])
        else:
            fastnn_cs231n_momentum_f64(p, g, a, n, c[0], c[1])
    else:
        if rule == ADAM:
            fastnn_adam_f32(p, g, a, b, n, c[0], c[1], c[2], c[3])
        elif rule == RMSPROP:
            fastnn_rmsprop_f32(p, g, a, n, c[0], c[1], c[2], c[3])
        elif rule == CS231N_ADAM:
            fastnn_cs231n_adam_f32(p, g, a, b, n, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
        elif rule == CS231N_RMSPROP:
            fastnn_cs231n_rmsprop_f32(p, g, a, n, c[0], c[1], c[2], c[3])
        else:
            fastnn_cs231n_momentum_f32(p, g, a, n, c[0], c[1])


cdef void _steps(Rule rule, floating[::1] p, const floating[::1] g, floating *state_a,
                 floating *state_b, const floating *c) noexcept:
    """The rule's step over all of p, in place, threads over fixed blocks of elements;
    state_a and state_b: the state's data, of p's length, or NULL."""
    cdef Py_ssize_t n = p.shape[0], blocks, blk, start, length
    if n == 0:
        return
    cdef int threads = num_threads_for(n)
    length = task_length(n, threads)
    blocks = (n + length - 1) // length
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        start = blk * length
        _step_run(rule, &p[start], &g[start], NULL if state_a == NULL else state_a + start,
                  NULL if state_b == NULL else state_b + start, min(length, n - start), c)


def adam_update(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
                double lr_t, double beta1, double beta2, double eps):
    """One Adam step in one pass, the same operations in the same order as
    fastnn.optim.Adam's NumPy form (so the same bits: csrc/optim_steps.h):
    m += (1 - beta1) * (g - m); v += (1 - beta2) * (g*g - v); p -= m * lr_t / (sqrt(v) + eps),
    each constant rounded to the arrays' type first, as NumPy does with a Python float."""
    cdef floating c[4]
    c[0], c[1], c[2], c[3] = <floating>(1 - beta1), <floating>(1 - beta2), <floating>lr_t, <floating>eps
    _steps(ADAM, p, g, &m[0], &v[0], c)


def rmsprop_update(floating[::1] p, const floating[::1] g, floating[::1] h, double lr,
                   double decay_rate, double eps):
    """One RMSprop step in one pass, the operations of fastnn.optim.RMSprop's NumPy form
    in its order (so its bits: csrc/optim_steps.h): h *= decay_rate;
    h += (1 - decay_rate) * g * g; p -= lr * g / (sqrt(h) + eps), each constant rounded
    to the arrays' type first, as NumPy does with a Python float."""
    cdef floating c[4]
    c[0], c[1], c[2], c[3] = <floating>decay_rate, <floating>(1 - decay_rate), <floating>lr, <floating>eps
    _steps(RMSPROP, p, g, &h[0], <floating *>NULL, c)


def cs231n_adam(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                double beta1, double beta2, double k1, double k2, double lr, double eps):
    """CS231n's Adam step in place, in one pass (fastnn.cs231n.optim.adam's NumPy form, its
    bits): m = beta1*m + (1 - beta1)*g; v = beta2*v + (1 - beta2)*(g*g);
    w -= lr * (m / k1) / (sqrt(v / k2) + eps), each constant rounded to the arrays' type."""
    cdef floating c[8]
    c[0], c[1], c[2], c[3] = <floating>beta1, <floating>(1 - beta1), <floating>beta2, <floating>(1 - beta2)
    c[4], c[5], c[6], c[7] = <floating>k1, <floating>k2, <floating>lr, <floating>eps
    _steps(CS231N_ADAM, w, g, &m[0], &v[0], c)


def cs231n_rmsprop(floating[::1] w, const floating[::1] g, floating[::1] h,
                   double decay_rate, double lr, double eps):
    """CS231n's RMSprop step in place, in one pass (its NumPy form's bits):
    h = decay_rate*h + (1 - decay_rate)*(g*g); w -= lr * g / (sqrt(h) + eps)."""
    cdef floating c[4]
    c[0], c[1], c[2], c[3] = <floating>decay_rate, <floating>(1 - decay_rate), <floating>lr, <floating>eps
    _steps(CS231N_RMSPROP, w, g, &h[0], <floating *>NULL, c)


def cs231n_momentum(floating[::1] w, const floating[::1] g, floating[::1] u, double mu,
                    double lr):
    """CS231n's SGD with momentum in place, in one pass (its NumPy form's bits):
    u = mu*u - lr*g; w += u.  With u None, plain SGD: w -= lr*g."""
    cdef floating c[2]
    c[0], c[1] = <floating>mu, <floating>lr
    _steps(CS231N_MOMENTUM, w, g, NULL if u is None else &u[0],
           <floating *>NULL, c)


cdef inline void _sigmoid_run(const floating *x, const floating *bias, const floating *mask,
                              floating *out, Py_ssize_t n) noexcept nogil:
    if floating is double:
        fastnn_sigmoid_f64(x, bias, mask, out, n)
    else:
        fastnn_sigmoid_f32(x, bias, mask, out, n)


def sigmoid(const floating[:, ::1] x, const floating[::1] bias, const floating[:, ::1] mask,
            floating[:, ::1] out):
    """out = sigmoid(x + bias) * mask, x, mask and out (rows, cols), bias (cols,); bias and
    mask may be None (0 and 1), out may be x.  csrc/sigmoid.h says how it is computed.
    Tasks are runs of at most BLOCK elements of one row (of a single row: task_length's)."""
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    cdef Py_ssize_t per_row, length, task, r, c, n
    cdef const floating *b = &bias[0] if bias is not None and cols > 0 else NULL
    cdef bint masked = mask is not None
    cdef int threads = num_threads_for(rows * cols)
    if rows == 0 or cols == 0:
        return
    length = task_length(cols, threads) if rows < threads else min(cols, BLOCK)
    per_row = (cols + length - 1) // length
    for task in prange(rows * per_row, nogil=True, schedule="static", num_threads=threads):
        r = task // per_row
        c = (task % per_row) * length
        n = min(cols - c, length)
        _sigmoid_run(&x[r, c], (b + c) if b != NULL else NULL,
                     &mask[r, c] if masked else NULL, &out[r, c], n)


def sigmoid_backward(const floating[::1] out, const floating[::1] dout, floating[::1] dx):
    """dx = dout * out * (1 - out), in the reference's order (its bits)."""
    cdef Py_ssize_t n = out.shape[0], blocks, blk, start, run, length
    cdef int threads = num_threads_for(n)
    length = task_length(n, threads)
    blocks = (n + length - 1) // length
    for blk in prange(blocks, nogil=True, schedule="static", num_threads=threads):
        start = blk * length
        run = min(n - start, length)
        if floating is double:
            fastnn_sigmoid_grad_f64(&out[start], &dout[start], &dx[start], run)
        else:
            fastnn_sigmoid_grad_f32(&out[start], &dout[start], &dx[start], run)


# -- the common small call, whole in C ---------------------------------------------------
#
# As affine.pyx's: only C-contiguous NumPy float arrays of one dtype and shape, fewer
# elements than the planner's SMALL_ELEMENTWISE, no ``out``; the kernels' formulas above
# (NumPy's bits), serially; None otherwise, for fastnn.functional's Python path.

cdef long long _SMALL_ELEMENTWISE = SMALL_ELEMENTWISE
cdef bint _POISON = POISON


cdef inline int _small_float(object a) noexcept:
    """a's type number when a is a small C-contiguous float32/float64 ndarray of at least
    one dimension that C can read as it lies (aligned, this machine's byte order), else
    -1."""
    if type(a) is not np.ndarray:
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr)
    if ((t != cnp.NPY_FLOAT64 and t != cnp.NPY_FLOAT32) or not cnp.PyArray_IS_C_CONTIGUOUS(arr)
            or not cnp.PyArray_ISBEHAVED_RO(arr)  # (aligned, this machine's byte order)
            or cnp.PyArray_SIZE(arr) >= _SMALL_ELEMENTWISE or cnp.PyArray_NDIM(arr) == 0):
        return -1  # (0-d arrays too: the Python path gives NumPy's scalars for them)
    return t


cdef inline bint _same_shape(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int d
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for d in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[d] != cnp.PyArray_DIMS(b)[d]:
            return False
    return True


cdef cnp.ndarray _output_like(cnp.ndarray a):
    """A fresh array of a's shape and dtype."""
    return fresh_array(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), cnp.PyArray_TYPE(a), _POISON)


cdef void _relu_rows(const floating *x, floating *out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):  # relu_forward's formula: NaN stays NaN, -0.0 becomes +0.0
        out[i] = x[i] if (x[i] > 0) | (x[i] != x[i]) else 0


cdef void _relu_grad_rows(const floating *x, const floating *dout, floating *dx,
                          Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dout[i] if x[i] > 0 else 0


def small_relu_forward(x):
    """``fastnn.functional.relu_forward(x)`` for the common small call, else None."""
    cdef int t = _small_float(x)
    if t < 0:
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>x, out = _output_like(xa)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
    cdef void *xp = cnp.PyArray_DATA(xa)
    cdef void *op = cnp.PyArray_DATA(out)
    with nogil:
        if t == cnp.NPY_FLOAT64:
            _relu_rows(<const double *>xp, <double *>op, n)
        else:
            _relu_rows(<const float *>xp, <float *>op, n)
    return out, out


def small_relu_backward(dout, cache):
    """``fastnn.functional.relu_backward(dout, cache)`` for the common small call, else
    None."""
    cdef int t = _small_float(cache)
    if t < 0 or _small_float(dout) != t or not _same_shape(<cnp.ndarray>dout, <cnp.ndarray>cache):
        return None
    cdef cnp.ndarray xa = <cnp.ndarray>cache, da = <cnp.ndarray>dout, dx = _output_like(xa)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
    cdef void *xp = cnp.PyArray_DATA(xa)
    cdef void *dp = cnp.PyArray_DATA(da)
    cdef void *op = cnp.PyArray_DATA(dx)
    with nogil:
        if t == cnp.NPY_FLOAT64:
            _relu_grad_rows(<const double *>xp, <const double *>dp, <double *>op, n)
        else:
            _relu_grad_rows(<const float *>xp, <const float *>dp, <float *>op, n)
    return dx
