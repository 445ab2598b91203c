"""Optimizers: the textbook's update rules, in place, and convergence."""
import numpy as np
import pytest

from fastnn import functional, optim


def two_steps(opt, g1, g2):
    params = {"w": np.array([1.0, -2.0])}
    w = params["w"]
    opt.update(params, {"w": g1})
    opt.update(params, {"w": g2})
    assert params["w"] is w  # in place: the layers hold this array
    return params["w"]


G1, G2 = np.array([0.5, -1.0]), np.array([0.25, 2.0])
W0 = np.array([1.0, -2.0])


def test_sgd():
    np.testing.assert_allclose(two_steps(optim.SGD(lr=0.1), G1, G2), W0 - 0.1 * (G1 + G2))


def test_momentum():
    v1 = -0.1 * G1
    v2 = 0.9 * v1 - 0.1 * G2
    np.testing.assert_allclose(two_steps(optim.Momentum(lr=0.1, momentum=0.9), G1, G2), W0 + v1 + v2)


def test_nesterov():
    # Sutskever's form: v' = mu v - lr grad(theta + mu v), theta' = theta + v'; the
    # optimizer keeps p = theta + mu v and is given g = grad(p).
    theta, v = W0.copy(), np.zeros(2)
    for g in (G1, G2):
        v_new = 0.9 * v - 0.1 * g
        theta, v = theta + v_new, v_new
    w = theta + 0.9 * v  # p after two steps (p = theta at the start, v = 0)
    np.testing.assert_allclose(two_steps(optim.Nesterov(lr=0.1, momentum=0.9), G1, G2), w)


def test_adagrad_and_rmsprop():
    h1 = G1 ** 2
    w = W0 - 0.1 * G1 / (np.sqrt(h1) + 1e-7)
    h2 = h1 + G2 ** 2
    np.testing.assert_allclose(two_steps(optim.AdaGrad(lr=0.1), G1, G2),
                               w - 0.1 * G2 / (np.sqrt(h2) + 1e-7))
    h1 = 0.01 * G1 ** 2
    w = W0 - 0.1 * G1 / (np.sqrt(h1) + 1e-7)
    h2 = 0.99 * h1 + 0.01 * G2 ** 2
    np.testing.assert_allclose(two_steps(optim.RMSprop(lr=0.1), G1, G2),
                               w - 0.1 * G2 / (np.sqrt(h2) + 1e-7))


def test_adam_is_bias_corrected():
    textbook, paper = W0.copy(), W0.copy()
    m, v = np.zeros(2), np.zeros(2)
    for t, g in enumerate((G1, G2), start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        lr_t = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        textbook = textbook - lr_t * m / (np.sqrt(v) + 1e-7)
        paper = paper - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-7)
    result = two_steps(optim.Adam(lr=0.01), G1, G2)
    np.testing.assert_allclose(result, textbook, rtol=1e-12)
    np.testing.assert_allclose(result, paper, rtol=1e-5)  # the same but for where eps sits


@pytest.mark.parametrize("name, lr", [("sgd", 0.1), ("momentum", 0.05), ("nesterov", 0.05),
                                      ("adagrad", 0.5), ("rmsprop", 0.05), ("adam", 0.1)])
def test_every_optimizer_minimises_a_quadratic(name, lr):
    target = np.array([3.0, -1.0, 0.5])
    params = {"w": np.zeros(3)}
    opt = optim.get_optimizer(name.upper(), lr=lr)
    for _ in range(500):
        opt.update(params, {"w": 2 * (params["w"] - target) * np.array([1.0, 3.0, 0.5])})
    np.testing.assert_allclose(params["w"], target, atol=0.05)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optim.get_optimizer("lbfgs")


@pytest.mark.parametrize("hyper", [(0.9, 0.999), tuple(np.linspace(0.8, 0.99, 2))],
                         ids=["python-floats", "numpy-floats"])
@pytest.mark.parametrize("name", ["Adam", "RMSprop"])
def test_compiled_updates_are_bitwise_the_numpy_form(name, dtype, hyper):
    rng = np.random.default_rng(0)
    shape = (37, 41)  # more than one block of elements in neither dimension: odd sizes
    params = {"w": rng.standard_normal(shape).astype(dtype), "b": rng.standard_normal(70001).astype(dtype)}
    make = {"Adam": lambda lr: optim.Adam(lr, *hyper),
            "RMSprop": lambda lr: optim.RMSprop(lr, hyper[1])}[name]
    fused, numpy_form = make(0.01), make(np.float64(0.01))
    # Fortran-ordered copies take the NumPy form (the 1-D one: a strided view of a copy)
    numpy_params = {"w": np.asfortranarray(params["w"]), "b": np.repeat(params["b"], 2)[::2]}
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
        fused.update(params, grads)
        numpy_form.update(numpy_params, grads)
    assert functional.update_fusable(params["w"], params["w"])
    assert not functional.update_fusable(numpy_params["w"]) and not functional.update_fusable(numpy_params["b"])
    states = ("m", "v") if name == "Adam" else ("h",)
    for k in params:
        np.testing.assert_array_equal(params[k], numpy_params[k])
        for state in states:
            np.testing.assert_array_equal(getattr(fused, state)[k], getattr(numpy_form, state)[k])
