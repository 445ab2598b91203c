"""The textbook's ``common/layers.py`` on fastnn's compiled kernels.

``from fastnn.textbook.layers import *`` brings what ``from common.layers import *``
brings: the layer classes, the functions of ``common.functions``, ``im2col``/``col2im``
(and ``np``).  The classes are fastnn's layers (:mod:`fastnn.generic_layers`, bound to
:mod:`fastnn.functional`) with the textbook's semantics where fastnn's own differ:

* ``Pooling(pool_h, pool_w, stride=2, pad=0)``: the textbook repository's default stride.
* ``Dropout(dropout_ratio=0.5)``: the textbook's, not inverted (training multiplies by
  the mask ``np.random.rand(*x.shape) > dropout_ratio``, inference by
  ``1 - dropout_ratio``), with masks from NumPy's global generator, so ``np.random.seed``
  reproduces a run.  ``seed=`` and ``inverted=True`` give fastnn's own.
* ``BatchNormalization`` on 4-D input: per feature when gamma has C*H*W entries (the
  textbook's way), per channel when it has C.  eps = 10e-7 as the textbook.

Also taken, beyond the textbook: integer labels as a column (N, 1) (the textbook's
fancy indexing gives an (N, N) mix for N > 1), soft targets (the textbook's loss uses
their argmax while its gradient uses them; here both use them), one sample as a 1-D
array, a scalar convolution bias, integral float strides and pads.

Deliberate differences (the exact cross-entropy in ``SoftmaxWithLoss``, inputs never
modified) and the details above: ``docs/compat.md``.
"""
import numpy as np

from fastnn import functional
from fastnn import generic_layers as generic
from fastnn.generic_layers import LAYER_NAMES
from fastnn.textbook.functions import *  # noqa: F401,F403  (the textbook's star import)
from fastnn.textbook.functions import __all__ as _function_names
from fastnn.textbook.util import col2im, im2col  # noqa: F401

__all__ = list(LAYER_NAMES) + list(_function_names) + ["im2col", "col2im", "np"]


class Affine(generic.Affine):
    F = functional


class Relu(generic.Relu):
    F = functional
    __doc__ = generic.Relu.__doc__ + """
    As the textbook's, the layer keeps its mask apart from the array it returns: a caller
    that edits the output in place changes neither ``mask`` nor ``backward``.
    """

    def forward(self, x, overwrite_x=False):
        out = super().forward(x, overwrite_x)
        self.cache = np.array(self.cache, copy=True)  # the backend's cache is the output
        return out


class Sigmoid(generic.Sigmoid):
    F = functional


class Tanh(generic.Tanh):
    F = functional


class Convolution(generic.Convolution):
    F = functional


class Pooling(generic.Pooling):
    F = functional
    __doc__ = generic.Pooling.__doc__ + "\n    The textbook's default stride: 2.\n"

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        super().__init__(pool_h, pool_w, stride, pad)


class AvgPooling(generic.AvgPooling):
    F = functional


class BatchNormalization(generic.BatchNormalization):
    F = functional

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None,
                 eps=10e-7):
        super().__init__(gamma, beta, momentum, running_mean, running_var, eps)


class Dropout(generic.Dropout):
    F = functional
    INVERTED = False
    GLOBAL_RNG = True


class SoftmaxWithLoss(generic.SoftmaxWithLoss):
    F = functional


class SVMWithLoss(generic.SVMWithLoss):
    F = functional


class MSEWithLoss(generic.MSEWithLoss):
    F = functional
