"""Batch normalisation per channel of x (N, C, S): S = H*W for images, 1 for (N, D).

Threads take whole channels, and every sum over a channel is accumulated in float64 in
one fixed order, so results do not depend on the thread count and float32 sums over
large batches stay accurate.  The backward pass is fused: one pass over x and dout for
both sums (of dout and of dout*x_hat), one more to write dx.
"""
from cython cimport floating
from cython.parallel cimport prange

from fastnn._kernels.threads cimport num_threads_for


def channel_stats(const floating[:, :, ::1] x, double[::1] mean, double[::1] var):
    """mean[c] and the biased var[c] of x[:, c, :], two passes (exact, not E[x^2] - E[x]^2)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t c, n, s
    cdef double total, m, d
    cdef double count = N * S
    cdef int threads = num_threads_for(N * C * S)
    for c in prange(C, nogil=True, schedule="static", num_threads=threads):
        total = 0
        for n in range(N):
            for s in range(S):
                total = total + x[n, c, s]
        m = total / count
        total = 0
        for n in range(N):
            for s in range(S):
                d = x[n, c, s] - m
                total = total + d * d
        mean[c] = m
        var[c] = total / count


def normalize(const floating[:, :, ::1] x, const floating[::1] mean, const floating[::1] std,
              const floating[::1] gamma, const floating[::1] beta, floating[:, :, ::1] out):
    """out = gamma * (x - mean) / std + beta, per channel."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t c, n, s
    cdef floating m, sd, g, b
    cdef int threads = num_threads_for(N * C * S)
    for c in prange(C, nogil=True, schedule="static", num_threads=threads):
        m = mean[c]
        sd = std[c]
        g = gamma[c]
        b = beta[c]
        for n in range(N):
            for s in range(S):
                out[n, c, s] = g * ((x[n, c, s] - m) / sd) + b


def backward(const floating[:, :, ::1] x, const floating[:, :, ::1] dout,
             const floating[::1] mean, const floating[::1] std, const floating[::1] gamma,
             floating[:, :, ::1] dx, floating[::1] dgamma, floating[::1] dbeta, bint train):
    """dx, dgamma, dbeta of out = gamma * x_hat + beta, x_hat = (x - mean) / std.

    train: the statistics are the batch's, so
    dx = gamma / std * (dout - mean(dout) - x_hat * mean(dout * x_hat));
    otherwise they are constants and dx = gamma / std * dout.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2]
    cdef Py_ssize_t c, n, s
    cdef double sum_dout, sum_dout_xhat, xhat
    cdef floating m, sd, scale, mean_dout, mean_dout_xhat
    cdef double count = N * S
    cdef int threads = num_threads_for(N * C * S)
    for c in prange(C, nogil=True, schedule="static", num_threads=threads):
        m = mean[c]
        sd = std[c]
        sum_dout = 0
        sum_dout_xhat = 0
        for n in range(N):
            for s in range(S):
                xhat = (x[n, c, s] - m) / sd
                sum_dout = sum_dout + dout[n, c, s]
                sum_dout_xhat = sum_dout_xhat + dout[n, c, s] * xhat
        dbeta[c] = <floating>sum_dout
        dgamma[c] = <floating>sum_dout_xhat
        scale = gamma[c] / sd
        if train:
            mean_dout = <floating>(sum_dout / count)
            mean_dout_xhat = <floating>(sum_dout_xhat / count)
            for n in range(N):
                for s in range(S):
                    dx[n, c, s] = scale * (dout[n, c, s] - mean_dout
                                           - (x[n, c, s] - m) / sd * mean_dout_xhat)
        else:
            for n in range(N):
                for s in range(S):
                    dx[n, c, s] = scale * dout[n, c, s]
