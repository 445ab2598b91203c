"""How idle threads wait between calls: fastnn's OpenMP workers and NumPy's OpenBLAS
workers, which share the same cores (benchmarks/NOTES.md, "Small calls").

**fastnn's workers.**  GNU OpenMP's idle threads spin 300,000 times before they sleep:
about 15 ms on CPUs whose ``pause`` takes 140 cycles, a core burnt after every call,
which another process (or NumPy's own threads) needed.  Unless the user set
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``, fastnn loads its OpenMP runtime with
``GOMP_SPINCOUNT=10000`` (about half a millisecond): with one core busy a training step
ran 37.7 ms instead of 42-75 ms (one thread: 35 ms), and parallel calls less than half
a millisecond apart still find their workers awake.  Measured trade-off: 1000 spins made
the busy step 33 ms but a CS231n gradient check's loss 334 us instead of 211 (each of its
small parallel calls woke a sleeping thread, about 100 microseconds in this VM);
``OMP_WAIT_POLICY=passive`` (no spinning) made back-to-back small parallel calls 10x
slower.  Only effective when fastnn is the first to load libgomp.

**NumPy's OpenBLAS workers.**  After each multithreaded call they busy-wait for the next
one for 2**28 cycles (about 0.1 s): a loop that calls ``A @ A`` and then a fastnn kernel
runs that kernel beside a spinning thread, 2-3x slower.  The wait is OpenBLAS's
``OPENBLAS_THREAD_TIMEOUT`` (2**N cycles), read when the library loads, which NumPy does
before fastnn can set anything.  So, at import, fastnn sets it to 2**16 cycles (about 25
microseconds: back-to-back BLAS calls still find their workers awake, and measured as
fast) in every OpenBLAS already loaded, by the library's own exported functions: it
re-reads its environment with the variable set, and stops its worker threads, which the
next BLAS call starts again with the new timeout.  Left alone when the user set
``OPENBLAS_THREAD_TIMEOUT`` or ``FASTNN_BLAS_SPIN=keep``, for a BLAS that is not
OpenBLAS (MKL, Accelerate: nothing to do), an OpenBLAS built on OpenMP (no worker
threads of its own) and an OpenBLAS loaded after fastnn.

In both cases the user's environment (``os.environ``) is left as it was.
"""
import ctypes
import os

OMP_SPINCOUNT = "10000"
TIMEOUT_EXPONENT = 16  # 2**16 cycles
_SYMBOLS = ("openblas_read_env", "blas_thread_shutdown_", "openblas_thread_timeout")

shortened = []  # paths of the OpenBLAS libraries whose timeout fastnn set
omp_spincount = None  # GOMP_SPINCOUNT given to the OpenMP runtime fastnn loaded, if any


def import_kernels_with_short_spin(import_kernels, runtime_loaded):
    """Run ``import_kernels()`` (which loads the OpenMP runtime) with GOMP_SPINCOUNT set,
    unless the user chose a wait policy or ``runtime_loaded()`` says an OpenMP runtime is
    already loaded (its settings are fixed then)."""
    global omp_spincount
    if any(k in os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")) or runtime_loaded():
        return import_kernels()
    os.environ["GOMP_SPINCOUNT"] = OMP_SPINCOUNT
    try:
        result = import_kernels()
    finally:
        del os.environ["GOMP_SPINCOUNT"]
    if runtime_loaded():
        omp_spincount = OMP_SPINCOUNT
    return result


def loaded_libraries():
    """Paths of the shared libraries mapped in this process, in load order (Linux's
    /proc/self/maps; empty elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = (line.split()[-1] for line in maps)
            return list(dict.fromkeys(p for p in paths if ".so" in os.path.basename(p)))
    except OSError:
        return []


def _loaded_openblas():
    """Paths of the OpenBLAS shared libraries loaded in this process."""
    return sorted(p for p in loaded_libraries() if "openblas" in os.path.basename(p).lower())


def shorten_openblas_spin():
    """Set OpenBLAS's thread timeout to 2**TIMEOUT_EXPONENT cycles in every loaded
    OpenBLAS (see the module's docstring); returns the paths changed."""
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or os.environ.get("FASTNN_BLAS_SPIN") == "keep":
        return []
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)  # the loaded library itself (dlopen returns its handle)
        except OSError:
            continue
        if not all(hasattr(lib, name) for name in _SYMBOLS):
            continue
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(TIMEOUT_EXPONENT)
        try:
            lib.openblas_read_env()
        finally:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]  # the user's environment is unchanged
        if lib.openblas_thread_timeout() == TIMEOUT_EXPONENT:
            lib.blas_thread_shutdown_()
            shortened.append(path)
    return list(shortened)
