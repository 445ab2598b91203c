"""The compiled losses, on one thread: softmax cross-entropy a row at a time
(csrc/softmax.h), against integer labels (softmax_loss) or target rows
(softmax_cross_entropy), its mean summed in row order; and half the squared error, masked
or not, in one pass, or its sum alone (csrc/squared_error.h).  A loss's arrays are a
batch's outputs: too small for a second thread to pay."""
from cython cimport floating


cdef extern from "softmax.h" nogil:
    double fastnn_softmax_labels_f64(const double *x, const Py_ssize_t *y, double *dx,
                                     Py_ssize_t N, Py_ssize_t C)
    double fastnn_softmax_labels_f32(const float *x, const Py_ssize_t *y, float *dx,
                                     Py_ssize_t N, Py_ssize_t C)
    double fastnn_softmax_targets_f64(const double *x, const double *t, double *dx,
                                      double *probs, Py_ssize_t N, Py_ssize_t C)
    double fastnn_softmax_targets_f32(const float *x, const float *t, float *dx,
                                      float *probs, Py_ssize_t N, Py_ssize_t C)

cdef extern from "squared_error.h" nogil:
    double fastnn_squared_error_f64(const double *x, const double *y, const double *mask,
                                    double *dx, Py_ssize_t n, double N)
    double fastnn_squared_error_f32(const float *x, const float *y, const float *mask,
                                    float *dx, Py_ssize_t n, float N)


def softmax_labels(const floating[:, ::1] x, const Py_ssize_t[::1] y, floating[:, ::1] dx):
    """dx (N, C) = (softmax(x) - onehot(y)) / N for scores x (N, C) and labels y (N,) in
    [0, C) (checked by the caller; N, C >= 1); returns the mean cross-entropy."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    if y.shape[0] != N or dx.shape[0] != N or dx.shape[1] != C or N == 0 or C == 0:
        raise ValueError("softmax_labels: x, y and dx must be (N, C), (N,), (N, C), N, C >= 1")
    cdef Py_ssize_t n
    for n in range(N):  # (a private function's guard: dx is written at each label)
        if y[n] < 0 or y[n] >= C:
            raise ValueError(f"softmax_labels: labels must be in [0, {C}), got {y[n]}")
    cdef double loss
    with nogil:
        if floating is float:
            loss = fastnn_softmax_labels_f32(&x[0, 0], &y[0], &dx[0, 0], N, C)
        else:
            loss = fastnn_softmax_labels_f64(&x[0, 0], &y[0], &dx[0, 0], N, C)
    return loss


def softmax_targets(const floating[:, ::1] x, const floating[:, ::1] t, floating[:, ::1] dx,
                    floating[:, ::1] probs):
    """dx (N, C) = (softmax(x) * sum(t, row) - t) / N and probs = softmax(x) for scores x
    and target rows t (N, C) (N, C >= 1); returns -sum(t * log softmax(x)) / N."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1]
    if (t.shape[0] != N or t.shape[1] != C or dx.shape[0] != N or dx.shape[1] != C
            or probs.shape[0] != N or probs.shape[1] != C or N == 0 or C == 0):
        raise ValueError("softmax_targets: x, t, dx and probs must all be (N, C), N, C >= 1")
    cdef double loss
    with nogil:
        if floating is float:
            loss = fastnn_softmax_targets_f32(&x[0, 0], &t[0, 0], &dx[0, 0], &probs[0, 0], N, C)
        else:
            loss = fastnn_softmax_targets_f64(&x[0, 0], &t[0, 0], &dx[0, 0], &probs[0, 0], N, C)
    return loss


def squared_error(const floating[::1] x, const floating[::1] y, const floating[::1] mask,
                  floating[::1] dx, Py_ssize_t N):
    """dx = mask * (x - y) / N (mask None: all ones; dx None: not written) over the
    flattened arrays (one size, N >= 1, checked by the caller); returns
    sum(mask * (x - y)**2), summed in double precision in the fixed order of
    csrc/squared_error.h."""
    cdef Py_ssize_t n = x.shape[0]
    if (y.shape[0] != n or (dx is not None and dx.shape[0] != n)
            or (mask is not None and mask.shape[0] != n) or N < 1):
        raise ValueError("squared_error: x, y, mask and dx must be of one size, N >= 1")
    cdef const floating *m = &mask[0] if mask is not None and n > 0 else NULL
    cdef floating *d = &dx[0] if dx is not None and n > 0 else NULL
    cdef double total = 0
    if n == 0:
        return total
    with nogil:
        if floating is float:
            total = fastnn_squared_error_f32(&x[0], &y[0], m, d, n, <float>N)
        else:
            total = fastnn_squared_error_f64(&x[0], &y[0], m, d, n, <double>N)
    return total
