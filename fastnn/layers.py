"""Textbook-style layer classes on the compiled backend.

The classes are those of :mod:`fastnn._layers` (documented there), bound to
:mod:`fastnn.functional`: swap ``from common.layers import ...`` (or
``from fastnn.reference.layers import ...``) for ``from fastnn.layers import ...``.
"""
from fastnn import functional
from fastnn._layers import LAYER_NAMES, bind

globals().update(bind(functional, __name__))
__all__ = list(LAYER_NAMES)
