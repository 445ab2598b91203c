"""CS231n assignment 2's ``cs231n`` layer modules, on fastnn's kernels.

Replace the package prefix and a completed assignment (its classifiers, ``Solver``,
gradient checks) runs on compiled kernels with the same numbers::

    from cs231n.layers import *          ->  from fastnn.cs231n.layers import *
    from cs231n.fast_layers import *     ->  from fastnn.cs231n.fast_layers import *
    from cs231n.layer_utils import *     ->  from fastnn.cs231n.layer_utils import *
    from cs231n import optim             ->  from fastnn.cs231n import optim   (solver.py)

:mod:`~fastnn.cs231n.layers` (the assignment's functions, naive names included),
:mod:`~fastnn.cs231n.fast_layers` (``conv_forward_fast``, ``max_pool_forward_fast``
and the ``_im2col``/``_strides``/``_reshape`` variants),
:mod:`~fastnn.cs231n.layer_utils` (the sandwich layers) and :mod:`~fastnn.cs231n.optim`
(the update rules ``sgd``, ``sgd_momentum``, ``rmsprop``, ``adam``, in place).  Every function is fastnn's
(:mod:`fastnn.functional`) except dropout, which draws the assignment's masks.

``dropout_param['p']`` is the probability of *keeping* a unit, as in the assignments from
2018 on.  The 2017 assignment's ``p`` drops a unit; a 2017 notebook runs with its own
meaning after one line::

    import fastnn.cs231n; fastnn.cs231n.set_dropout_convention(2017)
"""
from fastnn.cs231n.layers import set_dropout_convention

__all__ = ["set_dropout_convention"]
