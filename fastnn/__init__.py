"""fastnn: fast CPU neural-network layers for NumPy.

``fastnn.reference.functional`` and ``fastnn.reference.layers`` are the pure-NumPy
specification (CS231n-style functions, Deep-Learning-from-Scratch-style layer classes);
the compiled backend mirrors them name for name.
"""
import numbers
import os
import platform

import numpy as np

from fastnn._kernels import threads as _threads

__version__ = "0.1.0"

__all__ = ["__version__", "build_info", "get_num_threads", "set_num_threads"]


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


def build_info():
    """How this copy of fastnn was built and how it will run, as a dict.

    Keys: ``version``, ``compiler``, ``compile_args``, ``link_args``, ``openmp`` (bool),
    ``native`` (built with ``-march=native``), ``simd`` (the instruction set the
    convolution micro-kernel runs with on this CPU), ``num_threads``, ``omp_num_threads``
    (the environment variable, or None), ``machine``, ``numpy``.
    """
    from fastnn._kernels import conv
    try:
        from fastnn._build_config import CONFIG
    except ImportError:  # a tree whose extensions were built by other means
        CONFIG = {"compiler": "unknown", "compile_args": [], "link_args": [], "native": False}
    info = {
        "version": __version__,
        "compiler": CONFIG["compiler"],
        "compile_args": list(CONFIG["compile_args"]),
        "link_args": list(CONFIG["link_args"]),
        # Ask the compiled module, not the record: it is what actually runs.
        "openmp": _threads.openmp_enabled(),
        "native": CONFIG["native"],
        "simd": conv.simd_level(),
        "num_threads": get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": platform.machine(),
        "numpy": np.__version__,
    }
    return info
