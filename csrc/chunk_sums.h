/* The sum of per-chunk partial results, in chunk order (the convolution's dw):
 *
 *     out[i] = part[0][i] + part[1][i] + ... + part[chunks - 1][i],   i < n,
 *
 * part[j] = partials + j * stride.  Each element is added in the order of j, from
 * part[0], as a scalar loop would (the same bits at every level); the loop runs over i
 * inside j, so that out (a block of at most a few KB, in L1) takes each chunk's block as
 * one contiguous run.  Over i outside j, each element read `chunks` rows 73 KB apart (at
 * DeepConvNet's conv5), which the prefetchers follow badly, at 128-bit vectors:
 * benchmarks/NOTES.md, "Convolution kernels".  Dispatch: GCC's target_clones (simd.h).
 */
#ifndef FASTNN_CHUNK_SUMS_H
#define FASTNN_CHUNK_SUMS_H

#include <stddef.h>
#include <string.h>
#include "simd.h"

#define FASTNN_DEFINE_CHUNK_SUMS(SUFFIX, T)                                              \
FASTNN_DISPATCH_WIDE                                                                     \
static void fastnn_sum_chunks_##SUFFIX(const T *restrict partials, ptrdiff_t chunks,     \
                                       ptrdiff_t stride, ptrdiff_t n, T *restrict out) { \
    memcpy(out, partials, n * sizeof(T));                                                \
    for (ptrdiff_t j = 1; j < chunks; j++) {                                             \
        const T *restrict part = partials + j * stride;                                  \
        for (ptrdiff_t i = 0; i < n; i++) out[i] += part[i];                             \
    }                                                                                    \
}

FASTNN_DEFINE_CHUNK_SUMS(f32, float)
FASTNN_DEFINE_CHUNK_SUMS(f64, double)

#endif /* FASTNN_CHUNK_SUMS_H */
