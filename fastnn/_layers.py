"""Layer classes in the style of *Deep Learning from Scratch* (``common/layers.py``),
written once over a functional backend.

Each class calls ``self.F``, a module with the CS231n functions (``fastnn.reference.
functional`` or ``fastnn.functional``); :func:`bind` makes the concrete classes of a
backend.  A script written for the textbook's layers runs unchanged: same constructor
arguments, ``forward(x)`` (``forward(x, train_flg=True)`` where training differs),
``backward(dout)``, gradients in ``dW``/``db``/``dgamma``/``dbeta``, and parameters
that are the caller's own arrays (optimizers update them in place).

Deliberate differences from the textbook:

* ``BatchNormalization`` on 4-D input normalises per channel (statistics over N, H, W),
  not per (C, H, W) feature; its ``eps`` is a keyword argument (default 1e-6, the
  textbook's ``10e-7``).
* ``Pooling`` and ``AvgPooling`` accept ``pad > 0`` (up to half the window).
* ``Dropout`` is inverted: training scales kept units by ``1/(1 - dropout_ratio)`` and
  inference is the identity (the textbook scales at inference instead); the expected
  output is the same.  A ``seed`` keyword makes the masks reproducible.
* ``SoftmaxWithLoss`` and ``SVMWithLoss`` accept integer labels (N,) or one-hot (N, C);
  ``backward(dout)`` scales the gradient by ``dout``.
"""
import numpy as np

LAYER_NAMES = ("Affine", "Relu", "Sigmoid", "Tanh", "Convolution", "Pooling", "AvgPooling",
               "BatchNormalization", "Dropout", "SoftmaxWithLoss", "SVMWithLoss", "MSEWithLoss")


class Layer:
    """Base of every layer: ``F`` is the functional backend, set by :func:`bind`."""

    F = None

    def _require_forward(self):
        if getattr(self, "cache", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")


class Affine(Layer):
    """out = x.reshape(N, -1) @ W + b; W (D, M), b (M,); x (N, ...) -> out (N, M).

    ``backward`` returns dx in the shape of x and sets ``dW`` (D, M) and ``db`` (M,).
    """

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.original_x_shape = None
        self.cache = None
        self.dW = self.db = None

    def forward(self, x):
        out, self.cache = self.F.affine_forward(x, self.W, self.b)
        self.original_x_shape = np.shape(x)
        return out

    def backward(self, dout):
        self._require_forward()
        dx, self.dW, self.db = self.F.affine_backward(dout, self.cache)
        return dx


class _Activation(Layer):
    """An elementwise activation: x (any shape) -> out (same shape)."""

    forward_fn = backward_fn = None  # names of the backend's functions

    def __init__(self):
        self.cache = None

    def forward(self, x):
        out, self.cache = getattr(self.F, self.forward_fn)(x)
        return out

    def backward(self, dout):
        self._require_forward()
        return getattr(self.F, self.backward_fn)(dout, self.cache)


class Relu(_Activation):
    """out = max(x, 0)."""
    forward_fn, backward_fn = "relu_forward", "relu_backward"


class Sigmoid(_Activation):
    """out = 1 / (1 + exp(-x))."""
    forward_fn, backward_fn = "sigmoid_forward", "sigmoid_backward"


class Tanh(_Activation):
    """out = tanh(x)."""
    forward_fn, backward_fn = "tanh_forward", "tanh_backward"


class Convolution(Layer):
    """2-D cross-correlation: x (N, C, H, W) -> out (N, FN, OH, OW).

    W (FN, C, FH, FW), b (FN,); OH = (H + 2*pad - FH) // stride + 1 (likewise OW).
    ``backward`` returns dx (N, C, H, W) and sets ``dW`` and ``db``.
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b
        self.stride, self.pad = stride, pad
        self.cache = None
        self.dW = self.db = None

    def forward(self, x):
        out, self.cache = self.F.conv_forward(x, self.W, self.b,
                                              {"stride": self.stride, "pad": self.pad})
        return out

    def backward(self, dout):
        self._require_forward()
        dx, self.dW, self.db = self.F.conv_backward(dout, self.cache)
        return dx


class Pooling(Layer):
    """Max pooling: x (N, C, H, W) -> out (N, C, OH, OW), OH = (H + 2*pad - pool_h) // stride + 1."""

    forward_fn, backward_fn = "max_pool_forward", "max_pool_backward"

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w = pool_h, pool_w
        self.stride, self.pad = stride, pad
        self.cache = None

    def forward(self, x):
        pool_param = {"pool_height": self.pool_h, "pool_width": self.pool_w,
                      "stride": self.stride, "pad": self.pad}
        out, self.cache = getattr(self.F, self.forward_fn)(x, pool_param)
        return out

    def backward(self, dout):
        self._require_forward()
        return getattr(self.F, self.backward_fn)(dout, self.cache)


class AvgPooling(Pooling):
    """Average pooling (zero padding counts in the mean); shapes as :class:`Pooling`."""

    forward_fn, backward_fn = "avg_pool_forward", "avg_pool_backward"


class BatchNormalization(Layer):
    """Batch normalisation: x (N, D) per feature, or x (N, C, H, W) per channel.

    gamma, beta (D,) or (C,).  ``forward(x, train_flg=True)`` uses batch statistics and
    updates ``running_mean``/``running_var`` (momentum as in the textbook);
    ``train_flg=False`` uses the running statistics.  ``backward`` sets ``dgamma``, ``dbeta``.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-6):
        self.gamma, self.beta = gamma, beta
        self.momentum, self.eps = momentum, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.input_shape = None
        self.cache = None
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        if x.ndim not in (2, 4):
            raise ValueError("BatchNormalization.forward: x must be 2-D (N, D) or "
                             f"4-D (N, C, H, W), got shape {x.shape}")
        bn_param = {"mode": "train" if train_flg else "test", "eps": self.eps,
                    "momentum": self.momentum, "running_mean": self.running_mean,
                    "running_var": self.running_var}
        forward = self.F.batchnorm_forward if x.ndim == 2 else self.F.spatial_batchnorm_forward
        out, self.cache = forward(x, self.gamma, self.beta, bn_param)
        # Created on the first call when None; updated in place after that.
        self.running_mean, self.running_var = bn_param["running_mean"], bn_param["running_var"]
        self.input_shape = x.shape
        return out

    def backward(self, dout):
        self._require_forward()
        backward = (self.F.batchnorm_backward if len(self.input_shape) == 2
                    else self.F.spatial_batchnorm_backward)
        dx, self.dgamma, self.dbeta = backward(dout, self.cache)
        return dx


class Dropout(Layer):
    """Inverted dropout: each unit is dropped with probability ``dropout_ratio`` in training.

    ``forward(x, train_flg=True)``; x (any shape) -> out (same shape).  ``seed`` (int or
    ``numpy.random.Generator``) makes the sequence of masks reproducible.
    """

    def __init__(self, dropout_ratio=0.5, seed=None):
        self.dropout_ratio = dropout_ratio
        self.rng = np.random.default_rng(seed)
        self.cache = None

    def forward(self, x, train_flg=True):
        dropout_param = {"p": 1.0 - self.dropout_ratio, "mode": "train" if train_flg else "test",
                         "seed": self.rng}
        out, self.cache = self.F.dropout_forward(x, dropout_param)
        return out

    def backward(self, dout):
        self._require_forward()
        return self.F.dropout_backward(dout, self.cache)


class _LossLayer(Layer):
    """A loss layer: ``forward(x, t)`` -> loss, ``backward(dout=1)`` -> dx.

    For the classification losses x (N, C) scores and t integer labels (N,) or one-hot
    (N, C); subclasses with other targets override :meth:`targets`.
    """

    loss_fn = None  # the backend function's name

    def __init__(self):
        self.loss = self.t = self.dx = None
        self.cache = None

    def targets(self, t, x):
        """What the backend's loss function takes as its second argument."""
        return _integer_labels(self.loss_fn, t, x)

    def forward(self, x, t):
        x = np.asarray(x)
        self.t = t
        self.loss, self.dx = getattr(self.F, self.loss_fn)(x, self.targets(t, x))
        self.cache = True
        return self.loss

    def backward(self, dout=1):
        self._require_forward()
        return self.dx * self.dx.dtype.type(dout)


class SoftmaxWithLoss(_LossLayer):
    """Softmax followed by the mean cross-entropy loss.  ``y`` holds the probabilities."""

    loss_fn = "softmax_loss"

    @property
    def y(self):
        """Softmax probabilities of the last forward pass, (N, C)."""
        if self.dx is None:
            return None
        labels = _integer_labels(self.loss_fn, self.t, self.dx)
        probs = self.dx * self.dx.shape[0]
        probs[np.arange(len(labels)), labels] += 1
        return probs


class SVMWithLoss(_LossLayer):
    """Mean multiclass hinge loss (margin 1)."""

    loss_fn = "svm_loss"


class MSEWithLoss(_LossLayer):
    """Half the squared error, summed over features, averaged over the batch:
    ``forward(y, t)`` -> loss = 0.5 * sum((y - t)**2) / N; ``backward(dout=1)`` -> dy.
    y and t of the same shape (N, ...); the loss of an autoencoder, with t = its input."""

    loss_fn = "mse_loss"

    def targets(self, t, x):
        return t  # real-valued targets, checked against y's shape by mse_loss


def _integer_labels(func, t, x):
    """Integer labels (N,) from integer labels or a one-hot matrix of x's shape."""
    t = np.asarray(t)
    if t.ndim == 2 and t.shape == np.shape(x):
        is_one_hot = np.isin(t, (0, 1)).all() and (t.sum(axis=1) == 1).all()
        if not is_one_hot:
            raise ValueError(f"{func}: a 2-D t must be one-hot (exactly one 1 per row, "
                             f"zeros elsewhere), shape {np.shape(x)}")
        return t.argmax(axis=1)
    return t


def bind(functional, module_name):
    """The layer classes of ``LAYER_NAMES`` bound to a functional backend.

    Returns a dict name -> class; each class is a subclass whose ``F`` is ``functional``
    and whose ``__module__`` is ``module_name`` (so it pickles and prints as that module's).
    """
    classes = {}
    for name in LAYER_NAMES:
        base = globals()[name]
        classes[name] = type(name, (base,), {"F": functional, "__module__": module_name,
                                             "__qualname__": name, "__doc__": base.__doc__})
    return classes
