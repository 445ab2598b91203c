"""fastnn.textbook against the textbook's semantics, written here from its definitions:
the calls, defaults and attributes of the ch05-ch08 scripts, same numbers, and
np.random.seed reproducing a run."""
import collections
import copy
import os
import pickle
import sys

import numpy as np
import pytest
from helpers import rel_error

from fastnn.gradcheck import numerical_gradient as central_difference
from fastnn.reference import functional as ref
from fastnn.textbook import functions, gradient, util
from fastnn.textbook import layers as T
from fastnn.textbook.multi_layer_net import MultiLayerNet
from fastnn.textbook.multi_layer_net_extend import MultiLayerNetExtend
from fastnn.textbook.trainer import Trainer


# The top-level statements of the textbook repository's common/ modules (which define no
# __all__, so a star import binds every public name they hold), as the repository has them.
TEXTBOOK_MODULES = {
    "functions": """
import numpy as np
def identity_function(x): pass
def step_function(x): pass
def sigmoid(x): pass
def sigmoid_grad(x): pass
def relu(x): pass
def relu_grad(x): pass
def softmax(x): pass
def sum_squared_error(y, t): pass
def cross_entropy_error(y, t): pass
def softmax_loss(X, t): pass
""",
    "gradient": """
import numpy as np
def _numerical_gradient_1d(f, x): pass
def numerical_gradient_2d(f, X): pass
def numerical_gradient(f, x): pass
""",
    "util": """
import numpy as np
def smooth_curve(x): pass
def shuffle_dataset(x, t): pass
def conv_output_size(input_size, filter_size, stride=1, pad=0): pass
def im2col(input_data, filter_h, filter_w, stride=1, pad=0): pass
def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0): pass
""",
    "layers": """
import numpy as np
from common.functions import *
from common.util import im2col, col2im
class Relu: pass
class Sigmoid: pass
class Affine: pass
class SoftmaxWithLoss: pass
class Dropout: pass
class BatchNormalization: pass
class Convolution: pass
class Pooling: pass
""",
    "optimizer": """
import numpy as np
class SGD: pass
class Momentum: pass
class Nesterov: pass
class AdaGrad: pass
class RMSprop: pass
class Adam: pass
""",
    "multi_layer_net": """
import sys, os
sys.path.append(os.pardir)
import numpy as np
from collections import OrderedDict
from common.layers import *
from common.gradient import numerical_gradient
class MultiLayerNet: pass
""",
    "multi_layer_net_extend": """
import sys, os
sys.path.append(os.pardir)
import numpy as np
from collections import OrderedDict
from common.layers import *
from common.gradient import numerical_gradient
class MultiLayerNetExtend: pass
""",
    "trainer": """
import sys, os
sys.path.append(os.pardir)
import numpy as np
from common.optimizer import *
class Trainer: pass
""",
}


def textbook_star_names(module, seen=None):
    """The names ``from common.<module> import *`` binds, from the definitions above
    (``from common.x import *`` inside them resolved the same way)."""
    names = set()
    for line in TEXTBOOK_MODULES[module].strip().splitlines():
        words = line.replace(",", " ").split()
        if words[0] in ("def", "class"):
            names.add(words[1].split("(")[0].rstrip(":"))
        elif words[0] == "import":
            names.update("np" if "as" in words else w for w in words[1:] if w not in ("as", "numpy"))
        elif words[0] == "from" and words[-1] == "*":
            names |= textbook_star_names(words[1].split(".")[1])
        elif words[0] == "from":
            names.update(words[3:])
    return {n for n in names if not n.startswith("_")}


@pytest.mark.parametrize("module", sorted(TEXTBOOK_MODULES))
def test_star_import_binds_what_the_textbooks_does(module):
    expected = textbook_star_names(module)
    names = {}
    exec(f"from fastnn.textbook.{module} import *", names)
    missing = expected - set(names)
    assert not missing, f"from fastnn.textbook.{module} import * lacks {sorted(missing)}"
    assert names["np"] is np
    if "os" in expected:
        assert names["os"] is os and names["sys"] is sys
    if "OrderedDict" in expected:
        assert names["OrderedDict"] is collections.OrderedDict


def test_relu_sigmoid_affine_attributes(rng):
    x = rng.standard_normal((4, 3, 5))
    relu = T.Relu()
    out = relu.forward(x)
    np.testing.assert_array_equal(relu.mask, x <= 0)
    dout = rng.standard_normal(x.shape)
    kept = dout.copy()
    np.testing.assert_array_equal(relu.backward(dout), np.where(x <= 0, 0, dout))
    np.testing.assert_array_equal(dout, kept)  # the textbook zeroes dout in place; not here
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    sig = T.Sigmoid()
    s = sig.forward(x)
    assert sig.out is not None and rel_error(sig.out, 1 / (1 + np.exp(-x))) < 1e-15
    np.testing.assert_allclose(sig.backward(dout), dout * s * (1 - s), rtol=1e-14)
    W, b = rng.standard_normal((15, 2)), rng.standard_normal(2)
    affine = T.Affine(W, b)
    assert rel_error(affine.forward(x), x.reshape(4, 15) @ W + b) < 1e-14
    np.testing.assert_array_equal(affine.x, x.reshape(4, 15))
    assert affine.original_x_shape == x.shape


def test_convolution_takes_a_scalar_bias_and_float_stride_and_pad(rng):
    x, W = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((1, 3, 3, 2))
    scalar = T.Convolution(W, 0.25, 2.0, 1.0)
    vector = T.Convolution(W, np.array([0.25]), 2, 1)
    out = scalar.forward(x)
    np.testing.assert_array_equal(out, vector.forward(x))
    expected, _ = ref.conv_forward(x, W, np.array([0.25]), {"stride": 2, "pad": 1})
    assert rel_error(out, expected) < 1e-12
    dout = rng.standard_normal(out.shape)
    np.testing.assert_array_equal(scalar.backward(dout), vector.backward(dout))
    np.testing.assert_array_equal(scalar.db, vector.db)
    np.testing.assert_array_equal(scalar.x, x)
    with pytest.raises(TypeError, match="stride must be an integer"):
        T.Convolution(W, 0.0, 1.5).forward(x)


def test_pooling_defaults_to_stride_2_and_records_arg_max(rng):
    x = rng.standard_normal((2, 3, 6, 7))
    pool = T.Pooling(2, 3)
    out = pool.forward(x)
    assert out.shape == (2, 3, 3, 3)
    # The textbook's definition: the argmax of each im2col window row, rows in the order
    # (n, oh, ow, c), each window's values in the order (row, column).
    windows = ref.im2col(x, 2, 3, 2, 0).reshape(-1, 6)
    np.testing.assert_array_equal(pool.arg_max, windows.argmax(axis=1))
    np.testing.assert_array_equal(out.transpose(0, 2, 3, 1).ravel(), windows.max(axis=1))


def test_pooling_arg_max_with_integral_float_stride_and_pad(rng):
    x = rng.standard_normal((2, 3, 6, 7))
    floats, ints = T.Pooling(2, 3, stride=2.0, pad=1.0), T.Pooling(2, 3, stride=2, pad=1)
    np.testing.assert_array_equal(floats.forward(x), ints.forward(x))
    np.testing.assert_array_equal(floats.arg_max, ints.arg_max)


def test_a_scalar_convolution_bias_takes_the_weights_precision(dtype, rng):
    """The textbook computes ``col @ col_W + b``: a Python float bias adds in W's dtype."""
    x, W = rng.standard_normal((2, 3, 7, 6)).astype(dtype), rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    out = T.Convolution(W, 0.1).forward(x)
    expected, _ = ref.conv_forward(x, W, np.full(4, 0.1, dtype=dtype), {"stride": 1, "pad": 0})
    assert out.dtype == dtype
    assert rel_error(out, expected) < (1e-14 if dtype == np.float64 else 1e-6)


def test_relu_keeps_its_mask_apart_from_its_output(rng):
    x = rng.standard_normal((4, 5))
    relu = T.Relu()
    out = relu.forward(x)
    mask = relu.mask.copy()
    out[...] = -1.0  # the caller edits the output in place
    np.testing.assert_array_equal(relu.mask, mask)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(relu.backward(dout), np.where(x <= 0, 0, dout))


@pytest.mark.parametrize("make", [lambda: MultiLayerNet(6, [5], 3),
                                  lambda: MultiLayerNetExtend(6, [5], 3, use_batchnorm=True,
                                                              use_dropout=True)],
                         ids=["MultiLayerNet", "MultiLayerNetExtend"])
def test_networks_deep_copy_and_pickle(make, rng):
    np.random.seed(3)
    net = make()
    x, t = rng.standard_normal((4, 6)), np.array([0, 2, 1, 0])
    net.gradient(x, t)
    for duplicate in (copy.deepcopy, lambda net: pickle.loads(pickle.dumps(net))):
        twin = duplicate(net)
        assert twin.layers["Affine1"].W is twin.params["W1"]  # still the layers' arrays
        assert twin.params["W1"] is not net.params["W1"]
        np.testing.assert_array_equal(twin.predict(x), net.predict(x))
        np.random.seed(5)
        grads = twin.gradient(x, t)
        np.random.seed(5)
        for key, value in net.gradient(x, t).items():  # dropout from np.random in both
            np.testing.assert_array_equal(grads[key], value)


@pytest.mark.parametrize("t_kind", ["labels", "column", "one_hot"])
def test_softmax_with_loss_takes_the_textbooks_labels(t_kind, rng):
    x, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    t = {"labels": labels, "column": labels.reshape(5, 1), "one_hot": np.eye(4)[labels]}[t_kind]
    layer = T.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    y = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert abs(loss - (-np.log(y[np.arange(5), labels]).mean())) < 1e-14
    # The textbook adds 1e-7 inside the log: its loss is smaller, by at most 1e-7/p per sample.
    textbook_loss = -np.log(y[np.arange(5), labels] + 1e-7).mean()
    assert 0 <= loss - textbook_loss <= 1e-7 / y[np.arange(5), labels].min()
    assert rel_error(layer.backward(), (y - np.eye(4)[labels]) / 5) < 1e-14
    assert rel_error(layer.y, y) < 1e-14
    assert layer.t is t


def test_softmax_with_loss_takes_soft_targets_and_one_sample(rng):
    x = rng.standard_normal((3, 5))
    t = rng.uniform(size=(3, 5))
    t /= t.sum(axis=1, keepdims=True)
    layer = T.SoftmaxWithLoss()
    loss = layer.forward(x, t)
    log_y = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    assert abs(loss + (t * log_y).sum() / 3) < 1e-14
    dx = layer.backward()
    assert rel_error(dx, (np.exp(log_y) - t) / 3) < 1e-14  # the textbook's (y - t) / N
    assert rel_error(central_difference(lambda: layer.forward(x, t), x), dx) < 1e-8
    single = T.SoftmaxWithLoss()
    assert abs(single.forward(x[1], 2) - T.SoftmaxWithLoss().forward(x[1:2], [2])) < 1e-15
    assert single.backward().shape == (5,) and single.y.shape == (5,)


def test_dropout_is_the_textbooks_and_follows_np_random_seed(rng):
    x = rng.standard_normal((4, 6))
    layer = T.Dropout(0.3)
    np.random.seed(11)
    out = layer.forward(x)
    np.random.seed(11)
    mask = np.random.rand(4, 6) > 0.3
    np.testing.assert_array_equal(layer.mask, mask)
    np.testing.assert_array_equal(out, x * mask)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), dout * mask)
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x * 0.7)
    inverted = T.Dropout(0.3, seed=5, inverted=True).forward(x)  # fastnn's own, on request
    kept = inverted != 0
    np.testing.assert_allclose(inverted[kept], x[kept] / 0.7, rtol=1e-15)


def test_batchnorm_per_feature_on_images_as_the_textbook(rng):
    N, C, H, W = 4, 2, 3, 3
    x = rng.standard_normal((N, C, H, W)) * 2 + 1
    gamma, beta = rng.standard_normal(C * H * W), rng.standard_normal(C * H * W)
    layer = T.BatchNormalization(gamma, beta)
    out = layer.forward(x)
    rows = x.reshape(N, -1)
    mu, var = rows.mean(axis=0), rows.var(axis=0)
    std = np.sqrt(var + 10e-7)
    assert rel_error(out, (gamma * (rows - mu) / std + beta).reshape(x.shape)) < 1e-13
    assert rel_error(layer.xn, (rows - mu) / std) < 1e-13
    assert rel_error(layer.xc, rows - mu) < 1e-13
    assert rel_error(layer.std, std) < 1e-14 and layer.batch_size == N
    assert rel_error(layer.running_mean, 0.1 * mu) < 1e-14
    assert rel_error(layer.running_var, 0.1 * var) < 1e-13
    dout = rng.standard_normal(x.shape)
    dx = layer.backward(dout)
    numeric = central_difference(lambda: (T.BatchNormalization(gamma, beta).forward(x) * dout).sum(), x)
    assert rel_error(dx, numeric) < 1e-7
    assert layer.dgamma.shape == gamma.shape
    per_channel = T.BatchNormalization(np.ones(C), np.zeros(C))
    out = per_channel.forward(x)
    assert per_channel.xn.shape == x.shape and per_channel.std.shape == (C,)
    assert np.abs(out.mean(axis=(0, 2, 3))).max() < 1e-14  # statistics per channel
    with pytest.raises(ValueError, match="gamma must have C = 2 entries"):
        T.BatchNormalization(np.ones(5), np.zeros(5)).forward(x)


def test_functions(rng):
    x = rng.standard_normal((3, 4))
    y = functions.softmax(x)
    assert rel_error(y, np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)) < 1e-15
    labels = np.array([0, 3, 1])
    expected = -np.log(y[np.arange(3), labels] + 1e-7).mean()
    assert functions.cross_entropy_error(y, labels) == pytest.approx(expected, rel=1e-15)
    assert functions.cross_entropy_error(y, np.eye(4)[labels]) == pytest.approx(expected, rel=1e-15)
    assert functions.cross_entropy_error(y[1], 3) == pytest.approx(-np.log(y[1, 3] + 1e-7))
    assert functions.softmax_loss(x, labels) == pytest.approx(expected, rel=1e-15)
    np.testing.assert_array_equal(functions.step_function(np.array([-1.0, 0.0, 2.0])), [0, 0, 1])
    np.testing.assert_array_equal(functions.relu_grad(np.array([-1.0, 0.0, 2.0])), [0, 1, 1])
    with np.errstate(over="raise"):  # no overflow warning at -1000
        np.testing.assert_array_equal(functions.sigmoid(np.array([-1000.0, 1000.0])), [0, 1])
    assert functions.sum_squared_error(np.ones(3), np.zeros(3)) == 1.5


def test_util(rng):
    curve = rng.standard_normal(40)
    smooth = util.smooth_curve(curve)
    assert smooth.shape == curve.shape
    np.testing.assert_allclose(util.smooth_curve(np.full(20, 3.0)), 3.0, rtol=1e-14)
    ramp = np.arange(30.0)
    np.testing.assert_allclose(util.smooth_curve(ramp)[5:-5], ramp[5:-5], rtol=1e-12)  # symmetric window
    x, t = rng.standard_normal((10, 1, 2, 2)), np.arange(10)
    np.random.seed(3)
    xs, ts = util.shuffle_dataset(x, t)
    np.random.seed(3)
    order = np.random.permutation(10)
    np.testing.assert_array_equal(ts, order)
    np.testing.assert_array_equal(xs, x[order])
    assert util.conv_output_size(28, 5, 1, 0) == 24.0 and util.conv_output_size(7, 2, 2) == 3.5


def test_numerical_gradient_restores_x(rng):
    a, x = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    before = x.copy()
    grad = gradient.numerical_gradient(lambda _: float((a * x ** 2).sum()), x)
    assert rel_error(grad, 2 * a * x) < 1e-7
    np.testing.assert_array_equal(x, before)
    grad2 = gradient.numerical_gradient_2d(lambda row: float((row ** 3).sum()), x)
    assert rel_error(grad2, 3 * x ** 2) < 1e-7


def test_networks_draw_weights_from_np_random_in_the_textbooks_order():
    np.random.seed(0)
    net = MultiLayerNetExtend(12, [7, 5], 3, use_batchnorm=True, use_dropout=True)
    np.random.seed(0)
    expected = [np.sqrt(2.0 / 12) * np.random.randn(12, 7), np.sqrt(2.0 / 7) * np.random.randn(7, 5),
                np.sqrt(2.0 / 5) * np.random.randn(5, 3)]
    for i, W in enumerate(expected, 1):
        np.testing.assert_array_equal(net.params[f"W{i}"], W)
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"]
    assert list(net.layers) == ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1", "Affine2",
                                "BatchNorm2", "Activation_function2", "Dropout2", "Affine3"]
    assert net.hidden_layer_num == 2 and net.use_batchnorm and net.use_dropout


def test_multi_layer_net_loss_and_gradients(rng):
    np.random.seed(1)
    net = MultiLayerNet(6, [5, 4], 3, activation="sigmoid", weight_init_std=0.5, weight_decay_lambda=0.1)
    x, t = rng.standard_normal((4, 6)), np.eye(3)[rng.integers(0, 3, 4)]
    h = x
    for i in (1, 2):
        h = 1 / (1 + np.exp(-(h @ net.params[f"W{i}"] + net.params[f"b{i}"])))
    scores = h @ net.params["W3"] + net.params["b3"]
    y = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    decay = 0.05 * sum((net.params[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    assert net.loss(x, t) == pytest.approx(-np.log((y * t).sum(axis=1)).mean() + decay, rel=1e-13)
    grads, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    assert list(numeric) == list(grads)
    for key in grads:
        assert rel_error(grads[key], numeric[key]) < 1e-6, key


def test_batchnorm_network_gradient_check_as_ch06():
    np.random.seed(2)
    net = MultiLayerNetExtend(8, [6, 5], 4, use_batchnorm=True)
    x, t = np.random.rand(3, 8), np.eye(4)[[0, 3, 1]]
    grads, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    for key in grads:  # b1, b2 precede a batch norm: their gradients are zero up to rounding
        assert np.abs(grads[key] - numeric[key]).max() < 1e-6 * max(1, np.abs(numeric[key]).max()), key


def test_trainer_is_reproducible_and_learns(rng):
    x = rng.standard_normal((60, 4))
    t = (x[:, 0] + x[:, 1] > 0).astype(int)

    def run():
        np.random.seed(4)
        net = MultiLayerNet(4, [8], 2)
        trainer = Trainer(net, x, t, x[:20], t[:20], epochs=6, mini_batch_size=20,
                          optimizer="Adam", optimizer_param={"lr": 0.05}, verbose=False)
        trainer.train()
        return trainer
    first, second = run(), run()
    assert len(first.train_loss_list) == 18 and len(first.test_acc_list) == 6
    np.testing.assert_array_equal(first.train_loss_list, second.train_loss_list)
    assert first.train_acc_list[-1] > 0.85
