/* The logistic sigmoid, 1 / (1 + exp(-z)), elementwise over a contiguous run, with an
 * optional bias added to z first and an optional mask multiplied into the result.
 *
 * exp is computed here from + - * / and integer operations on the bits only (no libm
 * call, no FMA: the build has -ffp-contract=off), so that GCC vectorises the loops and
 * every clone (x86-64-v4, x86-64-v3 or the baseline: simd.h's FASTNN_DISPATCH_WIDE)
 * gives the same bits: a result depends on its element only, never on the thread count
 * or the instruction set (checked by compiling it for each level, benchmarks/NOTES.md,
 * "Recommenders").
 *
 * With t = exp(-|z|) in (0, 1], sigmoid(z) = 1 / (1 + t) for z >= 0 and t / (1 + t) for
 * z < 0: no overflow, and small results keep their relative accuracy (the reference's
 * (1 + tanh(z/2)) / 2 rounds them to multiples of 2^-54).  exp(s) for s = -|z| in
 * [-708, 0] (float32: [-87, 0]; below, exp(s) is taken as 0, as the reference's
 * sigmoid is from -37 (float32: -17) down): s = n ln2 + r with n an integer
 * and |r| <= ln2/2 (Cody and Waite's two-part ln2, so n ln2 is exact); exp(r) by its
 * Taylor polynomial to degree 13 (float32: 7), below half an ulp on that interval;
 * 2^n written into the exponent bits.  NaN stays NaN.
 */
#ifndef FASTNN_SIGMOID_H
#define FASTNN_SIGMOID_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "simd.h"

FASTNN_NO_TRAPS static inline double fastnn_exp_nonpositive_f64(double s) {
    double below = s < -708.0 ? 0.0 : 1.0;  /* exp(s) < 2^-1021 is taken as 0 */
    s = s < -708.0 ? -708.0 : s;  /* (a NaN compares false and passes through) */
    const double shift = 0x1.8p52;  /* adding it rounds to an integer, in the low bits */
    double kd = s * 0x1.71547652b82fep0 + shift;  /* s / ln2 */
    double n = kd - shift;
    double r = (s - n * 0x1.62e42fee00000p-1) - n * 0x1.a39ef35793c76p-33;
    double p = 1.0 / 6227020800.0;  /* 1/13! */
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits, scale_bits;
    memcpy(&bits, &kd, sizeof bits);
    scale_bits = (bits - UINT64_C(0x4338000000000000) + 1023) << 52;  /* 2^n */
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale * below;
}

FASTNN_NO_TRAPS static inline float fastnn_exp_nonpositive_f32(float s) {
    float below = s < -87.0f ? 0.0f : 1.0f;
    s = s < -87.0f ? -87.0f : s;
    const float shift = 0x1.8p23f;
    float kd = s * 0x1.715476p0f + shift;
    float n = kd - shift;
    float r = (s - n * 0x1.62e400p-1f) - n * 0x1.7f7d1cp-20f;
    float p = 1.0f / 5040.0f;  /* 1/7! */
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits, scale_bits;
    memcpy(&bits, &kd, sizeof bits);
    scale_bits = (bits - UINT32_C(0x4B400000) + 127) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale * below;
}

#define FASTNN_FABS_f64 fabs
#define FASTNN_FABS_f32 fabsf

#define FASTNN_DEFINE_SIGMOID(SUFFIX, T)                                                 \
FASTNN_NO_TRAPS static inline T fastnn_sigmoid1_##SUFFIX(T z) {                          \
    T t = fastnn_exp_nonpositive_##SUFFIX(-FASTNN_FABS_##SUFFIX(z));                     \
    T d = 1 + t;                                                                         \
    return (z < 0 ? t : 1) / d;                                                          \
}                                                                                        \
/* out[i] = sigmoid(x[i] + bias[i]) * mask[i]; bias and mask may be NULL (then 0 and 1). \
 * out may be x. */                                                                      \
FASTNN_DISPATCH_WIDE FASTNN_NO_TRAPS                                                     \
static void fastnn_sigmoid_##SUFFIX(const T *x, const T *bias, const T *mask, T *out,    \
                                    ptrdiff_t n) {                                       \
    ptrdiff_t i;                                                                         \
    if (bias && mask)                                                                    \
        for (i = 0; i < n; i++)                                                          \
            out[i] = fastnn_sigmoid1_##SUFFIX(x[i] + bias[i]) * mask[i];                 \
    else if (bias)                                                                       \
        for (i = 0; i < n; i++) out[i] = fastnn_sigmoid1_##SUFFIX(x[i] + bias[i]);       \
    else if (mask)                                                                       \
        for (i = 0; i < n; i++) out[i] = fastnn_sigmoid1_##SUFFIX(x[i]) * mask[i];       \
    else                                                                                 \
        for (i = 0; i < n; i++) out[i] = fastnn_sigmoid1_##SUFFIX(x[i]);                 \
}                                                                                        \
/* dx[i] = dout[i] * out[i] * (1 - out[i]): the reference's expression, in its order */  \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_sigmoid_grad_##SUFFIX(const T *out, const T *dout, T *dx,              \
                                         ptrdiff_t n) {                                  \
    for (ptrdiff_t i = 0; i < n; i++) dx[i] = dout[i] * out[i] * (1 - out[i]);           \
}

FASTNN_DEFINE_SIGMOID(f64, double)
FASTNN_DEFINE_SIGMOID(f32, float)

#endif /* FASTNN_SIGMOID_H */
