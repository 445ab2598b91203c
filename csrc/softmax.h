/* Softmax cross-entropy over the rows of x (N, C), in one pass over each row:
 *
 *     shifted = x - max(row),  e = exp(shifted),  total = sum(e),  p = e / total
 *
 * against integer labels (CS231n's softmax_loss):
 *     loss_n = log(total) - shifted[y_n],  dx = (p - onehot(y)) / N
 * or against target rows t (the textbook's SoftmaxWithLoss with one-hot or soft rows):
 *     loss_n = -sum(t * (shifted - log(total))),  dx = (p * sum(t) - t) / N,  probs = p
 *
 * and returns the mean of loss_n, summed in row order in double precision.  The
 * reference's expressions (NumPy, in x's precision) take some ten passes with a
 * temporary each; for the small batches of a gradient check those calls cost more than
 * their arithmetic.  exp is sigmoid.h's (from + - * / and bit operations, vectorised, the
 * same bits in every clone), log the C library's, once a row; the sum over a row is
 * taken in order.  So a result depends on its row only, never on the instruction set.
 * NaN propagates as in the reference: a NaN score makes its row's max, and so its row,
 * NaN; an infinite score makes shifted NaN (inf - inf), as there.
 */
#ifndef FASTNN_SOFTMAX_H
#define FASTNN_SOFTMAX_H

#include <stddef.h>
#include <math.h>

#include "sigmoid.h"

#define FASTNN_LOG_f64 log
#define FASTNN_LOG_f32 logf

#define FASTNN_DEFINE_SOFTMAX(SUFFIX, T)                                                 \
/* e[c] = exp(x[c] - max) for a row of C scores; returns the max (NaN if one is). */     \
FASTNN_NO_TRAPS static inline T fastnn_softmax_exp_##SUFFIX(const T *x, T *e,            \
                                                            ptrdiff_t C) {               \
    T m = x[0];                                                                          \
    for (ptrdiff_t c = 1; c < C; c++) m = (x[c] > m || x[c] != x[c]) ? x[c] : m;         \
    for (ptrdiff_t c = 0; c < C; c++) e[c] = fastnn_exp_nonpositive_##SUFFIX(x[c] - m);  \
    return m;                                                                            \
}                                                                                        \
/* Labels y (N,) in [0, C): dx (N, C); the mean loss. */                                 \
FASTNN_DISPATCH_WIDE FASTNN_NO_TRAPS                                                     \
static double fastnn_softmax_labels_##SUFFIX(const T *x, const ptrdiff_t *y, T *dx,      \
                                             ptrdiff_t N, ptrdiff_t C) {                 \
    double loss = 0;                                                                     \
    for (ptrdiff_t n = 0; n < N; n++) {                                                  \
        const T *xr = x + n * C;                                                         \
        T *d = dx + n * C;                                                               \
        const T m = fastnn_softmax_exp_##SUFFIX(xr, d, C);                               \
        T total = 0;                                                                     \
        for (ptrdiff_t c = 0; c < C; c++) total += d[c];                                 \
        loss += (double)FASTNN_LOG_##SUFFIX(total) - (double)(xr[y[n]] - m);             \
        for (ptrdiff_t c = 0; c < C; c++) d[c] = d[c] / total;                           \
        d[y[n]] -= 1;                                                                    \
        for (ptrdiff_t c = 0; c < C; c++) d[c] = d[c] / (T)N;                            \
    }                                                                                    \
    return loss / (double)N;                                                             \
}                                                                                        \
/* Target rows t (N, C): dx and probs (N, C); the mean loss. */                          \
FASTNN_DISPATCH_WIDE FASTNN_NO_TRAPS                                                     \
static double fastnn_softmax_targets_##SUFFIX(const T *x, const T *t, T *dx, T *probs,   \
                                              ptrdiff_t N, ptrdiff_t C) {                \
    double loss = 0;                                                                     \
    for (ptrdiff_t n = 0; n < N; n++) {                                                  \
        const T *xr = x + n * C, *tr = t + n * C;                                        \
        T *d = dx + n * C, *p = probs + n * C;                                           \
        const T m = fastnn_softmax_exp_##SUFFIX(xr, p, C);                               \
        T total = 0, t_sum = 0;                                                          \
        for (ptrdiff_t c = 0; c < C; c++) total += p[c];                                 \
        const T log_total = FASTNN_LOG_##SUFFIX(total);                                  \
        double row = 0;                                                                  \
        for (ptrdiff_t c = 0; c < C; c++) {                                              \
            row += (double)(tr[c] * ((xr[c] - m) - log_total));                          \
            t_sum += tr[c];                                                              \
        }                                                                                \
        loss -= row;                                                                     \
        for (ptrdiff_t c = 0; c < C; c++) {                                              \
            p[c] = p[c] / total;                                                         \
            d[c] = (p[c] * t_sum - tr[c]) / (T)N;                                        \
        }                                                                                \
    }                                                                                    \
    return loss / (double)N;                                                             \
}

FASTNN_DEFINE_SOFTMAX(f64, double)
FASTNN_DEFINE_SOFTMAX(f32, float)

#endif /* FASTNN_SOFTMAX_H */
