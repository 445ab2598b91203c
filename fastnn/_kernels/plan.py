"""The one place that decides how a compiled op runs: its form, its micro-kernel and the
lanes its packed operand takes.

``fastnn.functional`` asks :func:`plan` and hands the answer to the kernels
(``affine.pyx``, ``conv.pyx``), which run what they are given.  The kernels are named by
their tile (csrc/gather_gemm.h); the SIMD level (``fastnn._kernels.simd``) only decides
which of them may be chosen.  Every rule is written once, below, beside the choice it
makes.  No choice changes a result's bits except through the level itself (the baseline
has no FMA): every form and every kernel of a level sums in the same order.
"""
from functools import lru_cache
from typing import NamedTuple, Optional

import numpy as np

from fastnn._kernels import simd

# Products of at most this many multiply-adds go to NumPy (dot, or matmul where dot's
# zero-fill of a large out costs more: affine.pyx's _numpy_product): at that size its BLAS
# runs on the calling thread (OpenBLAS wakes its pool only above 4 * 65536), reads the
# operands where they lie, and costs less than packing B for fastnn's kernel
# (benchmarks/NOTES.md, "Small calls").
SMALL_PRODUCT = 2**18

# The layouts of a product's operands and the passes over its summed index (the rules
# beside their use in _plan).
PACK_B_MIN_ROWS = 256
PANEL_MIN_BYTES = 1 << 20
K_CHUNK_BYTES = 2048
ROW_SLICE_BYTES = 1 << 18
PASSES_MIN_BLOCKS = 6
# The rows of a task of the affine products (affine.pyx): a multiple of every tile's
# height (6 and 12 rows); fewer where a product has too few tasks for the threads.
ROW_CHUNK = 48

# Below this many elements the elementwise kernels' call costs more than NumPy's loop
# (the kernels' parallel grain): small arrays take the reference's expression, which
# gives the same bits.
SMALL_ELEMENTWISE = 32768

# A transposed product A.T @ B, or A @ B with B a row-major array's transpose (dout @ W.T),
# is computed as its transpose B.T @ A.T (lanes over out's rows instead of its columns,
# then out transposed back; in the second, A.T is packed in B's place) where that pads
# the register tiles to at most this fraction of the work, over a summed index at least
# this long: the transposition is a pass over out (measured: the recommenders' 1682 x
# 943 x 20 gains a third, the autoencoder's 1682 x 16 x 20 and 16 x 1682 x 20 (float32)
# an eighth; at 784 x 100 x 50, 0.84 of the work, it lost).
SWAP_MAX_WORK = 0.8
SWAP_MIN_TERMS = 16
# ... and A.T @ B whose A would be copied into panels (PANEL_MIN_BYTES) is swapped even
# where that pads up to SWAP_PANELS_MAX_WORK times the work, if out has at most
# SWAP_PANELS_MAX_COLUMNS columns: the copy is then a large part of the time, and the
# unswapped product's last columns run on a narrow tile, whose lanes cost more than a
# pair tile's (at AVX2, 1682 x 943 x M, the recommenders' x.T @ dout, swapped against
# in panels, ms: M = 16 float32 2.2 / 2.8, float64 4.1 / 6.3; M = 20 (1.2 times the
# padded work swapped) 2.9 / 3.2 and 5.9 / 6.9; M = 32 4.5 / 4.0 and 9.5 / 8.3; M = 100
# float32 12.7 / 10.6; benchmarks/NOTES.md, "Matrix products").  Below 1 /
# SWAP_MAX_WORK, so that the swapped product, whose work ratio is the inverse, never
# swaps back.
SWAP_PANELS_MAX_WORK = 1.24
SWAP_PANELS_MAX_COLUMNS = 20

# A product with at least this many of the 6x4 tile's blocks of columns runs its full
# blocks on that tile (the recommenders' 1682 columns, CS231n's 500: 1.1-1.9x over the
# 6x2 tilings that padded fewer columns; benchmarks/NOTES.md, "Matrix products").  With
# fewer, a product of few rows has few tasks, and the thread split decides.
WIDE_MIN_BLOCKS = 4

# The tiles a product's last few columns may take, by level, narrowest first: the first
# that holds them (_gather_with_tail).  12 rows of one 32-byte vector, and at AVX2 of one
# 16-byte vector.
NARROW_TAILS = {"avx512": ("narrow_avx512",), "avx2": ("slim_avx2", "narrow_avx2")}

# The "dilated" backward-data form puts input channels in the lanes: it needs at least
# AVX2's lane count of them at every level, so that every level takes the same form and
# gives the same bits (float32, float64).
DILATED_MIN_CHANNELS = {np.float32: 16, np.float64: 8}

OPS = ("relu", "matmul", "conv_forward", "conv_backward")


class Plan(NamedTuple):
    """How one call runs.

    ``form``: 'numpy' (the reference's NumPy expression) or 'kernel' for relu;
    'numpy', 'gather' or 'swapped' (out.T = B.T @ A.T, by the plan of that product) for
    matmul; 'gather' or 'shifted' for conv_forward; 'columns'
    or 'dilated' for conv_backward's dx.  ``kernel``: the gather kernel's name
    (``fastnn._kernels.simd.KERNELS``) or None; ``kernel_id`` its number for the .pyx
    functions; ``lanes``: the columns per register tile its packed operand takes (for
    the shifted form: output pixels per register row).  For matmul, ``pack_b``: B is
    packed in blocks of lanes (else its rows are read where they lie, only a partial
    last block packed), ``a_panels``: a transposed A is copied into panels first, and
    ``tail_kernel_id``/``tail_lanes``: the kernel and lanes of the last, partial block
    of columns (a narrower tile where one holds them: every kernel sums in the same
    order, so the bits do not change), and ``k_chunk``: the summed terms per pass over
    the product (0: all in one pass; in passes, the partial sums are stored and
    reloaded exactly, so the bits do not change either).  For conv_backward, ``kernel``
    runs dx and ``dw_kernel_id``/``dw_lanes`` are the kernel and lanes of dw (every
    kernel sums in the same order: the bits do not depend on which).  ``skip_border``
    (conv_forward's gather form, conv_backward's dilated dx): the gather pass leaves out
    the taps that land in the zero border (fastnn._kernels.borders: the same bits, with
    finite weights only).
    """
    form: str
    kernel: Optional[str] = None
    kernel_id: int = -1
    lanes: int = 0
    pack_b: bool = True
    a_panels: bool = False
    tail_kernel_id: int = -1
    tail_lanes: int = 0
    k_chunk: int = 0
    dw_kernel_id: int = -1
    dw_lanes: int = 0
    skip_border: bool = False


_NUMPY = Plan("numpy")


def plan(op, dtype, shape, level=None, *, stride=1, pad=0, finite_weights=True,
         transposed=False, b_rows_contiguous=False, b_columns_contiguous=False):
    """The plan for ``op`` (one of ``OPS``) on ``dtype`` at ``level`` (default: the level
    the kernels run at now, ``fastnn.get_simd_level()``).

    ``shape``: relu ``(size,)``; matmul ``(R, K, M)`` for (R, K) @ (K, M);
    conv_forward and conv_backward ``(C, H, W, F, HH, WW)`` with ``stride`` and ``pad``.
    ``finite_weights`` (conv_forward, conv_backward): whether every weight is finite.  matmul:
    ``transposed``, the product is A.T @ B with A stored (K, R); ``b_columns_contiguous``,
    B is the transpose of a row-major array (a weight matrix's, in ``dout @ W.T``);
    ``b_rows_contiguous``,
    B's rows are contiguous in memory.
    """
    # The NumPy forms first, with no lookup: they are the small calls, whose cost is
    # mostly this function's (benchmarks/NOTES.md, "Small calls").
    if op == "matmul" and shape[0] * shape[1] * shape[2] <= SMALL_PRODUCT:
        return _NUMPY
    if op == "relu" and shape[0] < SMALL_ELEMENTWISE:
        return _NUMPY
    if op not in OPS:
        raise ValueError(f"plan: op must be one of {OPS}, got {op!r}")
    return _plan(op, np.dtype(dtype).type, tuple(shape), level or simd.get_level(),
                 stride, pad, bool(finite_weights), bool(transposed), bool(b_rows_contiguous),
                 bool(b_columns_contiguous))


def matmul_plan(dtype, R, K, M, transposed, b_rows_contiguous, b_columns_contiguous):
    """``plan("matmul", dtype, (R, K, M), ...)`` for a product's checked operands (dtype a
    NumPy float dtype, the layout flags bools), with the least work a call: the matrix
    products' path (a product's call costs microseconds beside its kernel's)."""
    if R * K * M <= SMALL_PRODUCT:
        return _NUMPY
    return _plan("matmul", dtype.type, (R, K, M), simd.get_level(), 1, 0, True, transposed,
                 b_rows_contiguous, b_columns_contiguous)


@lru_cache(maxsize=4096)
def _plan(op, dtype, shape, level, stride, pad, finite_weights, transposed, b_rows,
          b_columns=False):
    if op == "relu":
        (size,) = shape
        return Plan("numpy" if size < SMALL_ELEMENTWISE else "kernel")
    if op == "matmul":
        R, K, M = shape
        if R * K * M <= SMALL_PRODUCT:
            return Plan("numpy")
        itemsize = np.dtype(dtype).itemsize
        # A narrow A.T @ B whose swap saves copying A into panels (swapped, A is its B, read
        # in place)
        narrow_saves_panels = (transposed and M <= SWAP_PANELS_MAX_COLUMNS
                               and K * R * itemsize > PANEL_MIN_BYTES
                               and K * M * itemsize <= PANEL_MIN_BYTES)
        if (transposed or b_columns) and K >= SWAP_MIN_TERMS and _swap_pays(
                _padded_work(dtype, M, R, level), _padded_work(dtype, R, M, level),
                narrow_saves_panels):
            return Plan("swapped")
        # B's rows read in place skip a pass over B, which only pays where few rows of A
        # share it; for many rows the packed blocks (contiguous, in L1) run faster.
        # A transposed A read in place steps a whole row of A (a page, for the
        # recommenders) per summed term: copied into panels once it outgrows the L2
        # (benchmarks/NOTES.md, "Matrix products").
        found, tail = _gather_with_tail(dtype, M, level)
        # An A of few rows that outgrows the L2 is read from memory once per lane block
        # in one pass: in passes of K_CHUNK_BYTES of each row, a pass's slices of A and
        # B stay in the L2 for all its tasks (CS231n's 100x3072x100: 1.4x).
        k_chunk = 0
        if not transposed and R < PACK_B_MIN_ROWS and R * K * itemsize > PANEL_MIN_BYTES:
            k_chunk = K_CHUNK_BYTES // itemsize
        # With many rows, in one pass the blocks of lanes go one after another, each
        # reading all of A: from memory where a row chunk's terms outgrow the L2.  In
        # passes, a row chunk's blocks run in turn on its slice of A, kept to
        # ROW_SLICE_BYTES (half Zen 1's L2), the passes of equal length (943 x 1682 x 200
        # float64: 1.15-1.3x, 3 passes of 561 terms).  Over few blocks of lanes the
        # re-reads are few, and the passes' stores cost more (943 x 1682 x 20: 0.9x).
        elif (not transposed and R >= PACK_B_MIN_ROWS
              and -(-M // found.lanes) >= PASSES_MIN_BLOCKS
              and ROW_CHUNK * K * itemsize > ROW_SLICE_BYTES):
            passes = -(-ROW_CHUNK * K * itemsize // ROW_SLICE_BYTES)
            k_chunk = -(-K // passes)
        return found._replace(
            pack_b=not (b_rows and R < PACK_B_MIN_ROWS),
            a_panels=transposed and K * R * itemsize > PANEL_MIN_BYTES,
            tail_kernel_id=tail.kernel_id, tail_lanes=tail.lanes, k_chunk=k_chunk)
    C, H, W, F, HH, WW = shape
    if op == "conv_forward":
        out_h = (H + 2 * pad - HH) // stride + 1
        out_w = (W + 2 * pad - WW) // stride + 1
        if stride == 1 and level == "avx512" and _shifted_fits(out_h, out_w, W + 2 * pad, dtype):
            return Plan("shifted", lanes=simd.SHIFTED_LANES[dtype == np.float64])
        # Lanes over the filters; the border's taps are left out where every weight is
        # finite (an infinite one times a border zero is NaN, as in the reference).
        return _gather(dtype, F, level)._replace(skip_border=finite_weights)
    # conv_backward: one kernel serves dw (lanes over F) and dx (lanes over the C*HH*WW
    # taps in the "columns" form, over the C channels in the "dilated" one), except that
    # dw takes AVX-512's 6x4 tile wherever its F columns would (run plain, it measured
    # 5-10 % faster than the shared kernel's windowed form at DeepConvNet's conv5 and
    # conv6 and at the CIFAR layer; benchmarks/NOTES.md, "Convolution kernels").  The
    # dilated form also multiplies the zeros between and around the gradients by the
    # weights: with an infinite or NaN weight that is NaN where the reference (and the
    # columns form) have no such product at all.
    columns = C < DILATED_MIN_CHANNELS[dtype] or stride > 1 or not finite_weights
    found = _gather(dtype, min(F, C * HH * WW if columns else C), level)
    dw = _gather(dtype, F, level)
    if dw.kernel != "quad_avx512":
        dw = found
    return found._replace(form="columns" if columns else "dilated", dw_kernel_id=dw.kernel_id,
                          dw_lanes=dw.lanes, skip_border=not columns)


def _swap_pays(swapped_work, work, saves_panels):
    """Whether to compute a product as its transpose: where that pads the tiles to at most
    SWAP_MAX_WORK of the work, or, where it saves copying a transposed A into panels for
    a narrow out (the swapped product reads that A as its B, in place), to at most
    SWAP_PANELS_MAX_WORK of it.  The swapped product's own plan never swaps back: it
    needs no panels, and its work ratio is the inverse."""
    return swapped_work <= (SWAP_PANELS_MAX_WORK if saves_panels else SWAP_MAX_WORK) * work


def _gather(dtype, columns, level):
    """The gather kernel for a product with ``columns`` output columns: 16 float32 / 8
    float64 lanes; at AVX-512, for more columns than that, twice (16 filters in 32 lanes
    would waste half of every FMA: measured slower) or four times that many, whichever
    pads ``columns`` less (four: more accumulators, fewer loads per FMA), and for that
    many or fewer, the 12-row tile of one vector."""
    if level != "avx512":
        name = f"pair_{level}"
    else:
        lanes_of = {name: simd.KERNELS[name][2][dtype == np.float64]
                    for name in ("tall_avx512", "pair_avx512", "quad_avx512")}
        padded = lambda name: -(-columns // lanes_of[name]) * lanes_of[name]
        if columns <= lanes_of["tall_avx512"]:
            name = "tall_avx512"
        elif columns >= lanes_of["quad_avx512"] and padded("quad_avx512") <= padded("pair_avx512"):
            name = "quad_avx512"
        else:
            name = "pair_avx512"
    return _named(dtype, name)


def _gather_with_tail(dtype, columns, level):
    """The gather kernel for a product's full blocks of columns and the one for its last,
    partial block: of the kernels this level runs, the pair that computes the fewest
    padded columns (every kernel sums in the same order: the bits do not depend on it),
    ties to _gather's choice.  (100 float32 columns at AVX-512: 3 x 32 + 16 = 112 on the
    6x2 and 12x1 tiles, where 6x4 tiles alone compute 128.)  Then a last block that the
    level's narrow tile holds (8 float32 / 4 float64 columns, or at AVX2 4 / 2 on the
    slim tile, NARROW_TAILS) takes it: at AVX-512 32-byte vectors, half the lanes (and on
    Zen 4, which splits a 64-byte FMA in two, half the cycles); at AVX2 one vector a row
    instead of the pair tile's two.  It
    never changes the main kernel: a 12-row tile of one vector a row in its place measured
    slower where the 6x2 tile had been chosen (benchmarks/NOTES.md, "Matrix products").
    With WIDE_MIN_BLOCKS or more of its blocks, the full blocks take the 6x4 tile whatever
    the padding: its lane costs the least, and one last block's padding is a small part
    of many."""
    first = _gather(dtype, columns, level)
    best, best_cost = None, None
    names = [first.kernel] + [name for name, (_, need, _) in simd.KERNELS.items()
                              if name != first.kernel and level == need
                              and name not in simd.TAIL_ONLY]
    if level == "avx512" and columns >= WIDE_MIN_BLOCKS * _named(dtype, "quad_avx512").lanes:
        names = ["quad_avx512"]
    for name in names:
        main = _named(dtype, name)
        rest = columns % main.lanes
        tail = main if not rest else _gather(dtype, rest, level)
        if tail.lanes < rest:
            tail = main
        cost = columns - rest + (-(-rest // tail.lanes) * tail.lanes if rest else 0)
        if best_cost is None or cost < best_cost:
            best, best_cost = (main, tail), cost
    main, tail = best
    for narrow in NARROW_TAILS.get(level, ()):
        if 0 < columns % main.lanes <= _named(dtype, narrow).lanes:
            return main, _named(dtype, narrow)
    return main, tail


def _padded_work(dtype, rows, columns, level):
    """Multiply-adds per summed term that a (rows, columns) product's register tiles
    compute, padding included: each lane block's rows rounded up to its tile's height (6,
    or 12 for the tall tile), its lanes to the kernel's."""
    main, tail = _gather_with_tail(dtype, columns, level)
    full, rest = divmod(columns, main.lanes)
    tiled = lambda kernel: -(-rows // simd.TILE_ROWS[kernel]) * simd.TILE_ROWS[kernel]
    work = full * main.lanes * tiled(main.kernel)
    if rest:
        work += -(-rest // tail.lanes) * tail.lanes * tiled(tail.kernel)
    return work


def _named(dtype, name):
    kernel_id, _, lanes = simd.KERNELS[name]
    return Plan("gather", name, kernel_id, lanes[dtype == np.float64])


def _shifted_fits(out_h, out_w, row_len, dtype):
    """Whether a stride-1 plane suits the shifted form (lanes over output pixels) better
    than lanes over channels: the same sums in the same order, so the same bits, with the
    output written in its own layout and no packing of the filters.  Its register rows
    run over whole rows of ``row_len`` positions, ``row_len - out_w`` of them not outputs,
    and round up to the lanes: where 3/4 or more of the positions computed are outputs it
    measured as fast or faster (benchmarks/NOTES.md, "Convolution forms"); a plane that
    wastes more would lose what the form saves."""
    lanes = simd.SHIFTED_LANES[dtype == np.float64]
    positions = (out_h - 1) * row_len + out_w
    return positions >= lanes and 4 * out_h * out_w >= 3 * (-(-positions // lanes) * lanes)
