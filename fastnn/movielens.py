"""The old name of :mod:`fastnn.datasets.movielens`: the same module object, so that imports
and attributes set on it (tests' monkeypatching included) work as before."""
import sys

from fastnn.datasets import movielens

sys.modules[__name__] = movielens
