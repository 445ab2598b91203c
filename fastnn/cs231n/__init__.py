"""CS231n assignment 2's ``cs231n`` layer modules, on fastnn's kernels.

Replace the package prefix and a completed assignment (its classifiers, ``Solver``,
gradient checks) runs on compiled kernels with the same numbers::

    from cs231n.layers import *          ->  from fastnn.cs231n.layers import *
    from cs231n.fast_layers import *     ->  from fastnn.cs231n.fast_layers import *
    from cs231n.layer_utils import *     ->  from fastnn.cs231n.layer_utils import *

:mod:`~fastnn.cs231n.layers` (the assignment's functions, naive names included),
:mod:`~fastnn.cs231n.fast_layers` (``conv_forward_fast``, ``max_pool_forward_fast``
and the ``_im2col``/``_strides``/``_reshape`` variants) and
:mod:`~fastnn.cs231n.layer_utils` (the sandwich layers).  Every function is fastnn's
(:mod:`fastnn.functional`) except dropout, which draws the assignment's masks.
"""
