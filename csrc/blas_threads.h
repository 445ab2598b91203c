/* One thread pool for the process: NumPy's OpenBLAS runs its parallel jobs on fastnn's
 * OpenMP threads, and a forked child stays safe.
 *
 * OpenBLAS's public openblas_set_threads_callback_function (OpenBLAS >= 0.3.27; NumPy's
 * scipy-openblas exports it with a prefix and suffix) hands every parallel BLAS call to
 * a function of the caller's: fastnn_blas_callback below, so that no OpenBLAS worker
 * thread of its own spins between calls on the cores fastnn's kernels need.
 *
 * The callback's contract (cblas.h; called from exec_blas in blas_server.c): run job i
 * as dojob(i, jobdata + i * jobdata_elsize, dojob_data) for every i < numjobs, and return
 * when all are done.  OpenBLAS's threaded level-3 drivers busy-wait on each other's
 * progress, so the jobs of a call must all run at once: on a team of exactly numjobs
 * threads, never queued on fewer.  Where an OpenMP team of that size cannot be had
 * (inside a parallel region, a dynamic or limited team size, a forked child, where GNU
 * OpenMP's inherited pool would hang), the jobs run on plain threads made for the call.
 *
 * One call at a time: in callback mode OpenBLAS (NumPy 2.2's, at least) shares buffers
 * between calls, and products from four Python threads at once came out wrong.  So
 * calls wait for each other on a mutex, except a call made from inside a job (none is
 * known, but waiting there would deadlock), which runs on plain threads at once.
 *
 * GNU OpenMP is not fork-safe: a child whose parent used a parallel region hangs in its
 * first one.  fastnn_mark_forked, registered with pthread_atfork, makes the child's
 * kernels run on one thread (no team) and its BLAS jobs on plain threads.
 */
#ifndef FASTNN_BLAS_THREADS_H
#define FASTNN_BLAS_THREADS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fastnn_omp.h"

typedef void (*fastnn_dojob)(int thread_num, void *jobdata, int dojob_data);

static volatile int fastnn_forked = 0;          /* set in a forked child */
static pthread_mutex_t fastnn_blas_call = PTHREAD_MUTEX_INITIALIZER;  /* one call at a time */
static __thread int fastnn_in_blas_job = 0;     /* this thread is running a BLAS job */

static void fastnn_mark_forked(void)
{
    fastnn_forked = 1;
    /* A call in flight on another thread of the parent held the mutex: not in the child. */
    pthread_mutex_init(&fastnn_blas_call, NULL);
}

static int fastnn_register_fork_handler(void)
{
    return pthread_atfork(NULL, NULL, fastnn_mark_forked);
}

typedef struct {
    fastnn_dojob dojob;
    int index;
    void *job;
    int dojob_data;
    int started;  /* on a thread of its own */
} fastnn_blas_job;

static void fastnn_blas_do(fastnn_dojob dojob, int index, void *job, int dojob_data)
{
    int outer = fastnn_in_blas_job;
    fastnn_in_blas_job = 1;
    dojob(index, job, dojob_data);
    fastnn_in_blas_job = outer;
}

static void *fastnn_blas_run_job(void *arg)
{
    fastnn_blas_job *job = (fastnn_blas_job *)arg;
    fastnn_blas_do(job->dojob, job->index, job->job, job->dojob_data);
    return NULL;
}

/* Every job at once on threads made for this call (job 0 on the caller's). */
static void fastnn_blas_on_plain_threads(fastnn_dojob dojob, int numjobs, size_t elsize,
                                         void *jobdata, int dojob_data)
{
    enum { ON_STACK = 256 };  /* OpenBLAS's MAX_CPU_NUMBER: 64 in NumPy's wheels */
    pthread_t stack_threads[ON_STACK];
    fastnn_blas_job stack_jobs[ON_STACK];
    pthread_t *threads = stack_threads;
    fastnn_blas_job *jobs = stack_jobs;
    if (numjobs > ON_STACK) {
        threads = (pthread_t *)malloc((size_t)numjobs * sizeof(pthread_t));
        jobs = (fastnn_blas_job *)malloc((size_t)numjobs * sizeof(fastnn_blas_job));
        if (threads == NULL || jobs == NULL)
            abort();  /* no memory for a thread list: nothing can run the call correctly */
    }
    for (int i = 0; i < numjobs; i++) {
        jobs[i].dojob = dojob;
        jobs[i].index = i;
        jobs[i].job = (char *)jobdata + (size_t)i * elsize;
        jobs[i].dojob_data = dojob_data;
        jobs[i].started = i > 0 && pthread_create(&threads[i], NULL, fastnn_blas_run_job,
                                                  &jobs[i]) == 0;
    }
    /* A thread that could not be made: its job runs here, after job 0 (it can only be
     * waited on by jobs already running, which do not wait on a job not yet started). */
    fastnn_blas_run_job(&jobs[0]);
    for (int i = 1; i < numjobs; i++) {
        if (jobs[i].started)
            pthread_join(threads[i], NULL);
        else
            fastnn_blas_run_job(&jobs[i]);
    }
    if (threads != stack_threads) {
        free(threads);
        free(jobs);
    }
}

static void fastnn_blas_callback(int sync, fastnn_dojob dojob, int numjobs, size_t elsize,
                                 void *jobdata, int dojob_data)
{
    (void)sync;  /* OpenBLAS always waits for its jobs */
    if (numjobs <= 1) {
        if (numjobs == 1)
            fastnn_blas_do(dojob, 0, jobdata, dojob_data);
        return;
    }
    if (fastnn_in_blas_job) {  /* a call from inside a job: never wait for the mutex */
        fastnn_blas_on_plain_threads(dojob, numjobs, elsize, jobdata, dojob_data);
        return;
    }
    pthread_mutex_lock(&fastnn_blas_call);
    int team = 0;
#ifdef _OPENMP
    if (!fastnn_forked && !omp_in_parallel() && !omp_get_dynamic()
        && numjobs <= omp_get_thread_limit()) {
        #pragma omp parallel num_threads(numjobs)
        {
            if (omp_get_num_threads() == numjobs) {  /* all at once, or none here */
                int i = omp_get_thread_num();
                fastnn_blas_do(dojob, i, (char *)jobdata + (size_t)i * elsize, dojob_data);
            }
            #pragma omp master
            team = omp_get_num_threads();
        }
    }
#endif
    if (team != numjobs)
        fastnn_blas_on_plain_threads(dojob, numjobs, elsize, jobdata, dojob_data);
    pthread_mutex_unlock(&fastnn_blas_call);
}

static uintptr_t fastnn_blas_callback_address(void)
{
    return (uintptr_t)&fastnn_blas_callback;
}

#endif /* FASTNN_BLAS_THREADS_H */
