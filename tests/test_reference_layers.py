"""The textbook-style layer classes on the reference backend."""
import os
import pickle

import numpy as np
import pytest

from helpers import assert_report_below

from fastnn.gradcheck import check_gradient, numerical_gradient
from fastnn.reference import functional as F
from fastnn.reference import layers as L

TOL = 1e-7


def layer_gradients_ok(layer, x, params, rng, **forward_kwargs):
    """Gradcheck a layer's backward for x and the named parameter attributes."""
    out = layer.forward(x, **forward_kwargs)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    analytic = {"x": dx, **{name: getattr(layer, grad) for name, grad in params.items()}}
    inputs = {"x": x, **{name: getattr(layer, name) for name in params}}
    report = check_gradient(lambda: layer.forward(x, **forward_kwargs), inputs, analytic, dout=dout)
    assert_report_below(report, TOL)


def test_affine_flattens_4d_input_and_restores_its_shape(rng):
    x = rng.standard_normal((3, 2, 4, 5))
    layer = L.Affine(rng.standard_normal((40, 6)), rng.standard_normal(6))
    out = layer.forward(x)
    assert out.shape == (3, 6)
    assert layer.original_x_shape == x.shape
    dx = layer.backward(rng.standard_normal((3, 6)))
    assert dx.shape == x.shape
    layer_gradients_ok(layer, x, {"W": "dW", "b": "db"}, rng)


def test_convolution_and_pooling_layers(rng):
    x = rng.standard_normal((2, 3, 7, 6))
    conv = L.Convolution(rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4), stride=2, pad=1)
    layer_gradients_ok(conv, x, {"W": "dW", "b": "db"}, rng)
    for layer in (L.Pooling(2, 3, stride=2, pad=1), L.AvgPooling(3, 2, stride=1)):
        layer_gradients_ok(layer, x, {}, rng)


def test_pooling_defaults_follow_the_textbook():
    layer = L.Pooling(2, 2)
    assert (layer.stride, layer.pad) == (1, 0)


@pytest.mark.parametrize("name", ["Relu", "Sigmoid", "Tanh"])
def test_activation_layers(name, rng):
    x = rng.standard_normal((4, 5))
    x += np.sign(x) * 0.01
    layer_gradients_ok(getattr(L, name)(), x, {}, rng)


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 3)])
def test_batchnorm_layer_updates_running_statistics_in_place(shape, rng):
    D = shape[1]
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    layer = L.BatchNormalization(gamma, beta, momentum=0.5)
    x = rng.standard_normal(shape) * 2 + 3
    layer_gradients_ok(layer, x, {"gamma": "dgamma", "beta": "dbeta"}, rng)
    running_mean = layer.running_mean
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    layer.running_mean[...] = 0
    layer.forward(x, train_flg=True)
    assert layer.running_mean is running_mean  # the same array, updated in place
    np.testing.assert_allclose(running_mean, 0.5 * x.mean(axis=axes), rtol=1e-12)
    out = layer.forward(x, train_flg=False)  # inference uses the running statistics
    expected = gamma.reshape((D,) + (1,) * (len(shape) - 2)) * (
        (x - running_mean.reshape((D,) + (1,) * (len(shape) - 2)))
        / np.sqrt(layer.running_var.reshape((D,) + (1,) * (len(shape) - 2)) + 1e-6)
    ) + beta.reshape((D,) + (1,) * (len(shape) - 2))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_batchnorm_layer_rejects_3d_input(rng):
    layer = L.BatchNormalization(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="2-D .* or 4-D"):
        layer.forward(rng.standard_normal((2, 3, 4)))


def test_dropout_layer_is_seeded_and_inverted(rng):
    x = rng.standard_normal((50, 40))
    a, b = L.Dropout(0.3, seed=5), L.Dropout(0.3, seed=5)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))
    out = a.forward(x)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-15)
    np.testing.assert_array_equal(a.backward(np.ones_like(x)) != 0, kept)
    np.testing.assert_array_equal(a.forward(x, train_flg=False), x)


@pytest.mark.parametrize("name, fn", [("SoftmaxWithLoss", F.softmax_loss), ("SVMWithLoss", F.svm_loss)])
def test_loss_layers_take_integer_or_one_hot_labels(name, fn, rng):
    x, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    one_hot = np.eye(4)[labels]
    layer = getattr(L, name)()
    loss_int = layer.forward(x, labels)
    dx_int = layer.backward()
    loss_hot = layer.forward(x, one_hot)
    np.testing.assert_array_equal(layer.backward(), dx_int)
    assert loss_int == loss_hot == fn(x, labels)[0]
    np.testing.assert_allclose(layer.backward(2.0), 2 * dx_int, rtol=1e-15)
    grad = numerical_gradient(lambda: layer.forward(x, labels), x)
    assert np.max(np.abs(grad - dx_int)) < 1e-8
    if name == "SVMWithLoss":  # (the softmax layer takes soft targets: test_textbook.py)
        with pytest.raises(ValueError, match="one-hot"):
            layer.forward(x, one_hot * 0.5)


def test_softmax_layer_exposes_probabilities(rng):
    x, t = rng.standard_normal((3, 6)), rng.integers(0, 6, 3)
    layer = L.SoftmaxWithLoss()
    layer.forward(x, t)
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    np.testing.assert_allclose(layer.y, p, rtol=1e-12)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        L.Relu().backward(np.ones(3))


def test_layers_use_the_callers_parameter_arrays(rng):
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    layer = L.Affine(W, b)
    W -= 1.0  # an optimizer's in-place update is seen by the layer
    np.testing.assert_allclose(layer.forward(np.eye(4)), W + b)


def test_layer_classes_belong_to_their_backend_and_pickle():
    assert L.Affine.__module__ == "fastnn.reference.layers"
    assert L.Affine.F is F
    layer = pickle.loads(pickle.dumps(L.Convolution(np.ones((1, 1, 2, 2)), np.zeros(1))))
    assert isinstance(layer, L.Convolution)


def test_float32_stays_float32_and_mixed_types_promote(rng):
    x32 = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w32 = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
    conv = L.Convolution(w32, np.zeros(2, np.float32))
    out = conv.forward(x32)
    assert out.dtype == np.float32
    assert conv.backward(np.ones_like(out)).dtype == np.float32
    assert conv.dW.dtype == np.float32
    # float32 images with float64 weights compute in float64, as NumPy would
    conv64 = L.Convolution(w32.astype(np.float64), np.zeros(2))
    assert conv64.forward(x32).dtype == np.float64


@pytest.mark.parametrize("module_name", ["fastnn.layers", "fastnn.reference.layers",
                                         "fastnn.textbook.layers"])
def test_every_backend_module_writes_out_each_layer_class(module_name):
    """Each layer is a class statement of its backend's module (what help(), editors and
    type checkers read): named there, derived from its generic class, bound to the
    module's backend, documented."""
    import ast
    import importlib
    import inspect

    from fastnn import generic_layers
    module = importlib.import_module(module_name)
    written = {node.name for node in ast.parse(inspect.getsource(module)).body
               if isinstance(node, ast.ClassDef)}
    assert written == set(generic_layers.LAYER_NAMES)
    backend = module.Affine.F
    for name in generic_layers.LAYER_NAMES:
        cls = getattr(module, name)
        assert cls.__module__ == module_name and cls.__qualname__ == name
        assert issubclass(cls, getattr(generic_layers, name)) and cls.F is backend
        assert cls.__doc__ and cls.__doc__.startswith(getattr(generic_layers, name).__doc__[:40])


def test_the_old_module_names_are_the_new_modules():
    """fastnn.data and fastnn.movielens, the data sets' old homes, still import: the same
    module objects as fastnn.datasets.mnist and fastnn.datasets.movielens."""
    import fastnn.data
    import fastnn.datasets.mnist
    import fastnn.datasets.movielens
    from fastnn import movielens
    from fastnn.data import BUNDLED_MNIST_DIR, load_mnist
    assert fastnn.data is fastnn.datasets.mnist and movielens is fastnn.datasets.movielens
    assert load_mnist is fastnn.datasets.mnist.load_mnist
    assert os.path.isdir(BUNDLED_MNIST_DIR)
