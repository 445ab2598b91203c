/* The output gradient transposed for the convolution's dw product, with its sums (db):
 *
 *     doutT[p * ld + f] = dout[f * P + p],   sums[f] = sum_p dout[f * P + p]
 *
 * for f < F, p < P, in blocks of L channels x L pixels (L = 8 float32, 4 float64): L rows
 * of dout are loaded as vectors over pixels and transposed in registers into vectors over
 * channels (three rounds of shuffles), which are stored as runs of doutT's rows and added
 * to the channels' sums one pixel after another: each channel is summed in the order of
 * p, from 0, as a scalar loop would (the same bits).  Lanes of a last, partial block of
 * channels are zeros, stored into doutT's padding (ld >= F rounded up to L, which must
 * be zero there anyway); the last P % L pixels take a scalar loop.  A channel at a time,
 * doutT is written one float per cache line, and the sum is a chain of dependent adds
 * (most of conv1's dw pass; benchmarks/NOTES.md, "Convolution kernels").  Dispatch: GCC's target_clones
 * (simd.h), resolved once by the loader.
 */
#ifndef FASTNN_TRANSPOSE_H
#define FASTNN_TRANSPOSE_H

#include <stddef.h>
#include <string.h>
#include "simd.h"

typedef float fastnn_tr_v8f __attribute__((vector_size(32)));
typedef double fastnn_tr_v4d __attribute__((vector_size(32)));
/* The same, unaligned and aliasing their elements (as immintrin.h's __m256_u): one
 * 32-byte load or store each, where a memcpy into an array of vectors compiled as two
 * 16-byte moves through the stack, whose 32-byte reload then waited (a store-forwarding
 * stall: the transposes ran at a third of their speed, benchmarks/NOTES.md). */
typedef float fastnn_tr_v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef double fastnn_tr_v4d_u __attribute__((vector_size(32), aligned(8), may_alias));

/* r[0..7] (vectors over 8 pixels, one a channel) -> c[0..7] (over 8 channels, one a pixel) */
static inline void fastnn_transpose_8x8(const fastnn_tr_v8f r[8], fastnn_tr_v8f c[8]) {
    fastnn_tr_v8f t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        for (int k = 0; k < 2; k++) {
            u[i + 2 * k] = __builtin_shufflevector(t[i + k], t[i + k + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            u[i + 2 * k + 1] = __builtin_shufflevector(t[i + k], t[i + k + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    }
    /* u[0..3]: channels 0-3 of pixels (0, 4), (1, 5), (2, 6), (3, 7); u[4..7]: 4-7 */
    for (int k = 0; k < 4; k++) {
        c[k] = __builtin_shufflevector(u[k], u[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        c[k + 4] = __builtin_shufflevector(u[k], u[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

static inline void fastnn_transpose_4x4(const fastnn_tr_v4d r[4], fastnn_tr_v4d c[4]) {
    fastnn_tr_v4d t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 2, 6);
    fastnn_tr_v4d t1 = __builtin_shufflevector(r[0], r[1], 1, 5, 3, 7);
    fastnn_tr_v4d t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 2, 6);
    fastnn_tr_v4d t3 = __builtin_shufflevector(r[2], r[3], 1, 5, 3, 7);
    c[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    c[1] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    c[2] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    c[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

#define FASTNN_DEFINE_TRANSPOSE_SUM(SUFFIX, T, V, VU, L, TRANSPOSE)                      \
FASTNN_DISPATCH                                                                          \
static void fastnn_transpose_sum_##SUFFIX(const T *dout, T *doutT, T *sums, ptrdiff_t F, \
                                          ptrdiff_t P, ptrdiff_t ld) {                   \
    for (ptrdiff_t f0 = 0; f0 < F; f0 += L) {                                            \
        const ptrdiff_t nf = F - f0 < L ? F - f0 : L;                                    \
        V total = {0}, r[L], c[L];                                                       \
        ptrdiff_t p0 = 0;                                                                \
        for (int k = nf; k < L; k++) r[k] = (V){0};                                      \
        for (; p0 + L <= P; p0 += L) {                                                   \
            for (int k = 0; k < nf; k++) r[k] = *(const VU *)(dout + (f0 + k) * P + p0); \
            TRANSPOSE(r, c);                                                             \
            for (int q = 0; q < L; q++) {                                                \
                total += c[q];                                                           \
                *(VU *)(doutT + (p0 + q) * ld + f0) = c[q];                              \
            }                                                                            \
        }                                                                                \
        T s[L];                                                                          \
        memcpy(s, &total, sizeof(V));                                                    \
        for (int k = 0; k < nf; k++) {                                                   \
            for (ptrdiff_t p = p0; p < P; p++) {                                         \
                const T v = dout[(f0 + k) * P + p];                                      \
                s[k] += v;                                                               \
                doutT[p * ld + f0 + k] = v;                                              \
            }                                                                            \
            sums[f0 + k] = s[k];                                                         \
        }                                                                                \
    }                                                                                    \
}

FASTNN_DEFINE_TRANSPOSE_SUM(f32, float, fastnn_tr_v8f, fastnn_tr_v8f_u, 8, fastnn_transpose_8x8)
FASTNN_DEFINE_TRANSPOSE_SUM(f64, double, fastnn_tr_v4d, fastnn_tr_v4d_u, 4, fastnn_transpose_4x4)

/* One block of a transposed operand packed for the matrix kernels (affine.pyx):
 *
 *     packed[t * L + l] = src[l * ld + t] for l < run,  0 for run <= l < L,   t < K
 *
 * src's rows (a weight matrix W, whose transpose is the product's B) are contiguous in t;
 * blocks of W rows x W terms (W = 8 float32, 4 float64; L a multiple of it) are loaded
 * as vectors over t and transposed in registers into runs of packed's rows, 64 rows of
 * packed at a time (they stay in L1 while every lane is written), the last K % W terms
 * a scalar loop: a copy, so the values are exact. */
#define FASTNN_PACK_TILE_ROWS 64
#define FASTNN_DEFINE_PACK_TRANSPOSED(SUFFIX, T, V, VU, W, TRANSPOSE)                    \
FASTNN_DISPATCH                                                                          \
static void fastnn_pack_transposed_##SUFFIX(const T *src, ptrdiff_t ld, ptrdiff_t run,    \
                                            ptrdiff_t K, T *packed, ptrdiff_t L) {       \
    const ptrdiff_t whole = K / W * W;                                                   \
    for (ptrdiff_t tt = 0; tt < whole; tt += FASTNN_PACK_TILE_ROWS) {                    \
        const ptrdiff_t end = tt + FASTNN_PACK_TILE_ROWS < whole ? tt + FASTNN_PACK_TILE_ROWS : whole; \
        for (ptrdiff_t l0 = 0; l0 < L; l0 += W) {                                        \
            const ptrdiff_t nl = run - l0 >= W ? W : (run - l0 > 0 ? run - l0 : 0);      \
            V r[W], c[W];                                                                \
            for (int k = nl; k < W; k++) r[k] = (V){0};                                  \
            for (ptrdiff_t t0 = tt; t0 < end; t0 += W) {                                 \
                for (int k = 0; k < nl; k++) r[k] = *(const VU *)(src + (l0 + k) * ld + t0); \
                TRANSPOSE(r, c);                                                         \
                for (int q = 0; q < W; q++) *(VU *)(packed + (t0 + q) * L + l0) = c[q]; \
            }                                                                            \
        }                                                                                \
    }                                                                                    \
    for (ptrdiff_t t = whole; t < K; t++)                                                \
        for (ptrdiff_t l = 0; l < L; l++) packed[t * L + l] = l < run ? src[l * ld + t] : 0; \
}

FASTNN_DEFINE_PACK_TRANSPOSED(f32, float, fastnn_tr_v8f, fastnn_tr_v8f_u, 8, fastnn_transpose_8x8)
FASTNN_DEFINE_PACK_TRANSPOSED(f64, double, fastnn_tr_v4d, fastnn_tr_v4d_u, 4, fastnn_transpose_4x4)

/* A matrix transposed, a strip of its columns at a time (affine.transpose, whose threads
 * take strips):
 *
 *     dst[c * R + r] = src[r * C + c]   for r < R, c0 <= c < c1
 *
 * in blocks of W x W (8 float32, 4 float64) loaded as W rows of src and transposed in
 * registers into W runs of dst's rows; the last R % W rows and a last strip narrower
 * than W a scalar loop: a copy, exact.  A strip's W rows of dst are written in order,
 * and its rows of src stay in the L2 for the next strip. */
#define FASTNN_DEFINE_TRANSPOSE(SUFFIX, T, V, VU, W, TRANSPOSE)                          \
FASTNN_DISPATCH                                                                          \
static void fastnn_transpose_##SUFFIX(const T *src, ptrdiff_t R, ptrdiff_t C,            \
                                      ptrdiff_t c0, ptrdiff_t c1, T *dst) {              \
    for (ptrdiff_t cb = c0; cb < c1; cb += W) {                                          \
        const ptrdiff_t nc = c1 - cb < W ? c1 - cb : W;                                  \
        ptrdiff_t r0 = 0;                                                                \
        if (nc == W) {                                                                   \
            V r[W], c[W];                                                                \
            for (; r0 + W <= R; r0 += W) {                                               \
                for (int k = 0; k < W; k++) r[k] = *(const VU *)(src + (r0 + k) * C + cb); \
                TRANSPOSE(r, c);                                                         \
                for (int k = 0; k < W; k++) *(VU *)(dst + (cb + k) * R + r0) = c[k];    \
            }                                                                            \
        }                                                                                \
        for (ptrdiff_t x = cb; x < cb + nc; x++)                                         \
            for (ptrdiff_t y = r0; y < R; y++) dst[x * R + y] = src[y * C + x];          \
    }                                                                                    \
}

FASTNN_DEFINE_TRANSPOSE(f32, float, fastnn_tr_v8f, fastnn_tr_v8f_u, 8, fastnn_transpose_8x8)
FASTNN_DEFINE_TRANSPOSE(f64, double, fastnn_tr_v4d, fastnn_tr_v4d_u, 4, fastnn_transpose_4x4)

#endif /* FASTNN_TRANSPOSE_H */
