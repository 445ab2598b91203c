/* The one micro-kernel behind fastnn's direct convolution.
 *
 *     C[i][0:L] (+)= sum_{t < T} A[row_off[i] + col_off[t]] * B[t*ldb + 0:L],   i < rows <= MR
 *
 * A is an image (a zero-padded input, or a dilated output gradient) read through two
 * offset tables, so no im2col matrix is ever built: forward, backward-data and
 * backward-weights are all this one loop with different tables (see conv.pyx).
 * The tile is MR rows x L lanes held in registers: L = 16 floats or 8 doubles, two
 * 256-bit vectors, and MR = 6 rows, the 6x16 register block of AVX2 GEMM kernels
 * (12 accumulators, 2 B loads and 6 broadcasts of A per step).  The vector is over the
 * lanes, never over the summed index t, so the summation order is fixed: no
 * reassociation, and a result never depends on how work is split between threads.
 *
 * Portable build, fast run: on x86-64 with GCC, target_clones compiles the kernel for
 * x86-64-v3 (AVX2 + FMA) and the baseline, and the loader picks one at start-up.
 * FASTNN_SIMD_LEVEL() says which clone runs.
 *
 * Floating-point contraction: the build turns it off everywhere (-ffp-contract=off, in
 * setup.py), so that no kernel's result depends on which clone runs.  This kernel and
 * the FMA ceiling loop are the exceptions, marked FASTNN_CONTRACT: fusing a*b + c into
 * one FMA is their point.  So the x86-64-v3 clone rounds once per multiply-add and the
 * baseline (no FMA instruction) twice: the convolution and affine products may differ
 * in the last bits between an AVX2 machine and one without it, and nothing else does.
 */
#ifndef FASTNN_GATHER_GEMM_H
#define FASTNN_GATHER_GEMM_H

#include <stddef.h>
#include <string.h>

#define FASTNN_MR 6
#define FASTNN_LANES_F32 16
#define FASTNN_LANES_F64 8

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTNN_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default")))
static inline const char *FASTNN_SIMD_LEVEL(void) {
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? "avx2+fma" : "sse2";
}
#else
#define FASTNN_DISPATCH
static inline const char *FASTNN_SIMD_LEVEL(void) { return "compiler default"; }
#endif

/* Contraction back on for one function (see above).  GCC: a function attribute;
 * clang: a pragma at the start of the function body (FASTNN_CONTRACT_BODY). */
#if defined(__clang__)
#define FASTNN_CONTRACT
#define FASTNN_CONTRACT_BODY _Pragma("clang fp contract(fast)")
#elif defined(__GNUC__)
#define FASTNN_CONTRACT __attribute__((optimize("fp-contract=fast")))
#define FASTNN_CONTRACT_BODY
#else
#define FASTNN_CONTRACT
#define FASTNN_CONTRACT_BODY
#endif

/* 32-byte vectors: one AVX2 register each (GCC lowers larger generic vectors through
 * memory).  A row of the tile is two of them: 16 floats or 8 doubles. */
typedef float fastnn_v8f __attribute__((vector_size(32)));
typedef double fastnn_v4d __attribute__((vector_size(32)));

/* Accumulate one row of the tile: two vectors, lo and hi. */
#define FASTNN_ROW_FMA(lo, hi, a, b_lo, b_hi) do { lo += (a) * (b_lo); hi += (a) * (b_hi); } while (0)
#define FASTNN_ROW_LOAD(V, lo, hi, p) do { memcpy(&(lo), (p), sizeof(V)); \
        memcpy(&(hi), (p) + sizeof(V) / sizeof((p)[0]), sizeof(V)); } while (0)
#define FASTNN_ROW_STORE(V, p, lo, hi) do { memcpy((p), &(lo), sizeof(V)); \
        memcpy((p) + sizeof(V) / sizeof((p)[0]), &(hi), sizeof(V)); } while (0)

/* One definition for both dtypes: T is the scalar type, V the 32-byte vector of it.
 * The twelve accumulators are named variables, not an array, so that GCC keeps them in
 * registers (an array indexed by a loop variable is spilled to the stack). */
#define FASTNN_DEFINE_GATHER_GEMM(NAME, T, V)                                           \
FASTNN_DISPATCH FASTNN_CONTRACT                                                          \
static void NAME(int rows, const T *A, const ptrdiff_t *row_off,                         \
                 const ptrdiff_t *col_off, ptrdiff_t T_count,                            \
                 const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc, int accumulate)         \
{                                                                                        \
    FASTNN_CONTRACT_BODY                                                                 \
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
    for (ptrdiff_t t = 0; t < T_count; t++) {                                            \
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
}

FASTNN_DEFINE_GATHER_GEMM(fastnn_gather_gemm_f32, float, fastnn_v8f)
FASTNN_DEFINE_GATHER_GEMM(fastnn_gather_gemm_f64, double, fastnn_v4d)

#endif /* FASTNN_GATHER_GEMM_H */
