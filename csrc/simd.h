/* Instruction-set levels and run-time dispatch, in one place for every kernel header.
 *
 * Portable build, fast run.  On x86-64 Linux with GCC the hot kernels are compiled once
 * per level and chosen at run time:
 *
 *   level 0  baseline      x86-64 (SSE2), what any 64-bit x86 CPU runs
 *   level 1  avx2          x86-64-v3 (AVX2, FMA, 16 vector registers of 256 bits)
 *   level 2  avx512        x86-64-v4 (AVX-512 F/BW/DQ/VL, 32 registers of 512 bits)
 *
 * The matrix micro-kernel (gather_gemm.h) takes the level as an argument, so that
 * fastnn.simd can force any level the CPU supports (FASTNN_SIMD); the batch-norm row
 * loops (channel_ops.h) and the sigmoid (sigmoid.h), whose results do not depend on the
 * level, keep GCC's target_clones (FASTNN_DISPATCH; FASTNN_DISPATCH_WIDE adds an
 * x86-64-v4 clone), which the loader resolves once.  Elsewhere (another
 * compiler, another architecture) there is one level, 0, the compiler's default.
 */
#ifndef FASTNN_SIMD_H
#define FASTNN_SIMD_H

#define FASTNN_LEVEL_BASELINE 0
#define FASTNN_LEVEL_AVX2 1
#define FASTNN_LEVEL_AVX512 2

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTNN_X86_LEVELS 1
#define FASTNN_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default")))
#define FASTNN_DISPATCH_WIDE \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FASTNN_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#define FASTNN_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))

/* The highest level this CPU (and its operating system: libgcc checks that the vector
 * state is saved) runs. */
static inline int fastnn_cpu_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return FASTNN_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FASTNN_LEVEL_AVX2;
    return FASTNN_LEVEL_BASELINE;
}
#else
#define FASTNN_X86_LEVELS 0
#define FASTNN_DISPATCH
#define FASTNN_DISPATCH_WIDE
static inline int fastnn_cpu_level(void) { return FASTNN_LEVEL_BASELINE; }
#endif

/* Contraction (a*b + c fused into one FMA) is off in the whole build (-ffp-contract=off,
 * setup.py), so that no result depends on the level that runs; FASTNN_CONTRACT turns it
 * back on for one function where fusing is the point (the matrix micro-kernel, the FMA
 * ceiling loop).  GCC: a function attribute; clang: a pragma at the start of the body. */
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

/* GCC assumes by default that floating-point exceptions may be observed, and will not
 * turn a branch whose arms compute with floats into a vector select: FASTNN_NO_TRAPS
 * lifts that for a function that wants its loop vectorised (sigmoid.h).  Values do not
 * change (exceptions are never read in fastnn); clang assumes it by default. */
#if defined(__GNUC__) && !defined(__clang__)
#define FASTNN_NO_TRAPS __attribute__((optimize("no-trapping-math")))
#else
#define FASTNN_NO_TRAPS
#endif

#endif /* FASTNN_SIMD_H */
