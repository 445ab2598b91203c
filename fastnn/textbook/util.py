"""The textbook's ``common/util.py``: im2col/col2im (compiled), loss-curve smoothing,
shuffling, and the convolution output size.

``im2col``/``col2im`` keep the input's dtype (float32 stays float32; the textbook's
always return float64, with the same values).
"""
import numpy as np

from fastnn.functional import col2im, im2col

__all__ = ["smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im",
           "np"]  # as the textbook's star import


def smooth_curve(x):
    """A loss curve smoothed by an 11-point Kaiser window (beta 2), its ends mirrored:
    x (L,) -> (L,) for L >= 11."""
    x = np.asarray(x)
    window = np.kaiser(11, 2)
    mirrored = np.concatenate([x[10:0:-1], x, x[-1:-11:-1]])
    smoothed = np.convolve(window / window.sum(), mirrored, mode="valid")
    return smoothed[5:len(smoothed) - 5]


def shuffle_dataset(x, t):
    """x and t (first axes of the same length) in one random order, drawn from NumPy's
    global generator (``np.random.permutation``)."""
    permutation = np.random.permutation(x.shape[0])
    return x[permutation], t[permutation]


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """(input_size + 2*pad - filter_size) / stride + 1, by true division as the textbook
    (a float; not an integer when the windows do not tile the input)."""
    return (input_size + 2 * pad - filter_size) / stride + 1
