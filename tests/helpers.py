"""Random cases shared by the tests: odd sizes, stride 1-3, pad 0-2, 1x1 and non-square
windows, batches of one, always fresh random values; and the bound on a subprocess's
time."""
import os

import numpy as np

from fastnn import functional as fast
from fastnn.reference import functional as ref


# A subprocess that runs longer than its bound is called hung.  On a slow machine (the
# emulated aarch64 run of .ci/aarch64) FASTNN_TEST_TIME_SCALE multiplies every bound.
TIME_SCALE = float(os.environ.get("FASTNN_TEST_TIME_SCALE", "1"))


def time_limit(seconds):
    """``seconds`` scaled by FASTNN_TEST_TIME_SCALE."""
    return seconds * TIME_SCALE


def conv_case(rng, dtype=np.float64, max_hw=8, max_channels=4):
    """A random valid convolution: (x, w, b, conv_param)."""
    N = int(rng.integers(1, 4))
    C = int(rng.integers(1, max_channels + 1))
    F = int(rng.integers(1, max_channels + 1))
    HH, WW = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    H = int(rng.integers(max(1, HH - 2 * pad), max_hw + 1))
    W = int(rng.integers(max(1, WW - 2 * pad), max_hw + 1))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    return x, w, b, {"stride": stride, "pad": pad}


def pool_case(rng, dtype=np.float64, max_hw=8):
    """A random valid pooling: (x, pool_param), values without near-ties."""
    N, C = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    pool_h, pool_w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    stride = int(rng.integers(1, 4))
    pad = int(rng.integers(0, min(pool_h, pool_w) // 2 + 1))
    H = int(rng.integers(max(1, pool_h - 2 * pad), max_hw + 1))
    W = int(rng.integers(max(1, pool_w - 2 * pad), max_hw + 1))
    x = distinct_values(rng, (N, C, H, W)).astype(dtype)
    return x, {"pool_height": pool_h, "pool_width": pool_w, "stride": stride, "pad": pad}


def distinct_values(rng, shape):
    """Random values at least 0.5 apart, so that a finite-difference step never changes
    which element of a pooling window is the maximum."""
    n = int(np.prod(shape))
    return (rng.permutation(n) - n / 2.0).reshape(shape) * 0.5 + rng.uniform(-0.1, 0.1, shape)


def rel_error(a, b):
    """Largest relative error of a against b, normalised by b's largest magnitude.

    Suited to comparing two computations of one result: elements near zero are held
    to the scale of the whole array, not to their own tiny size.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(b)), 1e-30)
    return float(np.max(np.abs(a - b)) / scale)


def assert_report_below(report, tol):
    """Every error in a gradient-check report is below tol.  Not ``max(values) < tol``:
    ``max([1e-9, nan])`` is 1e-9, so a NaN would pass that."""
    failing = {name: err for name, err in report.items() if not err < tol}
    assert not failing, f"errors not below {tol}: {failing} (report: {report})"


def assert_same_bits(runs):
    """Every run (a list of arrays) is bitwise the first one, array by array."""
    for run in runs[1:]:
        assert len(run) == len(runs[0])
        for ours, theirs in zip(runs[0], run):
            np.testing.assert_array_equal(ours, theirs)


def assert_same_values(ours, theirs, tol, scale=None):
    """ours equals theirs up to a relative error tol (against theirs' largest finite
    magnitude, or against ``scale``: the size of the terms of a sum that may cancel),
    with NaN and infinities of the same sign at the same places.  Shapes and dtypes must
    match."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (
        ours.shape, ours.dtype, theirs.shape, theirs.dtype)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), "NaN at other places")
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(theirs), "+inf elsewhere")
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs), "-inf elsewhere")
    finite = np.isfinite(theirs)
    if scale is None:
        assert rel_error(ours[finite], theirs[finite]) < tol
    else:
        error = np.abs(ours[finite].astype(np.float64) - theirs[finite])
        assert np.all(error <= tol * scale), (error.max(initial=0), scale)


def forward_cases(rng):
    """(name, forward, args) for every forward with a cache, on small valid inputs."""
    x = rng.standard_normal((2, 3, 6, 5))
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    return [
        ("conv", "conv_forward", (x, rng.standard_normal((4, 3, 3, 3)), np.zeros(4), {"stride": 1, "pad": 1})),
        ("max_pool", "max_pool_forward", (x, pool)),
        ("avg_pool", "avg_pool_forward", (x, pool)),
        ("spatial_batchnorm", "spatial_batchnorm_forward", (x, np.ones(3), np.zeros(3), {"mode": "train"})),
        ("batchnorm", "batchnorm_forward", (x.reshape(2, -1), np.ones(90), np.zeros(90), {"mode": "train"})),
        ("affine", "affine_forward", (x, rng.standard_normal((90, 7)), np.zeros(7))),
        ("relu", "relu_forward", (x,)),
        ("sigmoid", "sigmoid_forward", (x,)),
        ("tanh", "tanh_forward", (x,)),
        ("dropout", "dropout_forward", (x, {"p": 0.5, "mode": "train", "seed": 1})),
    ]


def run_everything(rng_seed, dtype):
    """Forward and backward of every parallel kernel (conv, pooling, batchnorm, ReLU,
    sigmoid, affine, im2col/col2im) on shapes big enough to run in parallel."""
    rng = np.random.default_rng(rng_seed)
    x = rng.standard_normal((16, 6, 23, 21)).astype(dtype)  # every kernel runs in parallel
    w = rng.standard_normal((20, 6, 3, 4)).astype(dtype)
    b = rng.standard_normal(20).astype(dtype)
    results = []
    for algo in ("direct", "im2col"):
        out, cache = fast.conv_forward(x, w, b, {"stride": 2, "pad": 1, "algo": algo})
        results += [out, *fast.conv_backward(np.cos(out), cache)]
    # Stride 1, a plane AVX-512 takes in the shifted form (lanes over pixels), and 64
    # filters: its four-vector tiles for dw
    w64 = rng.standard_normal((64, 6, 3, 4)).astype(dtype)
    out, cache = fast.conv_forward(x, w64, np.cos(w64[:, 0, 0, 0]), {"stride": 1, "pad": 1})
    results += [out, *fast.conv_backward(np.cos(out), cache)]
    # 16 channels, 12 filters, 3 x 3: AVX-512's tall tiles in their windowed forms, for
    # dx (strips of an image row, which break at its end) and dw (taps in triples)
    x16 = rng.standard_normal((5, 16, 9, 19)).astype(dtype)
    w12 = rng.standard_normal((12, 16, 3, 3)).astype(dtype)
    out, cache = fast.conv_forward(x16, w12, np.cos(w12[:, 0, 0, 0]), {"stride": 1, "pad": 1})
    results += [out, *fast.conv_backward(np.cos(out), cache)]
    for kind in ("max", "avg"):
        out, cache = getattr(fast, f"{kind}_pool_forward")(
            x, {"pool_height": 3, "pool_width": 2, "stride": 1, "pad": 1})
        results += [out, getattr(fast, f"{kind}_pool_backward")(np.sin(out), cache)]
    bn_param = {"mode": "train"}
    out, cache = fast.spatial_batchnorm_forward(x, w[:6, 0, 0, 0], b[:6], bn_param)
    results += [out, *fast.spatial_batchnorm_backward(np.sin(out), cache), bn_param["running_var"]]
    rows = x.reshape(16 * 6, -1)
    out, cache = fast.batchnorm_forward(rows, np.ones(rows.shape[1]), np.zeros(rows.shape[1]), {"mode": "train"})
    results += [out, *fast.batchnorm_backward(np.cos(out), cache)]
    out, cache = fast.relu_forward(x - 0.1)
    results += [out, fast.relu_backward(np.sin(x), cache)]
    out, cache = fast.sigmoid_forward(8 * x)
    images = x.reshape(16, -1)
    results += [out, fast.sigmoid_backward(np.sin(x), cache),
                fast.sigmoid(images, b[:1].repeat(images.shape[1]), np.cos(images))]
    wa = rng.standard_normal((6 * 23 * 21, 64)).astype(dtype)  # AVX-512: four-vector tiles
    out, cache = fast.affine_forward(x, wa, b[:1].repeat(64))
    results += [out, *fast.affine_backward(np.cos(out), cache)]
    wt = rng.standard_normal((6 * 23 * 21, 20)).astype(dtype)  # 20 columns: a narrower tail
    out, cache = fast.affine_forward(x, wt, b)
    results += [out, *fast.affine_backward(np.cos(out), cache), fast.matmul(np.sin(out), wt.T)]
    col = fast.im2col(x, 3, 2, 2, 1)
    results += [col, fast.col2im(np.sin(col), x.shape, 3, 2, 2, 1)]
    return results


def check_against_reference(name, args, rng, tol):
    """``{name}_forward(*args)`` and its backward (with one random dout) on both backends
    agree to a relative error tol, output and every gradient."""
    out, cache = getattr(fast, f"{name}_forward")(*args)
    out_ref, cache_ref = getattr(ref, f"{name}_forward")(*args)
    assert rel_error(out, out_ref) < tol
    dout = rng.standard_normal(out.shape).astype(out.dtype)
    grads = getattr(fast, f"{name}_backward")(dout, cache)
    for ours, theirs in zip(grads, getattr(ref, f"{name}_backward")(dout, cache_ref)):
        assert rel_error(ours, theirs) < tol
