"""The pure-NumPy reference backend: the specification of every fastnn kernel.

``fastnn.reference.functional`` (CS231n-style functions) and
``fastnn.reference.layers`` (textbook-style layer classes bound to them).
"""
from fastnn.reference import functional, layers

__all__ = ["functional", "layers"]
