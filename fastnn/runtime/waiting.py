"""How idle threads wait between calls: fastnn's OpenMP workers and NumPy's OpenBLAS
workers, which share the same cores (benchmarks/NOTES.md, "Threads and waiting" and
"Small calls").

**fastnn's workers.**  GNU OpenMP's idle threads spin 300,000 times before they sleep, a
core burnt after every call, which another process (or NumPy's own threads) needed.
Unless the user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``, fastnn loads its OpenMP
runtime with ``GOMP_SPINCOUNT=10000``: short enough that a busy core is soon left
alone, long enough that parallel calls in quick succession find their workers awake
(fewer spins wake a sleeping thread for each of a gradient check's small calls; no
spinning, ``OMP_WAIT_POLICY=passive``, makes back-to-back small calls much slower: the
sweep is in benchmarks/NOTES.md, "Small calls").  Only effective when fastnn is the first to load libgomp.

**NumPy's OpenBLAS workers.**  After each multithreaded call they busy-wait for the next
one for 2**28 cycles: a loop that calls ``A @ A`` and then a fastnn kernel runs that
kernel beside a spinning thread, several times slower.  At import fastnn makes every
OpenBLAS already loaded stop competing, by the first of two means the library offers:

1. ``pool``: OpenBLAS's public ``openblas_set_threads_callback_function`` (OpenBLAS >=
   0.3.27; NumPy's scipy-openblas exports it as
   ``scipy_openblas_set_threads_callback_function64_``): OpenBLAS hands each parallel
   call's jobs to a C function of fastnn's that runs them on fastnn's OpenMP threads
   (``csrc/blas_threads.h``), so the process has one pool, whose idle threads spin
   briefly (above).  OpenBLAS still decides how many jobs a call has
   (``OPENBLAS_NUM_THREADS``, threadpoolctl).  Its own workers get no more work, but
   spin for their timeout after they start (at NumPy's import, and again after a
   shutdown): where the private timeout exports exist, they are shortened as in 2.
2. ``timeout``: older OpenBLAS builds export no callback setter but the private
   ``openblas_read_env``/``blas_thread_shutdown_``: fastnn re-reads the environment with
   ``OPENBLAS_THREAD_TIMEOUT`` set to 2**16 cycles and stops the
   workers, which the next call starts again with the short timeout.

``build_info()['blas_spin']`` says which applied.  Left alone when the user set
``OPENBLAS_THREAD_TIMEOUT`` or ``FASTNN_BLAS_SPIN=keep`` (``FASTNN_BLAS_SPIN=timeout``
asks for the second means where both exist), for a BLAS that is not OpenBLAS (MKL,
Accelerate: nothing to do), an OpenBLAS built on OpenMP (no worker threads of its own)
and an OpenBLAS loaded after fastnn.

In both cases the user's environment (``os.environ``) is left as it was.
"""
import ctypes
import os

OMP_SPINCOUNT = "10000"
TIMEOUT_EXPONENT = 16  # 2**16 cycles
_TIMEOUT_SYMBOLS = ("openblas_read_env", "blas_thread_shutdown_", "openblas_thread_timeout")
# The callback setter under the names OpenBLAS builds export it (plain, and NumPy's
# scipy-openblas with its prefix and 64-bit-integer suffix).
_CALLBACK_SETTERS = ("openblas_set_threads_callback_function",
                     "scipy_openblas_set_threads_callback_function64_",
                     "scipy_openblas_set_threads_callback_function")

pooled = []  # paths of the OpenBLAS libraries whose jobs run on fastnn's threads
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


def quiet_openblas_workers(callback_address):
    """Make every loaded OpenBLAS stop spinning beside fastnn's threads (the module's
    docstring): its jobs on fastnn's pool through ``callback_address`` (the C callback,
    or None without OpenMP), else its thread timeout shortened.  Returns
    (pooled paths, shortened paths)."""
    choice = os.environ.get("FASTNN_BLAS_SPIN", "")
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or choice == "keep":
        return [], []
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)  # the loaded library itself (dlopen returns its handle)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _CALLBACK_SETTERS if hasattr(lib, n)), None)
        if setter is not None and callback_address and choice != "timeout":
            setter.argtypes, setter.restype = [ctypes.c_void_p], None
            setter(ctypes.c_void_p(callback_address))
            pooled.append(path)
            # Its own workers, idle from now on, still spin after their start: briefly,
            # where the timeout can be set too.
            if _has_timeout_exports(lib):
                _shorten_timeout(lib)
        elif _has_timeout_exports(lib) and _shorten_timeout(lib):
            shortened.append(path)
    return list(pooled), list(shortened)


def _has_timeout_exports(lib):
    return all(hasattr(lib, name) for name in _TIMEOUT_SYMBOLS)


def _shorten_timeout(lib):
    """Set OpenBLAS's thread timeout to 2**TIMEOUT_EXPONENT cycles through its private
    exports, and stop its workers; True when the library took it."""
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(TIMEOUT_EXPONENT)
    try:
        lib.openblas_read_env()
    finally:
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]  # the user's environment is unchanged
    if lib.openblas_thread_timeout() != TIMEOUT_EXPONENT:
        return False
    lib.blas_thread_shutdown_()
    return True


def describe():
    """What fastnn did to NumPy's OpenBLAS workers, for build_info()['blas_spin']."""
    def count(paths):
        return f"{len(paths)} librar{'y' if len(paths) == 1 else 'ies'}"
    if pooled:
        return f"OpenBLAS jobs on fastnn's OpenMP threads (threads callback, {count(pooled)})"
    if shortened:
        return f"OpenBLAS thread timeout 2**{TIMEOUT_EXPONENT} cycles ({count(shortened)})"
    return "unchanged"
