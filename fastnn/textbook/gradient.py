"""The textbook's ``common/gradient.py``: numerical gradients by central differences.

``numerical_gradient(f, x)`` perturbs each element of x *in place* by h = 1e-4, calls
``f(x)`` twice and restores the element, so f may ignore its argument and read x
through the network that holds it (``lambda W: net.loss(x, t)``).
"""
import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_2d", "np"]  # as the textbook's star import

H = 1e-4


def numerical_gradient(f, x):
    """(f(x + h e_i) - f(x - h e_i)) / 2h for every element i of x (any shape) -> grad of
    x's shape.  x is restored afterwards."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        saved = x[idx]
        x[idx] = saved + H
        f_plus = f(x)
        x[idx] = saved - H
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * H)
        x[idx] = saved
    return grad


def _numerical_gradient_1d(f, x):
    return numerical_gradient(f, x)


def numerical_gradient_2d(f, X):
    """``numerical_gradient`` of each row of X (N, D) separately (f sees one row), or of
    X itself when 1-D."""
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for i, row in enumerate(X):
        grad[i] = numerical_gradient(f, row)
    return grad
