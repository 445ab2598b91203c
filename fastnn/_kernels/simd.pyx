"""Which instruction-set level the matrix kernels (convolution, affine) run at.

Levels (csrc/simd.h): ``'baseline'`` (x86-64, SSE2), ``'avx2'`` (x86-64-v3: AVX2 + FMA),
``'avx512'`` (x86-64-v4: AVX-512 F/BW/DQ/VL, 512-bit vectors).  The default is the
highest the CPU supports; the environment variable ``FASTNN_SIMD`` (read when fastnn is
imported) chooses a lower one, and :func:`set_level` changes it at run time.  A level
the CPU lacks, or an unknown name, is refused with a warning (environment) or a
ValueError (set_level): never an illegal instruction.

Results do not depend on the level, except that the baseline has no FMA: its matrix
products round the multiply and the add apart (the last bits may differ).  AVX2 and
AVX-512 give bitwise the same results.  A build by another compiler, or for another
architecture, has one level, ``'baseline'`` (the compiler's default code).
"""
import os
import warnings

import numpy as np

from fastnn._kernels.gather_gemm cimport tile_height

cdef extern from "gather_gemm.h" nogil:
    int _KERNEL_PAIR_BASE "FASTNN_KERNEL_PAIR_BASE"
    int _KERNEL_PAIR_AVX2 "FASTNN_KERNEL_PAIR_AVX2"
    int _KERNEL_PAIR_AVX512 "FASTNN_KERNEL_PAIR_AVX512"
    int _KERNEL_TALL_AVX512 "FASTNN_KERNEL_TALL_AVX512"
    int _KERNEL_QUAD_AVX512 "FASTNN_KERNEL_QUAD_AVX512"
    int _KERNEL_NARROW_AVX512 "FASTNN_KERNEL_NARROW_AVX512"
    int _KERNEL_NARROW_AVX2 "FASTNN_KERNEL_NARROW_AVX2"
    int _KERNEL_SLIM_AVX2 "FASTNN_KERNEL_SLIM_AVX2"
    int _SLIM_LANES_F32 "FASTNN_SLIM_LANES_F32"
    int _SLIM_LANES_F64 "FASTNN_SLIM_LANES_F64"
    int _NARROW_LANES_F32 "FASTNN_NARROW_LANES_F32"
    int _NARROW_LANES_F64 "FASTNN_NARROW_LANES_F64"
    int _LANES_F32 "FASTNN_LANES_F32"
    int _LANES_F64 "FASTNN_LANES_F64"
    int _WIDE_LANES_F32 "FASTNN_WIDE_LANES_F32"
    int _WIDE_LANES_F64 "FASTNN_WIDE_LANES_F64"
    int _QUAD_LANES_F32 "FASTNN_QUAD_LANES_F32"
    int _QUAD_LANES_F64 "FASTNN_QUAD_LANES_F64"
    int _SHIFTED_LANES_F32 "FASTNN_SHIFTED_LANES_F32"
    int _SHIFTED_LANES_F64 "FASTNN_SHIFTED_LANES_F64"

cdef extern from "simd.h" nogil:
    int fastnn_cpu_level()
    int X86_LEVELS "FASTNN_X86_LEVELS"

LEVELS = ("baseline", "avx2", "avx512")

cdef int _cpu_level = fastnn_cpu_level()
cdef int _level = _cpu_level


def cpu_levels():
    """The levels this CPU (and this build) can run, lowest first."""
    return LEVELS[:_cpu_level + 1]


def get_level():
    """The level the matrix kernels run at now."""
    return LEVELS[_level]


def set_level(name):
    """Run the matrix kernels at level ``name`` (one of :func:`cpu_levels`), for the
    whole process.  Call it between kernel calls, not while one runs in another thread."""
    global _level
    if name not in cpu_levels():
        raise ValueError(f"set_level: level must be one of {cpu_levels()} on this CPU "
                         f"(known levels: {LEVELS}), got {name!r}")
    _level = LEVELS.index(name)


cdef int current_level() noexcept nogil:
    return _level


cdef bint cpu_runs(int level) noexcept nogil:
    return level <= _cpu_level


# The gather kernels (csrc/gather_gemm.h) by name, each with the level it needs and its
# lanes (float32, float64): what fastnn._kernels.plan chooses from.
KERNELS = {
    "pair_baseline": (_KERNEL_PAIR_BASE, "baseline", (_LANES_F32, _LANES_F64)),
    "pair_avx2": (_KERNEL_PAIR_AVX2, "avx2", (_LANES_F32, _LANES_F64)),
    "pair_avx512": (_KERNEL_PAIR_AVX512, "avx512", (_WIDE_LANES_F32, _WIDE_LANES_F64)),
    "tall_avx512": (_KERNEL_TALL_AVX512, "avx512", (_LANES_F32, _LANES_F64)),
    "quad_avx512": (_KERNEL_QUAD_AVX512, "avx512", (_QUAD_LANES_F32, _QUAD_LANES_F64)),
    "narrow_avx512": (_KERNEL_NARROW_AVX512, "avx512", (_NARROW_LANES_F32, _NARROW_LANES_F64)),
    "narrow_avx2": (_KERNEL_NARROW_AVX2, "avx2", (_NARROW_LANES_F32, _NARROW_LANES_F64)),
    "slim_avx2": (_KERNEL_SLIM_AVX2, "avx2", (_SLIM_LANES_F32, _SLIM_LANES_F64)),
}
# The kernels only a product's last, partial block of columns may take (fastnn._kernels.plan).
TAIL_ONLY = ("narrow_avx512", "narrow_avx2", "slim_avx2")
# The rows of each kernel's register tile, by name and by id.
TILE_ROWS = {name: tile_height(kernel_id) for name, (kernel_id, _, _) in KERNELS.items()}
TILE_ROWS_BY_ID = {kernel_id: TILE_ROWS[name] for name, (kernel_id, _, _) in KERNELS.items()}
# Output pixels per register row of AVX-512's shifted form (float32, float64).
SHIFTED_LANES = (_SHIFTED_LANES_F32, _SHIFTED_LANES_F64)


cdef int check_kernel(int kernel, Py_ssize_t lanes, bint single) except -1:
    """Refuse a kernel id this CPU cannot run, or lanes that are not the kernel's: a
    kernel asked of a private function by mistake is a ValueError, not an illegal
    instruction or a read past the packed operand.  (C comparisons: it runs every call.)"""
    cdef int narrow = _LANES_F32 if single else _LANES_F64
    cdef int need = LEVEL_AVX512, expected = narrow
    if kernel == _KERNEL_PAIR_BASE:
        need = LEVEL_BASELINE
    elif kernel == _KERNEL_PAIR_AVX2:
        need = LEVEL_AVX2
    elif kernel == _KERNEL_PAIR_AVX512:
        expected = _WIDE_LANES_F32 if single else _WIDE_LANES_F64
    elif kernel == _KERNEL_QUAD_AVX512:
        expected = _QUAD_LANES_F32 if single else _QUAD_LANES_F64
    elif kernel == _KERNEL_NARROW_AVX512:
        expected = _NARROW_LANES_F32 if single else _NARROW_LANES_F64
    elif kernel == _KERNEL_NARROW_AVX2:
        need = LEVEL_AVX2
        expected = _NARROW_LANES_F32 if single else _NARROW_LANES_F64
    elif kernel == _KERNEL_SLIM_AVX2:
        need = LEVEL_AVX2
        expected = _SLIM_LANES_F32 if single else _SLIM_LANES_F64
    elif kernel != _KERNEL_TALL_AVX512:
        raise ValueError(f"unknown kernel id {kernel}")
    if need > _cpu_level:
        raise ValueError(f"kernel {kernel} needs the {LEVELS[need]!r} level; this CPU runs "
                         f"{cpu_levels()}")
    if lanes != expected:
        raise ValueError(f"kernel {kernel} takes operands packed with {expected} lanes, "
                         f"got {lanes}")
    return 0


def _level_from_environment():
    requested = os.environ.get("FASTNN_SIMD", "").strip().lower()
    if not requested:
        return
    if requested not in cpu_levels():
        reason = ("is not a level" if requested not in LEVELS
                  else "is not supported by this CPU or build")
        warnings.warn(f"FASTNN_SIMD={requested!r} {reason} (levels here: {cpu_levels()}); "
                      f"running at {get_level()!r}", RuntimeWarning, stacklevel=2)
        return
    set_level(requested)


_level_from_environment()
