"""The edges of every kernel, one test per defect once found there, each comparing
values with the reference, never only shapes.  The suite runs with FASTNN_POISON=1
(conftest.py): outputs start as NaN, so an element a kernel leaves unwritten fails."""
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import assert_same_values, forward_cases, rel_error, time_limit

from fastnn import functional as fast
from fastnn.reference import functional as ref

BACKENDS = [fast, ref]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def both(name, *args):
    """The same call on both backends: (fast result, reference result)."""
    return getattr(fast, name)(*args), getattr(ref, name)(*args)


def assert_all_close(ours, theirs, dtype=np.float64):
    for a, b in zip(ours, theirs):
        assert_same_values(a, b, TOL[np.dtype(dtype).type])


# ----------------------------------------------------------------------------------
# 1. Empty sums are zero: affine with N, D or M = 0
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("N, D, M", [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)])
def test_affine_with_an_empty_dimension(N, D, M, rng):
    x, w, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((N, M))
    (out, cache), (out_ref, cache_ref) = both("affine_forward", x, w, b)
    assert_all_close([out], [out_ref])
    np.testing.assert_array_equal(out, np.broadcast_to(b, (N, M)) if D == 0 else out_ref)
    grads = fast.affine_backward(dout, cache)
    assert_all_close(grads, ref.affine_backward(dout, cache_ref))
    if N == 0:
        np.testing.assert_array_equal(grads[1], np.zeros((D, M)))  # dw: nothing summed
    if M == 0:
        np.testing.assert_array_equal(grads[0], np.zeros((N, D)))  # dx: nothing summed


# ----------------------------------------------------------------------------------
# 2. Convolution with no input or no output channels
# ----------------------------------------------------------------------------------

def test_conv_backward_with_no_input_channels_does_not_crash(tmp_path):
    """It divided by zero (SIGFPE) in the tile-size computation: run it in a child
    (outside the source tree, whose fastnn/ is not compiled)."""
    code = """
import numpy as np
from fastnn import functional as fast
from fastnn.reference import functional as ref
rng = np.random.default_rng(1)
x, w, b = np.empty((2, 0, 5, 4)), np.empty((3, 0, 3, 3)), rng.standard_normal(3)
p = {"stride": 1, "pad": 1}
out, cache = fast.conv_forward(x, w, b, p)
out_ref, cache_ref = ref.conv_forward(x, w, b, p)
assert np.array_equal(out, out_ref) and np.array_equal(out[1, :, 2, 3], b)
dout = rng.standard_normal(out.shape)
dx, dw, db = fast.conv_backward(dout, cache)
assert dx.shape == (2, 0, 5, 4) and dw.shape == (3, 0, 3, 3)
assert np.allclose(db, ref.conv_backward(dout, cache_ref)[2], rtol=1e-13, atol=0)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=time_limit(120), cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result


@pytest.mark.parametrize("algo", ["direct", "im2col"])
@pytest.mark.parametrize("C", [3, 17])  # both forms of the direct dx
def test_conv_with_no_filters_gives_empty_outputs_and_zero_dx(algo, C, rng):
    x, w, b = rng.standard_normal((2, C, 6, 5)), np.empty((0, C, 3, 3)), np.empty(0)
    p = {"stride": 1, "pad": 1, "algo": algo}
    (out, cache), (out_ref, cache_ref) = both("conv_forward", x, w, b, p)
    assert out.shape == out_ref.shape == (2, 0, 6, 5)
    dout = np.empty(out.shape)
    grads = fast.conv_backward(dout, cache)
    assert_all_close(grads, ref.conv_backward(dout, cache_ref))
    np.testing.assert_array_equal(grads[0], np.zeros_like(x))


# ----------------------------------------------------------------------------------
# 3. relu_backward with a cache of any memory layout
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["fortran", "transposed", "negative-stride", "strided"])
def test_relu_backward_takes_a_cache_of_any_layout(layout, functional, rng):
    base = rng.standard_normal((9, 14))
    x = {"fortran": np.asfortranarray(base), "transposed": base.T,
         "negative-stride": base[::-1, ::-1], "strided": base[:, ::2]}[layout]
    dout = rng.standard_normal(x.shape)
    expected = np.where(x > 0, dout, 0)
    np.testing.assert_array_equal(functional.relu_backward(dout, x), expected)  # CS231n cache: x
    out, cache = functional.relu_forward(x)
    np.testing.assert_array_equal(functional.relu_backward(dout, cache), expected)


# ----------------------------------------------------------------------------------
# 4. Infinities: NaN only where the reference has NaN
# ----------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the reference's inf - inf
@pytest.mark.parametrize("dtype, C", [(np.float32, 16), (np.float64, 8), (np.float64, 3)])
def test_conv_backward_with_an_infinite_weight(dtype, C, rng):
    """C >= lanes at stride 1 took the "dilated" dx, which multiplies the zeros around
    the gradient by every weight: inf * 0 = NaN where the reference is finite."""
    x = rng.standard_normal((2, C, 6, 7)).astype(dtype)
    w = rng.standard_normal((4, C, 3, 3)).astype(dtype)
    w[1, 0, 0, 0] = np.inf
    w[2, 0, 2, 1] = -np.inf
    b = rng.standard_normal(4).astype(dtype)
    p = {"stride": 1, "pad": 1}
    (out, cache), (out_ref, cache_ref) = both("conv_forward", x, w, b, p)
    assert_all_close([out], [out_ref], dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    grads_ref = ref.conv_backward(dout, cache_ref)
    assert np.isfinite(grads_ref[0]).any()
    assert_all_close(fast.conv_backward(dout, cache), grads_ref, dtype)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # dgamma: inf - inf
@pytest.mark.parametrize("spatial", [False, True])
def test_test_mode_batchnorm_backward_with_an_infinite_input(spatial, rng):
    """dx = gamma / std * dout does not involve x: it stays finite for an infinite x."""
    x = rng.standard_normal((4, 3, 2, 2) if spatial else (4, 3))
    x[0, 1] = np.inf
    x[2, 0] = -np.inf
    name = "spatial_batchnorm" if spatial else "batchnorm"
    running_mean, results = rng.standard_normal(3), []
    for backend in BACKENDS:
        bn_param = {"mode": "test", "running_mean": running_mean.copy(),
                    "running_var": np.full(3, 2.0)}
        out, cache = getattr(backend, f"{name}_forward")(x, np.ones(3), np.zeros(3), bn_param)
        dout = np.random.default_rng(0).standard_normal(x.shape)
        results.append(getattr(backend, f"{name}_backward")(dout, cache))
    assert np.isfinite(results[1][0]).all()
    assert_all_close(results[0], results[1])


# ----------------------------------------------------------------------------------
# 5. Caches do not alias the caller's input; 6. caches work across backends
# ----------------------------------------------------------------------------------

def cache_cases(rng):
    """(name, forward arguments with x first) for every layer whose input is data: the
    shared cases, plus the other convolution forms and padded pooling."""
    x4 = rng.standard_normal((3, 4, 7, 6))
    return [(name, args) for name, _, args in forward_cases(rng)] + [
        ("conv", (x4, rng.standard_normal((5, 4, 3, 2)), rng.standard_normal(5),
                  {"stride": 2, "pad": 1, "algo": "im2col"})),
        ("conv", (rng.standard_normal((2, 17, 5, 5)), rng.standard_normal((3, 17, 3, 3)),
                  rng.standard_normal(3), {"stride": 1, "pad": 1})),  # the "dilated" dx
        ("max_pool", (x4, {"pool_height": 3, "pool_width": 2, "stride": 2, "pad": 1})),
        ("avg_pool", (x4, {"pool_height": 2, "pool_width": 3, "stride": 1, "pad": 1})),
    ]


def test_caches_do_not_change_when_the_caller_reuses_its_input(rng):
    for name, args in cache_cases(rng):
        for backend in BACKENDS:
            x = args[0].copy()
            out, cache = getattr(backend, f"{name}_forward")(x, *args[1:])
            dout = np.cos(out)
            expected = getattr(backend, f"{name}_backward")(dout, cache)
            out, cache = getattr(backend, f"{name}_forward")(x, *args[1:])
            x[...] = rng.standard_normal(x.shape)  # the caller refills its batch buffer
            got = getattr(backend, f"{name}_backward")(dout, cache)
            for a, b in zip(got if isinstance(got, tuple) else (got,),
                            expected if isinstance(expected, tuple) else (expected,)):
                np.testing.assert_array_equal(a, b, f"{name} on {backend.__name__}")


@pytest.mark.parametrize("direction", ["fast cache to reference", "reference cache to fast"])
def test_a_cache_from_one_backend_works_in_the_other(direction, rng):
    forward_backend, backward_backend = (fast, ref) if direction.startswith("fast") else (ref, fast)
    for name, args in cache_cases(rng):
        out, cache = getattr(forward_backend, f"{name}_forward")(*args)
        dout = np.sin(out)
        got = getattr(backward_backend, f"{name}_backward")(dout, cache)
        expected = getattr(ref, f"{name}_backward")(dout, ref_cache(name, args))
        got = got if isinstance(got, tuple) else (got,)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for a, b in zip(got, expected):
            assert rel_error(a, b) < 1e-12, (name, direction)


def ref_cache(name, args):
    args = [dict(a) if isinstance(a, dict) else a for a in args]  # fresh bn_param
    return getattr(ref, f"{name}_forward")(*args)[1]


def test_a_malformed_cache_is_a_clear_error(functional, rng):
    x = rng.standard_normal((2, 3, 4, 4))
    out, cache = functional.conv_forward(x, rng.standard_normal((2, 3, 3, 3)), np.zeros(2),
                                      {"stride": 1, "pad": 1})
    with pytest.raises(TypeError, match=r"conv_backward: cache must be the 5-tuple returned "
                                        r"by conv_forward, got a tuple of 4 entries"):
        functional.conv_backward(out, cache[:4])
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = functional.max_pool_forward(x, pool)
    with pytest.raises(ValueError, match="max_pool_backward: the cache's argmax must hold 24"):
        functional.max_pool_backward(out, cache[:3] + (np.zeros(5, dtype=int),))
    for name in ("avg_pool", "batchnorm", "spatial_batchnorm"):
        with pytest.raises(TypeError, match=f"{name}_backward: cache must be the"):
            getattr(functional, f"{name}_backward")(out, [1, 2])


# ----------------------------------------------------------------------------------
# 7. A failed allocation of the per-thread buffers raises and leaks nothing
# ----------------------------------------------------------------------------------

def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_a_failed_buffer_allocation_raises_memory_error_and_leaks_nothing():
    """A padded image of 10**12 elements cannot be allocated: MemoryError, before any
    kernel runs, in both directions (the backward from a hand-made cache)."""
    x, w, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)), np.zeros(1)
    p = {"stride": 10**6, "pad": 500000}
    cache = (x, w, b, {**p, "algo": "direct"}, None)
    dout = np.ones((1, 1, 2, 2))
    for backend in BACKENDS:
        with pytest.raises(MemoryError):
            backend.conv_forward(x, w, b, p)
    for _ in range(20):
        with pytest.raises(MemoryError):
            fast.conv_backward(dout, cache)
    before = resident_bytes()
    for _ in range(300):  # each leaked ~24 KB when the buffers were malloc'ed in the kernel
        with pytest.raises(MemoryError):
            fast.conv_forward(x, w, b, p)
        with pytest.raises(MemoryError):
            fast.conv_backward(dout, cache)
    assert resident_bytes() - before < 2 * 2**20


# ----------------------------------------------------------------------------------
# 8. No result depends on the instruction set: no contraction outside the GEMM
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("spatial", [False, True])
def test_test_mode_batchnorm_forward_is_bitwise_the_reference(dtype, spatial, rng):
    """out = gamma * x_hat + beta rounded twice, as NumPy does: an FMA (contracted in the
    AVX2 clone only) rounds once and differs in the last bit somewhere in 10**5 values."""
    shape = (40, 10, 16, 16) if spatial else (2000, 50)
    x = rng.standard_normal(shape).astype(dtype)
    C = shape[1]
    gamma, beta = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    stats = {"running_mean": rng.standard_normal(C).astype(dtype),
             "running_var": rng.uniform(0.5, 2, C).astype(dtype)}
    name = "spatial_batchnorm_forward" if spatial else "batchnorm_forward"
    out = getattr(fast, name)(x, gamma, beta, {"mode": "test", **stats})[0]
    np.testing.assert_array_equal(out, getattr(ref, name)(x, gamma, beta, {"mode": "test", **stats})[0])


def lane_sums(rows, lanes=8):
    """The fixed-order float64 sum of channel_ops.h, in NumPy: per row, lane l adds the
    elements l, l+lanes, ... in order; lanes are folded in order; rows add up in order."""
    total = 0.0
    for row in rows:
        lane = np.zeros(lanes)
        full = len(row) // lanes * lanes
        if full:
            lane = np.cumsum(row[:full].reshape(-1, lanes), axis=0)[-1]
        for i in range(full, len(row)):
            lane[i % lanes] += row[i]
        folded = 0.0
        for value in lane:
            folded += value
        total += folded
    return total


def test_batch_statistics_are_the_fixed_order_sums_exactly(dtype, rng):
    """The variance adds (x - mean)**2 rounded, then summed: no fused multiply-add."""
    from fastnn._kernels import batchnorm as kernels
    x = (rng.standard_normal((5, 3, 203)) * 3 + 1).astype(dtype)
    mean, var, std = np.empty(3), np.empty(3), np.empty(3, dtype)
    ones, zeros = np.ones(3, dtype), np.zeros(3, dtype)
    kernels.train_normalize(x, 1e-5, ones, zeros, mean, var, std, np.empty_like(x),
                            np.empty_like(x))
    for c in range(3):
        rows = x[:, c, :].astype(np.float64)
        m = lane_sums(rows) / rows.size
        assert mean[c] == m
        d = rows - m
        assert var[c] == lane_sums(d * d) / rows.size


# ----------------------------------------------------------------------------------
# 9. Integer inputs alone give float64, as NumPy arithmetic with a float does
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.uint8, np.int16, np.uint16,
                                   np.int32, np.int64])
def test_integer_inputs_give_float64(dtype, functional, rng):
    x = rng.integers(0, 2, (2, 3, 4, 4)).astype(dtype)
    assert functional.relu_forward(x)[0].dtype == (x * 1.0).dtype == np.float64
    pool = {"pool_height": 2, "pool_width": 2, "stride": 2}
    assert functional.max_pool_forward(x, pool)[0].dtype == np.float64
    w = rng.integers(-2, 3, (2, 3, 3, 3)).astype(dtype)
    out = functional.conv_forward(x, w, np.zeros(2, dtype), {"stride": 1, "pad": 0})[0]
    assert out.dtype == np.float64
    # with a float32 array among the inputs, NumPy's rule: small integers give float32
    out = functional.conv_forward(x, w.astype(np.float32), np.zeros(2, np.float32),
                               {"stride": 1, "pad": 0})[0]
    assert out.dtype == np.result_type(dtype, np.float32)


# ----------------------------------------------------------------------------------
# 10. Huge strides and windows: the same result or the same error in both backends
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("stride", [2**31, 2**35])
def test_strides_beyond_32_bits_give_the_reference_result(stride, rng):
    x = rng.standard_normal((2, 3, 5, 4))
    pool = {"pool_height": 2, "pool_width": 3, "stride": stride}
    for kind in ("max", "avg"):
        (out, cache), (out_ref, cache_ref) = both(f"{kind}_pool_forward", x, pool)
        np.testing.assert_array_equal(out, out_ref)
        np.testing.assert_array_equal(getattr(fast, f"{kind}_pool_backward")(out, cache),
                                      getattr(ref, f"{kind}_pool_backward")(out, cache_ref))
    w, b = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal(2)
    (out, cache), (out_ref, cache_ref) = both("conv_forward", x, w, b, {"stride": stride, "pad": 1})
    assert_all_close([out], [out_ref])
    assert_all_close(fast.conv_backward(out, cache), ref.conv_backward(out, cache_ref))
    args = (x, 2, 2, stride, 1)
    np.testing.assert_array_equal(fast.im2col(*args), ref.im2col(*args))


def test_geometry_beyond_the_limits_is_the_same_clear_error(functional):
    x = np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"max_pool_forward: stride must be <= 2\*\*40"):
        functional.max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2**41})
    with pytest.raises(ValueError, match=r"conv_forward: pad must be <= 2\*\*40"):
        functional.conv_forward(x, np.ones((1, 1, 1, 1)), np.zeros(1), {"stride": 1, "pad": 2**70})
    with pytest.raises(ValueError, match="max_pool_forward: the pooling window has "
                                         "65536x65536 = 4294967296 elements"):
        functional.max_pool_forward(x, {"pool_height": 2**16, "pool_width": 2**16, "stride": 1,
                                     "pad": 2**15})


@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (0, 4, 3, 3), (2, 4, 0, 3), (2, 0, 3, 3)])
def test_layer_and_group_norm_with_an_empty_dimension(shape, rng):
    """Rows of no values have mean and variance 0 (std = sqrt(eps)) in both backends."""
    x = rng.standard_normal(shape)
    C = shape[1]
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    results = []
    for backend in (fast, ref):
        if x.ndim == 2:
            out, cache = backend.layernorm_forward(x, gamma, beta, {"eps": 1e-4})
            grads = backend.layernorm_backward(np.ones_like(out), cache)
        else:
            out, cache = backend.spatial_groupnorm_forward(x, gamma, beta, 2 if C else 1, {})
            grads = backend.spatial_groupnorm_backward(np.ones_like(out), cache)
        results.append((out, *grads, cache[2]))
    for ours, theirs in zip(*results):
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs)
