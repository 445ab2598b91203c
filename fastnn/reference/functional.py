"""The NumPy reference: the specification every fast kernel is tested against.

CS231n conventions: each ``*_forward`` returns ``(out, cache)`` and the matching
``*_backward(dout, cache)`` returns the gradients of its inputs; losses return
``(loss, dx)``.  Written to be read; the compiled backend in ``fastnn.functional`` has
the same names, signatures and results.

Inputs are converted to one floating dtype by NumPy promotion (float32 stays float32;
float32 with float64 gives float64; integers alone give float64); gradients come back in
the dtype of the forward pass.  Inputs are never modified, except ``bn_param``'s running
statistics, which training-mode batch normalisation updates in place as in CS231n.

Caches never share memory with the caller's data inputs (x): they hold derived arrays or
a copy, so a caller may refill its input buffer before calling backward.  Parameters
(w, b, gamma) are kept by reference.  The caches of both backends have the same layout:
a cache from one backend's forward pass is accepted by the other's backward pass.
"""
import numpy as np

from fastnn import checks, norms

__all__ = [
    "matmul",
    "affine_forward", "affine_backward",
    "relu_forward", "relu_backward",
    "sigmoid", "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "conv_forward", "conv_backward",
    "max_pool_forward", "max_pool_backward",
    "avg_pool_forward", "avg_pool_backward",
    "batchnorm_forward", "batchnorm_backward",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "layernorm_forward", "layernorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
    "dropout_forward", "dropout_backward",
    "softmax_loss", "softmax_cross_entropy", "svm_loss", "mse_loss", "squared_error_sum",
    "im2col", "col2im",
]


# ----------------------------------------------------------------------------------
# im2col / col2im (the textbook's layout)
# ----------------------------------------------------------------------------------

def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold every filter window of an image batch into a row.

    input_data (N, C, H, W) -> col (N*OH*OW, C*filter_h*filter_w), with
    OH = (H + 2*pad - filter_h) // stride + 1 (likewise OW).  Row ``(n*OH + i)*OW + j``
    holds the window whose top-left corner is at padded position ``(i*stride, j*stride)``
    of image n, ordered (channel, row, column).  Zero padding.
    """
    func = "im2col"
    (x,) = checks.as_float_arrays(func, input_data=input_data)
    filter_h, filter_w, stride, pad, out_h, out_w = checks.im2col_geometry(
        func, x, filter_h, filter_w, stride, pad)
    N, C, _, _ = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    col = np.empty((N, C, filter_h, filter_w, out_h, out_w), dtype=x.dtype)
    for i in range(filter_h):
        for j in range(filter_w):
            col[:, :, i, j] = xp[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, C * filter_h * filter_w)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of :func:`im2col`: add every row back onto its window.

    col (N*OH*OW, C*filter_h*filter_w) -> (N, C, H, W) with ``input_shape = (N, C, H, W)``.
    Where windows overlap their values are summed, so
    ``sum(im2col(x) * c) == sum(x * col2im(c))`` for all x and c.
    """
    func = "col2im"
    N, C, H, W = checks.input_shape_param(func, input_shape)
    (col,) = checks.as_float_arrays(func, col=col)
    filter_h, filter_w, stride, pad, out_h, out_w = checks.im2col_geometry(
        func, np.broadcast_to(np.uint8(0), (N, C, H, W)), filter_h, filter_w, stride, pad)
    checks.check_shape(func, "col", col, (N * out_h * out_w, C * filter_h * filter_w),
                        "(N*OH*OW, C*filter_h*filter_w)")
    col = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for i in range(filter_h):
        for j in range(filter_w):
            img[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += col[:, :, i, j]
    return img[:, :, pad:pad + H, pad:pad + W].copy()


# ----------------------------------------------------------------------------------
# Affine and activations
# ----------------------------------------------------------------------------------

def matmul(a, b, transpose_a=False):
    """a @ b, or a.T @ b with ``transpose_a``: a (R, K) (or (K, R)), b (K, M) -> (R, M),
    in the operands' common float dtype (the layers' products, for models beyond them:
    the recommenders)."""
    a, b = checks.matmul_args("matmul", a, b, transpose_a)
    return (a.T if transpose_a else a) @ b


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b.

    x (N, d_1, ..., d_k) with D = d_1*...*d_k, w (D, M), b (M,) -> out (N, M).
    cache = (x, w, b).
    """
    xs, w, b, D = checks.affine_args("affine_forward", x, w, b)
    out = xs.reshape(xs.shape[0], D) @ w + b
    return out, (checks.detached(xs, x), w, b)


def affine_backward(dout, cache, need_dx=True):
    """dout (N, M) -> dx (shape of x), dw (D, M), db (M,).  With ``need_dx=False`` dx is
    None and not computed (a network's first layer)."""
    x, w, b = checks.cache_entries("affine_backward", cache, 3, "affine_forward")
    dout = checks.dout_array("affine_backward", dout, (x.shape[0], w.shape[1]), x.dtype)
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    dw = x.reshape(x.shape[0], w.shape[0]).T @ dout  # not -1: N may be 0
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x, out=None):
    """out = max(x, 0), elementwise (NaN stays NaN). cache = out, which is > 0 exactly
    where x is: a fresh array, so the caller may reuse x.  ``out``: an array to write
    the result into instead (C-contiguous, x's shape and float dtype; x itself for a ReLU
    in place, which then modifies x)."""
    (x,) = checks.as_float_arrays("relu_forward", x=x)
    if out is not None:
        checks.out_array("relu_forward", out, x.shape, x.dtype)
    out = np.maximum(x, 0, out=out)
    return out, out


def relu_backward(dout, cache, out=None):
    """dx = dout where x > 0, else 0.  cache: the forward's output or, as in CS231n,
    its input x (either marks the same elements), of any memory layout.  ``out``: an
    array to write dx into (dout itself for a backward pass in place)."""
    (x,) = checks.as_float_arrays("relu_backward", cache=cache)
    dout = checks.dout_array("relu_backward", dout, x.shape, x.dtype)
    dx = np.where(x > 0, dout, 0).astype(x.dtype, copy=False)
    if out is None:
        return dx
    checks.out_array("relu_backward", out, x.shape, x.dtype)[...] = dx
    return out


def sigmoid(x, bias=None, mask=None, out=None):
    """sigmoid(x + bias) * mask = mask / (1 + exp(-(x + bias))), elementwise: x of any
    shape (..., D), bias (D,) added along the last axis (None: none), mask x's shape
    (None: 1; the recommenders' rated entries).  ``out``: an array to write the result
    into (C-contiguous, x's shape and float dtype; x itself to work in place).  Returns
    the result, of x's shape.

    Computed as ``(1 + tanh(z/2)) / 2``, which never overflows.
    """
    x, bias, mask = checks.sigmoid_args("sigmoid", x, bias, mask, out)
    result = _sigmoid(x if bias is None else x + bias, out)
    if mask is not None:
        result *= mask
    return result


def _sigmoid(z, out=None):
    return np.multiply(0.5, 1 + np.tanh(0.5 * z), out=out)


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), elementwise. cache = out.

    Computed as :func:`sigmoid` is.
    """
    (x,) = checks.as_float_arrays("sigmoid_forward", x=x)
    out = _sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * out * (1 - out)."""
    out = cache
    dout = checks.dout_array("sigmoid_backward", dout, out.shape, out.dtype)
    return dout * out * (1 - out)


def tanh_forward(x):
    """out = tanh(x), elementwise. cache = out."""
    (x,) = checks.as_float_arrays("tanh_forward", x=x)
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout * (1 - out**2)."""
    out = cache
    dout = checks.dout_array("tanh_backward", dout, out.shape, out.dtype)
    return dout * (1 - out * out)


# ----------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------

def conv_forward(x, w, b, conv_param):
    """Cross-correlation of a batch of images with a bank of filters.

    x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride': int >= 1,
    'pad': int >= 0} (zero padding on all four sides) -> out (N, F, OH, OW) with
    OH = (H + 2*pad - HH) // stride + 1 and OW = (W + 2*pad - WW) // stride + 1.

    out[n, f, i, j] = b[f] + sum_{c, p, q} xpad[n, c, i*stride + p, j*stride + q] * w[f, c, p, q]
    """
    func = "conv_forward"
    xs, w, b = checks.as_float_arrays(func, x=x, w=w, b=b)
    stride, pad, out_h, out_w = checks.conv_geometry(func, xs, w, b, conv_param)
    N, C = xs.shape[:2]
    F, _, HH, WW = w.shape
    col = im2col(xs, HH, WW, stride, pad)               # (N*OH*OW, C*HH*WW)
    out = col @ w.reshape(F, C * HH * WW).T + b         # (N*OH*OW, F)
    out = out.reshape(N, out_h, out_w, F).transpose(0, 3, 1, 2)
    cache = (checks.detached(xs, x), w, b, {"stride": stride, "pad": pad}, col)
    return np.ascontiguousarray(out), cache


def conv_backward(dout, cache, need_dx=True):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, HH, WW), db (F,).  With
    ``need_dx=False`` dx is None and not computed (a network's first layer)."""
    func = "conv_backward"
    x, w, b, conv_param, col = checks.cache_entries(func, cache, 5, "conv_forward")
    N, C = x.shape[:2]
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    out_h, out_w = checks.output_hw(x.shape, HH, WW, stride, pad)
    dout = checks.dout_array(func, dout, (N, F, out_h, out_w), x.dtype)
    if col is None:  # a cache of the compiled backend's direct convolution
        col = im2col(x, HH, WW, stride, pad)
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(N * out_h * out_w, F)    # (N*OH*OW, F)
    db = dout_rows.sum(axis=0)
    dw = (dout_rows.T @ col).reshape(w.shape)
    if not need_dx:
        return None, dw, db
    dcol = dout_rows @ w.reshape(F, C * HH * WW)             # (N*OH*OW, C*HH*WW)
    dx = col2im(dcol, x.shape, HH, WW, stride, pad)
    return dx, dw, db


# ----------------------------------------------------------------------------------
# Pooling: windows are im2col rows of single-channel images, so the backward pass is
# col2im of the window gradients.
# ----------------------------------------------------------------------------------

def _pool_windows(x, pool_h, pool_w, stride, pad, fill):
    """x (N, C, H, W) -> (N*C*OH*OW, pool_h*pool_w) windows, padded with ``fill``."""
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    return im2col(xp.reshape(N * C, 1, H + 2 * pad, W + 2 * pad), pool_h, pool_w, stride, 0)


def _unpool_windows(dwindows, x_shape, pool_h, pool_w, stride, pad):
    """The adjoint of :func:`_pool_windows`: sum window gradients back onto x."""
    N, C, H, W = x_shape
    dxp = col2im(dwindows, (N * C, 1, H + 2 * pad, W + 2 * pad), pool_h, pool_w, stride, 0)
    return dxp.reshape(N, C, H + 2 * pad, W + 2 * pad)[:, :, pad:pad + H, pad:pad + W].copy()


def max_pool_forward(x, pool_param):
    """Max over each pooling window.

    x (N, C, H, W), pool_param {'pool_height', 'pool_width', 'stride', optional 'pad'
    (padding never wins: it is -inf; at most half the window)} -> out (N, C, OH, OW),
    OH = (H + 2*pad - pool_height) // stride + 1.  A NaN in a window is its maximum.
    """
    func = "max_pool_forward"
    (x,) = checks.as_float_arrays(func, x=x)
    pool_h, pool_w, stride, pad, out_h, out_w = checks.pool_geometry(func, x, pool_param)
    N, C = x.shape[:2]
    windows = _pool_windows(x, pool_h, pool_w, stride, pad, -np.inf)
    argmax = windows.argmax(axis=1)                       # the first maximum (or NaN)
    out = windows[np.arange(windows.shape[0]), argmax].reshape(N, C, out_h, out_w)
    cache = (x.shape, x.dtype, (pool_h, pool_w, stride, pad), argmax)
    return out, cache


def max_pool_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): each gradient goes to the first maximum
    of its window; overlapping windows add up."""
    func = "max_pool_backward"
    x_shape, dtype, (pool_h, pool_w, stride, pad), argmax = checks.cache_entries(
        func, cache, 4, "max_pool_forward")
    out_shape = x_shape[:2] + checks.output_hw(x_shape, pool_h, pool_w, stride, pad)
    dout = checks.dout_array(func, dout, out_shape, dtype)
    argmax = checks.window_indices(func, argmax, out_shape).ravel()
    dwindows = np.zeros((argmax.size, pool_h * pool_w), dtype=dtype)
    dwindows[np.arange(argmax.size), argmax] = dout.ravel()
    return _unpool_windows(dwindows, x_shape, pool_h, pool_w, stride, pad)


def avg_pool_forward(x, pool_param):
    """Mean over each pooling window; arguments and shapes as :func:`max_pool_forward`.

    Zero padding counts in the mean (the divisor is always pool_height*pool_width,
    PyTorch's ``count_include_pad=True``).
    """
    func = "avg_pool_forward"
    (x,) = checks.as_float_arrays(func, x=x)
    pool_h, pool_w, stride, pad, out_h, out_w = checks.pool_geometry(func, x, pool_param)
    N, C = x.shape[:2]
    windows = _pool_windows(x, pool_h, pool_w, stride, pad, 0)
    out = windows.mean(axis=1).reshape(N, C, out_h, out_w)
    cache = (x.shape, x.dtype, (pool_h, pool_w, stride, pad))
    return out, cache


def avg_pool_backward(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W): each window gets dout / window size."""
    func = "avg_pool_backward"
    x_shape, dtype, (pool_h, pool_w, stride, pad) = checks.cache_entries(
        func, cache, 3, "avg_pool_forward")
    out_shape = x_shape[:2] + checks.output_hw(x_shape, pool_h, pool_w, stride, pad)
    dout = checks.dout_array(func, dout, out_shape, dtype)
    share = (dout.reshape(dout.size, 1) / (pool_h * pool_w)).astype(dtype, copy=False)
    dwindows = np.broadcast_to(share, (dout.size, pool_h * pool_w))
    return _unpool_windows(dwindows, x_shape, pool_h, pool_w, stride, pad)


# ----------------------------------------------------------------------------------
# Batch normalisation
# ----------------------------------------------------------------------------------

def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation over the batch axis.

    x (N, D), gamma (D,), beta (D,) -> out (N, D) = gamma * x_hat + beta.
    bn_param: 'mode' ('train' or 'test', required), 'eps' (default 1e-5), 'momentum'
    (default 0.9), 'running_mean' and 'running_var' (D,) (zeros when absent).

    'train': x_hat = (x - mean) / sqrt(var + eps) with the batch mean and (biased)
    variance, and the running statistics are updated *in place* in bn_param:
    running = momentum * running + (1 - momentum) * batch statistic.
    'test': x_hat uses the running statistics, which are left unchanged.
    """
    x, gamma, beta = checks.as_float_arrays("batchnorm_forward", x=x, gamma=gamma, beta=beta)
    checks.check_ndim("batchnorm_forward", "x", x, 2, "(N, D)")
    return _normalize_rows("batchnorm_forward", x, gamma, beta, bn_param)


def _normalize_rows(func, x, gamma, beta, bn_param):
    """Batch normalisation of the rows of x (M, D), each column a feature."""
    mode, eps, momentum, running_mean, running_var = checks.batchnorm_params(
        func, x, x.shape[1], x.shape[0], gamma, beta, bn_param)
    if mode == "train":
        mean = x.mean(axis=0)
        var = ((x - mean) ** 2).mean(axis=0)
        running_mean[...] = momentum * running_mean + (1 - momentum) * mean
        running_var[...] = momentum * running_var + (1 - momentum) * var
    else:
        mean = running_mean.astype(x.dtype)
        var = running_var.astype(x.dtype)
    std = np.sqrt(var + eps).astype(x.dtype, copy=False)
    x_hat = (x - mean) / std
    out = gamma * x_hat + beta
    return out, (mode, x_hat, gamma, std)


def batchnorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,).

    In 'train' mode the batch statistics depend on x:
    dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std, where g = dout * gamma.
    In 'test' mode they are constants: dx = dout * gamma / std.
    """
    mode, x_hat, gamma, std = checks.cache_entries("batchnorm_backward", cache, 4,
                                                    "batchnorm_forward")
    if x_hat.ndim == 3:  # the compiled backend's layout (N, C, S): back to rows (N*S, C)
        b, C, S = x_hat.shape
        x_hat = x_hat.transpose(0, 2, 1).reshape(b * S, C)
    dout = checks.dout_array("batchnorm_backward", dout, x_hat.shape, x_hat.dtype)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    g = dout * gamma
    if mode == "train":
        dx = (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0)) / std
    else:
        dx = g / std
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation per channel of images.

    x (N, C, H, W), gamma (C,), beta (C,) -> out (N, C, H, W).  Statistics are taken
    over N, H and W for each channel; bn_param as :func:`batchnorm_forward`, with
    running statistics of shape (C,).
    """
    func = "spatial_batchnorm_forward"
    x, gamma, beta = checks.as_float_arrays(func, x=x, gamma=gamma, beta=beta)
    checks.check_ndim(func, "x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    out, cache = _normalize_rows(func, rows, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2).copy(), (x.shape, cache)


def spatial_batchnorm_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    func = "spatial_batchnorm_backward"
    x_shape, row_cache = checks.cache_entries(func, cache, 2, "spatial_batchnorm_forward")
    N, C, H, W = x_shape
    dout = checks.dout_array(func, dout, x_shape, row_cache[1].dtype)
    drows, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(N * H * W, C),
                                              row_cache)
    return drows.reshape(N, H, W, C).transpose(0, 3, 1, 2).copy(), dgamma, dbeta


# ----------------------------------------------------------------------------------
# Layer and group normalisation: statistics per sample (per group of channels), never
# running averages; gamma and beta per feature (per channel).
# ----------------------------------------------------------------------------------

def _standardize_rows(rows, eps):
    """(rows - mean) / std per row of rows (M, S), and std (M,).  A row of no values
    (S = 0) has mean and variance 0."""
    count = max(rows.shape[1], 1)
    mean = rows.sum(axis=1, keepdims=True) / count
    var = ((rows - mean) ** 2).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var + eps).astype(rows.dtype, copy=False)
    return (rows - mean) / std, std[:, 0]


def _destandardize_rows(g, x_hat, std):
    """The gradient through x_hat = standardize(x) per row: g, x_hat (M, S), std (M,)."""
    mean_g = g.mean(axis=1, keepdims=True) if g.shape[1] else 0
    mean_gx = (g * x_hat).mean(axis=1, keepdims=True) if g.shape[1] else 0
    return (g - mean_g - x_hat * mean_gx) / std[:, None]


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalisation: each sample normalised over its features.

    x (N, D), gamma (D,), beta (D,), ln_param {'eps': default 1e-5} -> out (N, D),
    cache (x_hat (N, D), gamma, std (N,)), with x_hat = (x - mean_row) / std and
    std = sqrt(var_row + eps) (biased variance).  The same in training and at test time.
    """
    return norms.layernorm_forward(_standardize_rows, x, gamma, beta, ln_param)


def layernorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,) (gamma's shape)."""
    return norms.layernorm_backward(_destandardize_rows, dout, cache)


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group normalisation: the channels of each image split into G groups of C/G
    consecutive channels, each group normalised over its channels and pixels.

    x (N, C, H, W), gamma and beta with C entries ((C,) or CS231n's (1, C, 1, 1)), G
    dividing C, gn_param {'eps': default 1e-5} -> out (N, C, H, W), cache (x_hat
    (N, C, H, W), gamma, std (N, G), G).  G = 1 is layer normalisation of images,
    G = C instance normalisation.
    """
    return norms.spatial_groupnorm_forward(_standardize_rows, x, gamma, beta, G, gn_param)


def spatial_groupnorm_backward(dout, cache):
    """dout (N, C, H, W) -> dx (N, C, H, W), dgamma and dbeta (gamma's shape)."""
    return norms.spatial_groupnorm_backward(_destandardize_rows, dout, cache)


# ----------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------

def dropout_forward(x, dropout_param):
    """Inverted dropout.

    x (any shape) -> out (same shape).  dropout_param: 'p', the probability of
    *keeping* a unit (0 < p <= 1, CS231n's convention); 'mode' ('train' or 'test');
    optional 'seed' (an int or a ``numpy.random.Generator``; without it, fresh entropy).
    In 'train' each unit is kept with probability p and scaled by 1/p, so 'test' is
    the identity.  cache = (dropout_param, mask).
    """
    func = "dropout_forward"
    (x,) = checks.as_float_arrays(func, x=x)
    mode = checks.mode_param(func, dropout_param)
    p = checks.float_param(func, "p", checks.required_key(func, "dropout_param", dropout_param, "p"),
                            0, 1, low_open=True)
    if mode == "test":
        return x.copy(), (dropout_param, None)
    rng = np.random.default_rng(dropout_param.get("seed"))
    mask = (rng.random(x.shape) < p).astype(x.dtype) / x.dtype.type(p)
    return x * mask, (dropout_param, mask)


def dropout_backward(dout, cache):
    """dout -> dx = dout * mask (the identity in 'test' mode)."""
    dropout_param, mask = cache
    if mask is None:
        (dout,) = checks.as_float_arrays("dropout_backward", dout=dout)
        return dout.copy()
    dout = checks.dout_array("dropout_backward", dout, mask.shape, mask.dtype)
    return dout * mask


# ----------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------

def _scores_and_labels(func, x, y):
    (x,) = checks.as_float_arrays(func, x=x)
    checks.check_ndim(func, "x", x, 2, "(N, C) scores")
    y = checks.labels(func, y, x.shape[0], x.shape[1])
    if x.shape[0] == 0:
        raise ValueError(f"{func}: x must hold at least one sample, got shape {x.shape}")
    return x, y


def softmax_loss(x, y):
    """Mean cross-entropy of softmax(x) against integer labels.

    x (N, C) scores, y (N,) integers in [0, C) -> (loss, dx (N, C)).
    """
    x, y = _scores_and_labels("softmax_loss", x, y)
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)       # exp never overflows
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    loss = (np.log(total[:, 0]) - shifted[rows, y]).mean()   # -log softmax at the labels
    dx = e / total
    dx[rows, y] -= 1
    dx /= N
    return loss, dx


def softmax_cross_entropy(x, t):
    """Mean cross-entropy of softmax(x) against target rows: one-hot rows or probabilities.

    x (N, C) scores, t (N, C) targets -> (loss, dx (N, C), probs (N, C)).
    loss = -sum(t * log softmax(x)) / N, dx = (softmax(x) * sum(t, row) - t) / N (the
    textbook's (y - t) / N when each row of t sums to 1), probs = softmax(x).
    """
    x, t = checks.soft_targets("softmax_cross_entropy", x, t)
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)       # exp never overflows
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    probs = e / total
    loss = -(t * (shifted - np.log(total))).sum() / x.dtype.type(N)  # (x's dtype, NumPy 1 too)
    dx = probs * t.sum(axis=1, keepdims=True)
    dx -= t
    dx /= N
    return loss, dx, probs


def svm_loss(x, y):
    """Mean multiclass hinge loss (margin 1), as CS231n.

    x (N, C) scores, y (N,) integers in [0, C) -> (loss, dx (N, C)).
    loss = mean_n sum_{c != y_n} max(0, x[n, c] - x[n, y_n] + 1).
    """
    x, y = _scores_and_labels("svm_loss", x, y)
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / N
    positive = (margins > 0).astype(x.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    return loss, positive / N


def _squared_error_arrays(func, x, y, mask):
    """x, y and mask (or None) checked and of one float dtype, y and mask of x's shape."""
    arrays = checks.as_float_arrays(func, x=x, y=y, **({} if mask is None else {"mask": mask}))
    x, y = arrays[:2]
    checks.check_shape(func, "y", y, x.shape, "(the shape of x)")
    if mask is not None:
        checks.check_shape(func, "mask", arrays[2], x.shape, "(the shape of x)")
    return x, y, (None if mask is None else arrays[2])


def _mse_arrays(func, x, y, mask):
    """As :func:`_squared_error_arrays`, x (N, ...) with N >= 1."""
    x, y, mask = _squared_error_arrays(func, x, y, mask)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{func}: x must hold at least one sample (N, ...), got shape {x.shape}")
    return x, y, mask


def squared_error_sum(x, y, mask=None):
    """sum(mask * (x - y)**2) as a Python float: x, y and ``mask`` (optional: all ones)
    of one shape, any (a recommender's RMSE over its rated entries)."""
    x, y, mask = _squared_error_arrays("squared_error_sum", x, y, mask)
    squares = (x - y) ** 2
    return float(np.sum(squares if mask is None else mask * squares))


def mse_loss(x, y, mask=None):
    """Half the squared error, summed over features and averaged over the batch.

    x (N, ...) predictions, y (same shape) targets -> (loss, dx).
    loss = 0.5 * sum((x - y)**2) / N, dx = (x - y) / N.  With ``mask`` (x's shape, 0/1
    or weights): loss = 0.5 * sum(mask * (x - y)**2) / N, dx = mask * (x - y) / N, so
    that only the entries it marks count (a recommender's rated movies).
    """
    x, y, mask = _mse_arrays("mse_loss", x, y, mask)
    diff = x - y
    weighted = diff if mask is None else diff * mask
    N = x.shape[0]
    half, count = x.dtype.type(0.5), x.dtype.type(N)  # (the loss in x's dtype, NumPy 1 too)
    return half * (weighted * diff).sum() / count, weighted / N
