"""The textbook's ``common/functions.py``: activations, softmax and losses on NumPy arrays.

Same names, arguments and numbers: ``cross_entropy_error(y, t)`` keeps the textbook's
``1e-7`` inside the log, where the layer ``SoftmaxWithLoss`` does not (``docs/compat.md``,
"The exact cross-entropy").
"""
import numpy as np

# The names ``from common.functions import *`` binds (the textbook's modules have no
# __all__: a star import binds every public name, NumPy's ``np`` included).
__all__ = ["identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
           "relu_grad", "softmax", "sum_squared_error", "cross_entropy_error", "softmax_loss",
           "np"]


def identity_function(x):
    """x, unchanged."""
    return x


def step_function(x):
    """1 where x > 0, else 0 (integers, the shape of x)."""
    return np.array(np.asarray(x) > 0, dtype=int)


def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise (exp overflows quietly to the right limit, 0)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-np.asarray(x)))


def sigmoid_grad(x):
    """The derivative of the sigmoid at x: (1 - sigmoid(x)) * sigmoid(x)."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu(x):
    """max(0, x), elementwise."""
    return np.maximum(0, x)


def relu_grad(x):
    """1 where x >= 0, else 0 (the textbook takes 1 at 0), in x's dtype."""
    x = np.asarray(x)
    return (x >= 0).astype(x.dtype if x.dtype.kind == "f" else float)


def softmax(x):
    """Softmax over the last axis: x (..., C) -> probabilities (..., C)."""
    shifted = np.asarray(x) - np.max(x, axis=-1, keepdims=True)  # exp never overflows
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def sum_squared_error(y, t):
    """0.5 * sum((y - t)**2) over every element (not averaged)."""
    d = np.asarray(y) - np.asarray(t)
    return 0.5 * np.sum(d * d)


def cross_entropy_error(y, t):
    """Mean over the batch of -log(y[label] + 1e-7).

    y (N, C) probabilities, or one sample (C,); t integer labels (N,) (an integer for one
    sample) or one-hot (N, C), whose argmax is the label.
    """
    y, t = np.asarray(y), np.asarray(t)
    if y.ndim == 1:
        y, t = y.reshape(1, -1), t.reshape(1, -1) if t.size == y.size else t.reshape(1)
    if t.size == y.size:
        t = t.argmax(axis=1)
    t = t.reshape(-1)
    N = y.shape[0]
    return -np.sum(np.log(y[np.arange(N), t] + 1e-7)) / N


def softmax_loss(X, t):
    """cross_entropy_error(softmax(X), t)."""
    return cross_entropy_error(softmax(X), t)
