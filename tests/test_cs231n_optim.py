"""fastnn.cs231n.optim against the update rules' formulas, written here element by element
(Python or NumPy scalars of the arrays' dtype: the same roundings, so the same bits), and
against the NumPy lines of its docstring on large arrays at 1 and 2 threads; in place as
the assignment's interface allows; errors that name what was wrong."""
import math

import numpy as np
import pytest

import fastnn
from fastnn.cs231n import optim

RULES = ["sgd", "sgd_momentum", "rmsprop", "adam"]
STATE = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v"]}
HYPER = {"sgd": {"learning_rate": 0.05},
         "sgd_momentum": {"learning_rate": 0.05, "momentum": 0.8},
         "rmsprop": {"learning_rate": 0.02, "decay_rate": 0.95, "epsilon": 1e-6},
         "adam": {"learning_rate": 0.01, "beta1": 0.85, "beta2": 0.995, "epsilon": 1e-7, "t": 3}}


def scalar_step(rule, w, dw, state, config, T):
    """One step of ``rule`` on flat arrays, element by element in scalars of type T (each
    Python-float constant rounded to T first, as NumPy rounds it)."""
    c = {k: v for k, v in config.items() if k not in STATE[rule]}
    sqrt = math.sqrt if T is np.float64 else (lambda x: np.sqrt(T(x)))
    out = np.empty_like(w)
    for i in range(w.size):
        g, x = T(dw[i]), T(w[i])
        if rule == "sgd":
            out[i] = x - T(c["learning_rate"]) * g
        elif rule == "sgd_momentum":
            u = T(c["momentum"]) * state["velocity"][i] - T(c["learning_rate"]) * g
            state["velocity"][i] = u
            out[i] = x + u
        elif rule == "rmsprop":
            h = (T(c["decay_rate"]) * state["cache"][i]
                 + T(1 - c["decay_rate"]) * (g * g))
            state["cache"][i] = h
            out[i] = x - (T(c["learning_rate"]) * g) / (T(sqrt(h)) + T(c["epsilon"]))
        else:
            t = c["t"] + 1
            m = T(c["beta1"]) * state["m"][i] + T(1 - c["beta1"]) * g
            v = T(c["beta2"]) * state["v"][i] + T(1 - c["beta2"]) * (g * g)
            state["m"][i], state["v"][i] = m, v
            m_hat, v_hat = m / T(1 - c["beta1"] ** t), v / T(1 - c["beta2"] ** t)
            out[i] = x - (T(c["learning_rate"]) * m_hat) / (T(sqrt(v_hat)) + T(c["epsilon"]))
    if rule == "adam":
        config["t"] += 1
    return out


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_is_its_formula_element_by_element(rule, dtype, rng):
    """Three steps on odd sizes (one element, a row, a block), state starting at zeros or
    given: bitwise the formula's scalar steps."""
    for shape in [(1,), (7,), (5, 13)]:
        w = rng.standard_normal(shape).astype(dtype)
        dw = rng.standard_normal(shape).astype(dtype)
        config = dict(HYPER[rule])
        given = rng.random() < 0.5
        for key in STATE[rule]:
            config[key] = np.abs(rng.standard_normal(shape)).astype(dtype) if given else np.zeros(shape, dtype)
        expected_w, expected = w.ravel().copy(), {k: config[k].ravel().copy() for k in STATE[rule]}
        expected_config = dict(config)
        ours = w.copy()
        for _ in range(3):
            dw = rng.standard_normal(shape).astype(dtype)
            expected_w = scalar_step(rule, expected_w, dw.ravel(), expected, expected_config, dtype)
            ours, config = getattr(optim, rule)(ours, dw, config)
        np.testing.assert_array_equal(ours.ravel(), expected_w)
        for key in STATE[rule]:
            np.testing.assert_array_equal(config[key].ravel(), expected[key])
        if rule == "adam":
            assert config["t"] == HYPER["adam"]["t"] + 3


def numpy_lines(rule, w, dw, config):
    """The NumPy lines of fastnn.cs231n.optim's docstring, in new arrays."""
    c = config
    if rule == "sgd":
        return w - c["learning_rate"] * dw
    if rule == "sgd_momentum":
        c["velocity"] = c["momentum"] * c["velocity"] - c["learning_rate"] * dw
        return w + c["velocity"]
    if rule == "rmsprop":
        c["cache"] = c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * (dw * dw)
        return w - c["learning_rate"] * dw / (np.sqrt(c["cache"]) + c["epsilon"])
    c["t"] += 1
    c["m"] = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    c["v"] = c["beta2"] * c["v"] + (1 - c["beta2"]) * (dw * dw)
    return w - c["learning_rate"] * (c["m"] / (1 - c["beta1"] ** c["t"])) / (
        np.sqrt(c["v"] / (1 - c["beta2"] ** c["t"])) + c["epsilon"])


@pytest.mark.parametrize("rule", RULES)
def test_large_arrays_give_the_numpy_lines_bits_at_any_thread_count(rule, dtype, rng):
    """An array of several blocks of the threads' split (3 x 40,001 elements), at 1 and 2
    threads, and a strided view (NumPy's lines themselves: a new next_w, w untouched)."""
    shape = (3, 40001)
    w0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(2)]
    expected_config = {**HYPER[rule], **{k: np.zeros(shape, dtype) for k in STATE[rule]}}
    expected = w0
    for dw in grads:
        expected = numpy_lines(rule, expected, dw, expected_config)
    before = fastnn.get_num_threads()
    try:
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            w, config = w0.copy(), dict(HYPER[rule])
            for dw in grads:
                w, config = getattr(optim, rule)(w, dw, config)
            np.testing.assert_array_equal(w, expected)
            for key in STATE[rule]:
                np.testing.assert_array_equal(config[key], expected_config[key])
    finally:
        fastnn.set_num_threads(before)
    w, config = w0, dict(HYPER[rule])
    for dw in grads:
        strided = np.repeat(w, 2, axis=1)[:, ::2]  # w's values, not contiguous
        w, config = getattr(optim, rule)(strided, dw, config)
        assert w is not strided
    np.testing.assert_array_equal(w, expected)


def test_the_update_is_in_place_and_config_is_filled_with_the_assignments_defaults(rng):
    w, dw = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    next_w, config = optim.adam(w, dw)
    assert next_w is w
    assert config == {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                      "m": config["m"], "v": config["v"], "t": 1}
    m = config["m"]
    optim.adam(w, dw, config)
    assert config["m"] is m and config["t"] == 2  # the moving averages updated in place
    assert set(optim.sgd_momentum(w, dw)[1]) == {"learning_rate", "momentum", "velocity"}
    assert optim.sgd_momentum(w, dw)[1]["momentum"] == 0.9
    assert optim.rmsprop(w, dw)[1]["decay_rate"] == 0.99
    assert optim.sgd(w, dw)[1] == {"learning_rate": 1e-2}
    assert set(optim.__all__) == set(RULES)


def test_bad_arguments_are_named():
    w = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"adam: dw must have w's shape \(2, 3\), got \(3,\)"):
        optim.adam(w, np.zeros(3))
    with pytest.raises(TypeError, match="sgd: config must be a dict or None, got list"):
        optim.sgd(w, w, [])
    with pytest.raises(TypeError, match="rmsprop: w must be a NumPy array, got list"):
        optim.rmsprop([1.0], w)
    with pytest.raises(TypeError, match=r"sgd_momentum: config\['momentum'\] must be a real number, got 'high'"):
        optim.sgd_momentum(w, w, {"momentum": "high"})
    with pytest.raises(TypeError, match=r"adam: config\['t'\] must be a non-negative integer, got 2.5"):
        optim.adam(w, w, {"t": 2.5})
    with pytest.raises(ValueError, match=r"adam: config\['v'\] must have w's shape \(2, 3\), got \(6,\)"):
        optim.adam(w, w, {"v": np.zeros(6)})
