"""Textbook-style layer classes on the compiled backend.

Each class is its :mod:`fastnn.generic_layers` class (documented there, written once for
both backends) with :mod:`fastnn.functional` as its backend: swap ``from common.layers
import ...`` (or ``from fastnn.reference.layers import ...``) for ``from fastnn.layers
import ...``.
"""
from fastnn import functional
from fastnn import generic_layers as generic
from fastnn.generic_layers import LAYER_NAMES

__all__ = list(LAYER_NAMES)


class Affine(generic.Affine):
    F = functional


class Relu(generic.Relu):
    F = functional


class Sigmoid(generic.Sigmoid):
    F = functional


class Tanh(generic.Tanh):
    F = functional


class Convolution(generic.Convolution):
    F = functional


class Pooling(generic.Pooling):
    F = functional


class AvgPooling(generic.AvgPooling):
    F = functional


class BatchNormalization(generic.BatchNormalization):
    F = functional


class Dropout(generic.Dropout):
    F = functional


class SoftmaxWithLoss(generic.SoftmaxWithLoss):
    F = functional


class SVMWithLoss(generic.SVMWithLoss):
    F = functional


class MSEWithLoss(generic.MSEWithLoss):
    F = functional
