/* The gather-GEMM micro-kernels behind fastnn's direct convolution and affine products.
 *
 *     C[i][0:L] (+)= sum_{t < T} A[row_off[i] + col_off[t]] * B[t*ldb + 0:L],   i < rows
 *
 * A is an image (a zero-padded input, or a dilated output gradient) read through two
 * offset tables, so no im2col matrix is ever built: forward, backward-data and
 * backward-weights are all this one loop with different tables (see conv.pyx).
 * A tile of rows x L lanes is held in registers; the vector is over the lanes, never
 * over the summed index t, so the summation order is fixed: no reassociation, and a
 * result never depends on how work is split between threads.  The tiles (their ids
 * below; fastnn/_kernels/plan.py chooses): 6 rows x two vectors a row at every level
 * (32-byte vectors at the baseline and AVX2, 64-byte at AVX-512), and at AVX-512 also
 * 12 rows x one vector (few output columns; and of 32 bytes, at AVX-512 and AVX2, or 16
 * at AVX2, for a product's last few columns) and 6 rows x four vectors (many), plus the
 * shifted form further down (lanes over output pixels).  The caller packs B with the
 * chosen kernel's lane count.  Every kernel sums over t in the same order with one FMA
 * per step (the baseline, without FMA, rounds the multiply and the add apart), so AVX2
 * and AVX-512 give bitwise the same results.
 *
 * Floating-point contraction: the build turns it off everywhere (-ffp-contract=off, in
 * setup.py), so that no kernel's result depends on the level.  This kernel and the FMA
 * ceiling loop are the exceptions, marked FASTNN_CONTRACT: fusing a*b + c into one FMA
 * is their point.  So the convolution and affine products may differ in the last bits
 * between the baseline and the other levels, and nothing else does.
 */
#ifndef FASTNN_GATHER_GEMM_H
#define FASTNN_GATHER_GEMM_H

#include <stddef.h>
#include <string.h>

#include "simd.h"

#define FASTNN_MR 6                /* rows of a tile; 12 for AVX-512's tiles of one vector a row */
#define FASTNN_MR_TALL 12
#define FASTNN_MR_STRIP 16          /* the tall tile's strip of consecutive rows */
#define FASTNN_MR_PAIR_STRIP 8      /* the pair tile's */
#define FASTNN_LANES_F32 16        /* baseline and AVX2: two 32-byte vectors */
#define FASTNN_LANES_F64 8
#define FASTNN_WIDE_LANES_F32 32   /* AVX-512: two 64-byte vectors */
#define FASTNN_WIDE_LANES_F64 16
#define FASTNN_QUAD_LANES_F32 64   /* AVX-512, four 64-byte vectors */
#define FASTNN_QUAD_LANES_F64 32
#define FASTNN_SHIFTED_LANES_F32 48 /* AVX-512's shifted form: three 64-byte vectors, */
#define FASTNN_SHIFTED_LANES_F64 24 /* 8 rows */
#define FASTNN_MR_SHIFTED 8

typedef float fastnn_v8f __attribute__((vector_size(32)));
typedef double fastnn_v4d __attribute__((vector_size(32)));
typedef float fastnn_v16f __attribute__((vector_size(64)));
typedef double fastnn_v8d __attribute__((vector_size(64)));
typedef float fastnn_v4f __attribute__((vector_size(16)));
typedef double fastnn_v2d __attribute__((vector_size(16)));

/* DEFINE(NAME_<dtype>_<level>, TARGET, T, V) for both dtypes at every level this build
 * compiles: the baseline, and on x86-64 GCC AVX2 (32-byte vectors) and AVX-512 (64). */
#if FASTNN_X86_LEVELS
#define FASTNN_PER_X86_LEVEL(DEFINE, NAME)                                                 \
    DEFINE(NAME##_f32_avx2, FASTNN_TARGET_AVX2, float, fastnn_v8f)                       \
    DEFINE(NAME##_f64_avx2, FASTNN_TARGET_AVX2, double, fastnn_v4d)                      \
    DEFINE(NAME##_f32_avx512, FASTNN_TARGET_AVX512, float, fastnn_v16f)                  \
    DEFINE(NAME##_f64_avx512, FASTNN_TARGET_AVX512, double, fastnn_v8d)
#else
#define FASTNN_PER_X86_LEVEL(DEFINE, NAME)
#endif
#define FASTNN_DEFINE_PER_LEVEL(DEFINE, NAME)                                              \
    DEFINE(NAME##_f32_base, , float, fastnn_v8f)                                          \
    DEFINE(NAME##_f64_base, , double, fastnn_v4d)                                         \
    FASTNN_PER_X86_LEVEL(DEFINE, NAME)

/* Accumulate one row of the tile: two vectors, lo and hi. */
#define FASTNN_ROW_FMA(lo, hi, a, b_lo, b_hi) do { lo += (a) * (b_lo); hi += (a) * (b_hi); } while (0)
#define FASTNN_ROW_LOAD(V, lo, hi, p) do { memcpy(&(lo), (p), sizeof(V)); \
        memcpy(&(hi), (p) + sizeof(V) / sizeof((p)[0]), sizeof(V)); } while (0)
#define FASTNN_ROW_STORE(V, p, lo, hi) do { memcpy((p), &(lo), sizeof(V)); \
        memcpy((p) + sizeof(V) / sizeof((p)[0]), &(hi), sizeof(V)); } while (0)

/* The plain tiles' head (pair, quad, tall): one tile of at most MR rows, inlined into
 * NAME (FASTNN_TILE_ROWS), which runs every row of a block of lanes in tiles: one call
 * per block, not per tile (a sum of 16 or 20 terms, a recommender's batch, spent a third
 * of its time entering and leaving the tile). */
#define FASTNN_TILE_HEAD(NAME, TARGET, T)                                               \
TARGET FASTNN_CONTRACT __attribute__((always_inline))                                    \
static inline void NAME##_tile(int rows, const T *A, const ptrdiff_t *row_off,           \
                               const ptrdiff_t *col_off, ptrdiff_t T_count,              \
                               const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc,           \
                               int accumulate)                                           \
{                                                                                        \
    FASTNN_CONTRACT_BODY
#define FASTNN_TILE_ROWS(NAME, TARGET, T, MR)                                            \
TARGET FASTNN_CONTRACT                                                                   \
static void NAME(int rows, const T *A, const ptrdiff_t *row_off,                         \
                 const ptrdiff_t *col_off, ptrdiff_t T_count,                            \
                 const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate)         \
{                                                                                        \
    FASTNN_CONTRACT_BODY                                                                 \
    for (int r0 = 0; r0 < rows; r0 += MR)                                                \
        NAME##_tile(rows - r0 < MR ? rows - r0 : MR, A, row_off + r0, col_off, T_count,  \
                    B, ldb, C + r0 * ldc, ldc, accumulate);                              \
}

/* The other micro-kernels' common head: one signature, contraction on. */
#define FASTNN_GEMM_HEAD(NAME, TARGET, T)                                               \
TARGET FASTNN_CONTRACT                                                                   \
static void NAME(int rows, const T *A, const ptrdiff_t *row_off,                         \
                 const ptrdiff_t *col_off, ptrdiff_t T_count,                            \
                 const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate)         \
{                                                                                        \
    FASTNN_CONTRACT_BODY

/* One definition for every dtype and level: T is the scalar type, V the vector of it,
 * TARGET the level's function attribute.  The twelve accumulators are named variables,
 * not an array, so that GCC keeps them in registers (an array indexed by a loop
 * variable is spilled to the stack). */
#define FASTNN_DEFINE_GATHER_GEMM(NAME, TARGET, T, V)                                   \
FASTNN_TILE_HEAD(NAME, TARGET, T)                                                        \
    /* Missing rows repeat the last one; their results are never stored. */              \
    const ptrdiff_t last = rows - 1;                                                     \
    const T *a0 = A + row_off[0];                                                        \
    const T *a1 = A + row_off[1 < last ? 1 : last];                                      \
    const T *a2 = A + row_off[2 < last ? 2 : last];                                      \
    const T *a3 = A + row_off[3 < last ? 3 : last];                                      \
    const T *a4 = A + row_off[4 < last ? 4 : last];                                      \
    const T *a5 = A + row_off[5 < last ? 5 : last];                                      \
    V c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0}, c4 = {0}, c5 = {0};                        \
    V d0 = {0}, d1 = {0}, d2 = {0}, d3 = {0}, d4 = {0}, d5 = {0};                        \
    if (accumulate) {                                                                    \
        FASTNN_ROW_LOAD(V, c0, d0, C);                                                   \
        if (rows > 1) FASTNN_ROW_LOAD(V, c1, d1, C + ldc);                               \
        if (rows > 2) FASTNN_ROW_LOAD(V, c2, d2, C + 2 * ldc);                           \
        if (rows > 3) FASTNN_ROW_LOAD(V, c3, d3, C + 3 * ldc);                           \
        if (rows > 4) FASTNN_ROW_LOAD(V, c4, d4, C + 4 * ldc);                           \
        if (rows > 5) FASTNN_ROW_LOAD(V, c5, d5, C + 5 * ldc);                           \
    }                                                                                    \
    /* A tile of four rows or fewer (a batch's last rows) computes four, not six. */     \
    if (rows <= 4) for (ptrdiff_t t = 0; t < T_count; t++) {                             \
        V b_lo, b_hi;                                                                    \
        const ptrdiff_t off = col_off[t];                                                \
        FASTNN_ROW_LOAD(V, b_lo, b_hi, B + t * ldb);                                     \
        FASTNN_ROW_FMA(c0, d0, a0[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c1, d1, a1[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c2, d2, a2[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c3, d3, a3[off], b_lo, b_hi);                                     \
    }                                                                                    \
    else for (ptrdiff_t t = 0; t < T_count; t++) {                                       \
        V b_lo, b_hi;                                                                    \
        const ptrdiff_t off = col_off[t];                                                \
        FASTNN_ROW_LOAD(V, b_lo, b_hi, B + t * ldb);                                     \
        FASTNN_ROW_FMA(c0, d0, a0[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c1, d1, a1[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c2, d2, a2[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c3, d3, a3[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c4, d4, a4[off], b_lo, b_hi);                                     \
        FASTNN_ROW_FMA(c5, d5, a5[off], b_lo, b_hi);                                     \
    }                                                                                    \
    FASTNN_ROW_STORE(V, C, c0, d0);                                                      \
    if (rows > 1) FASTNN_ROW_STORE(V, C + ldc, c1, d1);                                  \
    if (rows > 2) FASTNN_ROW_STORE(V, C + 2 * ldc, c2, d2);                              \
    if (rows > 3) FASTNN_ROW_STORE(V, C + 3 * ldc, c3, d3);                              \
    if (rows > 4) FASTNN_ROW_STORE(V, C + 4 * ldc, c4, d4);                              \
    if (rows > 5) FASTNN_ROW_STORE(V, C + 5 * ldc, c5, d5);                              \
}                                                                                       \
FASTNN_TILE_ROWS(NAME, TARGET, T, FASTNN_MR)

/* AVX-512 with four vectors a row ("quad"): 6 rows x 4 vectors (L = 64 float32 / 32
 * float64), 24 of the 32 registers accumulating, so that a step loads 4 vectors of B and
 * 6 broadcasts for 24 FMAs (the 6 x 2 tile: 8 loads for 12 FMAs, and measured
 * load-bound at about half the FMA ceiling).  For products with 64 (32) output columns
 * or more. */
#define FASTNN_X4_ROW(T, V, i) const T *a##i = A + row_off[i < last ? i : last];        \
    V c##i = {0}, d##i = {0}, e##i = {0}, f##i = {0};                                    \
    if (accumulate && i <= last) {                                                       \
        const T *o = C + i * ldc;                                                        \
        memcpy(&c##i, o, sizeof(V)); memcpy(&d##i, o + W, sizeof(V));                   \
        memcpy(&e##i, o + 2 * W, sizeof(V)); memcpy(&f##i, o + 3 * W, sizeof(V)); }
#define FASTNN_X4_FMA(T, i) { const T a = a##i[off];                                     \
    c##i += a * b0; d##i += a * b1; e##i += a * b2; f##i += a * b3; }
#define FASTNN_X4_STORE(T, V, i) if (i <= last) {                                        \
    T *o = C + i * ldc;                                                                  \
    memcpy(o, &c##i, sizeof(V)); memcpy(o + W, &d##i, sizeof(V));                       \
    memcpy(o + 2 * W, &e##i, sizeof(V)); memcpy(o + 3 * W, &f##i, sizeof(V)); }
#define FASTNN_DEFINE_GATHER_GEMM_QUAD(NAME, TARGET, T, V)                              \
FASTNN_TILE_HEAD(NAME, TARGET, T)                                                        \
    enum { W = sizeof(V) / sizeof(T) };                                                  \
    const ptrdiff_t last = rows - 1;                                                     \
    FASTNN_X4_ROW(T, V, 0) FASTNN_X4_ROW(T, V, 1) FASTNN_X4_ROW(T, V, 2)                 \
    FASTNN_X4_ROW(T, V, 3) FASTNN_X4_ROW(T, V, 4) FASTNN_X4_ROW(T, V, 5)                 \
    for (ptrdiff_t t = 0; t < T_count; t++) {                                            \
        V b0, b1, b2, b3;                                                                \
        const ptrdiff_t off = col_off[t];                                                \
        const T *b = B + t * ldb;                                                        \
        memcpy(&b0, b, sizeof(V)); memcpy(&b1, b + W, sizeof(V));                        \
        memcpy(&b2, b + 2 * W, sizeof(V)); memcpy(&b3, b + 3 * W, sizeof(V));            \
        FASTNN_X4_FMA(T, 0) FASTNN_X4_FMA(T, 1) FASTNN_X4_FMA(T, 2)                      \
        FASTNN_X4_FMA(T, 3) FASTNN_X4_FMA(T, 4) FASTNN_X4_FMA(T, 5)                      \
    }                                                                                    \
    FASTNN_X4_STORE(T, V, 0) FASTNN_X4_STORE(T, V, 1) FASTNN_X4_STORE(T, V, 2)           \
    FASTNN_X4_STORE(T, V, 3) FASTNN_X4_STORE(T, V, 4) FASTNN_X4_STORE(T, V, 5)           \
}                                                                                       \
FASTNN_TILE_ROWS(NAME, TARGET, T, FASTNN_MR)

/* The shifted form, lanes over output pixels, for AVX-512:
 *
 *     C[i][0:L] = sum_{t < T} A[row_off[i] + t] * B[col_off[t] + 0:L],   i < rows <= 8
 *
 * A is a weight matrix (row i: one output channel's taps, contiguous), B an image read at
 * a window shifted by each tap: for a stride-1 convolution, L consecutive output pixels of
 * a padded plane (its rows run on into the next, conv.pyx) need L consecutive inputs per
 * tap, so B is loaded straight from the image (unaligned: a window starts anywhere),
 * unpacked, and C comes out channel by channel, the output's own layout.  The same FMAs
 * in the same order as the gather form: the same bits.  8 rows x 3 vectors (L = 48
 * float32 / 24 float64 pixels), 24 accumulators, 3 loads of B and 8 broadcasts for 24
 * FMAs: 8 rows divide the usual channel counts (16, 32, 64) and 48 pixels waste fewer
 * lanes than 64 on small planes (measured against 6 x 4: benchmarks/NOTES.md, "Convolution forms").  One call sums every
 * tap (shifted_rows in gather_gemm.pxd): no accumulate. */
#define FASTNN_X3_ROW(T, V, i) const T *a##i = A + row_off[i < last ? i : last];        \
    V c##i = {0}, d##i = {0}, e##i = {0};
#define FASTNN_X3_FMA(T, i) { const T a = a##i[t]; c##i += a * b0; d##i += a * b1; e##i += a * b2; }
#define FASTNN_X3_STORE(T, V, i) if (i <= last) {                                        \
    T *o = C + i * ldc;                                                                  \
    memcpy(o, &c##i, sizeof(V)); memcpy(o + W, &d##i, sizeof(V));                       \
    memcpy(o + 2 * W, &e##i, sizeof(V)); }
#define FASTNN_DEFINE_SHIFTED_GEMM(NAME, TARGET, T, V)                                  \
FASTNN_GEMM_HEAD(NAME, TARGET, T)                                                        \
    enum { W = sizeof(V) / sizeof(T) };                                                  \
    const ptrdiff_t last = rows - 1;                                                     \
    (void)ldb; (void)accumulate;                                                         \
    FASTNN_X3_ROW(T, V, 0) FASTNN_X3_ROW(T, V, 1) FASTNN_X3_ROW(T, V, 2)                 \
    FASTNN_X3_ROW(T, V, 3) FASTNN_X3_ROW(T, V, 4) FASTNN_X3_ROW(T, V, 5)                 \
    FASTNN_X3_ROW(T, V, 6) FASTNN_X3_ROW(T, V, 7)                                        \
    for (ptrdiff_t t = 0; t < T_count; t++) {                                            \
        V b0, b1, b2;                                                                    \
        const T *b = B + col_off[t];                                                     \
        memcpy(&b0, b, sizeof(V)); memcpy(&b1, b + W, sizeof(V));                        \
        memcpy(&b2, b + 2 * W, sizeof(V));                                               \
        FASTNN_X3_FMA(T, 0) FASTNN_X3_FMA(T, 1) FASTNN_X3_FMA(T, 2) FASTNN_X3_FMA(T, 3)  \
        FASTNN_X3_FMA(T, 4) FASTNN_X3_FMA(T, 5) FASTNN_X3_FMA(T, 6) FASTNN_X3_FMA(T, 7)  \
    }                                                                                    \
    FASTNN_X3_STORE(T, V, 0) FASTNN_X3_STORE(T, V, 1) FASTNN_X3_STORE(T, V, 2)           \
    FASTNN_X3_STORE(T, V, 3) FASTNN_X3_STORE(T, V, 4) FASTNN_X3_STORE(T, V, 5)           \
    FASTNN_X3_STORE(T, V, 6) FASTNN_X3_STORE(T, V, 7)                                    \
}

/* AVX-512 with one vector a row (L = 16 floats or 8 doubles: one 64-byte vector): 12 rows,
 * so that 12 accumulators hide the FMA latency as the 6 x 2 tiles do.  For products with
 * at most 16 (8) output columns, which would waste half of a 32-lane (16-lane) tile. */
#define FASTNN_TALL_ACC(V, i) V c##i = {0};                                             \
    if (accumulate && i <= last) memcpy(&c##i, C + i * ldc, sizeof(V));
#define FASTNN_TALL_ROW(T, V, i) const T *a##i = A + row_off[i < last ? i : last];       \
    FASTNN_TALL_ACC(V, i)
#define FASTNN_TALL_FMA(i) c##i += a##i[off] * b;
#define FASTNN_TALL_STORE(V, i) if (i <= last) memcpy(C + i * ldc, &c##i, sizeof(V));
#define FASTNN_DEFINE_GATHER_GEMM_TALL(NAME, TARGET, T, V)                              \
FASTNN_TILE_HEAD(NAME, TARGET, T)                                                        \
    const ptrdiff_t last = rows - 1;                                                     \
    FASTNN_TALL_ROW(T, V, 0) FASTNN_TALL_ROW(T, V, 1) FASTNN_TALL_ROW(T, V, 2)           \
    FASTNN_TALL_ROW(T, V, 3) FASTNN_TALL_ROW(T, V, 4) FASTNN_TALL_ROW(T, V, 5)           \
    FASTNN_TALL_ROW(T, V, 6) FASTNN_TALL_ROW(T, V, 7) FASTNN_TALL_ROW(T, V, 8)           \
    FASTNN_TALL_ROW(T, V, 9) FASTNN_TALL_ROW(T, V, 10) FASTNN_TALL_ROW(T, V, 11)         \
    /* A tile of six rows or fewer (the last rows) computes six, not twelve. */         \
    if (rows <= 6) for (ptrdiff_t t = 0; t < T_count; t++) {                             \
        V b;                                                                             \
        const ptrdiff_t off = col_off[t];                                                \
        memcpy(&b, B + t * ldb, sizeof(V));                                              \
        FASTNN_TALL_FMA(0) FASTNN_TALL_FMA(1) FASTNN_TALL_FMA(2) FASTNN_TALL_FMA(3)      \
        FASTNN_TALL_FMA(4) FASTNN_TALL_FMA(5)                                            \
    }                                                                                    \
    else for (ptrdiff_t t = 0; t < T_count; t++) {                                       \
        V b;                                                                             \
        const ptrdiff_t off = col_off[t];                                                \
        memcpy(&b, B + t * ldb, sizeof(V));                                              \
        FASTNN_TALL_FMA(0) FASTNN_TALL_FMA(1) FASTNN_TALL_FMA(2) FASTNN_TALL_FMA(3)      \
        FASTNN_TALL_FMA(4) FASTNN_TALL_FMA(5) FASTNN_TALL_FMA(6) FASTNN_TALL_FMA(7)      \
        FASTNN_TALL_FMA(8) FASTNN_TALL_FMA(9) FASTNN_TALL_FMA(10) FASTNN_TALL_FMA(11)    \
    }                                                                                    \
    FASTNN_TALL_STORE(V, 0) FASTNN_TALL_STORE(V, 1) FASTNN_TALL_STORE(V, 2)              \
    FASTNN_TALL_STORE(V, 3) FASTNN_TALL_STORE(V, 4) FASTNN_TALL_STORE(V, 5)              \
    FASTNN_TALL_STORE(V, 6) FASTNN_TALL_STORE(V, 7) FASTNN_TALL_STORE(V, 8)              \
    FASTNN_TALL_STORE(V, 9) FASTNN_TALL_STORE(V, 10) FASTNN_TALL_STORE(V, 11)            \
}                                                                                       \
FASTNN_TILE_ROWS(NAME, TARGET, T, FASTNN_MR_TALL)

/* The tall tile where the offsets come in windows three wide (a 3-wide filter at stride
 * 1), so that one broadcast of A serves three FMAs instead of one: the tall tile loads a
 * broadcast for every FMA and runs load-bound (about 55 % of the FMA ceiling, measured;
 * these, 70-80 %: benchmarks/NOTES.md, "Convolution kernels").  Each output still sums its
 * terms in the tall tile's order, so the bits are the tall tile's.  Two shapes:
 *
 * "strip" (backward data): rows are up to 16 consecutive positions of A (row_off[r] =
 * row_off[0] + r) and the taps come in triples of consecutive offsets (col_off[3g + j] =
 * col_off[3g] + j): row x sums A[row_off[0] + col_off[3g] + x + j] * B[3g + j] over g, then
 * j, and the element x + j of the window is broadcast once for the three rows it meets.
 * All 16 rows are computed (rows past ``rows`` are not stored), so A is read up to 17
 * elements past row_off[0] + col_off[3g]: the caller leaves that much slack.  T_count is a
 * multiple of 3. */
#define FASTNN_STRIP_FMA(i, b) c##i += e * b;
#define FASTNN_STRIP_STEP(s, i1, i2) { e = a[s]; FASTNN_STRIP_FMA(s, b0)                 \
    FASTNN_STRIP_FMA(i1, b1) FASTNN_STRIP_FMA(i2, b2) }
#define FASTNN_DEFINE_GATHER_GEMM_STRIP(NAME, TARGET, T, V)                             \
FASTNN_GEMM_HEAD(NAME, TARGET, T)                                                        \
    const ptrdiff_t last = rows - 1;                                                     \
    const T *A0 = A + row_off[0];                                                        \
    FASTNN_TALL_ACC(V, 0) FASTNN_TALL_ACC(V, 1) FASTNN_TALL_ACC(V, 2) FASTNN_TALL_ACC(V, 3) \
    FASTNN_TALL_ACC(V, 4) FASTNN_TALL_ACC(V, 5) FASTNN_TALL_ACC(V, 6) FASTNN_TALL_ACC(V, 7) \
    FASTNN_TALL_ACC(V, 8) FASTNN_TALL_ACC(V, 9) FASTNN_TALL_ACC(V, 10)                   \
    FASTNN_TALL_ACC(V, 11) FASTNN_TALL_ACC(V, 12) FASTNN_TALL_ACC(V, 13)                 \
    FASTNN_TALL_ACC(V, 14) FASTNN_TALL_ACC(V, 15)                                        \
    for (ptrdiff_t t = 0; t < T_count; t += 3) {                                         \
        V b0, b1, b2;                                                                    \
        T e;                                                                             \
        const T *a = A0 + col_off[t];                                                    \
        memcpy(&b0, B + t * ldb, sizeof(V)); memcpy(&b1, B + (t + 1) * ldb, sizeof(V));  \
        memcpy(&b2, B + (t + 2) * ldb, sizeof(V));                                       \
        { e = a[0]; FASTNN_STRIP_FMA(0, b0) }                                            \
        { e = a[1]; FASTNN_STRIP_FMA(1, b0) FASTNN_STRIP_FMA(0, b1) }                    \
        FASTNN_STRIP_STEP(2, 1, 0) FASTNN_STRIP_STEP(3, 2, 1) FASTNN_STRIP_STEP(4, 3, 2)  \
        FASTNN_STRIP_STEP(5, 4, 3) FASTNN_STRIP_STEP(6, 5, 4) FASTNN_STRIP_STEP(7, 6, 5)  \
        FASTNN_STRIP_STEP(8, 7, 6) FASTNN_STRIP_STEP(9, 8, 7) FASTNN_STRIP_STEP(10, 9, 8) \
        FASTNN_STRIP_STEP(11, 10, 9) FASTNN_STRIP_STEP(12, 11, 10)                       \
        FASTNN_STRIP_STEP(13, 12, 11) FASTNN_STRIP_STEP(14, 13, 12)                      \
        FASTNN_STRIP_STEP(15, 14, 13)                                                    \
        { e = a[16]; FASTNN_STRIP_FMA(15, b1) FASTNN_STRIP_FMA(14, b2) }                 \
        { e = a[17]; FASTNN_STRIP_FMA(15, b2) }                                          \
    }                                                                                    \
    FASTNN_TALL_STORE(V, 0) FASTNN_TALL_STORE(V, 1) FASTNN_TALL_STORE(V, 2)              \
    FASTNN_TALL_STORE(V, 3) FASTNN_TALL_STORE(V, 4) FASTNN_TALL_STORE(V, 5)              \
    FASTNN_TALL_STORE(V, 6) FASTNN_TALL_STORE(V, 7) FASTNN_TALL_STORE(V, 8)              \
    FASTNN_TALL_STORE(V, 9) FASTNN_TALL_STORE(V, 10) FASTNN_TALL_STORE(V, 11)            \
    FASTNN_TALL_STORE(V, 12) FASTNN_TALL_STORE(V, 13) FASTNN_TALL_STORE(V, 14)           \
    FASTNN_TALL_STORE(V, 15)                                                             \
}

/* The pair tile's strip: as the tall tile's, with up to 8 rows of two vectors (L = 32
 * float32 / 16 float64): 16 accumulators and the three taps' 6 vectors of B, 10
 * broadcasts and 6 loads of B for 48 FMAs (the pair tile: 32 broadcasts and loads).  A
 * is read up to 9 elements past row_off[0] + col_off[3g]. */
#define FASTNN_PSTRIP_ACC(V, i) V c##i = {0}, d##i = {0};                                \
    if (accumulate && i <= last) FASTNN_ROW_LOAD(V, c##i, d##i, C + i * ldc);
#define FASTNN_PSTRIP_STORE(V, i) if (i <= last) FASTNN_ROW_STORE(V, C + i * ldc, c##i, d##i);
#define FASTNN_PSTRIP_FMA(i, j) FASTNN_ROW_FMA(c##i, d##i, e, b##j##l, b##j##h);
#define FASTNN_PSTRIP_STEP(s, i1, i2) { e = a[s]; FASTNN_PSTRIP_FMA(s, 0)                \
    FASTNN_PSTRIP_FMA(i1, 1) FASTNN_PSTRIP_FMA(i2, 2) }
#define FASTNN_DEFINE_GATHER_GEMM_PAIR_STRIP(NAME, TARGET, T, V)                        \
FASTNN_GEMM_HEAD(NAME, TARGET, T)                                                        \
    const ptrdiff_t last = rows - 1;                                                     \
    const T *A0 = A + row_off[0];                                                        \
    FASTNN_PSTRIP_ACC(V, 0) FASTNN_PSTRIP_ACC(V, 1) FASTNN_PSTRIP_ACC(V, 2)              \
    FASTNN_PSTRIP_ACC(V, 3) FASTNN_PSTRIP_ACC(V, 4) FASTNN_PSTRIP_ACC(V, 5)              \
    FASTNN_PSTRIP_ACC(V, 6) FASTNN_PSTRIP_ACC(V, 7)                                      \
    for (ptrdiff_t t = 0; t < T_count; t += 3) {                                         \
        V b0l, b0h, b1l, b1h, b2l, b2h;                                                  \
        T e;                                                                             \
        const T *a = A0 + col_off[t];                                                    \
        FASTNN_ROW_LOAD(V, b0l, b0h, B + t * ldb);                                       \
        FASTNN_ROW_LOAD(V, b1l, b1h, B + (t + 1) * ldb);                                 \
        FASTNN_ROW_LOAD(V, b2l, b2h, B + (t + 2) * ldb);                                 \
        { e = a[0]; FASTNN_PSTRIP_FMA(0, 0) }                                            \
        { e = a[1]; FASTNN_PSTRIP_FMA(1, 0) FASTNN_PSTRIP_FMA(0, 1) }                    \
        FASTNN_PSTRIP_STEP(2, 1, 0) FASTNN_PSTRIP_STEP(3, 2, 1) FASTNN_PSTRIP_STEP(4, 3, 2) \
        FASTNN_PSTRIP_STEP(5, 4, 3) FASTNN_PSTRIP_STEP(6, 5, 4) FASTNN_PSTRIP_STEP(7, 6, 5) \
        { e = a[8]; FASTNN_PSTRIP_FMA(7, 1) FASTNN_PSTRIP_FMA(6, 2) }                    \
        { e = a[9]; FASTNN_PSTRIP_FMA(7, 2) }                                            \
    }                                                                                    \
    FASTNN_PSTRIP_STORE(V, 0) FASTNN_PSTRIP_STORE(V, 1) FASTNN_PSTRIP_STORE(V, 2)        \
    FASTNN_PSTRIP_STORE(V, 3) FASTNN_PSTRIP_STORE(V, 4) FASTNN_PSTRIP_STORE(V, 5)        \
    FASTNN_PSTRIP_STORE(V, 6) FASTNN_PSTRIP_STORE(V, 7)                                  \
}

/* "triples" (backward weights): the rows come in triples of consecutive offsets
 * (row_off[3g + v] = row_off[3g] + v: the three taps of a filter row), at most 4 of them,
 * and the summed positions in runs of ``run`` consecutive offsets (col_off[t0 + s] =
 * col_off[t0] + s: the pixels of an output row; t0 a multiple of run).  Along a run the
 * element s of a triple's window is broadcast once for its three taps, which take the
 * gradient rows of pixels s, s-1 and s-2 (kept in registers as they slide by); the ends of
 * a run take only the pairs that exist, so no product is formed that the tall or pair
 * tile would not form, and A is never read outside the windows.  Rows of one vector (the
 * tall tile's lanes: 12 accumulators and 3 of B) or two (the pair tile's: 24 and 6),
 * through the ROW ops below: ONE_* and TWO_*. */
#define FASTNN_ONE_DECL(V, x) V x##l = {0};
#define FASTNN_ONE_LOAD(V, x, p) memcpy(&x##l, (p), sizeof(V));
#define FASTNN_ONE_STORE(V, p, x) memcpy((p), &x##l, sizeof(V));
#define FASTNN_ONE_FMA(x, e, b) x##l += (e) * b##l;
#define FASTNN_ONE_COPY(x, y) x##l = y##l;
#define FASTNN_TWO_DECL(V, x) V x##l = {0}, x##h = {0};
#define FASTNN_TWO_LOAD(V, x, p) FASTNN_ROW_LOAD(V, x##l, x##h, (p));
#define FASTNN_TWO_STORE(V, p, x) FASTNN_ROW_STORE(V, (p), x##l, x##h);
#define FASTNN_TWO_FMA(x, e, b) x##l += (e) * b##l; x##h += (e) * b##h;
#define FASTNN_TWO_COPY(x, y) x##l = y##l; x##h = y##h;
#define FASTNN_TRIPLE_ROW(ROW, T, V, g) const T *a##g = A + row_off[3 * (g < lg ? g : lg)]; \
    ROW##_DECL(V, c##g##0) ROW##_DECL(V, c##g##1) ROW##_DECL(V, c##g##2)                 \
    if (accumulate && g <= lg) { ROW##_LOAD(V, c##g##0, C + (3 * g) * ldc)               \
        ROW##_LOAD(V, c##g##1, C + (3 * g + 1) * ldc)                                    \
        ROW##_LOAD(V, c##g##2, C + (3 * g + 2) * ldc) }
#define FASTNN_TRIPLE_STORE(ROW, V, g) if (g <= lg) {                                    \
        ROW##_STORE(V, C + (3 * g) * ldc, c##g##0)                                       \
        ROW##_STORE(V, C + (3 * g + 1) * ldc, c##g##1)                                   \
        ROW##_STORE(V, C + (3 * g + 2) * ldc, c##g##2) }
#define FASTNN_TRIPLE_1(g, ROW, v, s, b) { const E e = a##g[o + (s)]; ROW##_FMA(c##g##v, e, b) }
#define FASTNN_TRIPLE_01(g, ROW, s) { const E e = a##g[o + (s)];                         \
    ROW##_FMA(c##g##0, e, b_cur) ROW##_FMA(c##g##1, e, b_prev1) }
#define FASTNN_TRIPLE_12(g, ROW, s) { const E e = a##g[o + (s)];                         \
    ROW##_FMA(c##g##1, e, b_cur) ROW##_FMA(c##g##2, e, b_prev1) }
#define FASTNN_TRIPLE_012(g, ROW, s) { const E e = a##g[o + (s)];                        \
    ROW##_FMA(c##g##0, e, b_cur) ROW##_FMA(c##g##1, e, b_prev1) ROW##_FMA(c##g##2, e, b_prev2) }
#define FASTNN_TRIPLE_EACH(M, ...) M(0, __VA_ARGS__) M(1, __VA_ARGS__) M(2, __VA_ARGS__)  \
    M(3, __VA_ARGS__)
#define FASTNN_DEFINE_GATHER_GEMM_TRIPLES(NAME, TARGET, T, V, ROW)                      \
TARGET FASTNN_CONTRACT                                                                   \
static void NAME(int rows, const T *A, const ptrdiff_t *row_off,                         \
                 const ptrdiff_t *col_off, ptrdiff_t T_count, ptrdiff_t run,             \
                 const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate)         \
{                                                                                        \
    FASTNN_CONTRACT_BODY                                                                 \
    typedef T E;                                                                         \
    const int lg = (rows - 1) / 3;                                                       \
    FASTNN_TRIPLE_ROW(ROW, T, V, 0) FASTNN_TRIPLE_ROW(ROW, T, V, 1)                      \
    FASTNN_TRIPLE_ROW(ROW, T, V, 2) FASTNN_TRIPLE_ROW(ROW, T, V, 3)                      \
    for (ptrdiff_t t0 = 0; t0 < T_count; t0 += run) {                                    \
        const ptrdiff_t n = T_count - t0 < run ? T_count - t0 : run, o = col_off[t0];   \
        const T *bt = B + t0 * ldb;                                                      \
        ROW##_DECL(V, b_cur) ROW##_DECL(V, b_prev1) ROW##_DECL(V, b_prev2)               \
        ROW##_LOAD(V, b_cur, bt)                                                         \
        FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_1, ROW, 0, 0, b_cur)                            \
        if (n == 1) {                                                                    \
            FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_1, ROW, 1, 1, b_cur)                        \
            FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_1, ROW, 2, 2, b_cur)                        \
            continue;                                                                    \
        }                                                                                \
        ROW##_COPY(b_prev1, b_cur)                                                       \
        ROW##_LOAD(V, b_cur, bt + ldb)                                                   \
        FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_01, ROW, 1)                                     \
        for (ptrdiff_t s = 2; s < n; s++) {                                              \
            ROW##_COPY(b_prev2, b_prev1) ROW##_COPY(b_prev1, b_cur)                      \
            ROW##_LOAD(V, b_cur, bt + s * ldb)                                           \
            FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_012, ROW, s)                                \
        }                                                                                \
        FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_12, ROW, n)                                     \
        FASTNN_TRIPLE_EACH(FASTNN_TRIPLE_1, ROW, 2, n + 1, b_cur)                        \
    }                                                                                    \
    FASTNN_TRIPLE_STORE(ROW, V, 0) FASTNN_TRIPLE_STORE(ROW, V, 1)                        \
    FASTNN_TRIPLE_STORE(ROW, V, 2) FASTNN_TRIPLE_STORE(ROW, V, 3)                        \
}

FASTNN_DEFINE_PER_LEVEL(FASTNN_DEFINE_GATHER_GEMM, fastnn_gemm)
/* The shifted form and the windowed tall tiles run at the AVX-512 level only (the
 * shifted form at AVX2, with two vectors a row, was slower than the gather form:
 * benchmarks/NOTES.md, "Convolution forms"); another build compiles them for its default
 * target, and never calls them (gather_gemm.shifted_lanes is 0 there, and the planner
 * never picks the tall tile). */
#if FASTNN_X86_LEVELS
#define FASTNN_TARGET_WIDE FASTNN_TARGET_AVX512
#else
#define FASTNN_TARGET_WIDE
#endif
FASTNN_DEFINE_SHIFTED_GEMM(fastnn_shifted_gemm_f32, FASTNN_TARGET_WIDE, float, fastnn_v16f)
FASTNN_DEFINE_SHIFTED_GEMM(fastnn_shifted_gemm_f64, FASTNN_TARGET_WIDE, double, fastnn_v8d)
FASTNN_DEFINE_GATHER_GEMM_STRIP(fastnn_tall_strip_f32, FASTNN_TARGET_WIDE, float, fastnn_v16f)
FASTNN_DEFINE_GATHER_GEMM_STRIP(fastnn_tall_strip_f64, FASTNN_TARGET_WIDE, double, fastnn_v8d)
FASTNN_DEFINE_GATHER_GEMM_TRIPLES(fastnn_tall_triples_f32, FASTNN_TARGET_WIDE, float,
                                  fastnn_v16f, FASTNN_ONE)
FASTNN_DEFINE_GATHER_GEMM_TRIPLES(fastnn_tall_triples_f64, FASTNN_TARGET_WIDE, double,
                                  fastnn_v8d, FASTNN_ONE)
FASTNN_DEFINE_GATHER_GEMM_PAIR_STRIP(fastnn_pair_strip_f32, FASTNN_TARGET_WIDE, float,
                                     fastnn_v16f)
FASTNN_DEFINE_GATHER_GEMM_PAIR_STRIP(fastnn_pair_strip_f64, FASTNN_TARGET_WIDE, double,
                                     fastnn_v8d)
FASTNN_DEFINE_GATHER_GEMM_TRIPLES(fastnn_pair_triples_f32, FASTNN_TARGET_WIDE, float,
                                  fastnn_v16f, FASTNN_TWO)
FASTNN_DEFINE_GATHER_GEMM_TRIPLES(fastnn_pair_triples_f64, FASTNN_TARGET_WIDE, double,
                                  fastnn_v8d, FASTNN_TWO)
#if FASTNN_X86_LEVELS
/* DEFINE(fastnn_gemm_<dtype>_SUFFIX, TARGET, T, V) for both dtypes, V_F32 and V_F64 their
 * vectors. */
#define FASTNN_DEFINE_BOTH_DTYPES(DEFINE, SUFFIX, TARGET, V_F32, V_F64)                  \
    DEFINE(fastnn_gemm_f32_##SUFFIX, TARGET, float, V_F32)                               \
    DEFINE(fastnn_gemm_f64_##SUFFIX, TARGET, double, V_F64)
FASTNN_DEFINE_BOTH_DTYPES(FASTNN_DEFINE_GATHER_GEMM_QUAD, avx512_quad, FASTNN_TARGET_AVX512,
                          fastnn_v16f, fastnn_v8d)
FASTNN_DEFINE_BOTH_DTYPES(FASTNN_DEFINE_GATHER_GEMM_TALL, avx512_tall, FASTNN_TARGET_AVX512,
                          fastnn_v16f, fastnn_v8d)
/* The tall tile on 32-byte vectors, for a product's last few columns (at most 8 float32 /
 * 4 float64): half the lanes of the tall tile, and on CPUs that split a 64-byte FMA into
 * two 32-byte halves (Zen 4) half the cycles.  The same tile at AVX2, in place of a pair
 * tile that would compute 16 (8) lanes for those few columns (the recommenders' 20
 * columns: 24 lanes instead of 32). */
FASTNN_DEFINE_BOTH_DTYPES(FASTNN_DEFINE_GATHER_GEMM_TALL, avx512_narrow, FASTNN_TARGET_AVX512,
                          fastnn_v8f, fastnn_v4d)
FASTNN_DEFINE_BOTH_DTYPES(FASTNN_DEFINE_GATHER_GEMM_TALL, avx2_narrow, FASTNN_TARGET_AVX2,
                          fastnn_v8f, fastnn_v4d)
/* And on 16-byte vectors ("slim"), at AVX2, for at most 4 float32 / 2 float64 columns: a
 * tile of one vector a row is bound by its broadcasts (one an FMA), and a CPU that runs a
 * 32-byte FMA as two 16-byte halves (Zen 1) spends half the FMA slots on it. */
FASTNN_DEFINE_BOTH_DTYPES(FASTNN_DEFINE_GATHER_GEMM_TALL, avx2_slim, FASTNN_TARGET_AVX2,
                          fastnn_v4f, fastnn_v2d)
#endif

/* The gather kernels, named by their tile (rows x vectors a row) and instruction set: an
 * id space of its own, apart from the levels of simd.h.  fastnn/_kernels/plan.py picks
 * one for each product and packs B with its lane count; the level only decides which
 * kernels the planner may pick. */
#define FASTNN_KERNEL_PAIR_BASE 0   /* 6 x 2 vectors of 32 bytes, no FMA: L = 16 f32 / 8 f64 */
#define FASTNN_KERNEL_PAIR_AVX2 1   /* 6 x 2 vectors of 32 bytes:         L = 16 / 8 */
#define FASTNN_KERNEL_PAIR_AVX512 2 /* 6 x 2 vectors of 64 bytes:         L = 32 / 16 */
#define FASTNN_KERNEL_TALL_AVX512 3 /* 12 x 1 vector of 64 bytes:         L = 16 / 8 */
#define FASTNN_KERNEL_QUAD_AVX512 4 /* 6 x 4 vectors of 64 bytes:         L = 64 / 32 */
#define FASTNN_KERNEL_NARROW_AVX512 5 /* 12 x 1 vector of 32 bytes:       L = 8 / 4 */
#define FASTNN_KERNEL_NARROW_AVX2 6 /* 12 x 1 vector of 32 bytes, AVX2:    L = 8 / 4 */
#define FASTNN_KERNEL_SLIM_AVX2 7   /* 12 x 1 vector of 16 bytes, AVX2:    L = 4 / 2 */
#define FASTNN_NARROW_LANES_F32 8
#define FASTNN_NARROW_LANES_F64 4
#define FASTNN_SLIM_LANES_F32 4
#define FASTNN_SLIM_LANES_F64 2
#if FASTNN_X86_LEVELS
#define FASTNN_DEFINE_GEMM_DISPATCH(NAME, T, BASE, AVX2, AVX512, TALL, QUAD, NARROW,     \
                                    NARROW_AVX2, SLIM_AVX2)                              \
static inline void NAME(int kernel, int rows, const T *A, const ptrdiff_t *row_off,      \
                        const ptrdiff_t *col_off, ptrdiff_t T_count, const T *B,         \
                        ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate) {            \
    if (kernel == FASTNN_KERNEL_TALL_AVX512)                                             \
        TALL(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);            \
    else if (kernel == FASTNN_KERNEL_NARROW_AVX512)                                      \
        NARROW(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);          \
    else if (kernel == FASTNN_KERNEL_QUAD_AVX512)                                        \
        QUAD(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);            \
    else if (kernel == FASTNN_KERNEL_PAIR_AVX512)                                        \
        AVX512(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);          \
    else if (kernel == FASTNN_KERNEL_PAIR_AVX2)                                          \
        AVX2(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);            \
    else if (kernel == FASTNN_KERNEL_NARROW_AVX2)                                        \
        NARROW_AVX2(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);     \
    else if (kernel == FASTNN_KERNEL_SLIM_AVX2)                                          \
        SLIM_AVX2(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);       \
    else                                                                                 \
        BASE(rows, A, row_off, col_off, T_count, B, ldb, C, ldc, accumulate);            \
}
FASTNN_DEFINE_GEMM_DISPATCH(fastnn_gather_gemm_f32, float, fastnn_gemm_f32_base,
                            fastnn_gemm_f32_avx2, fastnn_gemm_f32_avx512,
                            fastnn_gemm_f32_avx512_tall, fastnn_gemm_f32_avx512_quad,
                            fastnn_gemm_f32_avx512_narrow, fastnn_gemm_f32_avx2_narrow,
                            fastnn_gemm_f32_avx2_slim)
FASTNN_DEFINE_GEMM_DISPATCH(fastnn_gather_gemm_f64, double, fastnn_gemm_f64_base,
                            fastnn_gemm_f64_avx2, fastnn_gemm_f64_avx512,
                            fastnn_gemm_f64_avx512_tall, fastnn_gemm_f64_avx512_quad,
                            fastnn_gemm_f64_avx512_narrow, fastnn_gemm_f64_avx2_narrow,
                            fastnn_gemm_f64_avx2_slim)
#else
#define fastnn_gather_gemm_f32(kernel, ...) fastnn_gemm_f32_base(__VA_ARGS__)
#define fastnn_gather_gemm_f64(kernel, ...) fastnn_gemm_f64_base(__VA_ARGS__)
#endif

/* The windowed forms of a tile (the tall tile's, else the pair's: a quad block runs as
 * two pair halves, gather_gemm.pxd), for a kernel that has them. */
#define FASTNN_DEFINE_WINDOW_DISPATCH(SUFFIX, T)                                         \
static inline void fastnn_strip_##SUFFIX(int kernel, int rows, const T *A,                \
                                         const ptrdiff_t *row_off, const ptrdiff_t *col_off, \
                                         ptrdiff_t T_count, const T *B, ptrdiff_t ldb,   \
                                         T *C, ptrdiff_t ldc, int accumulate) {          \
    if (kernel == FASTNN_KERNEL_TALL_AVX512)                                             \
        fastnn_tall_strip_##SUFFIX(rows, A, row_off, col_off, T_count, B, ldb, C, ldc,   \
                                   accumulate);                                          \
    else                                                                                 \
        fastnn_pair_strip_##SUFFIX(rows, A, row_off, col_off, T_count, B, ldb, C, ldc,   \
                                   accumulate);                                          \
}                                                                                        \
static inline void fastnn_triples_##SUFFIX(int kernel, int rows, const T *A,              \
                                           const ptrdiff_t *row_off,                     \
                                           const ptrdiff_t *col_off, ptrdiff_t T_count,  \
                                           ptrdiff_t run, const T *B, ptrdiff_t ldb,     \
                                           T *C, ptrdiff_t ldc, int accumulate) {        \
    if (kernel == FASTNN_KERNEL_TALL_AVX512)                                             \
        fastnn_tall_triples_##SUFFIX(rows, A, row_off, col_off, T_count, run, B, ldb, C, \
                                     ldc, accumulate);                                   \
    else                                                                                 \
        fastnn_pair_triples_##SUFFIX(rows, A, row_off, col_off, T_count, run, B, ldb, C, \
                                     ldc, accumulate);                                   \
}
FASTNN_DEFINE_WINDOW_DISPATCH(f32, float)
FASTNN_DEFINE_WINDOW_DISPATCH(f64, double)

#endif /* FASTNN_GATHER_GEMM_H */
