"""Optimizers, as in *Deep Learning from Scratch* (``common/optimizer.py``): each has
``update(params, grads)``, which changes the arrays of ``params`` in place (the layers hold
the same arrays), with the textbook's defaults.  ``get_optimizer(name, **kwargs)`` makes
one by name, case-insensitively.
"""
import numpy as np

from fastnn import functional

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "get_optimizer"]

_EPS = 1e-7  # the textbook's guard against division by zero


def _zeros_like(params):
    """Per-parameter optimizer state, created at the first update (shapes known then)."""
    return {key: np.zeros_like(p) for key, p in params.items()}


class SGD:
    """p -= lr * g."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """v = momentum * v - lr * g;  p += v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros_like(params)
        for key in params:
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov:
    """Nesterov's accelerated gradient in the textbook's form (Sutskever et al. 2013), with
    the parameters kept at the look-ahead point p = theta + momentum * v:
    p += momentum**2 * v - (1 + momentum) * lr * g, *then* v = momentum * v - lr * g
    (the old v moves p: p_new = theta_new + momentum * v_new)."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros_like(params)
        for key in params:
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]


class AdaGrad:
    """h += g**2;  p -= lr * g / (sqrt(h) + 1e-7)."""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros_like(params)
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + _EPS)


class RMSprop:
    """h = decay_rate * h + (1 - decay_rate) * g**2;  p -= lr * g / (sqrt(h) + 1e-7).

    In place, in the parameter's dtype: one compiled pass for contiguous float32/float64
    arrays (fastnn.functional.rmsprop_update, the same bits as the NumPy form)."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate = lr, decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros_like(params)
        # Python floats, rounded to the arrays' dtype by NumPy as by the compiled pass
        lr, decay_rate = float(self.lr), float(self.decay_rate)
        for key in params:
            p, g, h = params[key], grads[key], self.h[key]
            if functional.update_fusable(p, g, h):  # the same bits as the NumPy form below
                functional.rmsprop_update(p, g, h, lr, decay_rate, _EPS)
                continue
            h *= decay_rate
            h += (1 - decay_rate) * g * g
            p -= lr * g / (np.sqrt(h) + _EPS)


class Adam:
    """Adam (Kingma & Ba), with the bias correction folded into the step size as in the
    textbook: lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t).

    The update runs in place, in the parameter's dtype (a float32 network is never updated
    through float64 temporaries): one compiled pass for contiguous float32/float64 arrays
    (fastnn.functional.adam_update, the same bits as the NumPy form), else
    NumPy through two scratch buffers per parameter.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = self.v = None
        self._scratch = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = _zeros_like(params), _zeros_like(params)
        if self._scratch is None:  # (also after a checkpoint restored m and v)
            self._scratch = {}
        self.iter += 1
        # Python floats: NumPy rounds them to the arrays' dtype, as the compiled pass does (a
        # NumPy float64, e.g. a beta from np.linspace, would compute through float64).
        beta1, beta2 = float(self.beta1), float(self.beta2)
        lr_t = float(self.lr * np.sqrt(1.0 - beta2 ** self.iter) / (1.0 - beta1 ** self.iter))
        for key in params:
            g, m, v = grads[key], self.m[key], self.v[key]
            p = params[key]
            if functional.update_fusable(p, g, m, v):  # the same bits as the NumPy form below
                functional.adam_update(p, g, m, v, lr_t, beta1, beta2, _EPS)
                continue
            if key not in self._scratch:  # the NumPy form's two buffers, made once
                self._scratch[key] = (np.empty_like(p), np.empty_like(p))
            a, b = self._scratch[key]
            np.subtract(g, m, out=a)            # m += (1 - beta1) * (g - m)
            a *= 1 - beta1
            m += a
            np.multiply(g, g, out=a)            # v += (1 - beta2) * (g**2 - v)
            a -= v
            a *= 1 - beta2
            v += a
            np.sqrt(v, out=a)                   # p -= lr_t * m / (sqrt(v) + eps)
            a += _EPS
            np.multiply(m, lr_t, out=b)
            b /= a
            params[key] -= b


_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)}


def get_optimizer(name, **kwargs):
    """An optimizer by name ('sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam')."""
    try:
        cls = _OPTIMIZERS[str(name).lower()]
    except KeyError:
        raise ValueError(f"get_optimizer: unknown optimizer {name!r}; expected one of "
                         f"{sorted(_OPTIMIZERS)}") from None
    return cls(**kwargs)
