"""Networks against mathematics (spot-checked numerical gradients, float64, both backends),
against each other (fast and reference give the same training), and their bookkeeping."""
import numpy as np
import pytest

from fastnn import nets
from fastnn.gradcheck import numerical_gradient_at
from fastnn.optim import Adam

BACKENDS = ["fast", "reference"]


def spot_check(network, x, t, rng, per_param=12, tol=1e-6):
    """Backpropagated gradients agree with central differences at random elements."""
    grads = network.gradient(x, t)
    assert set(grads) == set(network.params)
    for name, param in network.params.items():
        flat = rng.choice(param.size, size=min(per_param, param.size), replace=False)
        indices = [np.unravel_index(i, param.shape) for i in flat]
        numeric = numerical_gradient_at(lambda: network.loss(x, t, train_flg=True), param, indices)
        analytic = np.array([grads[name][i] for i in indices])
        # floor: a gradient that is zero by design (a bias before batch normalisation)
        # leaves only central-difference noise, ~eps * loss / h = 2e-10
        scale = max(np.max(np.abs(grads[name])), 1e-3)
        assert np.max(np.abs(analytic - numeric)) / scale < tol, name


@pytest.mark.parametrize("options", [
    {"activation": "relu", "use_batchnorm": True, "weight_decay_lambda": 0.1},
    {"activation": "sigmoid", "weight_init_std": "xavier"},
    {"activation": "tanh", "weight_init_std": 0.3, "use_batchnorm": True},
])
def test_multilayer_net_gradients(backend, options, rng):
    net = nets.MultiLayerNet(12, [9, 7], 5, backend=backend, seed=1, **options)
    spot_check(net, rng.standard_normal((6, 12)), rng.integers(0, 5, 6), rng)


def test_simple_convnet_gradients(backend, rng):
    net = nets.SimpleConvNet(input_dim=(2, 9, 8), conv_param={"filter_num": 4, "filter_size": 3},
                             hidden_size=7, output_size=4, weight_init_std="he", backend=backend, seed=2)
    spot_check(net, rng.standard_normal((3, 2, 9, 8)), rng.integers(0, 4, 3), rng)


def test_deep_convnet_gradients(backend, rng):
    net = nets.DeepConvNet(input_dim=(1, 8, 8), hidden_size=10, output_size=4,
                           dropout_ratio=0.0, backend=backend, seed=3)
    spot_check(net, rng.standard_normal((3, 1, 8, 8)), rng.integers(0, 4, 3), rng, per_param=6)


def test_autoencoder_gradients(backend, rng):
    net = nets.AutoEncoder(input_size=10, hidden_size_list=(6, 3), backend=backend, seed=4)
    x = rng.uniform(0, 1, (5, 10))
    spot_check(net, x, x, rng)


def test_relu_runs_in_place_on_the_network_own_arrays_only(backend, rng):
    """After a convolution or affine layer (fresh outputs nobody keeps) the ReLUs write
    into their input, forward and backward; never into the caller's x, and the results
    are those of the layer by itself."""
    net = nets.MultiLayerNet(6, [5, 4], 3, activation="relu", backend=backend, seed=5)
    in_place = []
    for name in ("Activation1", "Activation2"):
        layer = net.layers[name]
        forward, backward = layer.forward, layer.backward
        layer.forward = lambda x, overwrite_x=False, f=forward: (
            in_place.append(("forward", overwrite_x)) or f(x, overwrite_x))
        layer.backward = lambda dout, overwrite_dout=False, b=backward: (
            in_place.append(("backward", overwrite_dout)) or b(dout, overwrite_dout))
    x, t = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    x_before = x.copy()
    grads = net.gradient(x, t)
    assert in_place == [("forward", True)] * 2 + [("backward", True)] * 2
    np.testing.assert_array_equal(x, x_before)
    reference = nets.MultiLayerNet(6, [5, 4], 3, activation="relu", backend=backend, seed=5)
    for layer in reference.layers.values():  # every ReLU on fresh arrays
        if type(layer).__name__ == "Relu":
            layer.forward = lambda x, overwrite_x=False, f=layer.forward: f(x)
            layer.backward = lambda dout, overwrite_dout=False, b=layer.backward: b(dout)
    for name, grad in reference.gradient(x, t).items():
        np.testing.assert_array_equal(grads[name], grad)
    first_relu = nets.MultiLayerNet(6, [6], 3, backend=backend, seed=5)
    del first_relu.layers["Affine1"]  # the ReLU now reads the caller's x first
    first_relu.predict(x)
    np.testing.assert_array_equal(x, x_before)


def test_dropout_in_a_network_changes_training_not_inference(rng):
    net = nets.MultiLayerNet(8, [20], 3, use_dropout=True, dropout_ration=0.5, seed=0)
    x = rng.standard_normal((4, 8))
    np.testing.assert_array_equal(net.predict(x), net.predict(x))
    assert not np.array_equal(net.predict(x, train_flg=True), net.predict(x, train_flg=True))


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_fast_and_reference_train_the_same(dtype, tol, rng):
    """Same seed, same weights, same batches: the same losses step by step."""
    x = rng.standard_normal((40, 1, 12, 12)).astype(dtype)
    t = rng.integers(0, 10, 40)
    losses = {}
    for backend in BACKENDS:
        net = nets.SimpleConvNet(input_dim=(1, 12, 12), conv_param={"filter_num": 6, "filter_size": 3},
                                 hidden_size=20, weight_init_std="he", backend=backend, dtype=dtype, seed=7)
        opt = Adam(lr=0.01)
        history = []
        for step in range(8):
            batch = slice(step * 5, step * 5 + 5)
            grads = net.gradient(x[batch], t[batch])
            history.append(net.last_loss)
            opt.update(net.params, grads)
        losses[backend] = np.array(history)
    assert losses["fast"][-1] < losses["fast"][0]  # it learns
    np.testing.assert_allclose(losses["fast"], losses["reference"], rtol=tol)


def test_parameters_are_the_layers_arrays_and_have_the_dtype():
    net = nets.SimpleConvNet(dtype=np.float32, seed=0)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert net.layers["Conv1"].W is net.params["W1"]


def test_save_and_load_params(tmp_path, rng):
    x = rng.standard_normal((5, 12))
    a = nets.MultiLayerNet(12, [8], 3, use_batchnorm=True, seed=0)
    a.predict(x, train_flg=True)  # running statistics move away from their start
    path = tmp_path / "params.npz"
    a.save_params(path)
    b = nets.MultiLayerNet(12, [8], 3, use_batchnorm=True, seed=99)
    layer_W = b.layers["Affine1"].W
    b.load_params(path)
    assert b.layers["Affine1"].W is layer_W  # loaded in place
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    c = nets.MultiLayerNet(12, [9], 3, use_batchnorm=True, seed=0)
    with pytest.raises(ValueError, match="W1 has shape"):
        c.load_params(path)
    with pytest.raises(ValueError, match="saved by another model"):
        nets.MultiLayerNet(12, [8], 3, seed=0).load_params(path)  # no batch norm


def test_bad_network_options():
    with pytest.raises(ValueError, match="backend must be 'fast' or 'reference'"):
        nets.SimpleConvNet(backend="gpu")
    with pytest.raises(ValueError, match="activation must be one of"):
        nets.MultiLayerNet(4, [3], 2, activation="gelu")
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        nets.MultiLayerNet(4, [3], 2, dtype=np.int32)
    with pytest.raises(ValueError, match="weight_init_std"):
        nets.MultiLayerNet(4, [3], 2, weight_init_std="lecun")


def test_rbm_cd_statistics_and_free_energy(rng):
    rbm = nets.RBM(n_visible=6, n_hidden=4, k=2, seed=0)
    v = (rng.random((50, 6)) < 0.5).astype(float)
    grads = rbm.gradient(v)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in rbm.params.items()}
    # free energy by its definition, summing over all 2^4 hidden states
    W, b, c = rbm.params["W"], rbm.params["b_visible"], rbm.params["b_hidden"]
    hs = np.array(np.meshgrid(*[[0, 1]] * 4)).reshape(4, -1).T
    brute = -np.log(np.exp(v[:3] @ b[:, None] + (v[:3] @ W + c) @ hs.T).sum(axis=1))
    np.testing.assert_allclose(rbm.free_energy(v[:3]), brute, rtol=1e-10)
