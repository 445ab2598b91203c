"""The compiled backend: the functions of ``fastnn.reference.functional`` (same names,
signatures, caches contract and results), with convolution, im2col/col2im, pooling and
batch normalisation in Cython/OpenMP kernels.

Argument checks are the reference's own (``fastnn.checks``), so both backends accept
and reject the same inputs.  ReLU is compiled too, and so are the matrix products
(NumPy's BLAS gives other bits at other thread counts; benchmarks/NOTES.md, "Matrix
products"); ``fastnn._kernels.plan`` decides, call by call, what runs.  Sigmoid is
compiled (one pass, its own exp: within a few ulp of the reference's, not its bits;
csrc/sigmoid.h), and so are the softmax and squared-error losses.  Tanh, dropout and
the SVM loss are the reference functions themselves: elementwise NumPy expressions that
are not hot spots of the seed networks (benchmarks/NOTES.md, "Small calls").

``conv_param`` takes an optional ``'algo'``: ``'direct'`` (no im2col buffer),
``'im2col'`` (im2col + one BLAS matrix product), or ``'auto'`` (the default; see
:func:`choose_conv_algo`).

Caches have the reference's layout and rules (no memory shared with the caller's x), so
either backend's backward pass takes either backend's cache.  Outputs come from
``fastnn.runtime.buffers.empty``: NaN-filled under ``FASTNN_POISON=1``, so a kernel that
leaves an output element unwritten cannot go unnoticed in the tests.
"""

import numpy as np

from fastnn import checks, norms
from fastnn.runtime.buffers import empty as _empty
from fastnn.runtime.buffers import reused as _reused
from fastnn.runtime.buffers import scratch as _scratch
from fastnn._kernels import affine as _affine
from fastnn._kernels import borders as _borders
from fastnn._kernels import batchnorm as _bn
from fastnn._kernels import conv as _conv
from fastnn._kernels import elementwise as _elementwise
from fastnn._kernels import im2col as _im2col
from fastnn._kernels import losses as _losses
from fastnn._kernels import pool as _pool
from fastnn._kernels import simd as _simd
from fastnn._kernels.plan import plan
from fastnn._kernels.threads import get_num_threads as _num_threads
from fastnn.reference import functional as _reference
from fastnn.reference.functional import __all__ as _reference_names
from fastnn.reference.functional import (  # noqa: F401  (re-exported: same functions)
    dropout_backward, dropout_forward, svm_loss, tanh_backward, tanh_forward)

# The reference's names, plus the convolution algorithm chooser and the optimizers' steps.
__all__ = list(_reference_names) + ["choose_conv_algo", "adam_update", "rmsprop_update"]

CONV_ALGOS = ("auto", "direct", "im2col")


# ----------------------------------------------------------------------------------
# im2col / col2im
# ----------------------------------------------------------------------------------

def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """input_data (N, C, H, W) -> col (N*OH*OW, C*filter_h*filter_w), the textbook's layout
    (see ``fastnn.reference.functional.im2col``)."""
    (x,) = checks.as_float_arrays("im2col", input_data=input_data)
    filter_h, filter_w, stride, pad, out_h, out_w = checks.im2col_geometry(
        "im2col", x, filter_h, filter_w, stride, pad)
    N, C = x.shape[:2]
    col = _empty((N * out_h * out_w, C * filter_h * filter_w), x.dtype)
    _im2col.im2col(np.ascontiguousarray(x), col, filter_h, filter_w, stride, pad, out_h, out_w)
    return col


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """col (N*OH*OW, C*filter_h*filter_w) -> (N, C, H, W), the adjoint of :func:`im2col`."""
    N, C, H, W = checks.input_shape_param("col2im", input_shape)
    (col,) = checks.as_float_arrays("col2im", col=col)
    filter_h, filter_w, stride, pad, out_h, out_w = checks.im2col_geometry(
        "col2im", np.broadcast_to(np.uint8(0), (N, C, H, W)), filter_h, filter_w, stride, pad)
    checks.check_shape("col2im", "col", col, (N * out_h * out_w, C * filter_h * filter_w),
                        "(N*OH*OW, C*filter_h*filter_w)")
    x = np.zeros((N, C, H, W), dtype=col.dtype)
    _im2col.col2im(np.ascontiguousarray(col), x, filter_h, filter_w, stride, pad, out_h, out_w)
    return x


# ----------------------------------------------------------------------------------
# Affine
# ----------------------------------------------------------------------------------

def matmul(a, b, transpose_a=False):
    """a @ b, or a.T @ b with ``transpose_a``: a (R, K) (or (K, R)), b (K, M) -> (R, M).
    As the reference; no thread count changes a bit of it."""
    out = _affine.matmul(a, b, transpose_a)  # the common call, checked and planned in C
    if out is None:  # (checked operands are always the common call)
        out = _affine.matmul(*checks.matmul_args("matmul", a, b, transpose_a), transpose_a)
    return out


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b: x (N, d_1, ..., d_k), w (D, M), b (M,) -> out (N, M),
    cache.  As the reference."""
    common = _affine.forward(x, w, b)  # the common call, checked in C
    if common is not None:
        return common
    xs, w, b, D = checks.affine_args("affine_forward", x, w, b)
    out = _affine.matmul(xs.reshape(xs.shape[0], D), w, False)
    out += b
    return out, (checks.detached(xs, x), w, b)


def affine_backward(dout, cache, need_dx=True):
    """dout (N, M) -> dx (shape of x), dw (D, M), db (M,); dx None with ``need_dx=False``."""
    common = _affine.backward(dout, cache, need_dx)  # the common call, checked in C
    if common is not None:
        return common
    x, w, b = checks.cache_entries("affine_backward", cache, 3, "affine_forward")
    dout = checks.dout_array("affine_backward", dout, (x.shape[0], w.shape[1]), x.dtype)
    dx = _affine.matmul(dout, w.T, False).reshape(x.shape) if need_dx else None
    dw = _affine.matmul(x.reshape(x.shape[0], w.shape[0]), dout, True)
    return dx, dw, dout.sum(axis=0)


# ----------------------------------------------------------------------------------
# ReLU
# ----------------------------------------------------------------------------------

def relu_forward(x, out=None):
    """out = max(x, 0), elementwise (NaN stays NaN); cache = out.  As the reference,
    ``out`` (x itself for a ReLU in place) included."""
    if out is None:
        small = _elementwise.small_relu_forward(x)  # the common small call, in C
        if small is not None:
            return small
    (x,) = checks.as_float_arrays("relu_forward", x=x)
    if out is not None:
        checks.out_array("relu_forward", out, x.shape, x.dtype)
    if plan("relu", x.dtype, (x.size,)).form == "numpy":
        out = np.maximum(x, 0, out=out)  # the reference's expression, the kernel's bits
        return out, out
    x = np.ascontiguousarray(x)
    if out is None:
        out = _empty(x.shape, x.dtype)
    _elementwise.relu_forward(x.reshape(-1), out.reshape(-1))
    return out, out


def relu_backward(dout, cache, out=None):
    """dx = dout where x > 0, else 0; cache: the forward's output, or its input x.  As
    the reference, ``out`` (dout itself for a backward pass in place) included."""
    if out is None:
        small = _elementwise.small_relu_backward(dout, cache)  # the common small call, in C
        if small is not None:
            return small
    (x,) = checks.as_float_arrays("relu_backward", cache=cache)
    x = np.ascontiguousarray(x)  # a cache of any layout: the kernel reads C order
    dout = np.ascontiguousarray(checks.dout_array("relu_backward", dout, x.shape, x.dtype))
    if out is None:
        out = _empty(x.shape, x.dtype)
    else:
        checks.out_array("relu_backward", out, x.shape, x.dtype)
    _elementwise.relu_backward(x.reshape(-1), dout.reshape(-1), out.reshape(-1))
    return out


# ----------------------------------------------------------------------------------
# Sigmoid
# ----------------------------------------------------------------------------------

def sigmoid(x, bias=None, mask=None, out=None):
    """sigmoid(x + bias) * mask, elementwise, as the reference's (shapes, ``out``, x
    itself in place), in one pass; within a few ulp of the reference's values, with the
    same bits at every thread count and SIMD level (csrc/sigmoid.h)."""
    x, bias, mask = checks.sigmoid_args("sigmoid", x, bias, mask, out)
    if x.ndim == 0:  # NumPy's scalar, as the reference
        return _reference.sigmoid(x, bias, mask, out)
    return _sigmoid(x, bias, mask, out)


def _sigmoid(x, bias=None, mask=None, out=None):
    shape = x.shape
    cols = shape[-1] if bias is not None else x.size  # no bias: one long row
    x = np.ascontiguousarray(x).reshape(-1, cols) if x.size else x.reshape(0, 0)
    if out is None:
        out = _empty(shape, x.dtype)
    _elementwise.sigmoid(
        x, None if bias is None else np.ascontiguousarray(bias),
        None if mask is None else np.ascontiguousarray(mask).reshape(x.shape),
        out.reshape(x.shape))
    return out


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), elementwise; cache = out (:func:`sigmoid`)."""
    (x,) = checks.as_float_arrays("sigmoid_forward", x=x)
    if x.ndim == 0:  # NumPy's scalar, as the reference
        return _reference.sigmoid_forward(x)
    out = _sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * out * (1 - out), the reference's expression in one pass (its bits)."""
    out = cache
    dout = checks.dout_array("sigmoid_backward", dout, out.shape, out.dtype)
    if out.ndim == 0 or type(out) is not np.ndarray:
        return _reference.sigmoid_backward(dout, cache)
    out = np.ascontiguousarray(out)
    dx = _empty(out.shape, out.dtype)
    _elementwise.sigmoid_backward(out.reshape(-1), np.ascontiguousarray(dout).reshape(-1),
                                  dx.reshape(-1))
    return dx


# ----------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------

def choose_conv_algo(x_shape, w_shape, stride, pad, dtype):
    """The algorithm ``'auto'`` picks for a convolution: ``'direct'`` or ``'im2col'``.

    The rule: always ``'direct'``, which was faster than im2col + BLAS at every shape
    measured (1 to 64 channels, 3x3 to 7x7 windows, stride 1 and 2, both dtypes:
    ``benchmarks/NOTES.md``, "Convolution forms").  No argument is read; the signature is
    the public one this function has always had.  How the direct kernel then runs is
    ``fastnn._kernels.plan``'s choice.
    """
    return "direct"


def _pack_lanes(matrix, lanes):
    """matrix (K, M) -> (ceil(M / lanes), K, lanes), zero-padded: one register block of
    ``lanes`` columns per leading index, the order the micro-kernel streams.  One pass
    of the compiled packer the affine products use (any layout of matrix)."""
    K, M = matrix.shape
    packed = _empty((-(-M // lanes), K, lanes), matrix.dtype)
    _affine.pack_lanes(matrix, packed)
    return packed


def _scheduled_taps(w_packed, schedule):
    """w_packed (blocks, K, L) -> (blocks, T, L): the rows of the schedule's taps, in
    this thread's reused scratch (a fresh array of this size on every call, beside the
    call's outputs, made glibc give back and fault in the heap's top each time:
    measured 1.7x slower at DeepConvNet's conv5)."""
    blocks, _, L = w_packed.shape
    out = _reused("conv-taps", (blocks, len(schedule.tap_index), L), w_packed.dtype)
    return np.take(w_packed, schedule.tap_index, axis=1, out=out, mode="clip")


def _row_schedule(how, gather, N):
    """The borders.Schedules of a gather pass over N images on the plan's kernel."""
    return _borders.schedules(gather, N, _num_threads(), _simd.TILE_ROWS[how.kernel],
                              how.skip_border)


def _conv_algo(func, conv_param):
    algo = conv_param.get("algo", "auto")
    if algo not in CONV_ALGOS:
        raise ValueError(f"{func}: conv_param['algo'] must be one of {CONV_ALGOS}, got {algo!r}")
    return algo


def conv_forward(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad', optional
    'algo'} -> out (N, F, OH, OW), cache.  As ``fastnn.reference.functional.conv_forward``.

    cache = (x, w, b, conv_param, col), the reference's layout.  Direct convolution keeps
    the zero-padded input it computed from, conv_param['xpad'] (N, C, H + 2*pad,
    W + 2*pad), and x is the view of its interior: a snapshot of x that costs no copy
    beyond the padding; col is None.
    """
    func = "conv_forward"
    xs, w, b = checks.as_float_arrays(func, x=x, w=w, b=b)
    stride, pad, out_h, out_w = checks.conv_geometry(func, xs, w, b, conv_param)
    algo = _conv_algo(func, conv_param)
    if algo == "auto":
        algo = choose_conv_algo(xs.shape, w.shape, stride, pad, xs.dtype)
    N, C = xs.shape[:2]
    F, _, HH, WW = w.shape
    xs = np.ascontiguousarray(xs)
    w_rows = w.reshape(F, C * HH * WW)
    conv_param = {"stride": stride, "pad": pad, "algo": algo}
    if algo == "direct":
        H, W = xs.shape[2:]
        out = _empty((N, F, out_h, out_w), xs.dtype)
        xpad = _empty((N, C, H + 2 * pad, W + 2 * pad), xs.dtype)  # the kernel pads
        geometry = (C, H, W, F, HH, WW)
        how = plan("conv_forward", xs.dtype, geometry, stride=stride, pad=pad)
        if how.form == "gather" and not np.isfinite(w).all():
            how = plan("conv_forward", xs.dtype, geometry, stride=stride, pad=pad,
                       finite_weights=False)
        if how.form == "shifted":  # lanes over output pixels: w's rows as they are
            schedule, w_packed = None, np.ascontiguousarray(w_rows)[None]
        else:  # lanes over the filters, rows of the taps the schedule sums
            schedule = _row_schedule(how, _borders.forward_pass(*geometry, stride, pad), N)
            w_packed = _scheduled_taps(_pack_lanes(w_rows.T, how.lanes), schedule)
        _conv.forward(xs, xpad, w_packed, np.ascontiguousarray(b), out, stride, pad, HH, WW,
                      how.kernel_id, schedule)
        x_kept, col, conv_param["xpad"] = xpad[:, :, pad:pad + H, pad:pad + W], None, xpad
    else:
        col = im2col(xs, HH, WW, stride, pad)
        out = (col @ w_rows.T + b).reshape(N, out_h, out_w, F).transpose(0, 3, 1, 2)
        out = np.ascontiguousarray(out)
        x_kept = checks.detached(xs, x)
    return out, (x_kept, w, b, conv_param, col)


def conv_backward(dout, cache, need_dx=True):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, HH, WW), db (F,).  With
    ``need_dx=False`` dx is None and not computed (a network's first layer)."""
    func = "conv_backward"
    x, w, b, conv_param, col = checks.cache_entries(func, cache, 5, "conv_forward")
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    out_h, out_w = checks.output_hw(x.shape, HH, WW, stride, pad)
    dout = checks.dout_array(func, dout, (N, F, out_h, out_w), x.dtype)
    dout = np.ascontiguousarray(dout)
    # A reference cache has no 'algo' but holds col: either way is right; direct is faster.
    if conv_param.get("algo") == "im2col" and col is not None:
        dout_rows = dout.transpose(0, 2, 3, 1).reshape(N * out_h * out_w, F)
        db = dout_rows.sum(axis=0)
        dw = (dout_rows.T @ col).reshape(w.shape)
        if not need_dx:
            return None, dw, db
        dx = col2im(dout_rows @ w.reshape(F, C * HH * WW), x.shape, HH, WW, stride, pad)
        return dx, dw, db
    how = plan("conv_backward", x.dtype, (C, H, W, F, HH, WW), stride=stride, pad=pad,
               finite_weights=np.isfinite(w).all())
    lanes, dx_via_columns, dx_schedule = how.lanes, how.form == "columns", None
    if dx_via_columns:  # dcol = dout^T w, lanes over the C*HH*WW taps, then col2im
        w_packed = _pack_lanes(w.reshape(F, C * HH * WW), lanes)
    else:  # a stride-1 correlation with the filters flipped, lanes over the C channels
        w_flipped = w[:, :, ::-1, ::-1].transpose(0, 2, 3, 1).reshape(F * HH * WW, C)
        w_packed = _pack_lanes(w_flipped, lanes)
        if need_dx and not _conv.windowed_dx(how.kernel_id, WW, F, H * W):
            dx_schedule = _row_schedule(how, _borders.dilated_pass(C, H, W, F, HH, WW, pad), N)
            w_packed = _scheduled_taps(w_packed, dx_schedule)
    f_pad = -(-F // how.dw_lanes) * how.dw_lanes
    # Partial sums of dw and db per chunk of images: the chunks depend on N only, and the
    # kernel adds them in order, so the result does not depend on the thread count.
    chunk = max(1, -(-N // 64))
    n_chunks = max(1, -(-N // chunk))
    dw_partial = _scratch((n_chunks, C * HH * WW, f_pad), x.dtype)
    db_partial = _scratch((n_chunks, f_pad), x.dtype)
    xpad = conv_param.get("xpad")
    if xpad is None:  # a cache of the reference, or of the im2col algorithm
        xpad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    checks.check_shape(func, "the cache's padded input", xpad,
                        (N, C, H + 2 * pad, W + 2 * pad), "(N, C, H + 2*pad, W + 2*pad)")
    dx = _empty(x.shape, x.dtype)  # (its shape gives the kernel the geometry; untouched
    # without need_dx)
    dw, db = _empty((F, C * HH * WW), x.dtype), _empty((F,), x.dtype)
    _conv.backward(np.ascontiguousarray(xpad, dtype=x.dtype), dout, dx, dw, db, dw_partial,
                   db_partial, stride, pad, HH, WW, chunk, w_packed, how.kernel_id,
                   dx_via_columns, how.dw_kernel_id, how.dw_lanes,
                   _borders.dw_schedule(C, H, W, HH, WW, stride, pad,
                                        _simd.TILE_ROWS_BY_ID[how.dw_kernel_id]),
                   need_dx, dx_schedule)
    return (dx if need_dx else None), dw.reshape(w.shape), db


# ----------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------

def _pool_forward(func, x, pool_param):
    (x,) = checks.as_float_arrays(func, x=x)
    pool_h, pool_w, stride, pad, out_h, out_w = checks.pool_geometry(func, x, pool_param)
    N, C, H, W = x.shape
    planes = np.ascontiguousarray(x).reshape(N * C, H, W)
    out = _empty((N * C, out_h, out_w), x.dtype)
    return planes, out, (pool_h, pool_w, stride, pad)


def _pool_backward(func, forward, dout, cache, count):
    """Unpack a pooling cache (either backend's); return the checked dout as planes
    (N*C, OH, OW), an empty dx (N*C, H, W), the window and the rest of the cache."""
    x_shape, dtype, window, *rest = checks.cache_entries(func, cache, count, forward)
    N, C, H, W = x_shape
    pool_h, pool_w, stride, pad = window
    out_hw = checks.output_hw(x_shape, pool_h, pool_w, stride, pad)
    dout = checks.dout_array(func, dout, (N, C) + out_hw, dtype)
    dout = np.ascontiguousarray(dout).reshape((N * C,) + out_hw)
    return dout, _empty((N * C, H, W), dtype), window, rest


def max_pool_forward(x, pool_param):
    """x (N, C, H, W) -> out (N, C, OH, OW), cache.  As the reference."""
    planes, out, window = _pool_forward("max_pool_forward", x, pool_param)
    argmax = _empty(out.shape, np.intc)
    _pool.max_forward(planes, out, argmax, *window)
    N, C, H, W = np.shape(x)
    return out.reshape(N, C, *out.shape[1:]), ((N, C, H, W), out.dtype, window, argmax)


def max_pool_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W); each gradient goes to its window's first
    maximum."""
    func = "max_pool_backward"
    dout, dx, window, (argmax,) = _pool_backward(func, "max_pool_forward", dout, cache, 4)
    argmax = checks.window_indices(func, argmax, dout.shape)
    argmax = np.ascontiguousarray(argmax, dtype=np.intc).reshape(dout.shape)
    _pool.max_backward(dout, argmax, dx, *window)
    return dx.reshape(cache[0])


def avg_pool_forward(x, pool_param):
    """x (N, C, H, W) -> out (N, C, OH, OW), cache.  As the reference (padding counts)."""
    planes, out, window = _pool_forward("avg_pool_forward", x, pool_param)
    _pool.avg_forward(planes, out, *window)
    N, C, H, W = np.shape(x)
    return out.reshape(N, C, *out.shape[1:]), ((N, C, H, W), out.dtype, window)


def avg_pool_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W)."""
    dout, dx, window, _ = _pool_backward("avg_pool_backward", "avg_pool_forward", dout, cache, 3)
    _pool.avg_backward(dout, dx, *window)
    return dx.reshape(cache[0])


# ----------------------------------------------------------------------------------
# Batch normalisation per channel of x3 (N, C, S): images are (N, C, H*W), and the
# features of x (N, D) are channels (1, D, N) of the transposed input.
# ----------------------------------------------------------------------------------

def _normalize_channels(func, x3, gamma, beta, bn_param):
    """Batch normalisation of x3 (N, C, S) per channel; returns out (N, C, S) and the
    cache (mode, x_hat (N, C, S), gamma, std)."""
    N, C, S = x3.shape
    mode, eps, momentum, running_mean, running_var = checks.batchnorm_params(
        func, x3, C, N * S, gamma, beta, bn_param)
    gamma, beta = np.ascontiguousarray(gamma), np.ascontiguousarray(beta)
    out, x_hat = _empty(x3.shape, x3.dtype), _empty(x3.shape, x3.dtype)
    if mode == "train":  # statistics and normalisation a channel at a time
        mean64, var64, std = _empty(C, np.float64), _empty(C, np.float64), _empty(C, x3.dtype)
        _bn.train_normalize(x3, eps, gamma, beta, mean64, var64, std, x_hat, out)
        mean, var = mean64.astype(x3.dtype), var64.astype(x3.dtype)
        running_mean[...] = momentum * running_mean + (1 - momentum) * mean
        running_var[...] = momentum * running_var + (1 - momentum) * var
    else:
        mean = running_mean.astype(x3.dtype)
        std = np.sqrt(running_var.astype(x3.dtype) + eps).astype(x3.dtype, copy=False)
        _bn.normalize(x3, mean, std, gamma, beta, x_hat, out)
    return out, (mode, x_hat, gamma, std)


def _channel_cache(func, forward, cache, batch, per_image=None):
    """A batch-norm cache (mode, x_hat, gamma, std) of either backend, with x_hat in this
    backend's layout (batch, C, S); the reference keeps rows (batch*S, C).  S is
    ``per_image``, or all the rows for batch 1."""
    mode, x_hat, gamma, std = checks.cache_entries(func, cache, 4, forward)
    if x_hat.ndim == 2:
        S = x_hat.shape[0] if per_image is None else per_image
        x_hat = x_hat.reshape(batch, S, x_hat.shape[1]).transpose(0, 2, 1)
    return mode, np.ascontiguousarray(x_hat), gamma, std


def _normalize_channels_backward(dout3, cache):
    """dout3 (N, C, S), already checked by the caller -> dx (N, C, S), dgamma, dbeta (C,)."""
    mode, x_hat, gamma, std = cache
    C = x_hat.shape[1]
    dx = _empty(x_hat.shape, x_hat.dtype)
    dgamma, dbeta = _empty(C, x_hat.dtype), _empty(C, x_hat.dtype)
    _bn.backward(x_hat, np.ascontiguousarray(dout3), std, np.ascontiguousarray(gamma),
                 dx, dgamma, dbeta, mode == "train")
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, D), gamma (D,), beta (D,), bn_param -> out (N, D), cache.  As the reference;
    training mode updates bn_param's running statistics in place."""
    func = "batchnorm_forward"
    x, gamma, beta = checks.as_float_arrays(func, x=x, gamma=gamma, beta=beta)
    checks.check_ndim(func, "x", x, 2, "(N, D)")
    # Each feature is a channel of N values: (1, D, N), so the kernels read contiguous runs.
    out, cache = _normalize_channels(func, np.ascontiguousarray(x.T)[None], gamma, beta, bn_param)
    return out[0].T.copy(), cache


def batchnorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,)."""
    func = "batchnorm_backward"
    channel_cache = _channel_cache(func, "batchnorm_forward", cache, 1)
    _, D, N = channel_cache[1].shape
    dout = checks.dout_array(func, dout, (N, D), channel_cache[1].dtype)
    dx, dgamma, dbeta = _normalize_channels_backward(dout.T[None], channel_cache)
    return dx[0].T.copy(), dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """x (N, C, H, W), gamma (C,), beta (C,), bn_param -> out (N, C, H, W), cache.
    Statistics per channel over N, H, W; as the reference."""
    func = "spatial_batchnorm_forward"
    x, gamma, beta = checks.as_float_arrays(func, x=x, gamma=gamma, beta=beta)
    checks.check_ndim(func, "x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    out, cache = _normalize_channels(func, np.ascontiguousarray(x).reshape(N, C, H * W),
                                     gamma, beta, bn_param)
    return out.reshape(N, C, H, W), (x.shape, cache)


def spatial_batchnorm_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    func = "spatial_batchnorm_backward"
    forward = "spatial_batchnorm_forward"
    x_shape, channel_cache = checks.cache_entries(func, cache, 2, forward)
    N, C, H, W = x_shape
    channel_cache = _channel_cache(func, forward, channel_cache, N, H * W)
    dout = checks.dout_array(func, dout, x_shape, channel_cache[1].dtype)
    dx, dgamma, dbeta = _normalize_channels_backward(dout.reshape(N, C, H * W), channel_cache)
    return dx.reshape(x_shape), dgamma, dbeta


# ----------------------------------------------------------------------------------
# Layer and group normalisation: each sample's (each group's) values are one channel of
# the batch-norm kernels, (1, rows, values); gamma and beta apply per feature afterwards.
# ----------------------------------------------------------------------------------

def _standardize_rows(rows, eps):
    """x_hat (M, S) = (rows - mean) / std per row, and std (M,), by the batch-norm kernels."""
    rows3 = np.ascontiguousarray(rows)[None]
    M = rows3.shape[1]
    if not rows3.shape[2]:  # rows of no values: mean and variance 0, as the reference
        std = np.sqrt(np.zeros(M, rows.dtype) + eps).astype(rows.dtype, copy=False)
        return _empty(rows.shape, rows.dtype), std
    mean64, var64, std = _empty(M, np.float64), _empty(M, np.float64), _empty(M, rows.dtype)
    ones, zeros = np.ones(M, rows.dtype), np.zeros(M, rows.dtype)
    x_hat, scratch = _empty(rows3.shape, rows.dtype), _empty(rows3.shape, rows.dtype)
    _bn.train_normalize(rows3, eps, ones, zeros, mean64, var64, std, x_hat, scratch)
    return x_hat[0], std


def _destandardize_rows(g, x_hat, std):
    """The gradient through x_hat = standardize(x) per row: g, x_hat (M, S), std (M,)."""
    M = x_hat.shape[0]
    dx = _empty((1,) + x_hat.shape, x_hat.dtype)
    _bn.backward(np.ascontiguousarray(x_hat)[None], np.ascontiguousarray(g)[None], std,
                 np.ones(M, x_hat.dtype), dx, _empty(M, x_hat.dtype), _empty(M, x_hat.dtype), True)
    return dx[0]


def layernorm_forward(x, gamma, beta, ln_param):
    """x (N, D), gamma (D,), beta (D,), ln_param {'eps'} -> out (N, D), cache.  As the
    reference (statistics per sample)."""
    return norms.layernorm_forward(_standardize_rows, x, gamma, beta, ln_param)


def layernorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,) (gamma's shape)."""
    return norms.layernorm_backward(_destandardize_rows, dout, cache)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """x (N, C, H, W), gamma, beta (C entries), G groups, gn_param {'eps'} -> out
    (N, C, H, W), cache.  As the reference."""
    return norms.spatial_groupnorm_forward(_standardize_rows, x, gamma, beta, G, gn_param)


def spatial_groupnorm_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), dgamma and dbeta (gamma's shape)."""
    return norms.spatial_groupnorm_backward(_destandardize_rows, dout, cache)


# ----------------------------------------------------------------------------------
# Losses: compiled (csrc/softmax.h, a row at a time, and csrc/squared_error.h, one pass;
# their losses are not the reference's bits: summed in float64 in orders of their own,
# and softmax's own exp, docs/compat.md)
# ----------------------------------------------------------------------------------

def softmax_loss(x, y):
    """x (N, C) scores, y (N,) integer labels in [0, C) -> (loss, dx (N, C)).  As the
    reference: the mean cross-entropy of softmax(x) at the labels."""
    x, y = _reference._scores_and_labels("softmax_loss", x, y)  # N >= 1, so C >= 1
    x = np.ascontiguousarray(x)
    dx = _empty(x.shape, x.dtype)
    loss = _losses.softmax_labels(x, np.ascontiguousarray(y, dtype=np.intp), dx)
    return x.dtype.type(loss), dx


def softmax_cross_entropy(x, t):
    """x (N, C) scores, t (N, C) one-hot or probability rows -> (loss, dx (N, C), probs
    (N, C)).  As the reference."""
    x, t = checks.soft_targets("softmax_cross_entropy", x, t)
    x, t = np.ascontiguousarray(x), np.ascontiguousarray(t)
    dx, probs = _empty(x.shape, x.dtype), _empty(x.shape, x.dtype)
    loss = _losses.softmax_targets(x, t, dx, probs)
    return x.dtype.type(loss), dx, probs


def mse_loss(x, y, mask=None):
    """x (N, ...) predictions, y and ``mask`` (optional) of its shape -> (loss, dx): half
    the squared error (where mask marks) summed and averaged over the batch.  As the
    reference, in one compiled pass (csrc/squared_error.h): dx its bits, the loss summed
    in double precision in an order of its own."""
    x, y, mask = _reference._mse_arrays("mse_loss", x, y, mask)
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    dx = _empty(x.shape, x.dtype)
    flat_mask = None if mask is None else np.ascontiguousarray(mask).reshape(-1)
    total = _losses.squared_error(x.reshape(-1), y.reshape(-1), flat_mask, dx.reshape(-1),
                                  x.shape[0])
    return x.dtype.type(0.5 * total / x.shape[0]), dx


def squared_error_sum(x, y, mask=None):
    """sum(mask * (x - y)**2) as a Python float: x, y and ``mask`` (optional) of one
    shape.  As the reference, in one compiled pass that writes nothing (mse_loss's kernel
    and order without dx)."""
    x, y, mask = _reference._squared_error_arrays("squared_error_sum", x, y, mask)
    flat_mask = None if mask is None else np.ascontiguousarray(mask).reshape(-1)
    return _losses.squared_error(np.ascontiguousarray(x).reshape(-1),
                                 np.ascontiguousarray(y).reshape(-1), flat_mask, None, 1)


# ----------------------------------------------------------------------------------
# The optimizer's step
# ----------------------------------------------------------------------------------

def update_fusable(param, *arrays):
    """Whether :func:`adam_update` and :func:`rmsprop_update` take these arrays:
    C-contiguous, writeable NumPy arrays of one float32/float64 dtype and one shape
    (anything else, e.g. float16 or strided views, is for the optimizer's NumPy form)."""
    # (Plain comparisons: an optimizer asks for every parameter, bias vectors included.)
    if type(param) is not np.ndarray:
        return False
    dtype, flags = param.dtype, param.flags
    if dtype.char not in "fd" or not dtype.isnative or not (flags.c_contiguous and flags.writeable):
        return False
    for a in arrays:
        if (type(a) is not np.ndarray or a.dtype != dtype or a.shape != param.shape
                or not a.flags.c_contiguous):
            return False
    return True


adam_fusable = update_fusable  # (its first name)


def adam_update(param, grad, m, v, lr_t, beta1, beta2, eps):
    """One Adam step in place, in one compiled pass: m += (1 - beta1) * (g - m);
    v += (1 - beta2) * (g*g - v); param -= m * lr_t / (sqrt(v) + eps), each constant
    rounded to the arrays' dtype first (the bits of ``fastnn.optim.Adam``'s NumPy form).

    param, grad, m, v: arrays of one shape that :func:`update_fusable` accepts (param, m
    and v are updated); the rest Python floats.
    """
    if not update_fusable(param, grad, m, v) or not (m.flags.writeable and v.flags.writeable):
        raise ValueError("adam_update: param, grad, m and v must be C-contiguous float32 or "
                         "float64 arrays of one dtype and shape (param, m and v writeable), "
                         f"got {[(type(a).__name__, getattr(a, 'dtype', None), getattr(a, 'shape', None)) for a in (param, grad, m, v)]}")
    _elementwise.adam_update(param.reshape(-1), grad.reshape(-1), m.reshape(-1),
                             v.reshape(-1), float(lr_t), float(beta1), float(beta2), float(eps))


def rmsprop_update(param, grad, h, lr, decay_rate, eps):
    """One RMSprop step in place, in one compiled pass: h *= decay_rate;
    h += (1 - decay_rate) * grad * grad; param -= lr * grad / (sqrt(h) + eps), each constant
    rounded to the arrays' dtype first (the bits of ``fastnn.optim.RMSprop``'s NumPy form).

    param, grad, h: arrays of one shape that :func:`update_fusable` accepts (param and h
    are updated); the rest Python floats.
    """
    if not update_fusable(param, grad, h) or not h.flags.writeable:
        raise ValueError("rmsprop_update: param, grad and h must be C-contiguous float32 or "
                         "float64 arrays of one dtype and shape (param and h writeable), "
                         f"got {[(type(a).__name__, getattr(a, 'dtype', None), getattr(a, 'shape', None)) for a in (param, grad, h)]}")
    _elementwise.rmsprop_update(param.reshape(-1), grad.reshape(-1), h.reshape(-1),
                                float(lr), float(decay_rate), float(eps))
