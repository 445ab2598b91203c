"""Fuzzing the compiled kernels against the reference at the edges of the valid inputs:
1x1 images, windows as large as the padded input, strides larger than the window, padding
larger than the image.  A kernel that reads or writes out of bounds shows up here as a
wrong value (and under the sanitizer build, scripts/sanitize.sh, as a report)."""
import numpy as np
from helpers import rel_error
from hypothesis import HealthCheck, given, settings
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
    out, cache = fast.conv_forward(x, w, b, p)
    out_ref, cache_ref = ref.conv_forward(x, w, b, p)
    assert rel_error(out, out_ref) < TOL[dtype]
    dout = rng.standard_normal(out.shape).astype(dtype)
    for ours, theirs in zip(fast.conv_backward(dout, cache), ref.conv_backward(dout, cache_ref)):
        assert rel_error(ours, theirs) < TOL[dtype]


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
