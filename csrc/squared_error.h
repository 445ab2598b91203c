/* Half the squared error (mse_loss), its loss and gradient in one pass over n elements:
 *
 *     d = x - y,  md = d * mask (or d),  dx = md / N,  returns sum(md * d)
 *
 * (the caller takes 0.5 * sum / N).  The reference's NumPy expressions take five passes
 * with a temporary each, and a recommender's masked loss three more: each a fresh array
 * of the batch's size.  dx is the reference's bits (the same operations, each correctly
 * rounded at every vector width, with no contraction: -ffp-contract=off); the sum is
 * taken in double precision in 8 interleaved partial sums, added in a fixed tree, then
 * the last n % 8 terms in order: its own order, the same at every level and thread count
 * (the reference sums pairwise in x's precision: the loss agrees to rounding).
 * dx NULL: the sum alone (squared_error_sum: a recommender's RMSE over its rated entries),
 * in the same order.  Dispatch: simd.h's FASTNN_DISPATCH_WIDE.
 */
#ifndef FASTNN_SQUARED_ERROR_H
#define FASTNN_SQUARED_ERROR_H

#include <stddef.h>
#include "simd.h"

#define FASTNN_SE_PARTS 8

/* One of the four loops over T: md the masked difference (MD), dx stored or not (STORE). */
#define FASTNN_SE_LOOP(T, MD, STORE)                                                     \
    for (ptrdiff_t i = 0; i < whole; i += FASTNN_SE_PARTS)                               \
        for (int j = 0; j < FASTNN_SE_PARTS; j++) {                                      \
            const ptrdiff_t k = i + j;                                                   \
            const T d = x[k] - y[k], md = MD;                                            \
            STORE;                                                                       \
            part[j] += (double)md * (double)d;                                           \
        }

#define FASTNN_DEFINE_SQUARED_ERROR(SUFFIX, T)                                           \
FASTNN_DISPATCH_WIDE                                                                     \
static double fastnn_squared_error_##SUFFIX(const T *x, const T *y, const T *mask,      \
                                            T *dx, ptrdiff_t n, T N) {                   \
    double part[FASTNN_SE_PARTS] = {0};                                                  \
    const ptrdiff_t whole = n - n % FASTNN_SE_PARTS;                                     \
    if (mask && dx) {                                                                    \
        FASTNN_SE_LOOP(T, d * mask[k], dx[k] = md / N)                                   \
    } else if (dx) {                                                                     \
        FASTNN_SE_LOOP(T, d, dx[k] = md / N)                                             \
    } else if (mask) {                                                                   \
        FASTNN_SE_LOOP(T, d * mask[k], (void)0)                                          \
    } else {                                                                             \
        FASTNN_SE_LOOP(T, d, (void)0)                                                    \
    }                                                                                    \
    double total = ((part[0] + part[1]) + (part[2] + part[3]))                           \
                   + ((part[4] + part[5]) + (part[6] + part[7]));                        \
    for (ptrdiff_t i = whole; i < n; i++) {                                              \
        const T d = x[i] - y[i], md = mask ? d * mask[i] : d;                            \
        if (dx)                                                                          \
            dx[i] = md / N;                                                              \
        total += (double)md * (double)d;                                                 \
    }                                                                                    \
    return total;                                                                        \
}

FASTNN_DEFINE_SQUARED_ERROR(f64, double)
FASTNN_DEFINE_SQUARED_ERROR(f32, float)

#endif /* FASTNN_SQUARED_ERROR_H */
