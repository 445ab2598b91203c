"""The old name of :mod:`fastnn.datasets.mnist`: the same module object, so that imports
and attributes set on it (tests' monkeypatching included) work as before."""
import sys

from fastnn.datasets import mnist

sys.modules[__name__] = mnist
