"""Textbook-style layer classes on the NumPy reference backend.

The classes are those of :mod:`fastnn._layers` (documented there), bound to
:mod:`fastnn.reference.functional`.
"""
from fastnn._layers import LAYER_NAMES, bind
from fastnn.reference import functional

globals().update(bind(functional, __name__))
__all__ = list(LAYER_NAMES)
