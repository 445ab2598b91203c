"""fastnn.cs231n against CS231n assignment 2's definitions, written here: the names the
assignment calls, its dropout masks for a seed, its shapes, and the same numbers as the
reference."""
import numpy as np
import pytest
from helpers import conv_case, pool_case, rel_error

from fastnn.cs231n import fast_layers, layer_utils, layers
from fastnn.gradcheck import check_gradient
from fastnn.reference import functional as ref

ASSIGNMENT_LAYERS = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
    "svm_loss", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
    "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
    "max_pool_backward_naive", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward"]
ASSIGNMENT_FAST = [f"{op}_{kind}" for op in ("conv_forward", "conv_backward")
                   for kind in ("fast", "im2col", "strides")] + [
    f"max_pool_{d}_{kind}" for d in ("forward", "backward") for kind in ("fast", "reshape", "im2col")]
SANDWICHES = ["affine_relu", "conv_relu", "conv_bn_relu", "conv_relu_pool"]


def test_every_name_the_assignment_calls_exists():
    names = {}
    exec("from fastnn.cs231n.layer_utils import *", names)  # as the classifiers import it
    for name in ASSIGNMENT_LAYERS + ASSIGNMENT_FAST:
        assert name in names, name
    for name in SANDWICHES:
        assert f"{name}_forward" in names and f"{name}_backward" in names
    assert set(ASSIGNMENT_LAYERS) <= set(layers.__all__)
    assert set(ASSIGNMENT_FAST) <= set(fast_layers.__all__)


@pytest.mark.parametrize("p", [0.25, 0.8])
def test_dropout_masks_are_the_assignments_for_a_seed(p, rng):
    x = rng.standard_normal((5, 7)).astype(np.float32)
    out, cache = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 123})
    after = np.random.rand()  # the seed went to NumPy's global generator, as the assignment's
    np.random.seed(123)
    mask = (np.random.rand(5, 7) < p) / p
    assert after == np.random.rand()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, (x * mask).astype(np.float32))
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout * mask)
    out, cache = layers.dropout_forward(x, {"mode": "test", "p": p})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout)
    # fastnn's own generator, on request, leaves the global one alone
    state = np.random.get_state()[1].copy()
    layers.dropout_forward(x, {"mode": "train", "p": p, "seed": np.random.default_rng(1)})
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.75])
def test_the_2017_assignments_p_drops_units(p, rng):
    import fastnn.cs231n
    x = rng.standard_normal((40, 50))
    assert fastnn.cs231n.set_dropout_convention(2017) == 2018
    try:
        out, cache = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 7})
        with pytest.raises(ValueError, match=r"probability of dropping a unit .* \[0, 1\)"):
            layers.dropout_forward(x, {"mode": "train", "p": 1.0})
    finally:
        assert fastnn.cs231n.set_dropout_convention(2018) == 2017
    np.random.seed(7)
    mask = (np.random.rand(*x.shape) >= p) / (1 - p)
    np.testing.assert_array_equal(out, x * mask)
    assert abs((out == 0).mean() - p) < 0.05  # p of the units dropped, not kept
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout * mask)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):  # 2018 again: p keeps
        layers.dropout_forward(x, {"mode": "train", "p": 0.0})
    with pytest.raises(ValueError, match="year must be the assignment's year"):
        fastnn.cs231n.set_dropout_convention("2017")


@pytest.mark.parametrize("seed", range(4))
def test_fast_layer_variants_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    x, w, b, conv_param = conv_case(rng)
    expected, ref_cache = ref.conv_forward(x, w, b, conv_param)
    dout = rng.standard_normal(expected.shape)
    expected_grads = ref.conv_backward(dout, ref_cache)
    for kind in ("fast", "im2col", "strides"):
        out, cache = getattr(fast_layers, f"conv_forward_{kind}")(x, w, b, conv_param)
        assert rel_error(out, expected) < 1e-12
        for backward in ("fast", "im2col", "strides"):  # any backward takes any cache
            grads = getattr(fast_layers, f"conv_backward_{backward}")(dout, cache)
            for ours, theirs in zip(grads, expected_grads):
                assert rel_error(ours, theirs) < 1e-12
    assert "algo" not in conv_param  # the caller's dict is not changed
    x, pool_param = pool_case(rng)
    expected, ref_cache = ref.max_pool_forward(x, pool_param)
    dout = rng.standard_normal(expected.shape)
    for kind in ("fast", "reshape", "im2col"):
        out, cache = getattr(fast_layers, f"max_pool_forward_{kind}")(x, pool_param)
        np.testing.assert_array_equal(out, expected)
        dx = getattr(fast_layers, f"max_pool_backward_{kind}")(dout, cache)
        assert rel_error(dx, ref.max_pool_backward(dout, ref_cache)) < 1e-12  # overlaps add up


def test_sandwich_layers_are_their_parts(rng):
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    conv_param, pool_param = {"stride": 1, "pad": 1}, {"pool_height": 2, "pool_width": 2, "stride": 2}
    bn_param = {"mode": "train"}
    out, cache = layer_utils.conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param)
    a = ref.conv_forward(x, w, b, conv_param)[0]
    an = ref.spatial_batchnorm_forward(a, gamma, beta, {"mode": "train"})[0]
    assert rel_error(out, np.maximum(an, 0)) < 1e-12
    assert bn_param["running_mean"].shape == (4,)  # created and updated in place
    assert [g.shape for g in layer_utils.conv_bn_relu_backward(np.ones_like(out), cache)] == [
        x.shape, w.shape, b.shape, gamma.shape, beta.shape]
    out, cache = layer_utils.conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    assert rel_error(out, ref.max_pool_forward(np.maximum(a, 0), pool_param)[0]) < 1e-12
    dout = rng.standard_normal(out.shape)
    dx, dw, db = layer_utils.conv_relu_pool_backward(dout, cache)
    report = check_gradient(lambda: layer_utils.conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0],
                            {"w": w, "b": b}, {"w": dw, "b": db}, dout=dout)
    assert max(report.values()) < 1e-6, report
    W2 = rng.standard_normal((3 * 64, 5))
    out, cache = layer_utils.affine_relu_forward(x, W2, b[:1].repeat(5))
    assert rel_error(out, np.maximum(x.reshape(2, -1) @ W2 + b[0], 0)) < 1e-12
    out, cache = layer_utils.conv_relu_forward(x, w, b, conv_param)
    assert rel_error(out, np.maximum(a, 0)) < 1e-12
    assert layers.batchnorm_backward_alt is layers.batchnorm_backward


def test_layer_and_group_norm_as_the_assignment_defines_them(rng):
    x = rng.standard_normal((4, 6, 3, 5)) * 2 + 1
    gamma, beta = rng.standard_normal((1, 6, 1, 1)), rng.standard_normal((1, 6, 1, 1))
    out, cache = layers.spatial_groupnorm_forward(x, gamma, beta, 3, {"eps": 1e-5})
    groups = x.reshape(4, 3, -1)
    x_hat = (groups - groups.mean(axis=2, keepdims=True)) / np.sqrt(groups.var(axis=2, keepdims=True) + 1e-5)
    assert rel_error(out, gamma * x_hat.reshape(x.shape) + beta) < 1e-13
    dx, dgamma, dbeta = layers.spatial_groupnorm_backward(np.ones_like(x), cache)
    assert dgamma.shape == dbeta.shape == (1, 6, 1, 1)
    rows = x.reshape(4, -1)
    out, _ = layers.layernorm_forward(rows, np.ones(90), np.zeros(90), {})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-13)
    with pytest.raises(ValueError, match="G must divide the number of channels C = 6, got G = 4"):
        layers.spatial_groupnorm_forward(x, gamma, beta, 4, {})
    with pytest.raises(ValueError, match="gamma must have 90 entries"):
        layers.layernorm_forward(rows, np.ones(6), np.zeros(6), {})
    with pytest.raises(TypeError, match="ln_param must be a dict"):
        layers.layernorm_forward(rows, np.ones(90), np.zeros(90), None)
