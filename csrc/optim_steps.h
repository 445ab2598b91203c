/* The optimizers' fused steps (fastnn.optim's Adam and RMSprop, CS231n's update rules),
 * elementwise over a contiguous run.
 *
 * The operations of the NumPy forms, in their order, each in the arrays' type
 * (the constants come rounded to it): + - * / and a square root are correctly rounded at
 * every vector width, and the build does not contract (-ffp-contract=off), so every clone
 * (simd.h's FASTNN_DISPATCH_WIDE) gives NumPy's bits.  Vectorised here rather than in
 * Cython, whose loop over memoryviews GCC compiled for the baseline alone: the square
 * root and the division of each element are the cost, and they take the widest vectors.
 */
#ifndef FASTNN_OPTIM_STEPS_H
#define FASTNN_OPTIM_STEPS_H

#include <stddef.h>
#include <math.h>
#include "simd.h"

#define FASTNN_SQRT_f64 sqrt
#define FASTNN_SQRT_f32 sqrtf

#define FASTNN_DEFINE_OPTIM_STEPS(SUFFIX, T)                                             \
/* m += (g - m) * c1; v += (g*g - v) * c2; p -= (m * lr) / (sqrt(v) + eps) */            \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_adam_##SUFFIX(T *p, const T *g, T *m,       \
                                 T *v, ptrdiff_t n, T c1, T c2, T lr, T eps) {  \
    for (ptrdiff_t i = 0; i < n; i++) {                                                  \
        T mi = m[i] + (g[i] - m[i]) * c1;                                                \
        T vi = v[i] + (g[i] * g[i] - v[i]) * c2;                                         \
        m[i] = mi;                                                                       \
        v[i] = vi;                                                                       \
        p[i] = p[i] - (mi * lr) / (FASTNN_SQRT_##SUFFIX(vi) + eps);                      \
    }                                                                                    \
}                                                                                        \
/* h = h * decay + (c * g) * g; p -= (step * g) / (sqrt(h) + eps) */                     \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_rmsprop_##SUFFIX(T *p, const T *g, T *h,    \
                                    ptrdiff_t n, T decay, T c, T step, T eps) {          \
    for (ptrdiff_t i = 0; i < n; i++) {                                                  \
        T hi = h[i] * decay + (c * g[i]) * g[i];                                         \
        h[i] = hi;                                                                       \
        p[i] = p[i] - (step * g[i]) / (FASTNN_SQRT_##SUFFIX(hi) + eps);                  \
    }                                                                                    \
}                                                                                        \
/* CS231n's update rules (fastnn/cs231n/optim.py), w updated in place, in the order of    \
 * that module's NumPy forms.  Adam: m = b1*m + c1*g; v = b2*v + c2*(g*g);                \
 * w -= (lr * (m / k1)) / (sqrt(v / k2) + eps), k = 1 - beta**t */                        \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_cs231n_adam_##SUFFIX(T *w, const T *g, T *m, T *v, ptrdiff_t n,      \
                                        T b1, T c1, T b2, T c2, T k1, T k2, T lr, T eps) { \
    for (ptrdiff_t i = 0; i < n; i++) {                                                  \
        T mi = b1 * m[i] + c1 * g[i];                                                    \
        T vi = b2 * v[i] + c2 * (g[i] * g[i]);                                           \
        m[i] = mi;                                                                       \
        v[i] = vi;                                                                       \
        w[i] = w[i] - (lr * (mi / k1)) / (FASTNN_SQRT_##SUFFIX(vi / k2) + eps);          \
    }                                                                                    \
}                                                                                        \
/* RMSprop: h = decay*h + c*(g*g); w -= (lr * g) / (sqrt(h) + eps) */                    \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_cs231n_rmsprop_##SUFFIX(T *w, const T *g, T *h, ptrdiff_t n,         \
                                           T decay, T c, T lr, T eps) {                  \
    for (ptrdiff_t i = 0; i < n; i++) {                                                  \
        T hi = decay * h[i] + c * (g[i] * g[i]);                                         \
        h[i] = hi;                                                                       \
        w[i] = w[i] - (lr * g[i]) / (FASTNN_SQRT_##SUFFIX(hi) + eps);                    \
    }                                                                                    \
}                                                                                        \
/* SGD with momentum: u = mu*u - lr*g; w += u.  Plain SGD: w -= lr*g (u NULL) */          \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_cs231n_momentum_##SUFFIX(T *w, const T *g, T *u, ptrdiff_t n,        \
                                            T mu, T lr) {                                \
    if (!u) {                                                                            \
        for (ptrdiff_t i = 0; i < n; i++) w[i] = w[i] - lr * g[i];                       \
        return;                                                                          \
    }                                                                                    \
    for (ptrdiff_t i = 0; i < n; i++) {                                                  \
        T ui = mu * u[i] - lr * g[i];                                                    \
        u[i] = ui;                                                                       \
        w[i] = w[i] + ui;                                                                \
    }                                                                                    \
}

FASTNN_DEFINE_OPTIM_STEPS(f64, double)
FASTNN_DEFINE_OPTIM_STEPS(f32, float)

#endif /* FASTNN_OPTIM_STEPS_H */
