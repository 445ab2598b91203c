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

cdef extern from "gather_gemm.h" nogil:
    int KERNEL_AVX512_TALL "FASTNN_KERNEL_AVX512_TALL"
    int KERNEL_AVX512_QUAD "FASTNN_KERNEL_AVX512_QUAD"
    int QUAD_LANES_F32 "FASTNN_QUAD_LANES_F32"
    int QUAD_LANES_F64 "FASTNN_QUAD_LANES_F64"
    int LANES_F32 "FASTNN_LANES_F32"
    int LANES_F64 "FASTNN_LANES_F64"
    int WIDE_LANES_F32 "FASTNN_WIDE_LANES_F32"
    int WIDE_LANES_F64 "FASTNN_WIDE_LANES_F64"

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


def lanes(dtype, columns):
    """Columns per register tile for a product with ``columns`` output columns at the
    current level: its operand is packed in blocks of this many.  16 float32 / 8
    float64; at AVX-512, for more columns than that, twice (16 filters in 32 lanes would
    waste half of every FMA: measured slower) or four times that many, whichever pads
    ``columns`` less (four: 64 float32 lanes, 24 accumulators, fewer loads per FMA)."""
    single = np.dtype(dtype) == np.float32
    narrow = LANES_F32 if single else LANES_F64
    if _level != LEVEL_AVX512 or columns <= narrow:
        return narrow
    wide = WIDE_LANES_F32 if single else WIDE_LANES_F64
    quad = QUAD_LANES_F32 if single else QUAD_LANES_F64
    padded = lambda lanes: -(-columns // lanes) * lanes
    return quad if columns >= quad and padded(quad) <= padded(wide) else wide


cdef int current_level() noexcept nogil:
    return _level


cdef int kernel_for_lanes(Py_ssize_t lanes, bint single) noexcept nogil:
    """The micro-kernel (csrc/gather_gemm.h) for operands packed with ``lanes`` lanes:
    AVX-512's quad or wide one for those counts (only lanes() hands them out, and only at
    that level); for the narrow count, AVX-512's tall one at that level, else the
    level's."""
    if lanes == (QUAD_LANES_F32 if single else QUAD_LANES_F64):
        return KERNEL_AVX512_QUAD
    if lanes == (WIDE_LANES_F32 if single else WIDE_LANES_F64):
        return LEVEL_AVX512
    return KERNEL_AVX512_TALL if _level == LEVEL_AVX512 else _level


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
