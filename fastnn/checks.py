"""Argument checks shared by both backends.

Every public function calls these before computing anything, so the reference and the
compiled backend accept the same inputs and raise the same errors.  Messages name the
function, the argument, what it got and what it needed.
"""
import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_arrays(func, **arrays):
    """Convert array-likes to one floating dtype by NumPy promotion.

    The common dtype follows NumPy arithmetic: with at least one floating input it is
    ``np.result_type`` of the inputs (at least float32), so float32 stays float32,
    float32 with float64 gives float64, and uint8 or int16 images with float32 weights
    give float32; when every input is an integer or bool array it is float64, as
    ``x * 1.0`` would give.  Complex, object, string and extended-precision inputs raise
    ``TypeError``.  Inputs are never modified; an input already of the common dtype (and
    aligned: the kernels read whole elements) is returned as it is, not copied.

    Returns the converted arrays in the order given.
    """
    values = tuple(arrays.values())
    dtype = getattr(values[0], "dtype", None)
    if dtype in FLOAT_DTYPES:  # the common case, at two checks per array (small calls)
        for a in values:
            if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.aligned:
                break
        else:
            return values
    converted = {}
    for name, value in arrays.items():
        a = np.asarray(value)
        kind = a.dtype.kind
        if kind not in "biuf":
            raise TypeError(
                f"{func}: {name} must be a real numeric array, got dtype {a.dtype}")
        converted[name] = a
    if any(a.dtype.kind == "f" for a in converted.values()):
        dtype = np.result_type(*converted.values(), np.float32)
    else:
        dtype = np.dtype(np.float64)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{func}: inputs promote to {dtype}; only float32 and float64 are supported")
    # (an unaligned array copied: the kernels read whole elements where they lie)
    return tuple(_aligned(a.astype(dtype, copy=False)) for a in converted.values())


def _aligned(a):
    return a if a.flags.aligned else a.copy()


def float_dtype(dtype):
    """A model's dtype argument as a NumPy dtype: float32 or float64, else TypeError."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def check_ndim(func, name, a, ndim, layout):
    """Require ``a.ndim == ndim``; ``layout`` names the axes, e.g. '(N, C, H, W)'."""
    if a.ndim != ndim:
        raise ValueError(
            f"{func}: {name} must be {ndim}-D {layout}, got shape {a.shape}")


def check_shape(func, name, a, shape, layout):
    """Require ``a.shape == shape``."""
    if tuple(a.shape) != tuple(shape):
        raise ValueError(
            f"{func}: {name} must have shape {layout} = {tuple(shape)}, got {a.shape}")


# Largest stride, pad or window size accepted: far beyond any array that fits in
# memory, small enough that the kernels' 64-bit index arithmetic can never overflow.
MAX_GEOMETRY = 2**40


def integer_param(func, name, value, minimum):
    """An integer hyper-parameter (stride, pad, window size) in [minimum, 2**40].

    A float with an integral value (``1.0``, ``np.float64(2)``) counts as that integer:
    the textbook's scripts compute strides and pads with ``/``."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        if value == value and abs(value) < 2**53 and float(value).is_integer():
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be >= {minimum}, got {value}")
    if value > MAX_GEOMETRY:
        raise ValueError(f"{func}: {name} must be <= 2**40, got {value}")
    return int(value)


def float_param(func, name, value, low, high, low_open=False):
    """A real hyper-parameter in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a real number, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or value > high or value != value:
        interval = ("(" if low_open else "[") + f"{low}, {high}]"
        raise ValueError(f"{func}: {name} must be in {interval}, got {value}")
    return value


def required_key(func, param_name, params, key):
    if not isinstance(params, dict):
        raise TypeError(
            f"{func}: {param_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{func}: {param_name} is missing the key {key!r}")
    return params[key]


def mode_param(func, params):
    """``params['mode']``, which must be 'train' or 'test'."""
    mode = required_key(func, "the parameter dict", params, "mode")
    if mode not in ("train", "test"):
        raise ValueError(f"{func}: mode must be 'train' or 'test', got {mode!r}")
    return mode


def output_hw(x_shape, window_h, window_w, stride, pad):
    """(OH, OW) of a window slid over the last two axes of x_shape (N, C, H, W), for
    geometry already checked: the backward passes read it from their caches."""
    H, W = x_shape[2], x_shape[3]
    return (H + 2 * pad - window_h) // stride + 1, (W + 2 * pad - window_w) // stride + 1


def window_output_size(func, what, size, window, stride, pad, axis):
    """Output length of a window slid along one axis; the window must fit."""
    padded = size + 2 * pad
    if window > padded:
        raise ValueError(
            f"{func}: {what} {axis} {window} is larger than the padded input {axis} "
            f"{padded} (= {size} + 2*pad)")
    return (padded - window) // stride + 1


def affine_args(func, x, w, b):
    """Check an affine layer's arguments; return (x, w, b, D) in one float dtype.

    x (N, d_1, ..., d_k) with D = d_1*...*d_k features, w (D, M), b (M,).
    """
    if type(x) is type(w) is type(b) is np.ndarray and x.dtype in FLOAT_DTYPES:
        # Fast path (a gradient check calls this tens of thousands of times): arrays of one
        # float dtype whose shapes fit; anything else takes the full checks below.
        if (w.dtype == x.dtype == b.dtype and w.ndim == 2 and b.shape == (w.shape[1],)
                and x.ndim >= 1 and x.shape[0] and x.size == x.shape[0] * w.shape[0]):
            return x, w, b, w.shape[0]
    x, w, b = as_float_arrays(func, x=x, w=w, b=b)
    if x.ndim < 1:
        raise ValueError(f"{func}: x must have a batch axis (N, ...), got shape {x.shape}")
    check_ndim(func, "w", w, 2, "(D, M)")
    D = math.prod(x.shape[1:])
    if w.shape[0] != D:
        raise ValueError(
            f"{func}: w must have {D} rows, one per feature of x (shape {x.shape}), "
            f"got shape {w.shape}")
    check_shape(func, "b", b, (w.shape[1],), "(M,)")
    return x, w, b, D


def matmul_args(func, a, b, transpose_a):
    """Check a matrix product's operands; return (a, b) in one float dtype.

    a (R, K), or (K, R) with ``transpose_a``; b (K, M).
    """
    a, b = as_float_arrays(func, a=a, b=b)
    check_ndim(func, "a", a, 2, "(K, R)" if transpose_a else "(R, K)")
    check_ndim(func, "b", b, 2, "(K, M)")
    K = a.shape[0] if transpose_a else a.shape[1]
    if b.shape[0] != K:
        raise ValueError(f"{func}: b must have {K} rows, one per column of "
                         f"{'a.T' if transpose_a else 'a'} (a's shape {a.shape}), got shape "
                         f"{b.shape}")
    return a, b


def sigmoid_args(func, x, bias, mask, out):
    """(x, bias, mask) of ``sigmoid(x, bias, mask, out)`` in their common float dtype:
    bias (x's last axis,) or None, mask x's shape or None, out as :func:`out_array`."""
    given = {"x": x}
    if bias is not None:
        given["bias"] = bias
    if mask is not None:
        given["mask"] = mask
    arrays = dict(zip(given, as_float_arrays(func, **given)))
    x = arrays["x"]
    bias, mask = arrays.get("bias"), arrays.get("mask")
    if bias is not None:
        if x.ndim == 0:
            raise ValueError(f"{func}: a bias needs x of at least 1 dimension, got shape ()")
        check_shape(func, "bias", bias, x.shape[-1:], "(x's last axis,)")
    if mask is not None:
        check_shape(func, "mask", mask, x.shape, "(x's shape)")
    if out is not None:
        out_array(func, out, x.shape, x.dtype)
    return x, bias, mask


def conv_geometry(func, x, w, b, conv_param):
    """Check a convolution's arguments; return ``(stride, pad, out_h, out_w)``.

    x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'}.
    """
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    check_ndim(func, "w", w, 4, "(F, C, HH, WW)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"{func}: w has {w.shape[1]} input channels (shape {w.shape}) but x has "
            f"{x.shape[1]} (shape {x.shape}); they must match")
    check_shape(func, "b", b, (w.shape[0],), "(F,)")
    if w.shape[2] < 1 or w.shape[3] < 1:
        raise ValueError(f"{func}: w must have a non-empty window, got shape {w.shape}")
    stride = integer_param(func, "stride", required_key(func, "conv_param", conv_param, "stride"), 1)
    pad = integer_param(func, "pad", required_key(func, "conv_param", conv_param, "pad"), 0)
    out_h = window_output_size(func, "filter", x.shape[2], w.shape[2], stride, pad, "height")
    out_w = window_output_size(func, "filter", x.shape[3], w.shape[3], stride, pad, "width")
    return stride, pad, out_h, out_w


# Largest pooling window (elements): max pooling keeps a 32-bit window-local index.
MAX_WINDOW = 2**31 - 1


def pool_geometry(func, x, pool_param):
    """Check a pooling's arguments; return ``(pool_h, pool_w, stride, pad, out_h, out_w)``.

    x (N, C, H, W); pool_param {'pool_height', 'pool_width', 'stride'} and optional
    'pad' (default 0), which may be at most half the window, as in PyTorch, so every
    window holds at least one element of x.
    """
    check_ndim(func, "x", x, 4, "(N, C, H, W)")
    get = lambda key: required_key(func, "pool_param", pool_param, key)  # noqa: E731
    pool_h = integer_param(func, "pool_height", get("pool_height"), 1)
    pool_w = integer_param(func, "pool_width", get("pool_width"), 1)
    stride = integer_param(func, "stride", get("stride"), 1)
    pad = integer_param(func, "pad", pool_param.get("pad", 0), 0)
    if pool_h * pool_w > MAX_WINDOW:
        raise ValueError(
            f"{func}: the pooling window has {pool_h}x{pool_w} = {pool_h * pool_w} "
            f"elements; at most {MAX_WINDOW} are supported")
    if pad > min(pool_h, pool_w) // 2:
        raise ValueError(
            f"{func}: pad must be at most half the pooling window "
            f"({pool_h}x{pool_w} allows pad <= {min(pool_h, pool_w) // 2}), got {pad}")
    out_h = window_output_size(func, "pool_height", x.shape[2], pool_h, stride, pad, "height")
    out_w = window_output_size(func, "pool_width", x.shape[3], pool_w, stride, pad, "width")
    return pool_h, pool_w, stride, pad, out_h, out_w


def im2col_geometry(func, x, filter_h, filter_w, stride, pad):
    """Check im2col's arguments; return ``(filter_h, filter_w, stride, pad, out_h, out_w)``."""
    check_ndim(func, "input_data", x, 4, "(N, C, H, W)")
    filter_h = integer_param(func, "filter_h", filter_h, 1)
    filter_w = integer_param(func, "filter_w", filter_w, 1)
    stride = integer_param(func, "stride", stride, 1)
    pad = integer_param(func, "pad", pad, 0)
    out_h = window_output_size(func, "filter_h", x.shape[2], filter_h, stride, pad, "height")
    out_w = window_output_size(func, "filter_w", x.shape[3], filter_w, stride, pad, "width")
    return filter_h, filter_w, stride, pad, out_h, out_w


def input_shape_param(func, input_shape):
    """A 4-tuple of non-negative ints (N, C, H, W)."""
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(
            f"{func}: input_shape must be a tuple (N, C, H, W), got {input_shape!r}") from None
    if len(shape) != 4:
        raise ValueError(f"{func}: input_shape must have 4 entries (N, C, H, W), got {shape}")
    return tuple(integer_param(func, "input_shape entry", s, 0) for s in shape)


def batchnorm_params(func, x, num_features, values_per_feature, gamma, beta, bn_param):
    """Check batch-norm arguments; create missing running statistics in bn_param.

    x: the input (for its dtype and, in messages, its shape); gamma, beta and the
    running statistics must have shape (num_features,).  Training needs at least one
    value per feature.  Returns (mode, eps, momentum, running_mean, running_var).
    """
    D = num_features
    check_shape(func, "gamma", gamma, (D,), "(features,)")
    check_shape(func, "beta", beta, (D,), "(features,)")
    mode = mode_param(func, bn_param)
    eps = float_param(func, "eps", bn_param.get("eps", 1e-5), 0, np.inf, low_open=True)
    momentum = float_param(func, "momentum", bn_param.get("momentum", 0.9), 0, 1)
    if mode == "train" and values_per_feature == 0:
        raise ValueError(f"{func}: training mode needs at least one value per feature, "
                         f"got x of shape {x.shape}")
    for key in ("running_mean", "running_var"):
        if bn_param.get(key) is None:
            bn_param[key] = np.zeros(D, dtype=x.dtype)
        stat = bn_param[key]
        if not isinstance(stat, np.ndarray):
            raise TypeError(f"{func}: bn_param[{key!r}] must be a NumPy array (it is "
                            f"updated in place), got {type(stat).__name__}")
        check_shape(func, f"bn_param[{key!r}]", stat, (D,), "(features,)")
        if mode == "train" and not stat.flags.writeable:
            raise ValueError(f"{func}: bn_param[{key!r}] is read-only, but training "
                             f"mode updates it in place")
    return mode, eps, momentum, bn_param["running_mean"], bn_param["running_var"]


def norm_params(func, param_name, params, gamma, beta, num_features):
    """Layer/group normalisation: gamma of ``num_features`` entries (any shape with that
    many: (D,), or CS231n's (1, C, 1, 1)), beta of gamma's shape (dgamma and dbeta come
    back in it), and params['eps'] > 0 (default 1e-5).  Returns eps."""
    if not isinstance(params, dict):
        raise TypeError(f"{func}: {param_name} must be a dict, got {type(params).__name__}")
    if gamma.size != num_features:
        raise ValueError(f"{func}: gamma must have {num_features} entries (one per "
                         f"feature), got shape {gamma.shape}")
    check_shape(func, "beta", beta, gamma.shape, "(gamma's shape)")
    return float_param(func, "eps", params.get("eps", 1e-5), 0, np.inf, low_open=True)


def groups_param(func, G, channels):
    """The number of groups of group normalisation: an integer >= 1 dividing C."""
    G = integer_param(func, "G", G, 1)
    if channels % G:
        raise ValueError(f"{func}: G must divide the number of channels C = {channels}, "
                         f"got G = {G}")
    return G


def finite(func, name, a):
    """Require every value of the array ``a`` to be finite (for data where NaN or inf can
    mean nothing: ratings, training sets); the error names the first bad value's index."""
    a = np.asarray(a)
    if a.dtype.kind in "fc":
        bad = ~np.isfinite(a)
        if bad.any():
            index = np.unravel_index(int(np.argmax(bad)), a.shape)
            where = ", ".join(str(int(i)) for i in index)
            raise ValueError(f"{func}: {name} must be finite, but {name}[{where}] is "
                             f"{a[index]}")
    return a


def labels(func, y, num_samples, num_classes):
    """Integer class labels (N,) with values in [0, num_classes)."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{func}: y must hold integer class labels, got dtype {y.dtype}")
    check_shape(func, "y", y, (num_samples,), "(N,)")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{func}: labels in y must be in [0, {num_classes}), got values from "
            f"{y.min()} to {y.max()}")
    return y.astype(np.intp, copy=False)


def soft_targets(func, x, t):
    """Scores x (N, C) in a float dtype, N and C >= 1, and target rows t (N, C) of any
    real numeric dtype (one-hot rows or probabilities), returned in x's dtype."""
    (x,) = as_float_arrays(func, x=x)
    check_ndim(func, "x", x, 2, "(N, C) scores")
    if x.shape[0] == 0:
        raise ValueError(f"{func}: x must hold at least one sample, got shape {x.shape}")
    if x.shape[1] == 0:
        raise ValueError(f"{func}: x must hold at least one class, got shape {x.shape}")
    t = np.asarray(t)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{func}: t must be numeric, got dtype {t.dtype}")
    check_shape(func, "t", t, x.shape, "(N, C), x's shape")
    return x, t.astype(x.dtype, copy=False)


def dout_array(func, dout, shape, dtype):
    """An upstream gradient of the shape the forward pass produced, in its dtype."""
    if (type(dout) is np.ndarray and dout.dtype == dtype and dout.shape == shape
            and dout.flags.aligned):
        return dout  # the common case, at four comparisons (small calls)
    (dout,) = as_float_arrays(func, dout=dout)
    check_shape(func, "dout", dout, shape, "(the forward output's shape)")
    return dout.astype(dtype, copy=False)


def cache_entries(func, cache, count, forward):
    """Unpack a cache that should be the ``count``-tuple returned by ``forward``."""
    if not isinstance(cache, tuple) or len(cache) != count:
        got = (f"a tuple of {len(cache)} entries" if isinstance(cache, tuple)
               else type(cache).__name__)
        raise TypeError(
            f"{func}: cache must be the {count}-tuple returned by {forward}, got {got}")
    return cache


def out_array(func, out, shape, dtype):
    """``out``, an array the caller gave for an elementwise result: a writeable,
    C-contiguous ndarray of exactly the result's shape and dtype (it may be one of the
    inputs: the kernels read and write each element in place)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{func}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"{func}: out must have the result's shape {tuple(shape)} and dtype "
                         f"{np.dtype(dtype)}, got shape {out.shape} and dtype {out.dtype}")
    if not (out.flags.c_contiguous and out.flags.writeable and out.flags.aligned):
        raise ValueError(f"{func}: out must be C-contiguous, writeable and aligned")
    return out


def detached(a, source):
    """``a``, or a copy of it when it shares memory with ``source`` (the caller's array).

    What a cache keeps must not change when the caller refills its input buffer between
    the forward and the backward pass, so caches hold either derived data or this.
    """
    return a.copy() if a is source or np.may_share_memory(a, source) else a


def window_indices(func, argmax, out_shape):
    """Max pooling's cached argmax: one window-local index per output, of either
    backend's layout ((N*C*OH*OW,) or (N*C, OH, OW)); returned as an integer array.
    (Its values are not checked: the compiled kernel bounds-checks every target.)"""
    argmax = np.asarray(argmax)
    expected = int(np.prod(out_shape))
    if argmax.dtype.kind not in "iu" or argmax.size != expected:
        raise ValueError(
            f"{func}: the cache's argmax must hold {expected} integer window indices "
            f"(one per output of shape {tuple(out_shape)}), got dtype {argmax.dtype} "
            f"and shape {argmax.shape}")
    return argmax
