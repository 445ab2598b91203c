"""The update rules of CS231n assignment 2 (``cs231n/optim.py``), one compiled pass each.

The assignment's ``Solver`` imports them in ``solver.py``; change that import::

    from cs231n import optim    ->    from fastnn.cs231n import optim

``sgd``, ``sgd_momentum``, ``rmsprop`` and ``adam`` take ``(w, dw, config=None)`` and return
``(next_w, config)``, with the assignment's defaults and config keys.  As the assignment's
interface allows ("update rules may perform in-place updates, mutating w and setting next_w
equal to w"), ``w`` is updated in place and returned, and so are the moving averages that
config holds ('velocity', 'cache', 'm', 'v'), in one pass over memory with no temporaries.

Each rule computes, in this order (hyperparameters as Python floats, which NumPy rounds to
the arrays' dtype; the compiled pass gives the bits of these NumPy lines)::

    sgd           w -= learning_rate * dw
    sgd_momentum  v = momentum * v - learning_rate * dw;  w += v
    rmsprop       cache = decay_rate * cache + (1 - decay_rate) * (dw * dw)
                  w -= learning_rate * dw / (np.sqrt(cache) + epsilon)
    adam          t += 1;  m = beta1 * m + (1 - beta1) * dw
                  v = beta2 * v + (1 - beta2) * (dw * dw)
                  w -= learning_rate * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + epsilon)

(the complete Adam, with its bias correction, as the assignment asks).  A completed
assignment may write a rule with other roundings (``m += (1 - beta1) * (dw - m)``, say):
its numbers then agree with these to rounding, not bitwise.

The compiled pass runs where w, dw and the state are C-contiguous float32 or float64
arrays of one dtype and shape (w and the state writeable) and w is not small (a bias: there
the lines above run in place in NumPy, which costs less and gives the same bits); anything
else (float16, a strided view, state of another dtype) runs the NumPy lines above into new
arrays rather than writing into w.  A state array config does not hold yet starts at zeros.
"""
import numbers

import numpy as np

from fastnn._kernels import elementwise as _elementwise
from fastnn._kernels.plan import SMALL_ELEMENTWISE
from fastnn.functional import update_fusable

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]


def _start(func, w, dw, config, defaults):
    """Check w, dw and config; fill config's missing hyperparameters with ``defaults`` and
    return config and those hyperparameters as Python floats, in the order of ``defaults``."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"{func}: config must be a dict or None, got {type(config).__name__}")
    for name, value in (("w", w), ("dw", dw)):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{func}: {name} must be a NumPy array, got {type(value).__name__}")
    if dw.shape != w.shape:
        raise ValueError(f"{func}: dw must have w's shape {w.shape}, got {dw.shape}")
    values = []
    for key, default in defaults.items():
        value = config.setdefault(key, default)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{func}: config[{key!r}] must be a real number, got {value!r}")
        values.append(float(value))
    return config, values


def _state(func, config, key, w):
    """config[key], a moving average of w's shape: zeros where config has none yet."""
    if key not in config:
        config[key] = np.zeros_like(w)
    state = config[key]
    if np.shape(state) != w.shape:
        raise ValueError(f"{func}: config[{key!r}] must have w's shape {w.shape}, "
                         f"got {np.shape(state)}")
    return state


def _fusable(w, dw, *states):
    if not update_fusable(w, dw, *states):
        return False
    for state in states:
        if not state.flags.writeable:
            return False
    return True


def _small(w):
    """Whether w is small enough that the compiled pass costs more than NumPy's in-place
    form of the same lines (the same bits): for a bias vector, a call's fixed cost."""
    return w.size < SMALL_ELEMENTWISE


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w (any shape), dw (w's shape), config
    {'learning_rate' (1e-2)} -> next_w, config."""
    config, (learning_rate,) = _start("sgd", w, dw, config, {"learning_rate": 1e-2})
    if not _fusable(w, dw):
        return w - learning_rate * dw, config
    if _small(w):
        w -= learning_rate * dw
    else:
        _elementwise.cs231n_momentum(w.reshape(-1), dw.reshape(-1), None, 0.0, learning_rate)
    return w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum: w, dw, config {'learning_rate' (1e-2),
    'momentum' (0.9), 'velocity' (zeros, w's shape)} -> next_w, config."""
    func = "sgd_momentum"
    config, (learning_rate, momentum) = _start(func, w, dw, config,
                                               {"learning_rate": 1e-2, "momentum": 0.9})
    v = _state(func, config, "velocity", w)
    if not _fusable(w, dw, v):
        config["velocity"] = v = momentum * v - learning_rate * dw
        return w + v, config
    if _small(w):
        v *= momentum
        v -= learning_rate * dw
        w += v
    else:
        _elementwise.cs231n_momentum(w.reshape(-1), dw.reshape(-1), v.reshape(-1), momentum,
                                     learning_rate)
    return w, config


def rmsprop(w, dw, config=None):
    """RMSProp: w, dw, config {'learning_rate' (1e-2), 'decay_rate' (0.99), 'epsilon'
    (1e-8), 'cache' (zeros, w's shape)} -> next_w, config."""
    func = "rmsprop"
    config, (learning_rate, decay_rate, epsilon) = _start(
        func, w, dw, config, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8})
    cache = _state(func, config, "cache", w)
    if not _fusable(w, dw, cache):
        config["cache"] = cache = decay_rate * cache + (1 - decay_rate) * (dw * dw)
        return w - learning_rate * dw / (np.sqrt(cache) + epsilon), config
    if _small(w):
        cache *= decay_rate
        cache += (1 - decay_rate) * (dw * dw)
        w -= learning_rate * dw / (np.sqrt(cache) + epsilon)
    else:
        _elementwise.cs231n_rmsprop(w.reshape(-1), dw.reshape(-1), cache.reshape(-1),
                                    decay_rate, learning_rate, epsilon)
    return w, config


def adam(w, dw, config=None):
    """Adam with bias correction: w, dw, config {'learning_rate' (1e-3), 'beta1' (0.9),
    'beta2' (0.999), 'epsilon' (1e-8), 'm' and 'v' (zeros, w's shape), 't' (0, the steps
    taken; one more after the call)} -> next_w, config."""
    func = "adam"
    config, (learning_rate, beta1, beta2, epsilon) = _start(
        func, w, dw, config,
        {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8})
    t = config.setdefault("t", 0)
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise TypeError(f"{func}: config['t'] must be a non-negative integer, got {t!r}")
    m, v = _state(func, config, "m", w), _state(func, config, "v", w)
    config["t"] = t = int(t) + 1
    k1, k2 = 1 - beta1 ** t, 1 - beta2 ** t
    if not _fusable(w, dw, m, v):
        config["m"] = m = beta1 * m + (1 - beta1) * dw
        config["v"] = v = beta2 * v + (1 - beta2) * (dw * dw)
        return w - learning_rate * (m / k1) / (np.sqrt(v / k2) + epsilon), config
    if _small(w):
        m *= beta1
        m += (1 - beta1) * dw
        v *= beta2
        v += (1 - beta2) * (dw * dw)
        w -= learning_rate * (m / k1) / (np.sqrt(v / k2) + epsilon)
    else:
        _elementwise.cs231n_adam(w.reshape(-1), dw.reshape(-1), m.reshape(-1), v.reshape(-1),
                                 beta1, beta2, k1, k2, learning_rate, epsilon)
    return w, config
