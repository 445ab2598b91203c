"""The textbook's ``common/multi_layer_net.py``: a fully connected network (no dropout,
no batch normalisation) on fastnn's layers; see :mod:`fastnn.textbook.multi_layer_net_extend`."""
from fastnn.textbook.multi_layer_net_extend import *  # noqa: F401,F403  (as the textbook's)
from fastnn.textbook.multi_layer_net_extend import MultiLayerNetExtend
from fastnn.textbook.multi_layer_net_extend import __all__ as _extend_names

__all__ = ["MultiLayerNet"] + [name for name in _extend_names if name != "MultiLayerNetExtend"]


class MultiLayerNet(MultiLayerNetExtend):
    """[Affine - activation] x len(hidden_size_list), Affine, SoftmaxWithLoss.

    input_size, hidden_size_list, output_size, activation 'relu' or 'sigmoid',
    weight_init_std, weight_decay_lambda: as :class:`MultiLayerNetExtend`.
    """

    def __init__(self, input_size, hidden_size_list, output_size,
                 activation='relu', weight_init_std='relu', weight_decay_lambda=0):
        super().__init__(input_size, hidden_size_list, output_size, activation,
                         weight_init_std, weight_decay_lambda)

