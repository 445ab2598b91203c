"""The textbook's ``common/optimizer.py``: SGD, Momentum, Nesterov, AdaGrad, RMSprop and
Adam with the textbook's arguments, defaults and update rules (they are
:mod:`fastnn.optim`'s classes: the same formulas, updating the parameters in place)."""
import numpy as np  # noqa: F401  (bound by the textbook's star import)

from fastnn.optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"]
