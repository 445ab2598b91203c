/* Row loops of batch normalisation, for one contiguous run of a channel's values.
 *
 * Sums use FASTNN_SUM_LANES float64 accumulators, lane i taking elements i, i+8, ...:
 * the lanes are independent, so the compiler vectorises them without reassociating
 * anything, and the lanes are added in a fixed order at the end.  The result depends
 * on the data only, never on threads or on the instruction set: the build compiles
 * with -ffp-contract=off, so no clone fuses a multiply and an add into an FMA that
 * another clone rounds twice (tested in tests/test_edges.py).  Dispatch: GCC's
 * target_clones (x86-64-v3 or the baseline), resolved once by the loader (simd.h).
 */
#ifndef FASTNN_CHANNEL_OPS_H
#define FASTNN_CHANNEL_OPS_H

#include <stddef.h>
#include "simd.h"

#define FASTNN_SUM_LANES 8

static inline double fastnn_fold_lanes(const double *lane) {
    double s = 0;
    for (int i = 0; i < FASTNN_SUM_LANES; i++) s += lane[i];
    return s;
}

#define FASTNN_DEFINE_CHANNEL_OPS(SUFFIX, T)                                             \
/* sums[0] += sum(x); with mean given (x_hat = (x - mean) / std): sums[1] += sum((x-mean)^2) */ \
FASTNN_DISPATCH                                                                          \
static void fastnn_sum_##SUFFIX(const T *x, ptrdiff_t n, double *total) {               \
    double lane[FASTNN_SUM_LANES] = {0};                                                 \
    ptrdiff_t i = 0;                                                                     \
    for (; i + FASTNN_SUM_LANES <= n; i += FASTNN_SUM_LANES)                             \
        for (int l = 0; l < FASTNN_SUM_LANES; l++) lane[l] += (double)x[i + l];          \
    for (; i < n; i++) lane[i % FASTNN_SUM_LANES] += (double)x[i];                       \
    *total += fastnn_fold_lanes(lane);                                                   \
}                                                                                        \
FASTNN_DISPATCH                                                                          \
static void fastnn_sum_sq_dev_##SUFFIX(const T *x, ptrdiff_t n, double mean, double *total) { \
    double lane[FASTNN_SUM_LANES] = {0};                                                 \
    ptrdiff_t i = 0;                                                                     \
    for (; i + FASTNN_SUM_LANES <= n; i += FASTNN_SUM_LANES)                             \
        for (int l = 0; l < FASTNN_SUM_LANES; l++) {                                     \
            double d = (double)x[i + l] - mean;                                          \
            lane[l] += d * d;                                                            \
        }                                                                                \
    for (; i < n; i++) {                                                                 \
        double d = (double)x[i] - mean;                                                  \
        lane[i % FASTNN_SUM_LANES] += d * d;                                             \
    }                                                                                    \
    *total += fastnn_fold_lanes(lane);                                                   \
}                                                                                        \
/* sum(dout) and sum(dout * x_hat), in one pass */                                      \
FASTNN_DISPATCH                                                                          \
static void fastnn_sum_dout_xhat_##SUFFIX(const T *x_hat, const T *dout, ptrdiff_t n,    \
                                          double *sum_dout, double *sum_dout_xhat) {     \
    double a[FASTNN_SUM_LANES] = {0}, b[FASTNN_SUM_LANES] = {0};                         \
    ptrdiff_t i = 0;                                                                     \
    for (; i + FASTNN_SUM_LANES <= n; i += FASTNN_SUM_LANES)                             \
        for (int l = 0; l < FASTNN_SUM_LANES; l++) {                                     \
            a[l] += (double)dout[i + l];                                                 \
            b[l] += (double)(dout[i + l] * x_hat[i + l]);                                \
        }                                                                                \
    for (; i < n; i++) {                                                                 \
        a[i % FASTNN_SUM_LANES] += (double)dout[i];                                      \
        b[i % FASTNN_SUM_LANES] += (double)(dout[i] * x_hat[i]);                         \
    }                                                                                    \
    *sum_dout += fastnn_fold_lanes(a);                                                   \
    *sum_dout_xhat += fastnn_fold_lanes(b);                                              \
}                                                                                        \
/* x_hat = (x - mean) / std and out = gamma * x_hat + beta, in one pass */               \
FASTNN_DISPATCH                                                                          \
static void fastnn_normalize_##SUFFIX(const T *x, T *x_hat, T *out, ptrdiff_t n, T mean, \
                                      T std, T gamma, T beta) {                          \
    for (ptrdiff_t i = 0; i < n; i++) {                                                  \
        T h = (x[i] - mean) / std;                                                       \
        x_hat[i] = h;                                                                    \
        out[i] = gamma * h + beta;                                                       \
    }                                                                                    \
}                                                                                        \
/* training: dx = scale * (dout - mean_dout - x_hat * mean_dout_xhat) */                 \
FASTNN_DISPATCH                                                                          \
static void fastnn_bn_dx_##SUFFIX(const T *x_hat, const T *dout, T *dx, ptrdiff_t n,     \
                                  T scale, T mean_dout, T mean_dout_xhat) {              \
    for (ptrdiff_t i = 0; i < n; i++)                                                    \
        dx[i] = scale * (dout[i] - mean_dout - x_hat[i] * mean_dout_xhat);               \
}                                                                                        \
/* test mode (the statistics are constants): dx = scale * dout, x_hat not read, so an   \
 * infinite x (x_hat = inf) gives a finite dx, as the reference does */                  \
FASTNN_DISPATCH                                                                          \
static void fastnn_scale_##SUFFIX(const T *dout, T *dx, ptrdiff_t n, T scale) {          \
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = scale * dout[i];                           \
}

FASTNN_DEFINE_CHANNEL_OPS(f32, float)
FASTNN_DEFINE_CHANNEL_OPS(f64, double)

#endif /* FASTNN_CHANNEL_OPS_H */
