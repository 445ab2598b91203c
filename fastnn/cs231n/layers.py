"""The layer functions of CS231n assignment 2 (``cs231n/layers.py``), compiled.

Same names, arguments, conventions and numbers as the assignment's solutions; the naive
names (``conv_forward_naive``, ``max_pool_forward_naive``, ...) run the fast kernels too.
A cache is for the backward pass of the same module's forward (fastnn's layout).

``dropout_forward`` follows the assignment: ``dropout_param['seed']`` (an int) seeds
NumPy's *global* generator, as the starter code does (so a ``Solver`` run after it is
reproducible), and the mask is ``(np.random.rand(*x.shape) < p) / p``; a
``numpy.random.Generator`` as the seed draws from it instead, leaving the global
generator alone.  ``p`` is the probability of *keeping* a unit, as in every assignment
from 2018 on; the 2017 assignment's ``p`` is the probability of *dropping* one:
``fastnn.cs231n.set_dropout_convention(2017)`` gives its meaning (mask
``(np.random.rand(*x.shape) >= p) / (1 - p)``).  Max pooling sends each gradient to the
first maximum of its window.
"""
import numbers

import numpy as np

from fastnn import checks
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
    "dropout_forward", "dropout_backward", "set_dropout_convention",
    "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward_naive", "max_pool_backward_naive",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward",
]

# The assignment's "alternative" batch-norm backward is the simplified formula, which is
# the one fastnn computes.
batchnorm_backward_alt = batchnorm_backward


# What dropout_param['p'] means: the probability of keeping a unit (the assignments from
# 2018 on) or of dropping one (2017's).  One setting for the process: a notebook is of one year.
_dropout_p_drops = False


def set_dropout_convention(year):
    """Make ``dropout_param['p']`` mean what it means in the assignment of ``year``: the
    probability of keeping a unit for 2018 and later (the default), of dropping one for
    2017 and earlier.  Returns the year of the convention in force before the call."""
    global _dropout_p_drops
    if isinstance(year, bool) or not isinstance(year, numbers.Integral) or not 2015 <= year <= 2100:
        raise ValueError(f"set_dropout_convention: year must be the assignment's year (an "
                         f"integer such as 2017 or 2018), got {year!r}")
    previous = 2017 if _dropout_p_drops else 2018
    _dropout_p_drops = year <= 2017
    return previous


def dropout_forward(x, dropout_param):
    """Inverted dropout, as the assignment: x (any shape) -> out (x's shape, dtype), cache.

    dropout_param: 'p', the probability of keeping a unit (0 < p <= 1; after
    ``set_dropout_convention(2017)``, of dropping one, 0 <= p < 1); 'mode' ('train' or
    'test'); optional 'seed' (an int: ``np.random.seed(seed)`` first; or a
    ``numpy.random.Generator``).  Training: mask = (uniform < p) / p (2017: (uniform >= p)
    / (1 - p)), float64, out = x * mask; test: out = x.  cache = (dropout_param, mask),
    mask None in test mode.
    """
    func = "dropout_forward"
    (x,) = checks.as_float_arrays(func, x=x)
    mode = checks.mode_param(func, dropout_param)
    p = checks.required_key(func, "dropout_param", dropout_param, "p")
    if _dropout_p_drops:  # 2017: p drops a unit
        p = checks.float_param(func, "p", p, 0, 1)
        if p == 1:
            raise ValueError(f"{func}: p, the probability of dropping a unit (the 2017 "
                             f"convention), must be in [0, 1), got {p}")
    else:
        p = checks.float_param(func, "p", p, 0, 1, low_open=True)
    seed = dropout_param.get("seed")
    if isinstance(seed, np.random.Generator):
        uniform = seed.random
    else:
        if "seed" in dropout_param:
            np.random.seed(seed)
        uniform = np.random.random_sample
    if mode == "test":
        return x, (dropout_param, None)
    if _dropout_p_drops:
        mask = (uniform(x.shape) >= p) / (1 - p)
    else:
        mask = (uniform(x.shape) < p) / p
    return (x * mask).astype(x.dtype, copy=False), (dropout_param, mask)


def dropout_backward(dout, cache):
    """dout -> dx = dout * mask in training mode, dout itself in test mode."""
    dropout_param, mask = checks.cache_entries("dropout_backward", cache, 2, "dropout_forward")
    if mask is None:
        return dout
    (dout,) = checks.as_float_arrays("dropout_backward", dout=dout)
    checks.check_shape("dropout_backward", "dout", dout, mask.shape, "(the forward output's shape)")
    return dout * mask
