"""Which taps of a convolution's windows land in the zero border, and row schedules that
leave them out.

A gather pass (``fastnn._kernels.conv``: the forward pass, the "dilated" dx) computes for
each row r of its output the sum over the taps (c, i, j) of a window whose corner lies at
(u_r, v_r) of a zero-bordered source plane:

    out[r] = sum_{c, i, j} src[c, u_r + i, v_r + j] * w[(c*kh + i)*kw + j].

A tap that lands in the border adds 0 * w.  With finite weights that is an exact zero
added to an accumulator that started at +0, which changes no bit, so leaving it out
gives the same result for less work: at a 7 x 7 plane and a 3 x 3 window with padding 1,
18 % of the terms.  (An infinite or NaN weight makes it NaN, as in the reference: such
weights keep every tap.)

A register tile's rows share one list of taps.  So the rows of a group of images are
ordered by the taps their windows need (top-left corner first, then the top edge, ...,
the interior, ..., the bottom-right corner), cut into tiles, and each tile sums over the
smallest rectangle of taps (i0 <= i < i1, j0 <= j < j1, every channel) that covers its
rows' own: what it reads of the border beyond them is zero.  Consecutive tiles with one
rectangle form a segment, which the kernel runs as one call.  Each row's sum keeps the
(c, i, j) order, so no bit depends on the schedule, the grouping or the thread count.

dw (:func:`dw_schedule`) is the transposed case: its rows are the taps and its sum runs
over the output pixels, so its tiles of taps, ordered by window row, sum only the output
rows where those taps land inside the image (the border's terms there are xpad's zeros
times dout, exact zeros where dout is finite).
"""
from functools import lru_cache
from typing import NamedTuple

import numpy as np


class Gather(NamedTuple):
    """One image's gather pass.  Rows: a grid out_h x out_w (row a*out_w + b) whose window
    corners are (first_u + a*stride, first_v + b*stride) in the source; taps: (c, i, j)
    for c < channels, i < kh, j < kw, at offset (c*plane_h + i)*plane_w + j; the source
    is zero outside rows [data_top, data_top + data_h) and columns [data_left, data_left
    + data_w) of each plane, and image_size elements an image.  A row's result goes to
    pixel a*out_w + b of an output of out_image_size elements an image."""
    out_h: int
    out_w: int
    first_u: int
    first_v: int
    stride: int
    channels: int
    kh: int
    kw: int
    plane_h: int
    plane_w: int
    data_top: int
    data_h: int
    data_left: int
    data_w: int
    image_size: int
    out_image_size: int


def forward_pass(C, H, W, F, HH, WW, stride, pad):
    """The forward pass's Gather: rows the output pixels, windows in the zero-padded input
    (C, H + 2*pad, W + 2*pad) (conv.forward)."""
    Hp, Wp = H + 2 * pad, W + 2 * pad
    out_h, out_w = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    return Gather(out_h, out_w, 0, 0, stride, C, HH, WW, Hp, Wp, pad, H, pad, W, C * Hp * Wp,
                  F * out_h * out_w)


def dilated_pass(C, H, W, F, HH, WW, pad):
    """The "dilated" dx's Gather (stride 1): rows the input pixels, windows corners
    (pad + a, pad + b) in E (F, H + pad + HH - 1, W + pad + WW - 1), the output gradient
    placed from row HH - 1 and column WW - 1, zero elsewhere (conv.backward)."""
    Eh, Ew = H + pad + HH - 1, W + pad + WW - 1
    out_h, out_w = H + 2 * pad - HH + 1, W + 2 * pad - WW + 1
    return Gather(H, W, pad, pad, 1, F, HH, WW, Eh, Ew, HH - 1, min(out_h, Eh - HH + 1),
                  WW - 1, min(out_w, Ew - WW + 1), F * Eh * Ew, C * H * W)


class Schedule(NamedTuple):
    """The rows of a group of images in the order they are tiled.

    rows (R,): each row's window corner, an offset from the group's first source image;
    dest (R,): where its result goes, image * out_image_size + pixel;
    segments (S, 4): first row, rows, first tap, taps (into Schedules.taps): a run of
    tiles and the taps they sum;
    work: tiles x taps over the segments, what the grouping compares."""
    rows: np.ndarray
    dest: np.ndarray
    segments: np.ndarray
    work: int


class Schedules(NamedTuple):
    """A whole batch's: groups of ``images`` images on ``main``, the last N % images
    (if any) on ``tail``.  taps (T,): the tap offsets of every segment's rectangle, one
    rectangle after another; tap_index (T,): each one's index in the window's (c, i, j)
    order, the rows of the packed weights that go with it."""
    images: int
    main: Schedule
    tail: Schedule
    taps: np.ndarray
    tap_index: np.ndarray


def _valid_taps(corners, size, start, extent):
    """For windows of ``size`` taps from ``corners``: the taps [lo, hi) of each that land
    in [start, start + extent)."""
    lo = np.clip(start - corners, 0, size)
    hi = np.clip(start + extent - corners, 0, size)
    return lo, np.maximum(hi, lo)


def _schedule(g, images, mr, skip, rectangles, taps, tap_index):
    """The Schedule of ``images`` images of Gather g, tiles of mr rows; the rectangles
    its segments use are added to ``rectangles`` (rectangle -> first tap, taps), their
    taps to the lists ``taps`` and ``tap_index``."""
    P = g.out_h * g.out_w
    a, b = np.divmod(np.arange(P), g.out_w)
    if skip:
        i_lo, i_hi = _valid_taps(g.first_u + g.stride * np.arange(g.out_h), g.kh, g.data_top, g.data_h)
        j_lo, j_hi = _valid_taps(g.first_v + g.stride * np.arange(g.out_w), g.kw, g.data_left, g.data_w)
    else:
        i_lo, i_hi = np.zeros(g.out_h, np.intp), np.full(g.out_h, g.kh, np.intp)
        j_lo, j_hi = np.zeros(g.out_w, np.intp), np.full(g.out_w, g.kw, np.intp)
    # A pixel's class: its grid row's valid taps, then its column's, each numbered in the
    # order first met (top to bottom, left to right), so that neighbouring classes, whose
    # rows share a tile at their boundary, need nearly the same taps.
    row_class = _first_met(i_lo * (g.kh + 1) + i_hi)
    col_class = _first_met(j_lo * (g.kw + 1) + j_hi)
    key = row_class[a] * (col_class.max() + 1) + col_class[b]
    image = np.repeat(np.arange(images), P)
    pixel = np.tile(np.arange(P), images)
    order = np.lexsort((pixel, image, np.tile(key, images)))  # by class, then image, pixel
    image, pixel = image[order], pixel[order]
    pa, pb = a[pixel], b[pixel]
    rows = ((g.first_u + pa * g.stride) * g.plane_w + g.first_v + pb * g.stride
            + image * g.image_size).astype(np.intp)
    dest = (image * g.out_image_size + pixel).astype(np.intp)
    # Each tile's rectangle: the bounds of its rows' valid taps; a segment, the tiles from
    # one change of rectangle to the next.
    R = len(order)
    starts = np.arange(0, R, mr)
    if R == 0:
        return Schedule(rows, dest, np.zeros((0, 4), np.intp), 0)
    bounds = np.stack([np.minimum.reduceat(i_lo[pa], starts), np.maximum.reduceat(i_hi[pa], starts),
                       np.minimum.reduceat(j_lo[pb], starts), np.maximum.reduceat(j_hi[pb], starts)],
                      axis=1)
    change = np.flatnonzero(np.any(bounds[1:] != bounds[:-1], axis=1)) + 1
    first_tile = np.concatenate([[0], change])
    last_tile = np.concatenate([change, [len(starts)]])
    segments, work = [], 0
    for t0, t1 in zip(first_tile, last_tile):
        rectangle = tuple(int(v) for v in bounds[t0])
        if rectangle not in rectangles:
            rectangles[rectangle] = _add_taps(g, rectangle, taps, tap_index)
        first, count = rectangles[rectangle]
        work += (t1 - t0) * count
        segments.append([t0 * mr, min(R, t1 * mr) - t0 * mr, first, count])
    return Schedule(rows, dest, np.array(segments, np.intp).reshape(-1, 4), int(work))


def _first_met(values):
    """Each value's rank among the distinct values in the order they first appear."""
    _, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


def _add_taps(g, rectangle, taps, tap_index):
    """Append the taps (c, i, j) of rectangle (i0, i1, j0, j1), every channel, to taps
    and tap_index; return (first tap, taps)."""
    i0, i1, j0, j1 = rectangle
    c = np.arange(g.channels)[:, None, None]
    i = np.arange(i0, i1)[None, :, None]
    j = np.arange(j0, j1)[None, None, :]
    first = sum(len(t) for t in taps)
    taps.append(((c * g.plane_h + i) * g.plane_w + j).ravel())
    tap_index.append(((c * g.kh + i) * g.kw + j).ravel())
    return first, len(taps[-1])


def _makespan(main_work, images, tail_work, N, threads):
    """The busiest thread's work when N // images tasks of main_work and one of
    tail_work (if N % images) are handed out in order to whichever thread is free."""
    tasks = N // images
    rounds, extra = divmod(tasks, threads)
    if not N % images:
        return (rounds + (extra > 0)) * main_work
    if extra == 0:
        return rounds * main_work + tail_work
    return max((rounds + 1) * main_work, rounds * main_work + tail_work)


# A schedule holds two tables of a group's rows (0.8 MB for a 224 x 224 plane): the
# shapes of a few networks, not every shape ever seen.
@lru_cache(maxsize=64)
def schedules(g, N, threads, mr, skip):
    """The Schedules of a batch of N images of Gather g on ``threads`` threads, for a
    kernel of mr-row tiles; ``skip``: leave out the taps that land in the border (finite
    weights only).

    The images a task takes: of 1 to 2*mr (and at most N; one for a plane of 64 tiles
    or more), the count whose schedule's
    busiest thread has the least work, the fewest within 1/64 of it.  More images a
    task fill a border class's tiles (a 7 x 7 plane has one pixel of each corner: six
    images fill a tile of six rows with it), fewer spread the batch over the threads."""
    best = None
    # (A plane of 64 tiles' rows or more fills its class's tiles nearly alone.)
    most = 1 if g.out_h * g.out_w >= 64 * mr else min(2 * mr, max(N, 1))
    for images in range(1, most + 1):
        rectangles, taps, tap_index = {}, [], []
        main = _schedule(g, images, mr, skip, rectangles, taps, tap_index)
        tail = _schedule(g, N % images, mr, skip, rectangles, taps, tap_index)
        span = _makespan(main.work, images, tail.work, N, max(threads, 1))
        if best is None or 64 * span < 63 * best[0]:
            best = (span, Schedules(images, main, tail, np.concatenate(taps).astype(np.intp),
                                    np.concatenate(tap_index).astype(np.intp)))
    return best[1]


class TapSchedule(NamedTuple):
    """dw's rows (the taps) in the order they are tiled, and the output pixels each tile
    sums over: dw[f, tap] = sum_p xpad[tap + pixel p] * dout[f, p].

    taps (K,): each row's tap offset in a padded input image; order (K,): its index in
    the (c, i, j) order (row r of dw's partial sums is tap order[r]); segments (S, 4):
    first row, rows, first pixel, pixels: a run of tiles and the output pixels, whole
    output rows in order, over which their taps land inside the image (a tap of window
    row i lies in the border for the output rows above or below its range, where it
    adds xpad's zero times dout: an exact zero for finite dout; a dout that is not all
    finite takes every row over every pixel)."""
    taps: np.ndarray
    order: np.ndarray
    segments: np.ndarray


@lru_cache(maxsize=64)
def dw_schedule(C, H, W, HH, WW, stride, pad, mr):
    """The TapSchedule of dw for an input (C, H, W), windows HH x WW, ``stride`` and
    ``pad``, on a kernel of mr-row tiles: the taps ordered by their window row i (then
    c, j, so that a 3-wide filter's taps stay three consecutive offsets), each tile
    summing the output rows its taps' rows need (the union, for a tile across two)."""
    Hp, Wp = H + 2 * pad, W + 2 * pad
    out_h, out_w = (Hp - HH) // stride + 1, (Wp - WW) // stride + 1
    i = np.arange(HH)
    first = np.clip(-((i - pad) // stride), 0, out_h)  # ceil((pad - i) / stride)
    last = np.maximum(np.clip((pad + H - 1 - i) // stride + 1, 0, out_h), first)
    c, ii, j = (a.ravel() for a in np.meshgrid(np.arange(C), i, np.arange(WW), indexing="ij"))
    order = np.lexsort((j, c, ii)).astype(np.intp)
    taps = ((c * Hp + ii) * Wp + j)[order].astype(np.intp)
    K = len(order)
    if K == 0:
        return TapSchedule(taps, order, np.zeros((0, 4), np.intp))
    starts = np.arange(0, K, mr)
    lo = np.minimum.reduceat(first[ii[order]], starts)
    hi = np.maximum.reduceat(last[ii[order]], starts)
    change = np.flatnonzero((lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])) + 1
    t0 = np.concatenate([[0], change])
    t1 = np.concatenate([change, [len(starts)]])
    segments = np.stack([t0 * mr, np.minimum(K, t1 * mr) - t0 * mr, lo[t0] * out_w,
                         (hi[t0] - lo[t0]) * out_w], axis=1).astype(np.intp)
    return TapSchedule(taps, order, segments)
