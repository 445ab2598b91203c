"""The textbook's ``common/multi_layer_net_extend.py``: a fully connected network with
weight decay, dropout and batch normalisation, on fastnn's layers.

Same constructor, attributes (``params``, ``layers`` named 'Affine1', 'BatchNorm1',
'Activation_function1', 'Dropout1', ..., ``last_layer``), methods and numbers as the
textbook's: weights drawn from NumPy's global generator (``np.random.randn``) in the
same order, float64.
"""
import os  # noqa: F401  (os, sys, OrderedDict and the layers: the textbook's star import)
import sys  # noqa: F401
from collections import OrderedDict  # noqa: F401

import numpy as np

from fastnn.nets import Network, init_std
from fastnn.textbook import layers as L
from fastnn.textbook.gradient import numerical_gradient
from fastnn.textbook.layers import *  # noqa: F401,F403
from fastnn.textbook.layers import __all__ as _layer_names

__all__ = ["MultiLayerNetExtend", "numerical_gradient", "os", "sys", "OrderedDict"] + list(_layer_names)


class MultiLayerNetExtend(Network):
    """[Affine - (BatchNorm) - activation - (Dropout)] x len(hidden_size_list), Affine,
    SoftmaxWithLoss.

    input_size (784 for MNIST), hidden_size_list (e.g. [100, 100, 100]), output_size;
    activation 'relu' or 'sigmoid'; weight_init_std a number, 'relu'/'he' (sqrt(2/fan_in))
    or 'sigmoid'/'xavier' (sqrt(1/fan_in)); weight_decay_lambda (L2); use_dropout with
    dropout_ration; use_batchnorm.  x (N, input_size) -> scores (N, output_size).
    """

    def __init__(self, input_size, hidden_size_list, output_size,
                 activation='relu', weight_init_std='relu', weight_decay_lambda=0,
                 use_dropout=False, dropout_ration=0.5, use_batchnorm=False):
        # NumPy's global generator draws the weights, as np.random.randn in the textbook.
        super().__init__("fast", np.float64, np.random, weight_decay_lambda)
        if activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be 'relu' or 'sigmoid', got {activation!r}")
        self.input_size, self.output_size = input_size, output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        sizes = [input_size, *hidden_size_list, output_size]
        for i in range(1, len(sizes)):  # every weight first, in order, as the textbook
            self._weights(f"W{i}", (sizes[i - 1], sizes[i]), init_std(weight_init_std, sizes[i - 1]))
            self._zeros(f"b{i}", sizes[i])
        activation_layer = L.Relu if activation == "relu" else L.Sigmoid
        for i in range(1, len(sizes)):
            self._add(f"Affine{i}", L.Affine(self.params[f"W{i}"], self.params[f"b{i}"]),
                      **{f"W{i}": "dW", f"b{i}": "db"})
            if i == len(sizes) - 1:
                break
            if use_batchnorm:
                gamma = self.params[f"gamma{i}"] = np.ones(sizes[i])
                beta = self._zeros(f"beta{i}", sizes[i])
                self._add(f"BatchNorm{i}", L.BatchNormalization(gamma, beta),
                          **{f"gamma{i}": "dgamma", f"beta{i}": "dbeta"})
            self._add(f"Activation_function{i}", activation_layer())
            if use_dropout:
                self._add(f"Dropout{i}", L.Dropout(dropout_ration))
        self.last_layer = L.SoftmaxWithLoss()

    def loss(self, x, t, train_flg=False):
        """Mean cross-entropy plus weight decay; inference mode unless ``train_flg``."""
        return super().loss(x, t, train_flg)

    def numerical_gradient(self, x, t):
        """The gradient of ``loss(x, t, train_flg=True)`` by central differences (h = 1e-4)
        for every parameter, as the textbook: a dict like ``gradient``'s."""
        def loss(_):
            return self.loss(x, t, train_flg=True)
        return {key: numerical_gradient(loss, self.params[key]) for key in self.grad_sources}
