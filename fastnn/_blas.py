"""Keep NumPy's OpenBLAS from spinning on the cores fastnn's kernels need.

After each multithreaded call, OpenBLAS's worker threads busy-wait for the next one for
2**28 cycles (about 0.1 s): a loop that calls ``A @ A`` and then a fastnn kernel runs
that kernel beside a spinning thread, 2-3x slower (benchmarks/NOTES.md, "Small calls").
The wait is OpenBLAS's ``OPENBLAS_THREAD_TIMEOUT`` (2**N cycles), read when the library
loads, which NumPy does before fastnn can set anything.  So, at import, fastnn sets it
to 2**16 cycles (about 25 microseconds: back-to-back BLAS calls still find their workers
awake) in every OpenBLAS already loaded, by the library's own exported functions: it
re-reads its environment with the variable set, and stops its worker threads, which the
next BLAS call starts again with the new timeout.

Left alone when the user set ``OPENBLAS_THREAD_TIMEOUT`` or ``FASTNN_BLAS_SPIN=keep``,
for a BLAS that is not OpenBLAS (MKL, Accelerate: nothing to do), an OpenBLAS built on
OpenMP (no worker threads of its own) and an OpenBLAS loaded after fastnn.
"""
import ctypes
import os

TIMEOUT_EXPONENT = 16  # 2**16 cycles
_SYMBOLS = ("openblas_read_env", "blas_thread_shutdown_", "openblas_thread_timeout")

shortened = []  # paths of the OpenBLAS libraries whose timeout fastnn set


def _loaded_openblas():
    """Paths of the OpenBLAS shared libraries loaded in this process (Linux)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if ".so" in os.path.basename(p))


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
