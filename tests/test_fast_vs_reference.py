"""The compiled backend against the reference: random shapes (odd sizes, stride 1-3, pad
0-2, 1x1 and non-square windows, batch of one), fresh values, both dtypes."""
import numpy as np
import pytest
from helpers import assert_same_bits, conv_case, pool_case, rel_error, run_everything

import fastnn
from fastnn import functional as fast
from fastnn.reference import functional as ref

TOL = {np.float32: 2e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]
SEEDS = range(12)


def assert_close(ours, theirs, dtype):
    dtype = np.dtype(dtype).type
    assert ours.dtype == theirs.dtype == dtype, (ours.dtype, theirs.dtype)
    assert rel_error(ours, theirs) < TOL[dtype]


@pytest.mark.parametrize("algo", ["direct", "im2col", "auto"])
@pytest.mark.parametrize("seed", SEEDS)
def test_conv(seed, dtype, algo):
    rng = np.random.default_rng(seed)
    x, w, b, p = conv_case(rng, dtype, max_hw=11, max_channels=20 if seed % 3 == 0 else 5)
    check_conv(x, w, b, {**p, "algo": algo}, rng)


def check_conv(x, w, b, conv_param, rng):
    """Forward and backward of both backends agree."""
    out, cache = fast.conv_forward(x, w, b, conv_param)
    out_ref, cache_ref = ref.conv_forward(x, w, b, conv_param)
    assert_close(out, out_ref, x.dtype)
    dout = rng.standard_normal(out.shape).astype(x.dtype)
    for ours, theirs in zip(fast.conv_backward(dout, cache), ref.conv_backward(dout, cache_ref)):
        assert_close(ours, theirs, x.dtype)


def test_conv_large_channel_counts(dtype, rng):
    """More output channels than one register tile, input channels not a multiple of it."""
    x = rng.standard_normal((3, 37, 9, 10)).astype(dtype)
    w = rng.standard_normal((41, 37, 3, 3)).astype(dtype)
    b = rng.standard_normal(41).astype(dtype)
    check_conv(x, w, b, {"stride": 1, "pad": 1}, rng)


@pytest.mark.parametrize("N, C, F, stride", [(7, 16, 64, 1), (5, 6, 9, 2), (1, 16, 20, 1),
                                         (13, 17, 16, 1)])
def test_conv_tiles_several_images_as_one(N, C, F, stride, dtype, rng):
    """Small planes are tiled several images at a time, forward and in the dilated dx
    (7x7: five to seven, fastnn._kernels.borders; the group size depends on the thread
    count), the last group short: each image's output and input gradient as if alone,
    and the same bits at every thread count."""
    from fastnn._kernels import borders
    assert borders.schedules(borders.forward_pass(C, 7, 7, F, 3, 3, 1, 1), 100, 2, 6, True).images > 1
    x = rng.standard_normal((N, C, 7, 7)).astype(dtype)
    w = rng.standard_normal((F, C, 3, 3)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    conv_param = {"stride": stride, "pad": 1}
    check_conv(x, w, b, conv_param, rng)
    out, cache = fast.conv_forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    before = fastnn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            out, cache = fast.conv_forward(x, w, b, conv_param)
            runs.append((out,) + fast.conv_backward(dout, cache))
    finally:
        fastnn.set_num_threads(before)
    assert_same_bits(runs)
    for n in range(N):  # one image alone: a group of one
        alone, cache = fast.conv_forward(x[n:n + 1], w, b, conv_param)
        np.testing.assert_array_equal(alone[0], runs[0][0][n])
        np.testing.assert_array_equal(fast.conv_backward(dout[n:n + 1], cache)[0][0], runs[0][1][n])


@pytest.mark.parametrize("seed", SEEDS)
def test_im2col_and_col2im(seed, dtype):
    rng = np.random.default_rng(seed)
    x, w, _, p = conv_case(rng, dtype)
    args = (w.shape[2], w.shape[3], p["stride"], p["pad"])
    col = fast.im2col(x, *args)
    np.testing.assert_array_equal(col, ref.im2col(x, *args))
    c = rng.standard_normal(col.shape).astype(dtype)
    assert_close(fast.col2im(c, x.shape, *args), ref.col2im(c, x.shape, *args), dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("seed", SEEDS)
def test_pooling(seed, dtype, kind):
    rng = np.random.default_rng(seed)
    x, p = pool_case(rng, dtype, max_hw=12)
    if seed % 2:  # ties and repeated values too, not only distinct ones
        x = np.round(x / 4).astype(dtype)
    forward, backward = f"{kind}_pool_forward", f"{kind}_pool_backward"
    out, cache = getattr(fast, forward)(x, p)
    out_ref, cache_ref = getattr(ref, forward)(x, p)
    assert_close(out, out_ref, dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    assert_close(getattr(fast, backward)(dout, cache), getattr(ref, backward)(dout, cache_ref), dtype)


def test_max_pool_nan_and_inf_match_the_reference(rng):
    x = rng.standard_normal((2, 3, 6, 6))
    x[0, 0, 1, 1] = np.nan
    x[1, 2, :2, :2] = -np.inf
    x[0, 1, 3, 3] = np.inf
    p = {"pool_height": 3, "pool_width": 3, "stride": 2, "pad": 1}
    out, cache = fast.max_pool_forward(x, p)
    out_ref, cache_ref = ref.max_pool_forward(x, p)
    np.testing.assert_array_equal(out, out_ref)
    dout = rng.standard_normal(out.shape)
    # overlapping windows: the same gradients routed, summed in another order
    np.testing.assert_allclose(fast.max_pool_backward(dout, cache),
                               ref.max_pool_backward(dout, cache_ref), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("out_w", [1, 3, 4, 7, 8, 9, 12, 17, 24])
def test_pooling_2x2_stride_2_rows_in_vectors(out_w, dtype, rng):
    """2 x 2 windows at stride 2 take a vector kernel (csrc/pool_ops.h): every row length
    around its 8 (4) lanes, odd input sizes (a last row and column no window covers),
    NaN, infinities and ties, bitwise against the reference (max) and the general loop's
    order of summation (avg)."""
    x = np.round(rng.standard_normal((2, 3, 7, 2 * out_w + 1)) * 2).astype(dtype)
    x.flat[rng.choice(x.size, 12, replace=False)] = [np.nan] * 4 + [np.inf] * 4 + [-np.inf] * 4
    p = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = fast.max_pool_forward(x, p)
    out_ref, cache_ref = ref.max_pool_forward(x, p)
    np.testing.assert_array_equal(out, out_ref)
    dout = rng.standard_normal(out.shape).astype(dtype)  # disjoint windows: exact routing
    np.testing.assert_array_equal(fast.max_pool_backward(dout, cache),
                                  ref.max_pool_backward(dout, cache_ref))
    taps = [x[:, :, i:6:2, j:2 * out_w:2] for i in (0, 1) for j in (0, 1)]
    total = np.zeros_like(taps[0])
    with np.errstate(invalid="ignore"):  # inf + -inf
        for tap in taps:
            total = total + tap
    np.testing.assert_array_equal(fast.avg_pool_forward(x, p)[0], total / dtype(4))


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("spatial", [False, True])
@pytest.mark.parametrize("seed", SEEDS[:6])
def test_batchnorm(seed, dtype, spatial, mode):
    rng = np.random.default_rng(seed)
    N = int(rng.integers(1, 9)) if mode == "test" else int(rng.integers(2, 9))
    C = int(rng.integers(1, 7))
    shape = (N, C, int(rng.integers(1, 6)), int(rng.integers(1, 6))) if spatial else (N, C)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    gamma, beta = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    stats = {"running_mean": rng.standard_normal(C).astype(dtype),
             "running_var": rng.uniform(0.5, 2, C).astype(dtype)}
    name = "spatial_batchnorm" if spatial else "batchnorm"
    params = []
    results = []
    for backend in (fast, ref):
        bn_param = {"mode": mode, "momentum": 0.7, **{k: v.copy() for k, v in stats.items()}}
        out, cache = getattr(backend, f"{name}_forward")(x, gamma, beta, bn_param)
        dout = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
        results.append((out, *getattr(backend, f"{name}_backward")(dout, cache)))
        params.append(bn_param)
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, dtype)
    for key in ("running_mean", "running_var"):
        assert_close(params[0][key], params[1][key], dtype)


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_layer_and_group_norm(seed, dtype):
    rng = np.random.default_rng(seed)
    N, G = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    C, H, W = G * int(rng.integers(1, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
    x = (rng.standard_normal((N, C, H, W)) * 3 + 2).astype(dtype)
    gamma, beta = (rng.standard_normal((2, 1, C, 1, 1)) + 1).astype(dtype)
    rows, features = x.reshape(N, -1), rng.standard_normal(C * H * W).astype(dtype)
    cases = [("spatial_groupnorm", (x, gamma, beta, G, {"eps": 1e-4})),
             ("layernorm", (rows, features, features[::-1].copy(), {}))]
    for name, args in cases:
        out, cache = getattr(fast, f"{name}_forward")(*args)
        out_ref, cache_ref = getattr(ref, f"{name}_forward")(*args)
        assert_close(out, out_ref, dtype)
        dout = rng.standard_normal(out.shape).astype(dtype)
        grads = getattr(fast, f"{name}_backward")(dout, cache)
        for ours, theirs, given in zip(grads, getattr(ref, f"{name}_backward")(dout, cache_ref), args):
            assert ours.shape == np.shape(given)  # dgamma, dbeta in gamma's and beta's shapes
            assert_close(ours, theirs, dtype)


def test_non_contiguous_and_mixed_inputs(rng):
    x = rng.standard_normal((4, 10, 9, 3)).transpose(0, 3, 1, 2)  # (4, 3, 10, 9), a view
    w = rng.standard_normal((5, 3, 3, 2)).astype(np.float32)       # float32 weights -> float64
    b = rng.standard_normal(5)
    p = {"stride": 2, "pad": 1}
    out, _ = fast.conv_forward(x, w, b, p)
    out_ref, _ = ref.conv_forward(x, w, b, p)
    assert_close(out, out_ref, np.float64)
    pool = {"pool_height": 2, "pool_width": 3, "stride": 2}
    assert_close(fast.max_pool_forward(x[:, :, ::2], pool)[0],
                 ref.max_pool_forward(x[:, :, ::2], pool)[0], np.float64)


def test_conv_rejects_an_unknown_algorithm(rng):
    x, w, b, p = conv_case(rng)
    with pytest.raises(ValueError, match="conv_param\\['algo'\\] must be one of"):
        fast.conv_forward(x, w, b, {**p, "algo": "fft"})


# ----------------------------------------------------------------------------------
# Results do not depend on the thread count
# ----------------------------------------------------------------------------------

@pytest.mark.skipif(not fastnn.build_info()["openmp"], reason="a build without OpenMP has one thread")
def test_results_are_bitwise_identical_for_1_2_3_threads(dtype):
    before = fastnn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            runs.append(run_everything(0, dtype))
    finally:
        fastnn.set_num_threads(before)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------
# The layer classes: one network, two backends
# ----------------------------------------------------------------------------------

def test_the_same_network_gives_the_same_loss_and_gradients(dtype, rng):
    from fastnn import layers as fast_layers
    from fastnn.reference import layers as ref_layers

    params = {"W1": rng.standard_normal((8, 3, 3, 3)) * 0.3, "b1": rng.standard_normal(8) * 0.1,
              "gamma": rng.uniform(0.5, 1.5, 8), "beta": rng.standard_normal(8) * 0.1,
              "W2": rng.standard_normal((8 * 5 * 5, 10)) * 0.1, "b2": rng.standard_normal(10) * 0.1}
    params = {k: v.astype(dtype) for k, v in params.items()}
    x = rng.standard_normal((6, 3, 11, 11)).astype(dtype)
    t = rng.integers(0, 10, 6)

    def run(L):
        p = {k: v.copy() for k, v in params.items()}
        net = [L.Convolution(p["W1"], p["b1"], stride=1, pad=1),
               L.BatchNormalization(p["gamma"], p["beta"]), L.Relu(),
               L.Pooling(3, 3, stride=2), L.AvgPooling(1, 1), L.Affine(p["W2"], p["b2"])]
        h = x
        for layer in net:
            h = layer.forward(h)
        last = L.SoftmaxWithLoss()
        loss = last.forward(h, t)
        dout = last.backward()
        for layer in reversed(net):
            dout = layer.backward(dout)
        # The conv bias feeds batch normalisation, which removes it: its gradient is
        # rounding noise, so it is checked to be ~0 rather than compared.
        assert np.max(np.abs(net[0].db)) < 1e-4 * np.max(np.abs(net[0].dW))
        grads = [net[0].dW, net[1].dgamma, net[1].dbeta, net[5].dW, net[5].db, dout]
        return loss, grads

    loss_fast, grads_fast = run(fast_layers)
    loss_ref, grads_ref = run(ref_layers)
    assert abs(loss_fast - loss_ref) <= TOL[dtype] * abs(loss_ref)
    for ours, theirs in zip(grads_fast, grads_ref):
        assert_close(ours, theirs, dtype)


def test_fast_layers_are_bound_to_the_fast_backend():
    from fastnn import layers as fast_layers
    assert fast_layers.Convolution.F is fast
    assert fast_layers.Convolution.__module__ == "fastnn.layers"


def test_relu_matches_numpy_exactly(dtype, rng):
    x = rng.standard_normal((3, 50, 41, 17)).astype(dtype)  # > one block, not a multiple
    x.flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
    out, cache = fast.relu_forward(x)
    out_ref, cache_ref = ref.relu_forward(x)
    np.testing.assert_array_equal(out, out_ref)
    assert not np.signbit(out.flat[1])  # -0.0 -> +0.0, as np.maximum(-0.0, 0)
    dout = rng.standard_normal(x.shape).astype(dtype)
    np.testing.assert_array_equal(fast.relu_backward(dout, cache), ref.relu_backward(dout, cache_ref))
    np.testing.assert_array_equal(fast.relu_forward(x[:, ::2].transpose(0, 2, 1, 3))[0],
                                  ref.relu_forward(x[:, ::2].transpose(0, 2, 1, 3))[0])


ULPS = 3  # the compiled sigmoid's bound, csrc/sigmoid.h


def exact_sigmoid(z):
    """sigmoid in extended precision (x86's 80-bit long double where NumPy has it)."""
    z = z.astype(np.longdouble)
    t = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + t), t / (1 + t))


@pytest.mark.parametrize("shape", [(1,), (3, 1), (7, 5), (37, 1001), (2, 3, 40000)])
def test_sigmoid_is_within_a_few_ulp_of_the_exact_value(shape, dtype, rng):
    """Forward within ULPS units in the last place of the exact sigmoid, including tiny
    results (z down to -700 in float64, -80 in float32) that the reference's tanh form
    rounds away; bias and mask as (x + bias) and * mask; backward the reference's bits."""
    wide = 700 if dtype == np.float64 else 80
    x = (rng.uniform(-1, 1, shape) ** 3 * wide).astype(dtype)
    bias = rng.standard_normal(shape[-1]).astype(dtype)
    mask = rng.standard_normal(shape).astype(dtype)
    out, cache = fast.sigmoid_forward(x)
    for ours, z, factor in [(out, x, 1), (fast.sigmoid(x, bias), x + bias, 1),
                            (fast.sigmoid(x, mask=mask), x, mask),
                            (fast.sigmoid(x, bias, mask), x + bias, mask)]:
        assert ours.dtype == dtype and ours.shape == x.shape
        exact = (exact_sigmoid(z) * factor).astype(dtype)
        ulp = np.spacing(np.abs(exact))
        assert np.all(np.abs(ours - exact) <= ULPS * ulp), np.max(np.abs(ours - exact) / ulp)
        assert rel_error(ours, ref.sigmoid(x, bias if z is not x else None,
                                           mask if factor is mask else None)) < TOL[dtype]
    dout = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(fast.sigmoid_backward(dout, cache),
                                  ref.sigmoid_backward(dout, cache))


def test_sigmoid_of_special_values(dtype, functional):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e4, -1e4, 2.0], dtype)
    out, _ = functional.sigmoid_forward(x)
    np.testing.assert_array_equal(out[:5], np.array([0.5, 0.5, 1, 0, np.nan], dtype))
    assert out[5] == 1 and out[6] == 0
    exact = exact_sigmoid(np.array(2.0)).astype(dtype)
    assert abs(out[7] - exact) <= np.spacing(exact)


@pytest.mark.parametrize("shape", [(), (0,), (0, 4), (4, 0)])
def test_sigmoid_of_empty_and_0d_arrays_is_the_reference(shape, functional, rng):
    x = rng.standard_normal(shape)
    out, _ = functional.sigmoid_forward(x)
    expected, _ = ref.sigmoid_forward(x)
    assert type(out) is type(expected) and np.shape(out) == shape
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    if shape:
        assert functional.sigmoid(x, np.zeros(shape[-1])).shape == shape


def test_sigmoid_in_place_and_its_argument_checks(dtype, functional, rng):
    x = rng.standard_normal((6, 5)).astype(dtype)
    bias, mask = rng.standard_normal(5).astype(dtype), rng.random((6, 5)).astype(dtype)
    expected = functional.sigmoid(x, bias, mask)
    given = x.copy()
    assert functional.sigmoid(given, bias, mask, out=given) is given
    np.testing.assert_array_equal(given, expected)
    np.testing.assert_array_equal(functional.sigmoid(x.T.copy().T, bias, mask), expected)
    for kwargs, error, message in [
            ({"bias": np.zeros(6)}, ValueError, r"sigmoid: bias must have shape \(x's last axis,\) = \(5,\), got \(6,\)"),
            ({"mask": np.zeros(5)}, ValueError, r"sigmoid: mask must have shape \(x's shape\) = \(6, 5\), got \(5,\)"),
            ({"out": np.zeros((5, 6), dtype)}, ValueError, r"sigmoid: out must have the result's shape"),
            ({"bias": ["a"] * 5}, TypeError, r"sigmoid: bias must be a real numeric array, got dtype <U1")]:
        with pytest.raises(error, match=message):
            functional.sigmoid(x, **kwargs)
    with pytest.raises(ValueError, match=r"sigmoid: a bias needs x of at least 1 dimension"):
        functional.sigmoid(np.float64(1.0), np.zeros(1))


@pytest.mark.parametrize("size", [(2, 3, 4), (3, 50, 41, 17)])  # NumPy's path, the kernel's
def test_relu_out_writes_the_result_in_place(dtype, functional, size, rng):
    x = rng.standard_normal(size).astype(dtype)
    dout = rng.standard_normal(size).astype(dtype)
    expected, cache = functional.relu_forward(x)
    expected_dx = functional.relu_backward(dout, cache)
    given = x.copy()
    out, cache = functional.relu_forward(given, out=given)
    assert out is given and cache is given
    np.testing.assert_array_equal(out, expected)
    dx = functional.relu_backward(dout, cache, out=dout)
    assert dx is dout
    np.testing.assert_array_equal(dx, expected_dx)
    for bad, error, message in [
            ([0.0] * x.size, TypeError, r"relu_forward: out must be a numpy.ndarray, got list"),
            (np.empty(x.size, dtype), ValueError, r"out must have the result's shape"),
            (np.empty(size, np.float16), ValueError, r"dtype %s, got shape .* float16" % np.dtype(dtype)),
            (np.empty(size[::-1], dtype).T, ValueError, "out must be C-contiguous, writeable and aligned")]:
        with pytest.raises(error, match=message):
            functional.relu_forward(x, out=bad)
    readonly = np.empty(size, dtype)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="relu_backward: out must be C-contiguous, writeable and aligned"):
        functional.relu_backward(dout, cache, out=readonly)


def test_backward_without_dx_gives_the_same_dw_and_db(functional, rng):
    """need_dx=False (a network's first layer) skips dx; dw and db are bitwise the same."""
    x, w, b, conv_param = conv_case(rng, max_channels=5)
    out, cache = functional.conv_forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    full = functional.conv_backward(dout, cache)
    partial = functional.conv_backward(dout, cache, need_dx=False)
    assert partial[0] is None
    np.testing.assert_array_equal(partial[1], full[1])
    np.testing.assert_array_equal(partial[2], full[2])
    xa, wa, ba = rng.standard_normal((4, 3, 5)), rng.standard_normal((15, 6)), rng.standard_normal(6)
    out, cache = functional.affine_forward(xa, wa, ba)
    full, partial = functional.affine_backward(out, cache), functional.affine_backward(out, cache, need_dx=False)
    assert partial[0] is None
    np.testing.assert_array_equal(partial[1], full[1])
    np.testing.assert_array_equal(partial[2], full[2])


def test_matmul_matches_the_reference_and_checks_its_operands(dtype, functional, rng):
    """Both backends' matmul, a @ b and a.T @ b, on shapes either side of the size where
    the compiled backend leaves NumPy (the planner's SMALL_PRODUCT), against NumPy; small
    ones with a large out over one term and over a few (np.dot's and np.matmul's calls),
    B row-major and a row-major array's transpose (dout @ W.T)."""
    for R, K, M in [(1, 1, 1), (3, 50, 10), (784, 1, 50), (784, 3, 50), (100, 10, 100),
                    (100, 784, 50), (97, 301, 33), (300, 200, 65)]:
        a = rng.standard_normal((R, K)).astype(dtype)
        b = rng.standard_normal((K, M)).astype(dtype)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        for given, transpose in ((a, False), (np.ascontiguousarray(a.T), True)):
            for b_given in (b, np.ascontiguousarray(b.T).T):
                out = functional.matmul(given, b_given, transpose_a=transpose)
                assert out.dtype == dtype and out.shape == (R, M)
                assert rel_error(out, expected) < (1e-5 if dtype == np.float32 else 1e-12)
    with pytest.raises(ValueError, match=r"matmul: a must be 2-D \(R, K\), got shape \(3,\)"):
        functional.matmul(np.ones(3, dtype), np.ones((3, 2), dtype))
    with pytest.raises(ValueError, match=r"matmul: b must have 4 rows, one per column of a "):
        functional.matmul(np.ones((2, 4), dtype), np.ones((3, 2), dtype))
    with pytest.raises(ValueError, match=r"b must have 2 rows, one per column of a.T"):
        functional.matmul(np.ones((2, 4), dtype), np.ones((3, 2), dtype), transpose_a=True)
    with pytest.raises(TypeError, match="matmul: a must be a real numeric array"):
        functional.matmul(np.ones((2, 2), complex), np.ones((2, 2)))


def test_compiled_updates_refuse_arrays_they_cannot_update_in_one_pass(rng):
    p, g, m, v = (rng.standard_normal((3, 4)) for _ in range(4))
    for bad in (p.T, p.astype(np.float16), p[:, :2], list(p)):
        with pytest.raises(ValueError, match="adam_update: param, grad, m and v must be"):
            fast.adam_update(bad, g, m, v, 0.1, 0.9, 0.999, 1e-7)
        with pytest.raises(ValueError, match="rmsprop_update: param, grad and h must be"):
            fast.rmsprop_update(p, g, bad, 0.1, 0.99, 1e-7)
    before = p.copy()
    fast.adam_update(p, g, m, v, 0.1, 0.9, 0.999, 1e-7)
    assert not np.array_equal(p, before)
    before, h0 = p.copy(), v * v  # (a state of squares: never negative)
    h = h0.copy()
    fast.rmsprop_update(p, g, h, 0.1, 0.99, 1e-7)
    np.testing.assert_array_equal(h, h0 * 0.99 + (1 - 0.99) * g * g)
    np.testing.assert_array_equal(p, before - 0.1 * g / (np.sqrt(h) + 1e-7))


def test_a_transposed_operand_gives_the_bits_of_its_copy(dtype, rng):
    """a.T @ b (columns of a copied into panels) and the same product from a transposed
    copy of a (rows read in place) sum the same terms in the same order: the same bits,
    at shapes large enough for the compiled kernel, with partial row chunks and lane
    blocks."""
    for K, R, M in [(943, 301, 20), (100, 3072, 100), (57, 999, 33), (5, 60001, 3)]:
        a = rng.standard_normal((K, R)).astype(dtype)
        b = rng.standard_normal((K, M)).astype(dtype)
        np.testing.assert_array_equal(fast.matmul(a, b, transpose_a=True),
                                      fast.matmul(np.ascontiguousarray(a.T), b))


def _unaligned(a):
    """A copy of a whose data lies one byte off its dtype's alignment."""
    raw = np.empty(a.nbytes + 1, np.uint8)[1:]
    out = np.frombuffer(raw, a.dtype).reshape(a.shape)  # (frombuffer: not aligned)
    out[...] = a
    assert not out.flags.aligned
    return out


def test_small_calls_read_swapped_and_unaligned_arrays_as_their_values(dtype, rng):
    """The small calls checked in C (affine, ReLU) leave a byte-swapped or unaligned
    array to the Python path: the same values as the plain array's, never its bytes
    reinterpreted."""
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((3, 4), (4, 5), (5,)))
    dout = rng.standard_normal((3, 5)).astype(dtype)
    out, cache = fast.affine_forward(x, w, b)
    grads = fast.affine_backward(dout, cache)
    swapped = np.dtype(dtype).newbyteorder()
    for odd in (lambda a: a.astype(swapped), _unaligned):
        np.testing.assert_allclose(fast.affine_forward(x, w, odd(b))[0], out, rtol=TOL[dtype])
        np.testing.assert_allclose(fast.affine_forward(odd(x), odd(w), odd(b))[0], out,
                                   rtol=TOL[dtype])
        for ours, theirs in zip(fast.affine_backward(odd(dout), cache), grads):
            np.testing.assert_allclose(ours, theirs, rtol=TOL[dtype])
        np.testing.assert_array_equal(fast.relu_forward(odd(x))[0], np.maximum(x, 0))
        np.testing.assert_array_equal(fast.relu_backward(odd(2 * x), odd(x)), np.where(x > 0, 2 * x, 0))


def test_products_of_any_layout_give_the_bits_of_contiguous_copies(dtype, rng):
    """matmul's compiled path (checked in C) reads a and b where they lie, copies them
    where it must (unaligned, a not C-contiguous) and leaves byte-swapped arrays to the
    Python checks: every layout gives the bits of the product of C-contiguous copies, at
    sizes above SMALL_PRODUCT, with and without a tail block; the inputs are unchanged."""
    for R, K, M in [(97, 301, 33), (20, 1682, 20), (130, 64, 64)]:
        a = rng.standard_normal((R, 2 * K)).astype(dtype)[:, ::2]  # a strided view
        b = rng.standard_normal((K, 3 * M)).astype(dtype)[:, 1::3]
        expected = fast.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b))
        swapped = np.dtype(dtype).newbyteorder()
        layouts = [(a, b), (_unaligned(a), _unaligned(b)), (a, b[::-1][::-1]),
                   (np.flip(np.flip(a).copy()), np.flip(np.flip(b).copy())),
                   (np.asfortranarray(a), np.asfortranarray(b)),
                   (a.astype(swapped), b.astype(swapped))]
        for x, y in layouts:
            before = (x.copy(), y.copy())
            np.testing.assert_array_equal(fast.matmul(x, y), expected)
            np.testing.assert_array_equal(fast.matmul(np.asfortranarray(x.T), y, transpose_a=True),
                                          expected)
            np.testing.assert_array_equal(x, before[0])
            np.testing.assert_array_equal(y, before[1])


def test_products_give_the_same_bits_at_every_thread_count(dtype, rng):
    """a @ b, a.T @ b and a @ w.T (B transposed: its last, partial block of columns packed
    by each thread that needs it) at 1, 2 and 3 threads, where the tasks are few (one or
    two lane blocks: shorter row chunks) or many, with and without a tail block, and
    whole rows a task (all of B in the L2: a short sum into a wide out)."""
    shapes = [(100, 784, 50), (100, 100, 100), (100, 784, 64), (31, 3001, 17), (301, 943, 20),
              (301, 20, 1682), (97, 16, 333)]
    cases = []
    for R, K, M in shapes:
        a = rng.standard_normal((R, K)).astype(dtype)
        b = rng.standard_normal((K, M)).astype(dtype)
        cases += [(a, b, False), (np.ascontiguousarray(a.T), b, True),
                  (a, np.ascontiguousarray(b.T).T, False)]
    before = fastnn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            runs.append([fast.matmul(a, b, transpose_a=t) for a, b, t in cases])
    finally:
        fastnn.set_num_threads(before)
    assert_same_bits(runs)
    for (a, b, t), ours in zip(cases, runs[0]):
        expected = (a.T if t else a).astype(np.float64) @ b.astype(np.float64)
        assert rel_error(ours, expected) < TOL[dtype]


def test_a_swapped_product_gives_the_bits_of_the_plain_one(dtype, rng, monkeypatch):
    """x.T @ dout and dout @ W.T with few columns run as (dout.T @ x).T and (W @ dout.T).T
    (lanes over out's rows): each sum is the same terms in the same order (a * b is b * a
    exactly), so the same bits as the plain product, at 1 and 2 threads; and the transpose
    back (blocks in registers, scalar edges) is a copy."""
    from fastnn._kernels import affine, plan
    shapes = [(943, 1682, 10), (300, 1001, 5), (943, 1682, 20), (16, 1682, 20)]
    cases = [(rng.standard_normal((K, R)).astype(dtype), rng.standard_normal((K, M)).astype(dtype))
             for K, R, M in shapes]
    weights = [rng.standard_normal((M, K)).astype(dtype) for K, M in ((1682, 20), (2000, 6))]
    outs = [rng.standard_normal((R, K)).astype(dtype) for R, K in ((16, 1682), (31, 2000))]
    swapped = [plan.plan("matmul", dtype, (a.shape[1], a.shape[0], b.shape[1]),
                         transposed=True, b_rows_contiguous=True).form == "swapped"
               for a, b in cases]
    single, avx512 = dtype == np.float32, fastnn.get_simd_level() == "avx512"
    # (at AVX2 the narrow tail tiles pad the autoencoder's products less than their swaps)
    assert swapped == [True, True, True, single and avx512]
    assert [plan.plan("matmul", dtype, (d.shape[0], d.shape[1], w.shape[0]),
                      b_columns_contiguous=True).form == "swapped"
            for d, w in zip(outs, weights)] == [single and avx512, True]
    assert plan.plan("matmul", dtype, (16, 1682, 20), b_rows_contiguous=True).form != "swapped"

    def products():
        return ([fast.matmul(a, b, transpose_a=True) for a, b in cases]
                + [fast.matmul(d, w.T) for d, w in zip(outs, weights)])

    before = fastnn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            runs.append(products())
        monkeypatch.setattr(plan, "SWAP_MAX_WORK", 0.0)  # never swapped
        plan._plan.cache_clear()
        runs.append(products())
    finally:
        fastnn.set_num_threads(before)
        plan._plan.cache_clear()
    assert_same_bits(runs)
    for (a, b), ours in zip(cases, runs[0]):
        assert ours.shape == (a.shape[1], b.shape[1])
        assert rel_error(ours, a.T.astype(np.float64) @ b.astype(np.float64)) < TOL[dtype]
    for d, w, ours in zip(outs, weights, runs[0][len(cases):]):
        assert rel_error(ours, d.astype(np.float64) @ w.T.astype(np.float64)) < TOL[dtype]
    for shape in ((37, 21), (1, 9), (64, 40), (300, 129), (1682, 20)):
        src = rng.standard_normal(shape).astype(dtype)
        dst = np.empty(shape[::-1], dtype)
        affine.transpose(src, dst)
        np.testing.assert_array_equal(dst, src.T)
    dst = np.empty((21, 37), dtype)
    with pytest.raises(ValueError, match=r"dst is \(21, 37\); src.T is \(37, 21\)"):
        affine.transpose(dst, dst)


@pytest.mark.parametrize("R, K, M", [(16, 1682, 20), (100, 784, 50), (301, 900, 33), (257, 1025, 1),
                                     (1030, 300, 3), (64, 4100, 17), (2000, 16, 20)])
def test_a_tail_read_in_place_gives_the_bits_of_a_packed_one(R, K, M, dtype, rng):
    """B's last, partial block of columns is read in place where its rows are contiguous
    (its last row packed) and the sum is long, else packed whole (here from a
    Fortran-ordered copy of B): the same bits, including one column (in place would read
    past B: packed), 16 terms (packed) and a product in passes over its summed index."""
    a = rng.standard_normal((R, K)).astype(dtype)
    b = rng.standard_normal((K, M)).astype(dtype)
    ours = fast.matmul(a, b)
    np.testing.assert_array_equal(ours, fast.matmul(a, np.asfortranarray(b)))
    assert rel_error(ours, a.astype(np.float64) @ b.astype(np.float64)) < TOL[dtype]


@pytest.mark.parametrize("level, narrow", [("avx2", "slim_avx2"), ("avx2", "narrow_avx2"),
                                           ("avx512", "narrow_avx512")])
def test_the_narrow_tail_tiles_give_the_bits_of_the_wider_one(level, narrow, dtype, rng,
                                                              monkeypatch):
    """A last block of at most 8 float32 / 4 float64 columns runs on one of the level's
    narrow tiles (12 rows of one 32-byte vector; at AVX2, for at most 4 / 2 columns, of one
    16-byte vector): the bits of the tile it replaced (AVX-512's tall tile, AVX2's pair
    tile), read in place or packed, A transposed or not, at 1 and 2 threads."""
    if level not in fastnn.simd_levels():
        pytest.skip(f"this CPU does not run the {level} level")
    from fastnn._kernels import plan, simd
    assert narrow in plan.NARROW_TAILS[level]
    narrow_lanes = simd.KERNELS[narrow][2][dtype == np.float64]  # (a level's tails differ in lanes)
    shapes = [(16, 1682, 20), (100, 100, 100), (130, 3000, 1), (50, 640, 36), (1682, 16, 20),
              (40, 700, 50), (200, 300, 10), (60, 500, 22), (33, 1800, 7), (300, 200, 40)]
    cases = [(rng.standard_normal((R, K)).astype(dtype), rng.standard_normal((K, M)).astype(dtype))
             for R, K, M in shapes]
    cases += [(a, np.asfortranarray(b)) for a, b in cases[:2]]  # the tail packed
    with_narrow = plan._gather_with_tail

    def wider_tail(dtype, columns, level):
        main, tail = with_narrow(dtype, columns, level)
        return (main, plan._gather(dtype, columns % main.lanes, level)
                if tail.kernel == narrow else tail)

    def tails():
        return [plan.plan("matmul", dtype, (a.shape[0], a.shape[1], b.shape[1])).tail_lanes
                for a, b in cases]

    def products():
        return ([fast.matmul(a, b) for a, b in cases]
                + [fast.matmul(a.T.copy(), b, transpose_a=True) for a, b in cases[:3]])

    before, before_level = fastnn.get_num_threads(), fastnn.get_simd_level()
    try:
        fastnn.set_simd_level(level)
        assert sum(lanes == narrow_lanes for lanes in tails()) >= 3
        runs = []
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            runs.append(products())
        monkeypatch.setattr(plan, "_gather_with_tail", wider_tail)
        plan._plan.cache_clear()
        assert all(lanes != narrow_lanes for lanes in tails())
        runs.append(products())
    finally:
        fastnn.set_num_threads(before)
        fastnn.set_simd_level(before_level)
        plan._plan.cache_clear()
    assert_same_bits(runs)
    for (a, b), ours in zip(cases, runs[0]):
        assert rel_error(ours, a.astype(np.float64) @ b.astype(np.float64)) < TOL[dtype]


def test_a_narrow_transposed_product_is_swapped_rather_than_copied_into_panels(dtype, rng):
    """A.T @ B with an A of more than PANEL_MIN_BYTES and an out of at most
    SWAP_PANELS_MAX_COLUMNS columns is computed as (B.T @ A).T where that pads at most
    SWAP_PANELS_MAX_WORK of the work (the recommenders' x.T @ dout), and gives the
    reference's result; with one more column, only where it pads at most SWAP_MAX_WORK
    of it.  The bound keeps the swapped product from swapping back."""
    from fastnn._kernels import plan
    assert plan.SWAP_PANELS_MAX_WORK * plan.SWAP_MAX_WORK < 1
    K, R, kind = 943, 1682, np.dtype(dtype).type
    assert K * R * np.dtype(dtype).itemsize > plan.PANEL_MIN_BYTES
    level = fastnn.get_simd_level()

    def ratio(M):
        return plan._padded_work(kind, M, R, level) / plan._padded_work(kind, R, M, level)

    a = rng.standard_normal((K, R)).astype(dtype)
    widest = plan.SWAP_PANELS_MAX_COLUMNS
    for M in (1, widest // 2, widest, widest + 1):
        b = rng.standard_normal((K, M)).astype(dtype)
        how = plan.plan("matmul", dtype, (R, K, M), transposed=True, b_rows_contiguous=True)
        bound = plan.SWAP_PANELS_MAX_WORK if M <= widest else plan.SWAP_MAX_WORK
        assert (how.form == "swapped") == (ratio(M) <= bound), (M, ratio(M), how)
        assert rel_error(fast.matmul(a, b, transpose_a=True),
                         a.T.astype(np.float64) @ b.astype(np.float64)) < TOL[dtype]
    assert plan.plan("matmul", dtype, (R, K, 20), transposed=True).form == "swapped"


def test_a_product_in_passes_gives_the_bits_of_one_pass(dtype, rng, monkeypatch):
    """A product of few rows and a long summed index, or of many rows and many blocks of
    lanes whose row chunks outgrow ROW_SLICE_BYTES, runs in passes over it (partial sums
    stored and reloaded): the bits of one pass, at every thread count, tails included."""
    from fastnn._kernels import plan
    shapes = [(100, 3072, 100), (37, 9001, 20), (7, 40000, 3), (257, 1400, 101)]
    cases = [(rng.standard_normal((R, K)).astype(dtype), rng.standard_normal((K, M)).astype(dtype))
             for R, K, M in shapes]
    for a, b in cases:
        assert plan.plan("matmul", dtype, (a.shape[0], a.shape[1], b.shape[1]),
                         b_rows_contiguous=True).k_chunk > 0
    before = fastnn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            fastnn.set_num_threads(threads)
            runs.append([fast.matmul(a, b) for a, b in cases])
        monkeypatch.setattr(plan, "K_CHUNK_BYTES", 10**9)  # one pass
        monkeypatch.setattr(plan, "ROW_SLICE_BYTES", 10**9)
        plan._plan.cache_clear()
        runs.append([fast.matmul(a, b) for a, b in cases])
    finally:
        fastnn.set_num_threads(before)
        plan._plan.cache_clear()
    assert_same_bits(runs)
    for (a, b), ours in zip(cases, runs[0]):
        assert rel_error(ours, a @ b) < TOL[dtype]


@pytest.mark.parametrize("x_shape, M", [((100, 784), 50), ((7, 3, 10, 11), 65), ((943, 20), 33)])
def test_affine_calls_give_the_bits_of_their_products(x_shape, M, dtype, rng):
    """Above SMALL_PRODUCT the layer's calls (checked in C) are fastnn's own products:
    matmul's bits, the bias added once, dout's column sums in row order (NumPy's
    ``sum(axis=0)`` for that layout); with a byte-swapped b or dout the Python path gives
    the same."""
    x = rng.standard_normal(x_shape).astype(dtype)
    N, D = x_shape[0], int(np.prod(x_shape[1:]))
    w, b = rng.standard_normal((D, M)).astype(dtype), rng.standard_normal(M).astype(dtype)
    rows = x.reshape(N, D)
    out, cache = fast.affine_forward(x, w, b)
    np.testing.assert_array_equal(out, fast.matmul(rows, w) + b)
    swapped = np.dtype(dtype).newbyteorder()
    np.testing.assert_array_equal(fast.affine_forward(x, w, b.astype(swapped))[0], out)
    dout = rng.standard_normal((N, M)).astype(dtype)
    dx, dw, db = fast.affine_backward(dout, cache)
    np.testing.assert_array_equal(dx, fast.matmul(dout, w.T).reshape(x_shape))
    np.testing.assert_array_equal(dw, fast.matmul(rows, dout, transpose_a=True))
    np.testing.assert_array_equal(db, dout.sum(axis=0))
    for ours, theirs in zip(fast.affine_backward(dout.astype(swapped), cache), (dx, dw, db)):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("x_shape, M", [((3, 50), 10), ((1, 784), 50), ((100, 50), 10),
                                        ((2, 3, 4, 5), 7), ((5, 1), 1), ((4, 6), 0)])
def test_small_affine_calls_give_the_bits_of_numpys_expressions(x_shape, M, dtype, rng):
    """The small calls (checked and computed in C) return what the Python path's NumPy
    expressions give, bit for bit: x.reshape(N, D) @ w + b forward; dout @ w.T, x.T @ dout
    and dout's column sums backward; the cache holds a copy of x."""
    x = rng.standard_normal(x_shape).astype(dtype)
    N, D = x_shape[0], int(np.prod(x_shape[1:]))
    w, b = rng.standard_normal((D, M)).astype(dtype), rng.standard_normal(M).astype(dtype)
    out, cache = fast.affine_forward(x, w, b)
    rows = x.reshape(N, D)
    np.testing.assert_array_equal(out, np.dot(rows, w) + b)
    assert out.dtype == dtype and not np.shares_memory(cache[0], x)
    np.testing.assert_array_equal(cache[0], x)
    dout = rng.standard_normal((N, M)).astype(dtype)
    dx, dw, db = fast.affine_backward(dout, cache)
    np.testing.assert_array_equal(dx, np.dot(dout, w.T).reshape(x_shape))
    np.testing.assert_array_equal(dw, np.dot(rows.T, dout))
    np.testing.assert_array_equal(db, dout.sum(axis=0))
    assert fast.affine_backward(dout, cache, need_dx=False)[0] is None
    for ours, theirs in zip((out,) + fast.affine_backward(dout, cache),
                            (ref.affine_forward(x, w, b)[0],) + ref.affine_backward(dout, cache)):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape


@pytest.mark.parametrize("R, K, M", [(3, 784, 50), (100, 100, 10), (1, 1, 1), (4, 0, 3),
                                     (0, 5, 2), (5, 7, 0)])
def test_small_matmul_calls_give_the_bits_of_numpys_dot(R, K, M, dtype, rng):
    """matmul's small calls (checked in C): NumPy's dot of the operands, a.T @ b included,
    bit for bit; lists, mixed dtypes and transposed views take the checked path, whose
    result is the same product."""
    a = rng.standard_normal((R, K)).astype(dtype)
    b = rng.standard_normal((K, M)).astype(dtype)
    np.testing.assert_array_equal(fast.matmul(a, b), np.dot(a, b))
    a_t = np.ascontiguousarray(a.T)
    np.testing.assert_array_equal(fast.matmul(a_t, b, transpose_a=True), np.dot(a_t.T, b))
    np.testing.assert_array_equal(fast.matmul(a_t.T, b), np.dot(a_t.T, b))  # a view
    other = np.float64 if dtype == np.float32 else np.float32
    mixed = fast.matmul(a, b.astype(other))
    assert mixed.dtype == np.float64 and mixed.shape == (R, M)
    assert rel_error(mixed, a.astype(np.float64) @ b.astype(np.float64)) < TOL[np.float32]
    if R > 0:  # (an empty list is 1-D)
        listed = fast.matmul(a.tolist(), b)
        assert listed.dtype == np.float64 and rel_error(listed, ref.matmul(a.tolist(), b)) < 1e-12


@pytest.mark.parametrize("N, C", [(1, 1), (1, 10), (3, 10), (7, 3), (100, 10), (37, 1001)])
def test_softmax_losses_match_the_reference(N, C, dtype, rng):
    """The compiled softmax losses (csrc/softmax.h) against the reference's NumPy
    expressions: integer labels, one-hot rows, soft rows and rows not summing to 1, scores
    from -1e3 to 1e3, -inf scores (probability 0), and a NaN or +inf score, which makes its
    row NaN as in the reference."""
    tol = TOL[dtype]
    x = (rng.standard_normal((N, C)) * rng.choice([1e-3, 1, 30, 1e3], (N, 1))).astype(dtype)
    y = rng.integers(0, C, N)
    y[0] = 0  # (not the class scored -inf below)
    t = rng.random((N, C)).astype(dtype)
    t[0] = np.eye(C)[y[0]]
    for ours, theirs in zip(fast.softmax_loss(x, y), ref.softmax_loss(x, y)):
        assert ours.dtype == theirs.dtype and rel_error(ours, theirs) < tol
    for ours, theirs in zip(fast.softmax_cross_entropy(x, t), ref.softmax_cross_entropy(x, t)):
        assert ours.dtype == theirs.dtype and rel_error(ours, theirs) < tol
    if C > 1:
        x[0, -1] = -np.inf
        for ours, theirs in zip(fast.softmax_loss(x, y), ref.softmax_loss(x, y)):
            assert rel_error(ours, theirs) < tol
        for bad in (np.nan, np.inf):
            x[0, 0] = bad
            with np.errstate(invalid="ignore"):  # (the reference's NumPy warns)
                expected = ref.softmax_cross_entropy(x, t)
            for ours, theirs in zip(fast.softmax_cross_entropy(x, t), expected):
                np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
                assert rel_error(np.nan_to_num(ours), np.nan_to_num(theirs)) < tol
    if N > 1:  # one-hot rows give the loss and gradient of their labels
        labels_as_rows = fast.softmax_cross_entropy(x[1:], np.eye(C)[y[1:]])
        for a, b in zip(labels_as_rows[:2], fast.softmax_loss(x[1:], y[1:])):
            assert rel_error(a, b) < tol


@pytest.mark.parametrize("shape", [(1, 1), (5, 3, 2), (16, 1682), (7, 13)])
def test_the_squared_error_matches_the_reference(shape, dtype, rng):
    """The compiled mse_loss (csrc/squared_error.h: one pass, the sum in float64 in 8
    partial sums) against the reference: dx its bits, the loss to rounding, masked (0/1 as
    floats or bools, or weights) or not, from a strided x too."""
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    masks = [None, (rng.random(shape) < 0.3).astype(dtype), rng.random(shape) < 0.5,
             rng.random(shape).astype(dtype)]
    strided = np.asfortranarray(x)
    for mask in masks:
        for xs in (x, strided):
            ours, theirs = fast.mse_loss(xs, y, mask), ref.mse_loss(xs, y, mask)
            assert ours[0].dtype == theirs[0].dtype == dtype
            assert rel_error(ours[0], theirs[0]) < TOL[dtype]
            np.testing.assert_array_equal(ours[1], theirs[1])
    with pytest.raises(ValueError, match=r"mse_loss: mask must have shape"):
        fast.mse_loss(x, y, np.ones(shape[:-1] + (shape[-1] + 1,)))


@pytest.mark.parametrize("shape", [(), (1,), (9,), (3, 5, 2), (943, 1682)])
def test_the_squared_error_sum_matches_the_reference(shape, dtype, rng):
    """squared_error_sum (mse_loss's pass without dx) against the reference, to rounding:
    any shape (a 0-d one too), masked or not, a strided x, the inputs left as they were."""
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    masks = [None, (rng.random(shape) < 0.3).astype(dtype), rng.random(shape) < 0.5]
    before = x.copy(), y.copy()
    for mask in masks:
        for xs in (x, np.asfortranarray(x) if x.ndim else x):  # (asfortranarray: >= 1-D)
            ours, theirs = fast.squared_error_sum(xs, y, mask), ref.squared_error_sum(xs, y, mask)
            assert type(ours) is type(theirs) is float
            assert abs(ours - theirs) <= TOL[dtype] * max(abs(theirs), 1e-30)
    np.testing.assert_array_equal(before[0], x)
    np.testing.assert_array_equal(before[1], y)
    assert fast.squared_error_sum(x, x) == 0.0
    for name, bad in (("y", (x, np.ones(shape + (2,)))), ("mask", (x, y, np.ones(shape + (2,))))):
        with pytest.raises(ValueError, match=rf"squared_error_sum: {name} must have shape"):
            fast.squared_error_sum(*bad)


def test_softmax_cross_entropy_checks_its_arguments(functional):
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: x must be 2-D \(N, C\) scores"):
        functional.softmax_cross_entropy(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="softmax_cross_entropy: x must hold at least one sample"):
        functional.softmax_cross_entropy(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="softmax_cross_entropy: x must hold at least one class"):
        functional.softmax_cross_entropy(np.zeros((2, 0)), np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: t must have shape"):
        functional.softmax_cross_entropy(x, np.zeros((2, 4)))
    with pytest.raises(TypeError, match="softmax_cross_entropy: t must be numeric"):
        functional.softmax_cross_entropy(x, np.full((2, 3), "a"))
    before = x.copy()
    loss, dx, probs = functional.softmax_cross_entropy(x, np.eye(3)[[0, 2]].astype(bool))
    np.testing.assert_array_equal(x, before)
    assert loss == pytest.approx(np.log(3)) and probs == pytest.approx(np.full((2, 3), 1 / 3))


@pytest.mark.parametrize("shape", [(3, 50), (2, 3, 4), (1,), (0, 5), (100, 300)])
def test_small_relu_calls_give_numpys_bits(shape, dtype, rng):
    """Small ReLUs (in C) against np.maximum and np.where, NaN, infinities and -0.0
    included; a strided input takes the Python path with the same result."""
    x = rng.standard_normal(shape).astype(dtype)
    if x.size >= 4:
        x.flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
    out, cache = fast.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    if x.size >= 4:
        assert not np.signbit(out.flat[1])  # -0.0 -> +0.0, as np.maximum(-0.0, 0)
    dout = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(fast.relu_backward(dout, cache), np.where(x > 0, dout, 0))
    np.testing.assert_array_equal(fast.relu_backward(dout, x), np.where(x > 0, dout, 0))
    strided = np.repeat(x, 2, axis=-1)[..., ::2]
    np.testing.assert_array_equal(fast.relu_forward(strided)[0], out)


def test_a_0d_relu_gives_what_the_reference_gives():
    """A 0-d input is not a small call's array: both backends give NumPy's scalar."""
    for x in (np.array(-2.0), np.array(3.0, np.float32)):
        ours, theirs = fast.relu_forward(x)[0], ref.relu_forward(x)[0]
        assert type(ours) is type(theirs) and ours == theirs
