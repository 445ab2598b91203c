"""Fuzzing the compiled kernels against the reference at the edges of the valid inputs:
1x1 images, windows as large as the padded input, strides larger than the window, padding
larger than the image; then sizes of 0, inputs and caches of every memory layout, and
infinities and NaN.  A kernel that reads or writes out of bounds shows up here as a wrong
value (and under the sanitizer build, tests/sanitize.sh, which CI runs, as a report)."""
import numpy as np
import pytest
from helpers import assert_same_values, check_against_reference, rel_error
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fastnn import functional as fast
from fastnn.reference import functional as ref

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = {np.float32: 3e-5, np.float64: 1e-12}


@st.composite
def conv_cases(draw):
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 20)), draw(st.integers(1, 20))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    pad = draw(st.integers(0, 6))
    HH = draw(st.integers(1, H + 2 * pad))
    WW = draw(st.integers(1, W + 2 * pad))
    stride = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    return (N, C, H, W), (F, C, HH, WW), stride, pad, dtype, seed


@FUZZ
@given(conv_cases(), st.sampled_from(["direct", "im2col"]))
def test_conv_at_the_edges(case, algo):
    x_shape, w_shape, stride, pad, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    p = {"stride": stride, "pad": pad, "algo": algo}
    check_against_reference("conv", (x, w, b, p), rng, TOL[dtype])


@st.composite
def pool_cases(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    pool_h, pool_w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    pad = draw(st.integers(0, min(pool_h, pool_w) // 2))
    H = draw(st.integers(max(1, pool_h - 2 * pad), 10))
    W = draw(st.integers(max(1, pool_w - 2 * pad), 10))
    stride = draw(st.integers(1, 8))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return (N, C, H, W), {"pool_height": pool_h, "pool_width": pool_w, "stride": stride,
                          "pad": pad}, dtype, draw(st.integers(0, 2**32 - 1))


@FUZZ
@given(pool_cases(), st.sampled_from(["max", "avg"]), st.booleans())
def test_pooling_at_the_edges(case, kind, with_ties):
    shape, p, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if with_ties:
        x = np.round(x).astype(dtype)
    out, cache = getattr(fast, f"{kind}_pool_forward")(x, p)
    out_ref, cache_ref = getattr(ref, f"{kind}_pool_forward")(x, p)
    assert rel_error(out, out_ref) < TOL[dtype]
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = getattr(fast, f"{kind}_pool_backward")(dout, cache)
    assert rel_error(dx, getattr(ref, f"{kind}_pool_backward")(dout, cache_ref)) < TOL[dtype]


@FUZZ
@given(conv_cases())
def test_im2col_at_the_edges(case):
    x_shape, w_shape, stride, pad, dtype, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    args = (w_shape[2], w_shape[3], stride, pad)
    col = fast.im2col(x, *args)
    np.testing.assert_array_equal(col, ref.im2col(x, *args))
    c = rng.standard_normal(col.shape).astype(dtype)
    assert rel_error(fast.col2im(c, x_shape, *args), ref.col2im(c, x_shape, *args)) < TOL[dtype]


@FUZZ
@given(st.integers(1, 5), st.integers(1, 40), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1))
def test_batchnorm_at_the_edges(N, C, H, W, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C, H, W)) * 10 + 5).astype(dtype)
    gamma, beta = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    results = []
    for backend in (fast, ref):
        out, cache = backend.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
        results.append((out, *backend.spatial_batchnorm_backward(np.cos(out), cache)))
    (out, dx, dgamma, dbeta), (out_ref, dx_ref, dgamma_ref, dbeta_ref) = results
    assert rel_error(out, out_ref) < TOL[dtype]
    # The gradients are sums whose terms may cancel (exactly, for dx with two values a
    # channel), so their error is measured against the size of the terms, as a
    # summation's error bound is: sum |dout| (dbeta), sum |dout * x_hat| (dgamma), and
    # |gamma| / std * max |dout| for dx.
    x64 = x.astype(np.float64)
    std = np.sqrt(x64.var(axis=(0, 2, 3)) + 1e-5)
    x_hat = (x64 - x64.mean(axis=(0, 2, 3), keepdims=True)) / std[:, None, None]
    dout = np.abs(np.cos(out_ref.astype(np.float64)))
    for ours, theirs, terms in (
            (dbeta, dbeta_ref, dout.sum(axis=(0, 2, 3))),
            (dgamma, dgamma_ref, (dout * np.abs(x_hat)).sum(axis=(0, 2, 3))),
            (dx, dx_ref, np.max(np.abs(gamma) / std) * dout.max())):
        assert np.all(np.abs(ours.astype(np.float64) - theirs) <= TOL[dtype] * terms)


# ----------------------------------------------------------------------------------
# Degenerate sizes (0 in any dimension), any memory layout of inputs and caches, and
# infinities and NaN in inputs and weights: values compared, NaN and inf included.
# ----------------------------------------------------------------------------------

LAYOUTS = ["C", "fortran", "negative-stride", "strided"]


def laid_out(a, layout):
    """The same values as a, in another memory layout (a view where possible)."""
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "negative-stride":
        return np.ascontiguousarray(a[(slice(None, None, -1),) * a.ndim])[
            (slice(None, None, -1),) * a.ndim]
    if layout == "strided":
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else a
        if a.ndim:
            wide[..., ::2] = a
            return wide[..., ::2]
    return a


def values(draw, rng, shape, dtype, specials=True):
    """Random values of a shape, sometimes with infinities and NaN, in a drawn layout."""
    a = rng.standard_normal(shape).astype(dtype)
    if specials and a.size and draw(st.booleans()):
        for special in draw(st.lists(st.sampled_from([np.inf, -np.inf, np.nan]), max_size=3)):
            a.flat[int(rng.integers(a.size))] = special
    return laid_out(a, draw(st.sampled_from(LAYOUTS)))


def same_results(ours, theirs, dtype):
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for a, b in zip(ours, theirs):
        assert_same_values(a, b, TOL[dtype])


def both_backends(name, args, dout_of, cache_layout=None):
    """forward on both backends, backward with a dout derived from the output shape;
    with cache_layout, the cache's arrays are re-laid out first (relu's cache)."""
    results, dout = [], None
    for backend in (fast, ref):
        out, cache = getattr(backend, f"{name}_forward")(*args)
        if cache_layout is not None:
            cache = laid_out(cache, cache_layout)
        dout = dout_of(out.shape) if dout is None else dout  # one dout for both
        results.append((out, getattr(backend, f"{name}_backward")(dout, cache)))
    return results


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NaN inputs, as NumPy
@settings(FUZZ, max_examples=400)
@given(st.data())
def test_degenerate_sizes_layouts_and_non_finite_values(data):
    draw = data.draw
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["conv", "max_pool", "avg_pool", "affine", "relu",
                                 "batchnorm", "spatial_batchnorm", "im2col"]))
    size = st.integers(0, 4)
    N, C, H, W = draw(size), draw(size), draw(size), draw(size)

    def dout_of(shape):
        return values(draw, rng, shape, dtype)

    if kind in ("conv", "im2col"):
        pad = draw(st.integers(0, 2))
        HH, WW = draw(st.integers(1, max(1, H + 2 * pad))), draw(st.integers(1, max(1, W + 2 * pad)))
        assume(HH <= H + 2 * pad and WW <= W + 2 * pad)
        stride = draw(st.integers(1, 3))
        x = values(draw, rng, (N, C, H, W), dtype)
        if kind == "im2col":
            col = fast.im2col(x, HH, WW, stride, pad)
            np.testing.assert_array_equal(col, ref.im2col(x, HH, WW, stride, pad))
            c = values(draw, rng, col.shape, dtype)
            same_results(fast.col2im(c, x.shape, HH, WW, stride, pad),
                         ref.col2im(c, x.shape, HH, WW, stride, pad), dtype)
            return
        F = draw(st.integers(0, 18))
        w = values(draw, rng, (F, C, HH, WW), dtype)
        b = values(draw, rng, (F,), dtype)
        p = {"stride": stride, "pad": pad, "algo": draw(st.sampled_from(["direct", "im2col"]))}
        (out, grads), (out_ref, grads_ref) = both_backends("conv", (x, w, b, p), dout_of)
    elif kind in ("max_pool", "avg_pool"):
        pool_h, pool_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        pad = draw(st.integers(0, min(pool_h, pool_w) // 2))
        assume(pool_h <= H + 2 * pad and pool_w <= W + 2 * pad)
        p = {"pool_height": pool_h, "pool_width": pool_w, "stride": draw(st.integers(1, 3)),
             "pad": pad}
        x = values(draw, rng, (N, C, H, W), dtype)
        (out, grads), (out_ref, grads_ref) = both_backends(kind, (x, p), dout_of)
    elif kind == "affine":
        D, M = C * H, draw(size)
        args = (values(draw, rng, (N, C, H), dtype), values(draw, rng, (D, M), dtype),
                values(draw, rng, (M,), dtype))
        (out, grads), (out_ref, grads_ref) = both_backends("affine", args, dout_of)
    elif kind == "relu":
        x = values(draw, rng, (N, C, H), dtype)
        (out, grads), (out_ref, grads_ref) = both_backends(
            "relu", (x,), dout_of, cache_layout=draw(st.sampled_from(LAYOUTS)))
    else:
        shape = (N, C, H, W) if kind == "spatial_batchnorm" else (N, C)
        mode = draw(st.sampled_from(["train", "test"]))
        assume(mode == "test" or N * (H * W if kind == "spatial_batchnorm" else 1) > 0)
        x = values(draw, rng, shape, dtype)
        # An infinite gamma makes dx an inf * 0 whose NaN or inf depends on how the
        # formula is factored: gamma stays finite here.
        gamma = values(draw, rng, (C,), dtype, specials=False)
        beta = values(draw, rng, (C,), dtype)
        stats = (rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype))
        results = []
        for backend in (fast, ref):
            bn_param = {"mode": mode, "running_mean": stats[0].copy(),
                        "running_var": stats[1].copy()}
            out, cache = getattr(backend, f"{kind}_forward")(x, gamma, beta, bn_param)
            dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
            results.append((out, getattr(backend, f"{kind}_backward")(dout, cache)))
        (out, grads), (out_ref, grads_ref) = results
        # The gradients are sums that may cancel (exactly, in exact arithmetic, for two
        # values a feature): held to the size of their terms, as in the test above.
        _, x_hat, _, std = cache[1] if kind == "spatial_batchnorm" else cache
        finite_max = lambda a: np.max(np.abs(a[np.isfinite(a)]), initial=1.0)  # noqa: E731
        scale = (max(1, x.size // max(C, 1)) * finite_max(dout) * finite_max(x_hat)
                 * finite_max(gamma / std))
        same_results(out, out_ref, dtype)
        for ours, theirs in zip(grads, grads_ref):
            assert_same_values(ours, theirs, TOL[dtype], scale=scale)
        return
    same_results(out, out_ref, dtype)
    same_results(grads, grads_ref, dtype)
