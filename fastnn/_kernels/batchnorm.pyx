"""Batch normalisation per channel of x (N, C, S): S = H*W for images.

Threads take whole channels, and every sum over a channel is accumulated in float64 in
a fixed order (csrc/channel_ops.h), so results do not depend on the thread count and
float32 sums over large batches stay accurate.  Each pass works a channel at a time, so
that a channel's values, read again, come from the core's cache: training's forward
(statistics, then the normalisation) and the backward pass (one pass over x_hat and dout
for both sums, of dout and of dout*x_hat, one more to write dx).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

from fastnn._kernels.threads cimport num_threads_for

cdef extern from "channel_ops.h" nogil:
    void fastnn_sum_f32(const float *x, Py_ssize_t n, double *total)
    void fastnn_sum_f64(const double *x, Py_ssize_t n, double *total)
    void fastnn_sum_sq_dev_f32(const float *x, Py_ssize_t n, double mean, double *total)
    void fastnn_sum_sq_dev_f64(const double *x, Py_ssize_t n, double mean, double *total)
    void fastnn_sum_dout_xhat_f32(const float *x_hat, const float *dout, Py_ssize_t n,
                                  double *sum_dout, double *sum_dout_xhat)
    void fastnn_sum_dout_xhat_f64(const double *x_hat, const double *dout, Py_ssize_t n,
                                  double *sum_dout, double *sum_dout_xhat)
    void fastnn_normalize_f32(const float *x, float *x_hat, float *out, Py_ssize_t n,
                              float mean, float std, float gamma, float beta)
    void fastnn_normalize_f64(const double *x, double *x_hat, double *out, Py_ssize_t n,
                              double mean, double std, double gamma, double beta)
    void fastnn_bn_dx_f32(const float *x_hat, const float *dout, float *dx, Py_ssize_t n,
                          float scale, float mean_dout, float mean_dout_xhat)
    void fastnn_bn_dx_f64(const double *x_hat, const double *dout, double *dx, Py_ssize_t n,
                          double scale, double mean_dout, double mean_dout_xhat)
    void fastnn_scale_f32(const float *dout, float *dx, Py_ssize_t n, float scale)
    void fastnn_scale_f64(const double *dout, double *dx, Py_ssize_t n, double scale)


cdef inline void row_sum(const floating *x, Py_ssize_t n, double *total) noexcept nogil:
    if floating is float:
        fastnn_sum_f32(x, n, total)
    else:
        fastnn_sum_f64(x, n, total)


cdef inline void row_sum_sq_dev(const floating *x, Py_ssize_t n, double mean,
                                double *total) noexcept nogil:
    if floating is float:
        fastnn_sum_sq_dev_f32(x, n, mean, total)
    else:
        fastnn_sum_sq_dev_f64(x, n, mean, total)


def normalize(const floating[:, :, ::1] x, const floating[::1] mean, const floating[::1] std,
              const floating[::1] gamma, const floating[::1] beta, floating[:, :, ::1] x_hat,
              floating[:, :, ::1] out):
    """x_hat = (x - mean) / std and out = gamma * x_hat + beta, per channel, in one pass.
    x_hat is what the backward pass reads: a snapshot, so the caller may reuse x."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t c, n
    cdef int threads = num_threads_for(N * C * S)
    for c in prange(C, nogil=True, schedule="static", num_threads=threads):
        for n in range(N):
            if floating is float:
                fastnn_normalize_f32(&x[n, c, 0], &x_hat[n, c, 0], &out[n, c, 0], S, mean[c],
                                     std[c], gamma[c], beta[c])
            else:
                fastnn_normalize_f64(&x[n, c, 0], &x_hat[n, c, 0], &out[n, c, 0], S, mean[c],
                                     std[c], gamma[c], beta[c])


def train_normalize(const floating[:, :, ::1] x, double eps, const floating[::1] gamma,
                    const floating[::1] beta, double[::1] mean, double[::1] var,
                    floating[::1] std, floating[:, :, ::1] x_hat, floating[:, :, ::1] out):
    """mean[c] and the biased var[c] of x[:, c, :] (two passes, exact: not E[x^2] -
    E[x]^2), std[c] = sqrt(var[c] + eps) in x's type, then :func:`normalize` with these
    statistics, a channel at a time: its values are read again while they are in the
    core's cache, not once more from memory.  mean and var are rounded to x's type
    first, eps too, as NumPy's ``var.astype(t) + eps``."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t c, n
    cdef double total, m
    cdef floating mean_c, std_c
    cdef double count = N * S
    cdef int threads = num_threads_for(N * C * S)
    for c in prange(C, nogil=True, schedule="static", num_threads=threads):
        total = 0
        for n in range(N):
            row_sum(&x[n, c, 0], S, &total)
        m = total / count
        total = 0
        for n in range(N):
            row_sum_sq_dev(&x[n, c, 0], S, m, &total)
        mean[c] = m
        var[c] = total / count
        mean_c = <floating>m
        std_c = <floating>sqrt(<floating>(<floating>var[c] + <floating>eps))
        std[c] = std_c
        for n in range(N):
            if floating is float:
                fastnn_normalize_f32(&x[n, c, 0], &x_hat[n, c, 0], &out[n, c, 0], S, mean_c,
                                     std_c, gamma[c], beta[c])
            else:
                fastnn_normalize_f64(&x[n, c, 0], &x_hat[n, c, 0], &out[n, c, 0], S, mean_c,
                                     std_c, gamma[c], beta[c])


def backward(const floating[:, :, ::1] x_hat, const floating[:, :, ::1] dout,
             const floating[::1] std, const floating[::1] gamma,
             floating[:, :, ::1] dx, floating[::1] dgamma, floating[::1] dbeta, bint train):
    """dx, dgamma, dbeta of out = gamma * x_hat + beta.

    train: the statistics are the batch's, so
    dx = gamma / std * (dout - mean(dout) - x_hat * mean(dout * x_hat));
    otherwise they are constants and dx = gamma / std * dout (x_hat is not read for it).
    """
    cdef Py_ssize_t N = x_hat.shape[0], C = x_hat.shape[1], S = x_hat.shape[2]
    cdef Py_ssize_t c, n
    cdef double sum_dout, sum_dout_xhat
    cdef floating scale, mean_dout, mean_dout_xhat
    cdef double count = N * S
    cdef int threads = num_threads_for(N * C * S)
    for c in prange(C, nogil=True, schedule="static", num_threads=threads):
        sum_dout = 0
        sum_dout_xhat = 0
        for n in range(N):
            if floating is float:
                fastnn_sum_dout_xhat_f32(&x_hat[n, c, 0], &dout[n, c, 0], S,
                                         &sum_dout, &sum_dout_xhat)
            else:
                fastnn_sum_dout_xhat_f64(&x_hat[n, c, 0], &dout[n, c, 0], S,
                                         &sum_dout, &sum_dout_xhat)
        dbeta[c] = <floating>sum_dout
        dgamma[c] = <floating>sum_dout_xhat
        scale = gamma[c] / std[c]
        if train:
            mean_dout = <floating>(sum_dout / count)
            mean_dout_xhat = <floating>(sum_dout_xhat / count)
        for n in range(N):
            if floating is float:
                if train:
                    fastnn_bn_dx_f32(&x_hat[n, c, 0], &dout[n, c, 0], &dx[n, c, 0], S,
                                     scale, mean_dout, mean_dout_xhat)
                else:
                    fastnn_scale_f32(&dout[n, c, 0], &dx[n, c, 0], S, scale)
            else:
                if train:
                    fastnn_bn_dx_f64(&x_hat[n, c, 0], &dout[n, c, 0], &dx[n, c, 0], S,
                                     scale, mean_dout, mean_dout_xhat)
                else:
                    fastnn_scale_f64(&dout[n, c, 0], &dx[n, c, 0], S, scale)
