/* A register-only loop of vector FMAs: this machine's compute ceiling, for the benchmark.
 * Ten independent accumulators (more than FMA latency x throughput) of 32-byte vectors;
 * the same run-time dispatch as the kernels (gather_gemm.h), so it measures what they
 * could reach.  Returns a value that depends on every FMA so none is optimised away. */
#ifndef FASTNN_FMA_PEAK_H
#define FASTNN_FMA_PEAK_H

#include "gather_gemm.h"

#define FASTNN_FMA_ACCUMULATORS 10

#define FASTNN_DEFINE_FMA_LOOP(NAME, T, V)                                               \
FASTNN_DISPATCH FASTNN_CONTRACT                                                           \
static T NAME(long iterations, T a, T b) {                                                \
    FASTNN_CONTRACT_BODY                                                                  \
    V x0 = {0}, x1 = {0}, x2 = {0}, x3 = {0}, x4 = {0};                                   \
    V x5 = {0}, x6 = {0}, x7 = {0}, x8 = {0}, x9 = {0};                                   \
    V va = x0 + a, vb = x0 + b;                                                           \
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

FASTNN_DEFINE_FMA_LOOP(fastnn_fma_loop_f32, float, fastnn_v8f)
FASTNN_DEFINE_FMA_LOOP(fastnn_fma_loop_f64, double, fastnn_v4d)

#endif /* FASTNN_FMA_PEAK_H */
