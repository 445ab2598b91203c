"""fastnn: fast CPU neural-network layers for NumPy.

``fastnn.reference.functional`` and ``fastnn.reference.layers`` are the pure-NumPy
specification (CS231n-style functions, Deep-Learning-from-Scratch-style layer classes);
the compiled backend mirrors them name for name (``fastnn.functional``, ``fastnn.layers``).
``fastnn.textbook`` and ``fastnn.cs231n`` mirror the textbook's ``common/`` package and
CS231n assignment 2's modules, so that changing an import prefix moves existing code onto
the compiled kernels.  Also: ``nets``, ``optim``, ``train``, ``data``, ``movielens``,
``recommend``, ``distributed`` (MPI), ``checkpoint``.
"""
import numbers
import os
import platform

import numpy as np

from fastnn.runtime import malloc as _malloc
from fastnn.runtime import waiting as _waiting


def _import_kernels():
    from fastnn._kernels import simd, threads
    return simd, threads


def _openmp_runtime_loaded():
    return _loaded_library("libgomp", "libomp", "libiomp") is not None


__version__ = "0.1.0"

__all__ = ["__version__", "build_info", "get_num_threads", "set_num_threads",
           "get_simd_level", "set_simd_level", "simd_levels"]


def set_num_threads(n):
    """Set how many threads fastnn's kernels use (process-wide; ``n >= 1``).

    Results never depend on it: reductions use a fixed split and order.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"set_num_threads: n must be an integer, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _threads.set_num_threads(int(n))


def get_num_threads():
    """How many threads a fastnn kernel called from this Python thread would use."""
    return _threads.get_num_threads()


def set_simd_level(level):
    """Run the convolution and affine kernels at ``level`` (process-wide): 'baseline',
    'avx2' or 'avx512', one of :func:`simd_levels`.  The default is the highest; the
    environment variable ``FASTNN_SIMD`` sets it at import.  Results are bitwise the same
    at 'avx2' and 'avx512'; the baseline has no FMA (the last bits may differ)."""
    _simd.set_level(level)


def get_simd_level():
    """The level the convolution and affine kernels run at."""
    return _simd.get_level()


def simd_levels():
    """The levels this CPU and this build can run, lowest first."""
    return _simd.cpu_levels()


_OPENMP_SPECS = {200505: "2.5", 200805: "3.0", 201107: "3.1", 201307: "4.0", 201511: "4.5",
                 201811: "5.0", 202011: "5.1", 202111: "5.2"}


def _loaded_library(*prefixes):
    """Path of the first shared library loaded in this process whose file name starts with
    one of ``prefixes``, or None."""
    return next((p for p in _waiting.loaded_libraries()
                 if os.path.basename(p).startswith(prefixes)), None)


# Idle threads wait briefly: fastnn's own (GOMP_SPINCOUNT while its OpenMP runtime
# loads) and NumPy's OpenBLAS workers (their jobs on fastnn's pool): fastnn.runtime.waiting.
_simd, _threads = _waiting.import_kernels_with_short_spin(_import_kernels, _openmp_runtime_loaded)
_waiting.quiet_openblas_workers(_threads.blas_callback_address() if _threads.openmp_enabled() else None)
# On request (FASTNN_MALLOC=keep-freed), freed arrays' memory stays in the process, so
# fresh outputs do not page-fault (fastnn.runtime.malloc).
_malloc.keep_freed_memory()


def _numpy_blas():
    """Name and version of the BLAS NumPy was built with, as NumPy reports it."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy, or a build that does not say
        return "unknown"


def build_info():
    """How this copy of fastnn was built and how it will run, as a dict.

    Keys: ``version``, ``compiler``, ``compile_args``, ``link_args``, ``openmp`` (bool),
    ``openmp_version`` (the specification built against, e.g. '4.5 (201511)'),
    ``openmp_runtime`` (the OpenMP library loaded, a path), ``native`` (built with
    ``-march=native``), ``simd`` (the level the matrix kernels run at: 'baseline',
    'avx2' or 'avx512'; ``FASTNN_SIMD`` or ``fastnn.set_simd_level`` choose it),
    ``simd_supported`` (the levels this CPU and build can run), ``num_threads``, ``omp_num_threads`` (the environment variable, or
    None), ``machine``, ``numpy``, ``numpy_blas``, ``omp_spincount`` (the
    ``GOMP_SPINCOUNT`` fastnn loaded its OpenMP runtime with, or None) and ``blas_spin``
    (what fastnn did to NumPy's OpenBLAS worker threads): see ``fastnn.runtime.waiting``;
    ``malloc`` (the allocator thresholds set with ``FASTNN_MALLOC=keep-freed``, else None:
    ``fastnn.runtime.malloc``).
    """
    from fastnn.runtime import build_record
    CONFIG = build_record()
    spec = _threads.openmp_version()
    info = {
        "version": __version__,
        "compiler": CONFIG["compiler"],
        "compile_args": list(CONFIG["compile_args"]),
        "link_args": list(CONFIG["link_args"]),
        # Ask the compiled module, not the record: it is what actually runs.
        "openmp": _threads.openmp_enabled(),
        "openmp_version": f"{_OPENMP_SPECS.get(spec, '?')} ({spec})" if spec else None,
        "openmp_runtime": _loaded_library("libgomp", "libomp", "libiomp") if spec else None,
        "native": CONFIG["native"],
        "simd": _simd.get_level(),
        "simd_supported": list(_simd.cpu_levels()),
        "num_threads": get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": platform.machine(),
        "numpy": np.__version__,
        "numpy_blas": _numpy_blas(),
        "omp_spincount": _waiting.omp_spincount,
        "malloc": _malloc.settings,
        "blas_spin": _waiting.describe(),
    }
    return info
