/* The commonest pooling, 2 x 2 windows at stride 2 without padding, a plane at a time,
 * in vectors of outputs: a vector of 2*L inputs from each of the window's two rows is
 * split into its even and odd columns (one shuffle each), and the four taps are folded
 * lane by lane.  The general loop of pool.pyx compiled to a branch per tap (the NaN
 * rule) and ran at a third of copy bandwidth (benchmarks/NOTES.md, "Convolution kernels").
 *
 * The same results as the general loop, bit for bit: max pooling folds the taps in the
 * order (0,0), (0,1), (1,0), (1,1) from (-inf, tap 0) with its rule (a larger value, or
 * the first NaN, takes the place), average pooling sums from 0 in that order and divides
 * by 4.  A row's last vector is moved back to end at its last output (recomputing a few,
 * the same values); rows shorter than a vector take the scalar loop.  Dispatch: GCC's
 * target_clones (simd.h), resolved once by the loader; GCC and clang vector extensions.
 */
#ifndef FASTNN_POOL_OPS_H
#define FASTNN_POOL_OPS_H

#include <stddef.h>
#include <string.h>
#include "simd.h"

typedef float fastnn_pool_v8f __attribute__((vector_size(32)));
typedef int fastnn_pool_v8i __attribute__((vector_size(32)));
typedef double fastnn_pool_v4d __attribute__((vector_size(32)));
typedef long long fastnn_pool_v4l __attribute__((vector_size(32)));
typedef int fastnn_pool_v4i __attribute__((vector_size(16)));

/* Fold value v (tap k) into the running maximum (best, at): scalars or vectors (M is the
 * mask type of the vector, its lanes all ones where the tap takes the place). */
#define FASTNN_MAX_TAP(v, k) do {                                                        \
        int take = ((v) > best) | (((v) != (v)) & (best == best));                       \
        best = take ? (v) : best;                                                        \
        at = take ? (k) : at;                                                            \
    } while (0)
#define FASTNN_MAX_TAP_V(M, v, k) do {                                                   \
        M take = ((v) > best) | (((v) != (v)) & (best == best));                         \
        best = (__typeof__(best))((take & (M)(v)) | (~take & (M)best));                  \
        at = (take & ((M){0} + (k))) | (~take & at);                                     \
    } while (0)

/* EVEN/ODD(lo, hi): the even and odd lanes of the 2L values lo, hi. */
#define FASTNN_EVEN_F32(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14)
#define FASTNN_ODD_F32(lo, hi) __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15)
#define FASTNN_EVEN_F64(lo, hi) __builtin_shufflevector(lo, hi, 0, 2, 4, 6)
#define FASTNN_ODD_F64(lo, hi) __builtin_shufflevector(lo, hi, 1, 3, 5, 7)

/* The four taps of L consecutive windows: a, b (row 0), c, d (row 1). */
#define FASTNN_LOAD_TAPS(V, EVEN, ODD, r0, r1, j) V a, b, c, d; do {                     \
        V lo0, hi0, lo1, hi1;                                                            \
        const size_t n = sizeof(V) / sizeof((r0)[0]);                                    \
        memcpy(&lo0, (r0) + 2 * (j), sizeof(V)); memcpy(&hi0, (r0) + 2 * (j) + n, sizeof(V)); \
        memcpy(&lo1, (r1) + 2 * (j), sizeof(V)); memcpy(&hi1, (r1) + 2 * (j) + n, sizeof(V)); \
        a = EVEN(lo0, hi0); b = ODD(lo0, hi0); c = EVEN(lo1, hi1); d = ODD(lo1, hi1);    \
    } while (0)

/* The last start of a vector in a row of OW outputs: vectors at 0, L, ..., and one
 * moved back to OW - L. */
#define FASTNN_NEXT_BLOCK(j, L, OW) ((j) + 2 * (L) <= (OW) || (j) + (L) == (OW) ? (j) + (L) : (OW) - (L))

#define FASTNN_DEFINE_POOL_2X2(SUFFIX, T, V, M, L, EVEN, ODD, STORE_AT)                  \
/* out (OH, OW), argmax (OH, OW) from the plane x (H, W), H >= 2*OH, W >= 2*OW */         \
FASTNN_DISPATCH                                                                          \
static void fastnn_max_pool_2x2_##SUFFIX(const T *x, ptrdiff_t W, T *out, int *argmax,   \
                                         ptrdiff_t OH, ptrdiff_t OW) {                   \
    for (ptrdiff_t i = 0; i < OH; i++) {                                                 \
        const T *r0 = x + 2 * i * W, *r1 = r0 + W;                                       \
        T *o = out + i * OW;                                                             \
        int *ix = argmax + i * OW;                                                       \
        if (OW < L) {                                                                    \
            for (ptrdiff_t j = 0; j < OW; j++) {                                         \
                T best = -(T)__builtin_inf();                                            \
                int at = 0;                                                              \
                FASTNN_MAX_TAP(r0[2 * j], 0);                                            \
                FASTNN_MAX_TAP(r0[2 * j + 1], 1);                                        \
                FASTNN_MAX_TAP(r1[2 * j], 2);                                            \
                FASTNN_MAX_TAP(r1[2 * j + 1], 3);                                        \
                o[j] = best;                                                             \
                ix[j] = at;                                                              \
            }                                                                            \
            continue;                                                                    \
        }                                                                                \
        for (ptrdiff_t j = 0; j < OW; j = FASTNN_NEXT_BLOCK(j, L, OW)) {                 \
            FASTNN_LOAD_TAPS(V, EVEN, ODD, r0, r1, j);                                   \
            V best = (V){0} - (T)__builtin_inf();                                        \
            M at = {0};                                                                  \
            FASTNN_MAX_TAP_V(M, a, 0);                                                   \
            FASTNN_MAX_TAP_V(M, b, 1);                                                   \
            FASTNN_MAX_TAP_V(M, c, 2);                                                   \
            FASTNN_MAX_TAP_V(M, d, 3);                                                   \
            memcpy(o + j, &best, sizeof(V));                                             \
            STORE_AT(ix + j, at);                                                        \
        }                                                                                \
    }                                                                                    \
}                                                                                        \
FASTNN_DISPATCH                                                                          \
static void fastnn_avg_pool_2x2_##SUFFIX(const T *x, ptrdiff_t W, T *out, ptrdiff_t OH,  \
                                         ptrdiff_t OW) {                                 \
    for (ptrdiff_t i = 0; i < OH; i++) {                                                 \
        const T *r0 = x + 2 * i * W, *r1 = r0 + W;                                       \
        T *o = out + i * OW;                                                             \
        if (OW < L) {                                                                    \
            for (ptrdiff_t j = 0; j < OW; j++) {                                         \
                T s = 0;                                                                 \
                s = s + r0[2 * j];                                                       \
                s = s + r0[2 * j + 1];                                                   \
                s = s + r1[2 * j];                                                       \
                s = s + r1[2 * j + 1];                                                   \
                o[j] = s / 4;                                                            \
            }                                                                            \
            continue;                                                                    \
        }                                                                                \
        for (ptrdiff_t j = 0; j < OW; j = FASTNN_NEXT_BLOCK(j, L, OW)) {                 \
            FASTNN_LOAD_TAPS(V, EVEN, ODD, r0, r1, j);                                   \
            V s = (V){0};                                                                \
            s = s + a;                                                                   \
            s = s + b;                                                                   \
            s = s + c;                                                                   \
            s = s + d;                                                                   \
            s = s / 4;                                                                   \
            memcpy(o + j, &s, sizeof(V));                                                \
        }                                                                                \
    }                                                                                    \
}

#define FASTNN_STORE_AT_F32(p, at) memcpy((p), &(at), sizeof(fastnn_pool_v8i))
#define FASTNN_STORE_AT_F64(p, at) do {                                                  \
        fastnn_pool_v4i narrow = __builtin_convertvector((at), fastnn_pool_v4i);         \
        memcpy((p), &narrow, sizeof(narrow));                                            \
    } while (0)

FASTNN_DEFINE_POOL_2X2(f32, float, fastnn_pool_v8f, fastnn_pool_v8i, 8, FASTNN_EVEN_F32,
                       FASTNN_ODD_F32, FASTNN_STORE_AT_F32)
FASTNN_DEFINE_POOL_2X2(f64, double, fastnn_pool_v4d, fastnn_pool_v4l, 4, FASTNN_EVEN_F64,
                       FASTNN_ODD_F64, FASTNN_STORE_AT_F64)

#endif /* FASTNN_POOL_OPS_H */
