"""What fastnn adjusts in the process it runs in, beside its kernels: how idle threads
wait (:mod:`~fastnn.runtime.waiting`: its OpenMP workers and NumPy's OpenBLAS workers),
glibc's allocator on request (:mod:`~fastnn.runtime.malloc`), and the arrays its kernels
write (:mod:`~fastnn.runtime.buffers`: outputs, scratch and reused operands, NaN-filled
under ``FASTNN_POISON=1``).  The thread count itself is ``fastnn.set_num_threads``."""


def build_record():
    """How the extensions were built, as setup.py recorded it (``fastnn._build_config``):
    a dict with ``compiler``, ``compile_args``, ``link_args`` and ``native``; unknowns for
    a tree whose extensions were built by other means."""
    try:
        from fastnn._build_config import CONFIG
    except ImportError:
        return {"compiler": "unknown", "compile_args": [], "link_args": [], "native": False}
    return CONFIG
