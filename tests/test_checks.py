"""Bad input gets a clear error before any work, naming the argument; inputs are never
modified."""
import numpy as np
import pytest

from fastnn.reference import functional as F

CONV = {"stride": 1, "pad": 0}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def conv_args(rng, x_shape=(2, 3, 6, 6), w_shape=(4, 3, 3, 3), b_shape=(4,), **param):
    return (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
            rng.standard_normal(b_shape), {**CONV, **param})


@pytest.mark.parametrize("kwargs, error, message", [
    ({"x_shape": (3, 6, 6)}, ValueError, r"x must be 4-D \(N, C, H, W\), got shape \(3, 6, 6\)"),
    ({"w_shape": (4, 2, 3, 3)}, ValueError, "w has 2 input channels .* x has 3"),
    ({"b_shape": (5,)}, ValueError, r"b must have shape \(F,\) = \(4,\), got \(5,\)"),
    ({"stride": 0}, ValueError, "stride must be >= 1, got 0"),
    ({"stride": 1.5}, TypeError, "stride must be an integer"),
    ({"pad": -1}, ValueError, "pad must be >= 0, got -1"),
    ({"w_shape": (4, 3, 9, 3)}, ValueError, "filter height 9 is larger than the padded input height 6"),
])
def test_conv_forward_rejects(kwargs, error, message, rng):
    with pytest.raises(error, match="conv_forward: " + message):
        F.conv_forward(*conv_args(rng, **kwargs))


def test_conv_param_must_have_its_keys(rng):
    x, w, b, _ = conv_args(rng)
    with pytest.raises(ValueError, match="conv_param is missing the key 'pad'"):
        F.conv_forward(x, w, b, {"stride": 1})


@pytest.mark.parametrize("value", [np.ones((2, 3, 4, 4), complex), np.array([[["a"]]]), np.empty((1, 1, 2, 2), object)])
def test_non_real_arrays_are_type_errors(value):
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        F.max_pool_forward(value, POOL)


def test_dout_of_the_wrong_shape_is_rejected(rng):
    out, cache = F.conv_forward(*conv_args(rng))
    with pytest.raises(ValueError, match=r"conv_backward: dout must have shape .*\(2, 4, 4, 4\)"):
        F.conv_backward(np.ones((2, 4, 4, 3)), cache)


@pytest.mark.parametrize("param, error, message", [
    ({"pad": 2}, ValueError, "pad must be at most half the pooling window"),
    ({"pool_height": 0}, ValueError, "pool_height must be >= 1"),
    ({"pool_width": 9}, ValueError, "pool_width width 9 is larger than the padded input width 6"),
])
def test_pooling_rejects(param, error, message, rng):
    with pytest.raises(error, match=message):
        F.max_pool_forward(rng.standard_normal((1, 2, 6, 6)), {**POOL, **param})


@pytest.mark.parametrize("y, error, message", [
    (np.array([0, 1, 5]), ValueError, r"labels in y must be in \[0, 5\)"),
    (np.array([0, -1, 2]), ValueError, r"labels in y must be in \[0, 5\)"),
    (np.array([0.0, 1.0, 2.0]), TypeError, "y must hold integer class labels"),
    (np.array([0, 1]), ValueError, r"y must have shape \(N,\) = \(3,\)"),
])
@pytest.mark.parametrize("loss", ["softmax_loss", "svm_loss"])
def test_losses_reject_bad_labels(loss, y, error, message, rng):
    with pytest.raises(error, match=message):
        getattr(F, loss)(rng.standard_normal((3, 5)), y)


@pytest.mark.parametrize("bn_param, message", [
    ({"mode": "eval"}, "mode must be 'train' or 'test', got 'eval'"),
    ({}, "missing the key 'mode'"),
    ({"mode": "train", "momentum": 1.5}, r"momentum must be in \[0, 1\]"),
    ({"mode": "train", "eps": 0.0}, r"eps must be in \(0, inf\]"),
    ({"mode": "train", "running_mean": np.zeros(3)}, r"bn_param\['running_mean'\] must have shape"),
])
def test_batchnorm_rejects(bn_param, message, rng):
    with pytest.raises(ValueError, match=message):
        F.batchnorm_forward(rng.standard_normal((5, 4)), np.ones(4), np.zeros(4), bn_param)


def test_dropout_rejects_a_keep_probability_of_zero(rng):
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        F.dropout_forward(rng.standard_normal(4), {"p": 0, "mode": "train"})


def test_col2im_checks_col_against_the_geometry(rng):
    with pytest.raises(ValueError, match=r"col2im: col must have shape"):
        F.col2im(rng.standard_normal((10, 9)), (1, 1, 4, 4), 3, 3)


def test_inputs_are_never_modified(rng):
    """Read-only inputs work, and no function writes to what it is given."""
    x, w, b, p = conv_args(rng)
    arrays = [x, w, b]
    for a in arrays:
        a.flags.writeable = False
    out, cache = F.conv_forward(x, w, b, p)
    F.conv_backward(np.ones_like(out), cache)
    out, cache = F.max_pool_forward(x, {**POOL, "pad": 1})
    dout = np.ones_like(out)
    dout.flags.writeable = False
    F.max_pool_backward(dout, cache)
    out, cache = F.spatial_batchnorm_forward(x, b[:3], b[:3], {"mode": "train"})
    F.spatial_batchnorm_backward(np.ones_like(out), cache)
    F.relu_forward(x)
    F.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    F.softmax_loss(x.reshape(2, -1), np.array([0, 1]))
    F.im2col(x, 2, 2)
