/* OpenMP entry points that also exist in a build without OpenMP.
 *
 * The kernels call these through fastnn/_kernels/threads.pxd.  With OpenMP they are
 * the runtime's own functions; without it they describe a single thread, so the
 * same Cython code compiles either way (Cython's prange then runs serially).
 */
#ifndef FASTNN_OMP_H
#define FASTNN_OMP_H

#ifdef _OPENMP
#include <omp.h>
#define FASTNN_HAVE_OPENMP 1
#define FASTNN_OPENMP_VERSION _OPENMP  /* yyyymm of the OpenMP specification */
#else
#define FASTNN_HAVE_OPENMP 0
#define FASTNN_OPENMP_VERSION 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif

#endif /* FASTNN_OMP_H */
