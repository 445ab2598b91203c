"""The reference against mathematics: analytic gradients vs central differences, float64."""
import numpy as np
import pytest
from helpers import assert_report_below, conv_case, distinct_values, pool_case

from fastnn.gradcheck import check_gradient, numerical_gradient, scaled_error
from fastnn.reference import functional as F

TOL = 1e-7
SEEDS = range(6)


def check_layer(forward, backward, inputs, rng):
    """Gradcheck forward(**inputs) -> (out, cache) against backward(dout, cache)."""
    out, cache = forward(**inputs)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    analytic = dict(zip(inputs, grads))
    report = check_gradient(lambda: forward(**inputs)[0], inputs, analytic, dout=dout)
    assert_report_below(report, TOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_conv(seed):
    rng = np.random.default_rng(seed)
    x, w, b, conv_param = conv_case(rng, max_hw=6, max_channels=3)
    check_layer(lambda x, w, b: F.conv_forward(x, w, b, conv_param), F.conv_backward,
                {"x": x, "w": w, "b": b}, rng)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling(kind, seed):
    rng = np.random.default_rng(seed)
    x, pool_param = pool_case(rng, max_hw=7)
    forward = getattr(F, f"{kind}_pool_forward")
    backward = getattr(F, f"{kind}_pool_backward")
    check_layer(lambda x: forward(x, pool_param), backward, {"x": x}, rng)


@pytest.mark.parametrize("seed", SEEDS)
def test_affine(seed):
    rng = np.random.default_rng(seed)
    N, dims, M = int(rng.integers(1, 5)), tuple(rng.integers(1, 4, size=rng.integers(1, 4))), int(rng.integers(1, 6))
    x = rng.standard_normal((N, *dims))
    w = rng.standard_normal((int(np.prod(dims)), M))
    b = rng.standard_normal(M)
    check_layer(F.affine_forward, F.affine_backward, {"x": x, "w": w, "b": b}, rng)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activations(name, rng):
    x = rng.standard_normal((3, 4, 5))
    x += np.sign(x) * 0.01  # keep ReLU's kink out of the finite-difference step
    check_layer(getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward"), {"x": x}, rng)


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_batchnorm(mode, seed):
    rng = np.random.default_rng(seed)
    N, D = int(rng.integers(2, 7)), int(rng.integers(1, 6))
    x = rng.standard_normal((N, D)) * 3 + 1
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    stats = {"running_mean": rng.standard_normal(D), "running_var": rng.uniform(0.5, 2, D)}

    def forward(x, gamma, beta):  # a fresh bn_param each call: the update is not under test
        bn_param = {"mode": mode, **{k: v.copy() for k, v in stats.items()}}
        return F.batchnorm_forward(x, gamma, beta, bn_param)

    check_layer(forward, F.batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, rng)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_layernorm(seed):
    rng = np.random.default_rng(seed)
    N, D = int(rng.integers(1, 6)), int(rng.integers(2, 7))
    x = rng.standard_normal((N, D)) * 2 + 1
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    check_layer(lambda x, gamma, beta: F.layernorm_forward(x, gamma, beta, {"eps": 1e-3}),
                F.layernorm_backward, {"x": x, "gamma": gamma, "beta": beta}, rng)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_spatial_groupnorm(seed):
    rng = np.random.default_rng(seed)
    G = int(rng.integers(1, 4))
    N, C, H, W = int(rng.integers(1, 4)), G * int(rng.integers(1, 3)), int(rng.integers(2, 4)), int(rng.integers(1, 4))
    x = rng.standard_normal((N, C, H, W)) * 2 - 0.5  # groups of >= 2 values, not all close
    gamma, beta = rng.standard_normal((1, C, 1, 1)), rng.standard_normal((1, C, 1, 1))
    check_layer(lambda x, gamma, beta: F.spatial_groupnorm_forward(x, gamma, beta, G, {"eps": 1e-3}),
                F.spatial_groupnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, rng)


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_spatial_batchnorm(mode, seed):
    rng = np.random.default_rng(seed)
    N, C, H, W = (int(v) for v in rng.integers(1, 5, size=4))
    x = rng.standard_normal((N, C, H, W)) * 2 - 1
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    stats = {"running_mean": rng.standard_normal(C), "running_var": rng.uniform(0.5, 2, C)}

    def forward(x, gamma, beta):
        bn_param = {"mode": mode, "eps": 1e-3, **{k: v.copy() for k, v in stats.items()}}
        return F.spatial_batchnorm_forward(x, gamma, beta, bn_param)

    check_layer(forward, F.spatial_batchnorm_backward, {"x": x, "gamma": gamma, "beta": beta}, rng)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout(mode, rng):
    x = rng.standard_normal((4, 7))
    check_layer(lambda x: F.dropout_forward(x, {"p": 0.6, "mode": mode, "seed": 123}),
                F.dropout_backward, {"x": x}, rng)


@pytest.mark.parametrize("name", ["softmax_loss", "svm_loss"])
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_class_losses(name, seed):
    rng = np.random.default_rng(seed)
    N, C = int(rng.integers(1, 8)), int(rng.integers(2, 8))
    x = rng.standard_normal((N, C))
    y = rng.integers(0, C, N)
    loss_fn = getattr(F, name)
    _, dx = loss_fn(x, y)
    assert scaled_error(dx, numerical_gradient(lambda: loss_fn(x, y)[0], x)) < TOL


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_softmax_cross_entropy(seed):
    """Soft target rows (rows of probabilities, one-hot, and rows not summing to 1)."""
    rng = np.random.default_rng(seed)
    N, C = int(rng.integers(1, 8)), int(rng.integers(2, 8))
    x = rng.standard_normal((N, C))
    t = rng.random((N, C))
    t[0] /= t[0].sum()
    if N > 1:
        t[1] = np.eye(C)[int(rng.integers(0, C))]
    _, dx, probs = F.softmax_cross_entropy(x, t)
    assert scaled_error(dx, numerical_gradient(lambda: F.softmax_cross_entropy(x, t)[0], x)) < TOL
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-14)


def test_mse_loss(rng):
    x, y = rng.standard_normal((5, 3, 2)), rng.standard_normal((5, 3, 2))
    _, dx = F.mse_loss(x, y)
    assert scaled_error(dx, numerical_gradient(lambda: F.mse_loss(x, y)[0], x)) < TOL
    for mask in ((rng.random(x.shape) < 0.5).astype(float), rng.random(x.shape)):  # 0/1, weights
        _, dx = F.mse_loss(x, y, mask)
        assert scaled_error(dx, numerical_gradient(lambda: F.mse_loss(x, y, mask)[0], x)) < TOL
        assert np.all(dx[mask == 0] == 0)


@pytest.mark.parametrize("seed", SEEDS)
def test_col2im_is_the_adjoint_of_im2col(seed):
    """<im2col(x), c> == <x, col2im(c)>: col2im is im2col's backward pass."""
    rng = np.random.default_rng(seed)
    x, w, _, p = conv_case(rng)
    col = F.im2col(x, w.shape[2], w.shape[3], p["stride"], p["pad"])
    c = rng.standard_normal(col.shape)
    back = F.col2im(c, x.shape, w.shape[2], w.shape[3], p["stride"], p["pad"])
    assert back.shape == x.shape
    lhs, rhs = np.sum(col * c), np.sum(x * back)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_distinct_values_are_separated():
    """The pooling gradient check relies on values far apart compared with h."""
    v = np.sort(distinct_values(np.random.default_rng(0), (50,)))
    assert np.min(np.diff(v)) > 0.25
