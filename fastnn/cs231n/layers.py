"""The layer functions of CS231n assignment 2 (``cs231n/layers.py``), compiled.

Same names, arguments, conventions and numbers as the assignment's solutions; the naive
names (``conv_forward_naive``, ``max_pool_forward_naive``, ...) run the fast kernels too.
A cache is for the backward pass of the same module's forward (fastnn's layout).

``dropout_forward`` follows the assignment: ``dropout_param['seed']`` (an int) seeds
NumPy's *global* generator, as the starter code does (so a ``Solver`` run after it is
reproducible), and the mask is ``(np.random.rand(*x.shape) < p) / p``; a
``numpy.random.Generator`` as the seed draws from it instead, leaving the global
generator alone.  Max pooling sends each gradient to the first maximum of its window.
"""
import numpy as np

from fastnn import _checks
from fastnn.functional import (  # noqa: F401  (re-exported under the assignment's names)
    affine_backward, affine_forward, batchnorm_backward, batchnorm_forward,
    layernorm_backward, layernorm_forward, relu_backward, relu_forward, softmax_loss,
    spatial_batchnorm_backward, spatial_batchnorm_forward, spatial_groupnorm_backward,
    spatial_groupnorm_forward, svm_loss)
from fastnn.functional import conv_backward as conv_backward_naive
from fastnn.functional import conv_forward as conv_forward_naive
from fastnn.functional import max_pool_backward as max_pool_backward_naive
from fastnn.functional import max_pool_forward as max_pool_forward_naive

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "softmax_loss", "svm_loss",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward",
    "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward_naive", "max_pool_backward_naive",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
]

# The assignment's "alternative" batch-norm backward is the simplified formula, which is
# the one fastnn computes.
batchnorm_backward_alt = batchnorm_backward


def dropout_forward(x, dropout_param):
    """Inverted dropout, as the assignment: x (any shape) -> out (x's shape, dtype), cache.

    dropout_param: 'p', the probability of keeping a unit (0 < p <= 1); 'mode' ('train'
    or 'test'); optional 'seed' (an int: ``np.random.seed(seed)`` first; or a
    ``numpy.random.Generator``).  Training: mask = (uniform < p) / p (float64), out =
    x * mask; test: out = x.  cache = (dropout_param, mask), mask None in test mode.
    """
    func = "dropout_forward"
    (x,) = _checks.as_float_arrays(func, x=x)
    mode = _checks.mode_param(func, dropout_param)
    p = _checks.float_param(func, "p", _checks.required_key(func, "dropout_param", dropout_param, "p"),
                            0, 1, low_open=True)
    seed = dropout_param.get("seed")
    if isinstance(seed, np.random.Generator):
        uniform = seed.random
    else:
        if "seed" in dropout_param:
            np.random.seed(seed)
        uniform = np.random.random_sample
    if mode == "test":
        return x, (dropout_param, None)
    mask = (uniform(x.shape) < p) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    """dout -> dx = dout * mask in training mode, dout itself in test mode."""
    dropout_param, mask = _checks.cache_entries("dropout_backward", cache, 2, "dropout_forward")
    if mask is None:
        return dout
    (dout,) = _checks.as_float_arrays("dropout_backward", dout=dout)
    _checks.check_shape("dropout_backward", "dout", dout, mask.shape, "(the forward output's shape)")
    return dout * mask
