"""CS231n assignment 2's ``cs231n/layer_utils.py``: the "sandwich" layers, on fastnn.

Like the assignment's module, it also exports everything of
:mod:`fastnn.cs231n.layers` and :mod:`fastnn.cs231n.fast_layers`.
"""
from fastnn.cs231n.fast_layers import *  # noqa: F401,F403
from fastnn.cs231n.fast_layers import __all__ as _fast_names
from fastnn.cs231n.layers import *  # noqa: F401,F403
from fastnn.cs231n.layers import __all__ as _layer_names
from fastnn.functional import (affine_backward, affine_forward, conv_backward, conv_forward,
                               max_pool_backward, max_pool_forward, relu_backward, relu_forward,
                               spatial_batchnorm_backward, spatial_batchnorm_forward)

__all__ = list(_layer_names) + list(_fast_names) + [
    "affine_relu_forward", "affine_relu_backward",
    "conv_relu_forward", "conv_relu_backward",
    "conv_bn_relu_forward", "conv_bn_relu_backward",
    "conv_relu_pool_forward", "conv_relu_pool_backward",
]


def affine_relu_forward(x, w, b):
    """relu(affine(x)): x (N, ...), w (D, M), b (M,) -> out (N, M), cache."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """dout (N, M) -> dx, dw, db."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """relu(conv(x)): x (N, C, H, W) -> out (N, F, OH, OW), cache."""
    a, conv_cache = conv_forward(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """dout (N, F, OH, OW) -> dx, dw, db."""
    conv_cache, relu_cache = cache
    return conv_backward(relu_backward(dout, relu_cache), conv_cache)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """relu(spatial_batchnorm(conv(x))): gamma, beta (F,) -> out (N, F, OH, OW), cache."""
    a, conv_cache = conv_forward(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """dout (N, F, OH, OW) -> dx, dw, db, dgamma, dbeta."""
    conv_cache, bn_cache, relu_cache = cache
    dan, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
    dx, dw, db = conv_backward(dan, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """max_pool(relu(conv(x))) -> out (N, F, OH', OW'), cache."""
    a, conv_cache = conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """dout (N, F, OH', OW') -> dx, dw, db."""
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward(dout, pool_cache)
    return conv_backward(relu_backward(ds, relu_cache), conv_cache)
