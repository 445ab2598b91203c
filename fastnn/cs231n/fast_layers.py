"""CS231n assignment 2's ``cs231n/fast_layers.py``: its names for fast convolution and
max pooling, on fastnn's kernels (no ``im2col_cython`` to build).

``conv_forward_fast`` chooses fastnn's algorithm by shape (direct convolution today);
``conv_forward_im2col`` uses im2col + one BLAS product and ``conv_forward_strides`` the
direct kernel.  Each backward takes the cache of any of them.  The ``max_pool_*_fast``,
``_reshape`` and ``_im2col`` variants are one kernel, which needs no tiling condition and
sends each gradient to the window's first maximum (the assignment's reshape variant
shares it among tied maxima).
"""
from fastnn.functional import conv_backward, conv_forward, max_pool_backward, max_pool_forward

__all__ = [
    "conv_forward_fast", "conv_backward_fast",
    "conv_forward_im2col", "conv_backward_im2col",
    "conv_forward_strides", "conv_backward_strides",
    "max_pool_forward_fast", "max_pool_backward_fast",
    "max_pool_forward_reshape", "max_pool_backward_reshape",
    "max_pool_forward_im2col", "max_pool_backward_im2col",
]


def _conv_with(algo):
    def forward(x, w, b, conv_param):
        return conv_forward(x, w, b, {**conv_param, "algo": algo})
    forward.__name__ = forward.__qualname__ = f"conv_forward_{algo}"
    forward.__doc__ = (f"x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {{'stride', "
                       f"'pad'}} -> out (N, F, OH, OW), cache; fastnn's {algo!r} algorithm.")
    return forward


conv_forward_fast = conv_forward
conv_forward_im2col = _conv_with("im2col")
conv_forward_strides = _conv_with("direct")
conv_backward_fast = conv_backward_im2col = conv_backward_strides = conv_backward

max_pool_forward_fast = max_pool_forward_reshape = max_pool_forward_im2col = max_pool_forward
max_pool_backward_fast = max_pool_backward_reshape = max_pool_backward_im2col = max_pool_backward
