"""Numerical gradients by central differences, and relative errors.

Use float64: with h = 1e-6 the truncation error is O(h**2) and the rounding error
O(eps / h), so analytic and numerical gradients of smooth functions agree to ~1e-8
relative error or better; float32 cannot resolve differences that small.
"""
import numpy as np

__all__ = ["numerical_gradient", "numerical_gradient_at", "numerical_gradient_array",
           "rel_error", "scaled_error", "check_gradient"]


def numerical_gradient(f, x, h=1e-6):
    """Gradient of a scalar function by central differences.

    f: callable taking no arguments and returning a scalar; it must read ``x``, which is
    perturbed in place one element at a time and restored.  x: float64 array of any
    shape.  Returns an array of x's shape: (f(x + h e_i) - f(x - h e_i)) / (2h).
    """
    return numerical_gradient_array(lambda: np.asarray(f(), dtype=np.float64), x,
                                    np.ones((), dtype=np.float64), h)


def numerical_gradient_at(f, x, indices, h=1e-6):
    """Partial derivatives of a scalar function at some elements of x only.

    For spot checks of large parameter arrays: f and x as :func:`numerical_gradient`;
    indices, a sequence of index tuples into x.  Returns an array (len(indices),).
    """
    values = []
    for index in indices:
        index = tuple(index)
        saved = x[index]
        x[index] = saved + h
        plus = float(f())
        x[index] = saved - h
        minus = float(f())
        x[index] = saved
        values.append((plus - minus) / (2 * h))
    return np.array(values)


def numerical_gradient_array(f, x, dout, h=1e-6):
    """Gradient of ``sum(f() * dout)`` with respect to ``x``, by central differences.

    The vector-Jacobian product a backward pass computes: f returns an array (any
    shape, matching ``dout``) and reads ``x``, which is perturbed in place and restored.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError("numerical_gradient_array: x must be a float64 ndarray "
                        f"(perturbed in place), got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        plus = np.sum(np.asarray(f()) * dout)
        x[index] = saved - h
        minus = np.sum(np.asarray(f()) * dout)
        x[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    """Largest elementwise relative error ``|a - b| / max(|a| + |b|, 1e-8)``.

    Elements where both are tiny are compared absolutely (the 1e-8 floor), so a
    gradient that should be zero is not held to a relative standard.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))


def scaled_error(a, b):
    """``max |a - b|`` relative to the largest magnitude in a or b (floor 1e-8).

    The error measure for comparing whole gradients: an element that is small only
    because of cancellation is held to the scale of the array, not to its own size,
    where finite differences cannot resolve it.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"scaled_error: shapes differ, {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-8)
    return float(np.max(np.abs(a - b)) / scale)


def check_gradient(f, inputs, analytic, dout=None, h=1e-6):
    """Compare analytic gradients with numerical ones; return {name: scaled_error}.

    f: callable taking no arguments (it reads the arrays in ``inputs``) returning a
    scalar, or an array when ``dout`` is given.  inputs: {name: float64 array}.
    analytic: {name: gradient array} for the same names.
    """
    report = {}
    for name, x in inputs.items():
        if dout is None:
            numeric = numerical_gradient(f, x, h)
        else:
            numeric = numerical_gradient_array(f, x, dout, h)
        report[name] = scaled_error(analytic[name], numeric)
    return report
