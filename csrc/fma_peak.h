/* A register-only loop of vector FMAs: this machine's compute ceiling, for the benchmark.
 * Ten independent accumulators (more than FMA latency x throughput) of the vectors of
 * the level asked for (simd.h: 32 bytes for the baseline and AVX2, 64 for AVX-512), so
 * it measures what the matrix kernel of that level could reach.  Returns a value that
 * depends on every FMA so none is optimised away. */
#ifndef FASTNN_FMA_PEAK_H
#define FASTNN_FMA_PEAK_H

#include "gather_gemm.h"

#define FASTNN_FMA_ACCUMULATORS 10

#define FASTNN_DEFINE_FMA_LOOP(NAME, TARGET, T, V)                                       \
TARGET FASTNN_CONTRACT                                                                    \
static T NAME(long iterations, T a, T b) {                                                \
    FASTNN_CONTRACT_BODY                                                                  \
    /* Each accumulator starts from its own value: ten equal chains would be folded     \
     * into one by the compiler, a latency-bound loop reported as ten. */                \
    V zero = {0};                                                                         \
    V x0 = zero + 0, x1 = zero + 1, x2 = zero + 2, x3 = zero + 3, x4 = zero + 4;          \
    V x5 = zero + 5, x6 = zero + 6, x7 = zero + 7, x8 = zero + 8, x9 = zero + 9;          \
    V va = zero + a, vb = zero + b;                                                       \
    for (long i = 0; i < iterations; i++) {                                               \
        x0 = x0 * va + vb; x1 = x1 * va + vb; x2 = x2 * va + vb; x3 = x3 * va + vb;       \
        x4 = x4 * va + vb; x5 = x5 * va + vb; x6 = x6 * va + vb; x7 = x7 * va + vb;       \
        x8 = x8 * va + vb; x9 = x9 * va + vb;                                             \
    }                                                                                     \
    V s = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9;                                \
    T total = 0;                                                                          \
    for (unsigned k = 0; k < sizeof(V) / sizeof(T); k++) total += s[k];                  \
    return total;                                                                         \
}

FASTNN_DEFINE_PER_LEVEL(FASTNN_DEFINE_FMA_LOOP, fastnn_fma)

/* The loop of one level (vectors of 64 bytes at AVX-512, else 32). */
#define FASTNN_DEFINE_FMA_DISPATCH(NAME, T, SUFFIX)                                      \
static inline T NAME(int level, long iterations, T a, T b) {                             \
    FASTNN_FMA_LEVELS(SUFFIX)                                                            \
    return fastnn_fma_##SUFFIX##_base(iterations, a, b);                                 \
}
#if FASTNN_X86_LEVELS
#define FASTNN_FMA_LEVELS(SUFFIX)                                                        \
    if (level == FASTNN_LEVEL_AVX512) return fastnn_fma_##SUFFIX##_avx512(iterations, a, b); \
    if (level == FASTNN_LEVEL_AVX2) return fastnn_fma_##SUFFIX##_avx2(iterations, a, b);
#else
#define FASTNN_FMA_LEVELS(SUFFIX) (void)level;
#endif
FASTNN_DEFINE_FMA_DISPATCH(fastnn_fma_loop_f32, float, f32)
FASTNN_DEFINE_FMA_DISPATCH(fastnn_fma_loop_f64, double, f64)

#endif /* FASTNN_FMA_PEAK_H */
