"""Bad input gets a clear error before any work, naming the argument; inputs are never
modified.  Every test runs on both backends (the fixture ``functional``)."""
import numpy as np
import pytest
from helpers import forward_cases

from fastnn import functional as fast
from fastnn.reference import functional as reference


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
def test_conv_forward_rejects(kwargs, error, message, rng, functional):
    with pytest.raises(error, match="conv_forward: " + message):
        functional.conv_forward(*conv_args(rng, **kwargs))


def test_conv_param_must_have_its_keys(rng, functional):
    x, w, b, _ = conv_args(rng)
    with pytest.raises(ValueError, match="conv_param is missing the key 'pad'"):
        functional.conv_forward(x, w, b, {"stride": 1})


@pytest.mark.parametrize("value", [np.ones((2, 3, 4, 4), complex), np.array([[["a"]]]), np.empty((1, 1, 2, 2), object)])
def test_non_real_arrays_are_type_errors(value, functional):
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        functional.max_pool_forward(value, POOL)


def test_dout_of_the_wrong_shape_is_rejected(rng, functional):
    out, cache = functional.conv_forward(*conv_args(rng))
    with pytest.raises(ValueError, match=r"conv_backward: dout must have shape .*\(2, 4, 4, 4\)"):
        functional.conv_backward(np.ones((2, 4, 4, 3)), cache)


@pytest.mark.parametrize("param, error, message", [
    ({"pad": 2}, ValueError, "pad must be at most half the pooling window"),
    ({"pool_height": 0}, ValueError, "pool_height must be >= 1"),
    ({"pool_width": 9}, ValueError, "pool_width width 9 is larger than the padded input width 6"),
])
def test_pooling_rejects(param, error, message, rng, functional):
    with pytest.raises(error, match=message):
        functional.max_pool_forward(rng.standard_normal((1, 2, 6, 6)), {**POOL, **param})


@pytest.mark.parametrize("y, error, message", [
    (np.array([0, 1, 5]), ValueError, r"labels in y must be in \[0, 5\)"),
    (np.array([0, -1, 2]), ValueError, r"labels in y must be in \[0, 5\)"),
    (np.array([0.0, 1.0, 2.0]), TypeError, "y must hold integer class labels"),
    (np.array([0, 1]), ValueError, r"y must have shape \(N,\) = \(3,\)"),
])
@pytest.mark.parametrize("loss", ["softmax_loss", "svm_loss"])
def test_losses_reject_bad_labels(loss, y, error, message, rng, functional):
    with pytest.raises(error, match=message):
        getattr(functional, loss)(rng.standard_normal((3, 5)), y)


@pytest.mark.parametrize("bn_param, message", [
    ({"mode": "eval"}, "mode must be 'train' or 'test', got 'eval'"),
    ({}, "missing the key 'mode'"),
    ({"mode": "train", "momentum": 1.5}, r"momentum must be in \[0, 1\]"),
    ({"mode": "train", "eps": 0.0}, r"eps must be in \(0, inf\]"),
    ({"mode": "train", "running_mean": np.zeros(3)}, r"bn_param\['running_mean'\] must have shape"),
])
def test_batchnorm_rejects(bn_param, message, rng, functional):
    with pytest.raises(ValueError, match=message):
        functional.batchnorm_forward(rng.standard_normal((5, 4)), np.ones(4), np.zeros(4), bn_param)


def test_dropout_rejects_a_keep_probability_of_zero(rng, functional):
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        functional.dropout_forward(rng.standard_normal(4), {"p": 0, "mode": "train"})


def test_col2im_checks_col_against_the_geometry(rng, functional):
    with pytest.raises(ValueError, match=r"col2im: col must have shape"):
        functional.col2im(rng.standard_normal((10, 9)), (1, 1, 4, 4), 3, 3)


def test_inputs_are_never_modified(rng, functional):
    """Read-only inputs work, and no function writes to what it is given."""
    x, w, b, p = conv_args(rng)
    arrays = [x, w, b]
    for a in arrays:
        a.flags.writeable = False
    out, cache = functional.conv_forward(x, w, b, p)
    functional.conv_backward(np.ones_like(out), cache)
    out, cache = functional.max_pool_forward(x, {**POOL, "pad": 1})
    dout = np.ones_like(out)
    dout.flags.writeable = False
    functional.max_pool_backward(dout, cache)
    out, cache = functional.spatial_batchnorm_forward(x, b[:3], b[:3], {"mode": "train"})
    functional.spatial_batchnorm_backward(np.ones_like(out), cache)
    functional.relu_forward(x)
    functional.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    functional.softmax_loss(x.reshape(2, -1), np.array([0, 1]))
    functional.im2col(x, 2, 2)


@pytest.mark.parametrize("index", range(10))
def test_every_backward_rejects_dout_of_the_wrong_shape(index, rng, functional):
    name, forward, args = forward_cases(rng)[index]
    out, cache = getattr(functional, forward)(*args)
    bad = np.ones(out.shape[:-1] + (out.shape[-1] + 1,))
    with pytest.raises(ValueError, match=rf"{name}_backward: dout must have shape"):
        getattr(functional, f"{name}_backward")(bad, cache)


@pytest.mark.parametrize("index", range(10))
def test_every_layer_function_handles_an_empty_batch(index, rng, functional):
    name, forward, args = forward_cases(rng)[index]
    x = args[0][:0]
    if name in ("batchnorm", "spatial_batchnorm"):  # statistics of nothing: only test mode
        args = (x, *args[1:3], {"mode": "test"})
    else:
        args = (x, *args[1:])
    out, cache = getattr(functional, forward)(*args)
    assert out.shape[0] == 0
    grads = getattr(functional, f"{name}_backward")(np.ones(out.shape), cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert grads[0].shape == x.shape
    # Values, not only shapes: every gradient is the reference's, which for the
    # parameters (summed over an empty batch) is exactly zero.
    ref_cache = getattr(reference, forward)(*args)[1]
    expected = getattr(reference, f"{name}_backward")(np.ones(out.shape), ref_cache)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(grads) == len(expected)
    for ours, theirs in zip(grads, expected):
        np.testing.assert_array_equal(ours, theirs)
        assert ours.dtype == theirs.dtype
        if ours.shape != x.shape:
            np.testing.assert_array_equal(ours, np.zeros_like(ours))


def test_training_batchnorm_needs_values(functional):
    with pytest.raises(ValueError, match="training mode needs at least one value per feature"):
        functional.spatial_batchnorm_forward(np.ones((0, 3, 4, 4)), np.ones(3), np.zeros(3), {"mode": "train"})


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own "invalid value" notes
@pytest.mark.parametrize("index", range(10))
def test_nan_and_inf_propagate(index, rng, functional):
    name, forward, args = forward_cases(rng)[index]
    x = args[0].copy().reshape(2, 3, 6, 5)
    x[0, 1, 2, 3] = np.nan
    x[1, 0, 0, 0] = np.inf
    out, _ = getattr(functional, forward)(x.reshape(args[0].shape), *args[1:])
    if name == "dropout":  # a dropped unit is 0 * NaN = NaN as well
        assert np.isnan(out[0, 1, 2, 3])
    else:
        assert np.isnan(out).any()
    if name in ("conv", "max_pool", "avg_pool", "relu", "sigmoid", "tanh"):
        assert not np.isnan(out).all()  # a NaN stays where it reaches


def test_conv_with_inf_input_gives_inf_or_nan_only_where_it_reaches(functional):
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 0, 0] = np.inf
    out, _ = functional.conv_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1), {"stride": 1, "pad": 0})
    assert np.isinf(out[0, 0, 0, 0]) and np.all(np.isfinite(out[0, 0, 1:, :]))


@pytest.mark.parametrize("bad, message", [
    ([[1, 2], [3, 4]], "conv_param must be a dict"),
])
def test_conv_param_must_be_a_dict(bad, message, rng, functional):
    x = rng.standard_normal((1, 1, 4, 4))
    with pytest.raises(TypeError, match=message):
        functional.conv_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1), bad)


def test_affine_checks_the_feature_count(rng, functional):
    with pytest.raises(ValueError, match=r"affine_forward: w must have 12 rows"):
        functional.affine_forward(rng.standard_normal((2, 3, 4)), np.ones((10, 5)), np.zeros(5))


def test_spatial_batchnorm_checks_gamma_per_channel(rng, functional):
    with pytest.raises(ValueError, match=r"spatial_batchnorm_forward: gamma must have shape"):
        functional.spatial_batchnorm_forward(rng.standard_normal((2, 3, 4, 4)), np.ones(4), np.zeros(3),
                                    {"mode": "train"})


def test_dropout_rejects_an_unknown_mode(rng, functional):
    with pytest.raises(ValueError, match="mode must be 'train' or 'test', got 'eval'"):
        functional.dropout_forward(rng.standard_normal(4), {"p": 0.5, "mode": "eval"})
