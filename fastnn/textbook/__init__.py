"""The textbook's ``common/`` package (*Deep Learning from Scratch*), on fastnn's kernels.

Replace the prefix ``common.`` by ``fastnn.textbook.`` in a script's imports and it runs
unchanged, with the same numbers (float64 to ~1e-12) and ``np.random.seed`` reproducing
a run::

    from common.layers import *                       ->  from fastnn.textbook.layers import *
    from common.multi_layer_net_extend import ...     ->  from fastnn.textbook.multi_layer_net_extend import ...

Modules: :mod:`~fastnn.textbook.layers`, :mod:`~fastnn.textbook.functions`,
:mod:`~fastnn.textbook.util`, :mod:`~fastnn.textbook.optimizer`,
:mod:`~fastnn.textbook.gradient`, :mod:`~fastnn.textbook.multi_layer_net`,
:mod:`~fastnn.textbook.multi_layer_net_extend`, :mod:`~fastnn.textbook.trainer`.
Where the mirror departs from the textbook on purpose, the module says so (and the
README lists it).
"""
