"""Layer classes in the style of *Deep Learning from Scratch* (``common/layers.py``),
written once over a functional backend.

Each class calls ``self.F``, a module with the CS231n functions (``fastnn.reference.
functional`` or ``fastnn.functional``); the backends' modules (``fastnn.layers``,
``fastnn.reference.layers``, ``fastnn.textbook.layers``) write out one subclass per
class that sets it.  A script written for the textbook's layers runs unchanged: same constructor
arguments, ``forward(x)`` (``forward(x, train_flg=True)`` where training differs),
``backward(dout)``, gradients in ``dW``/``db``/``dgamma``/``dbeta``, parameters that are
the caller's own arrays (optimizers update them in place), and the attributes scripts
inspect (``Relu.mask``, ``Sigmoid.out``, ``Affine.x``, ``Convolution.x``,
``Pooling.arg_max``, ``BatchNormalization.xn``/``xc``/``std``, ``Dropout.mask``,
``SoftmaxWithLoss.y``/``t``/``loss``).

fastnn's own choices, where it departs from the textbook (``Pooling``'s stride 1 and
padding, inverted ``Dropout``, ``BatchNormalization``'s ``eps`` and per-channel 4-D
input, the exact cross-entropy of ``SoftmaxWithLoss``), are written once in
``docs/compat.md``; :mod:`fastnn.textbook.layers` keeps the textbook's instead.
"""
import numpy as np

from fastnn import checks

LAYER_NAMES = ("Affine", "Relu", "Sigmoid", "Tanh", "Convolution", "Pooling", "AvgPooling",
               "BatchNormalization", "Dropout", "SoftmaxWithLoss", "SVMWithLoss", "MSEWithLoss")


def layers_of_kind(model, kind):
    """{name: layer} of ``model``'s layers (its ``layers`` mapping, in order; none when
    it has none) that are instances of ``kind``, a class of this module (either
    backend's layers are instances of it)."""
    return {name: layer for name, layer in getattr(model, "layers", {}).items()
            if isinstance(layer, kind)}


class Layer:
    """Base of every layer: ``F`` is the functional backend, set by each backend's
    subclass (which takes its class's docstring when it has none of its own)."""

    F = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__doc__ is None:
            cls.__doc__ = next(base.__doc__ for base in cls.__mro__[1:] if base.__doc__)

    def _require_forward(self):
        if getattr(self, "cache", None) is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")


class Affine(Layer):
    """out = x.reshape(N, -1) @ W + b; W (D, M), b (M,); x (N, ...) -> out (N, M).

    ``backward`` returns dx in the shape of x and sets ``dW`` (D, M) and ``db`` (M,).
    ``x`` is the last input as rows (N, D).
    """

    def __init__(self, W, b):
        self.W, self.b = W, b
        self.original_x_shape = None
        self.cache = None
        self.dW = self.db = None

    @property
    def x(self):
        """The last forward's input, (N, D)."""
        if self.cache is None:
            return None
        x = self.cache[0]
        return x.reshape(x.shape[0], -1)

    def forward(self, x):
        out, self.cache = self.F.affine_forward(x, self.W, self.b)
        self.original_x_shape = self.cache[0].shape
        return out

    def backward(self, dout, need_dx=True):
        """dx (None with ``need_dx=False``: a network's first layer); sets dW, db."""
        self._require_forward()
        dx, self.dW, self.db = self.F.affine_backward(dout, self.cache, need_dx)
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
    """out = max(x, 0).  ``mask`` is True where the last input was <= 0."""
    forward_fn, backward_fn = "relu_forward", "relu_backward"

    def forward(self, x, overwrite_x=False):
        """``overwrite_x``: write the output into x (a network's own intermediate array,
        that no other layer keeps), which saves a fresh array's page faults."""
        out, self.cache = self.F.relu_forward(x, out=x if overwrite_x else None)
        return out

    def backward(self, dout, overwrite_dout=False):
        """``overwrite_dout``: write dx into dout, as ``overwrite_x`` does."""
        self._require_forward()
        return self.F.relu_backward(dout, self.cache, out=dout if overwrite_dout else None)

    @property
    def mask(self):
        # The cache is the output (or, from a CS231n-style cache, the input): <= 0 at
        # the same elements either way.
        return None if self.cache is None else np.asarray(self.cache) <= 0


class Sigmoid(_Activation):
    """out = 1 / (1 + exp(-x)).  ``out`` is the last output."""
    forward_fn, backward_fn = "sigmoid_forward", "sigmoid_backward"

    @property
    def out(self):
        return self.cache


class Tanh(_Activation):
    """out = tanh(x).  ``out`` is the last output."""
    forward_fn, backward_fn = "tanh_forward", "tanh_backward"

    @property
    def out(self):
        return self.cache


class Convolution(Layer):
    """2-D cross-correlation: x (N, C, H, W) -> out (N, FN, OH, OW).

    W (FN, C, FH, FW), b (FN,) or a scalar (the same bias for every filter);
    OH = (H + 2*pad - FH) // stride + 1 (likewise OW).  ``backward`` returns dx
    (N, C, H, W) and sets ``dW`` and ``db`` (FN,).  ``x`` is the last input.
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W, self.b = W, b
        self.stride, self.pad = stride, pad
        self.cache = None
        self.dW = self.db = None

    @property
    def x(self):
        return None if self.cache is None else self.cache[0]

    def forward(self, x):
        b = self.b
        if np.ndim(b) == 0:  # a scalar bias, as the textbook's broadcasting allows: its dtype
            # is what `col @ W + b` gives (a Python float takes W's precision)
            b = np.full(np.shape(self.W)[:1], b, dtype=np.result_type(b, self.W, np.float32))
        out, self.cache = self.F.conv_forward(x, self.W, b,
                                              {"stride": self.stride, "pad": self.pad})
        return out

    def backward(self, dout, need_dx=True):
        """dx (None with ``need_dx=False``: a network's first layer); sets dW, db."""
        self._require_forward()
        dx, self.dW, self.db = self.F.conv_backward(dout, self.cache, need_dx)
        return dx


class Pooling(Layer):
    """Max pooling: x (N, C, H, W) -> out (N, C, OH, OW), OH = (H + 2*pad - pool_h) // stride + 1.

    ``arg_max`` is the textbook's record of the last forward: for each output, in the order
    (n, oh, ow, c), the index (row * pool_w + column) of its window's first maximum.
    """

    forward_fn, backward_fn = "max_pool_forward", "max_pool_backward"

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.pool_h, self.pool_w = pool_h, pool_w
        self.stride, self.pad = stride, pad
        self.cache = None

    @property
    def arg_max(self):
        if self.cache is None or self.forward_fn != "max_pool_forward":
            return None
        N, C, H, W = self.cache[0]
        func = f"{type(self).__name__}.arg_max"  # (integral floats such as 2.0 are taken)
        out_h, out_w = checks.output_hw(
            self.cache[0], checks.integer_param(func, "pool_h", self.pool_h, 1),
            checks.integer_param(func, "pool_w", self.pool_w, 1),
            checks.integer_param(func, "stride", self.stride, 1),
            checks.integer_param(func, "pad", self.pad, 0))
        argmax = np.asarray(self.cache[3]).reshape(N, C, out_h, out_w)
        return argmax.transpose(0, 2, 3, 1).ravel().astype(np.intp)

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
    """Batch normalisation: x (N, D) per feature, or x (N, C, H, W) per channel (gamma
    of C entries) or per feature (gamma of C*H*W entries, the textbook's way).

    gamma, beta (D,), (C,) or (C*H*W,).  ``forward(x, train_flg=True)`` uses batch
    statistics and updates ``running_mean``/``running_var`` (momentum as in the
    textbook); ``train_flg=False`` uses the running statistics.  ``backward`` sets
    ``dgamma``, ``dbeta``.  After a forward pass: ``xn`` (x normalised: (N, D), or
    (N, C, H, W) per channel), ``std`` (per feature or channel), ``xc = xn * std``,
    ``batch_size``.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-6):
        self.gamma, self.beta = gamma, beta
        self.momentum, self.eps = momentum, eps
        self.running_mean, self.running_var = running_mean, running_var
        self.input_shape = None
        self.per_channel = False
        self.cache = None
        self.dgamma = self.dbeta = None

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        if x.ndim not in (2, 4):
            raise ValueError("BatchNormalization.forward: x must be 2-D (N, D) or "
                             f"4-D (N, C, H, W), got shape {x.shape}")
        self.per_channel = x.ndim == 4 and np.size(self.gamma) == x.shape[1]
        if x.ndim == 4 and not self.per_channel and np.size(self.gamma) != x[0].size:
            raise ValueError(
                f"BatchNormalization.forward: for x of shape {x.shape}, gamma must have "
                f"C = {x.shape[1]} entries (per channel) or C*H*W = {x[0].size} (per "
                f"feature), got {np.size(self.gamma)}")
        bn_param = {"mode": "train" if train_flg else "test", "eps": self.eps,
                    "momentum": self.momentum, "running_mean": self.running_mean,
                    "running_var": self.running_var}
        if self.per_channel:
            out, self.cache = self.F.spatial_batchnorm_forward(x, self.gamma, self.beta, bn_param)
        else:
            out, self.cache = self.F.batchnorm_forward(x.reshape(len(x), -1), self.gamma,
                                                       self.beta, bn_param)
            out = out.reshape(x.shape)
        # Created on the first call when None; updated in place after that.
        self.running_mean, self.running_var = bn_param["running_mean"], bn_param["running_var"]
        self.input_shape = x.shape
        return out

    def backward(self, dout):
        self._require_forward()
        if self.per_channel:
            dx, self.dgamma, self.dbeta = self.F.spatial_batchnorm_backward(dout, self.cache)
            return dx
        dout = np.asarray(dout)
        dx, self.dgamma, self.dbeta = self.F.batchnorm_backward(
            dout.reshape(self.input_shape[0], -1), self.cache)
        return dx.reshape(self.input_shape)

    @property
    def batch_size(self):
        return None if self.input_shape is None else self.input_shape[0]

    @property
    def std(self):
        if self.cache is None:
            return None
        return (self.cache[1] if self.per_channel else self.cache)[3]

    @property
    def xn(self):
        """The normalised input of the last forward pass, from either backend's cache."""
        if self.cache is None:
            return None
        if not self.per_channel:
            x_hat = self.cache[1]  # rows (N, D), or the compiled layout (1, D, N)
            return x_hat[0].T if x_hat.ndim == 3 else x_hat
        N, C, H, W = self.input_shape
        x_hat = self.cache[1][1]  # (N, C, H*W) compiled, rows (N*H*W, C) reference
        if x_hat.ndim == 3:
            return x_hat.reshape(N, C, H, W)
        return x_hat.reshape(N, H, W, C).transpose(0, 3, 1, 2)

    @property
    def xc(self):
        """x minus its mean, (the layout of ``xn``)."""
        if self.cache is None:
            return None
        std = self.std
        return self.xn * (std.reshape(-1, 1, 1) if self.per_channel else std)


class Dropout(Layer):
    """Dropout: each unit is dropped with probability ``dropout_ratio`` in training.

    ``forward(x, train_flg=True)``; x (any shape) -> out (same shape).

    * ``inverted=True`` (fastnn's default): kept units are scaled by
      ``1/(1 - dropout_ratio)`` in training and inference is the identity.
    * ``inverted=False`` (the textbook's): training multiplies by the 0/1 mask,
      inference by ``1 - dropout_ratio``.

    ``seed`` (an int or a ``numpy.random.Generator``) draws the masks from a generator of
    the layer's own; ``seed=None`` draws them from fresh entropy, or, when ``GLOBAL_RNG``
    is set (the textbook's layers), from NumPy's global generator as
    ``np.random.rand(*x.shape) > dropout_ratio``, so ``np.random.seed`` reproduces a run
    (``seed=np.random`` asks for the global generator explicitly).
    ``mask`` is the last training mask (boolean, or the scaled float mask when inverted).
    """

    INVERTED = True
    GLOBAL_RNG = False

    def __init__(self, dropout_ratio=0.5, seed=None, inverted=None):
        self.dropout_ratio = dropout_ratio
        self.inverted = self.INVERTED if inverted is None else bool(inverted)
        use_global = seed is np.random or (seed is None and self.GLOBAL_RNG)
        self.rng = None if use_global else np.random.default_rng(seed)
        self.cache = None
        self.mask = None

    def _uniform(self, shape):
        return np.random.random_sample(shape) if self.rng is None else self.rng.random(shape)

    def forward(self, x, train_flg=True):
        if self.inverted:
            # With NumPy's global generator, a generator seeded from it: np.random.seed
            # still reproduces the masks.
            rng = self.rng if self.rng is not None else np.random.default_rng(np.random.randint(2**31))
            dropout_param = {"p": 1.0 - self.dropout_ratio,
                             "mode": "train" if train_flg else "test", "seed": rng}
            out, self.cache = self.F.dropout_forward(x, dropout_param)
            self.mask = self.cache[1] if train_flg else self.mask
            return out
        (x,) = checks.as_float_arrays("Dropout.forward", x=x)
        ratio = checks.float_param("Dropout.forward", "dropout_ratio", self.dropout_ratio, 0, 1)
        if not train_flg:
            self.cache = ("test", None)
            return x * x.dtype.type(1.0 - ratio)
        self.mask = self._uniform(x.shape) > ratio
        self.cache = ("train", self.mask)
        return x * self.mask

    def backward(self, dout):
        self._require_forward()
        if self.inverted:
            return self.F.dropout_backward(dout, self.cache)
        mode, mask = self.cache
        if mode == "test":
            raise RuntimeError("Dropout.backward: the last forward pass was in inference "
                               "mode (train_flg=False), which keeps no mask")
        dout = checks.dout_array("Dropout.backward", dout, mask.shape,
                                  np.result_type(dout, np.float32))
        return dout * mask


class _LossLayer(Layer):
    """A loss layer: ``forward(x, t)`` -> loss, ``backward(dout=1)`` -> dx.

    For the classification losses x (N, C) scores and t integer labels (N,) or (N, 1),
    or one-hot (N, C); subclasses with other targets override :meth:`targets`.
    """

    loss_fn = None  # the backend function's name

    def __init__(self):
        self.loss = self.t = self.dx = None
        self.cache = None

    def targets(self, t, x):
        """What the backend's loss function takes as its second argument."""
        return _integer_labels(self.loss_fn, t, x)

    def forward(self, x, t, **options):
        x = np.asarray(x)
        self.t = t
        self.loss, self.dx = getattr(self.F, self.loss_fn)(x, self.targets(t, x), **options)
        self.cache = True
        return self.loss

    def backward(self, dout=1):
        self._require_forward()
        return self.dx * self.dx.dtype.type(dout)


class SoftmaxWithLoss(_LossLayer):
    """Softmax followed by the mean cross-entropy loss.

    x (N, C) scores, or one sample (C,); t integer labels (N,) or (N, 1) (or one integer
    for one sample), one-hot rows (N, C), or soft targets: rows of probabilities (N, C),
    for which loss = -sum(t * log softmax(x)) / N and dx = (softmax(x) * sum(t, row) - t) / N
    (= (y - t) / N, the textbook's gradient, when rows sum to 1).  ``y`` holds the
    probabilities of the last forward pass.
    """

    loss_fn = "softmax_loss"

    def __init__(self):
        super().__init__()
        self._labels = self._soft_probs = None

    def forward(self, x, t):
        x = np.asarray(x)
        self.t = t
        single = x.ndim == 1  # one sample: a batch of one, dx of x's shape
        if single:
            x = x[None]
            t = np.reshape(t, (1, -1) if np.ndim(t) else (1,))
        if getattr(t, "shape", None) == x.shape and x.ndim == 2:
            # One-hot rows are soft targets too: one path, no one-hot check per call.
            x, t = checks.soft_targets("SoftmaxWithLoss.forward", x, t)
            self.loss, self.dx, self._soft_probs = self.F.softmax_cross_entropy(x, t)
        else:
            self._labels = _integer_labels(self.loss_fn, t, x)
            self.loss, self.dx = self.F.softmax_loss(x, self._labels)
            self._soft_probs = None
        self.cache = True
        if single:
            self.dx = self.dx[0]
        return self.loss

    @property
    def y(self):
        """Softmax probabilities of the last forward pass, (N, C) (or (C,))."""
        if self.dx is None:
            return None
        probs = self._soft_probs
        if probs is None:  # dx = (probs - one_hot) / N
            dx = np.atleast_2d(self.dx)
            probs = dx * dx.shape[0]
            probs[np.arange(len(self._labels)), self._labels] += 1
        return probs[0] if np.ndim(self.dx) == 1 else probs


class SVMWithLoss(_LossLayer):
    """Mean multiclass hinge loss (margin 1)."""

    loss_fn = "svm_loss"


class MSEWithLoss(_LossLayer):
    """Half the squared error, summed over features, averaged over the batch:
    ``forward(y, t)`` -> loss = 0.5 * sum((y - t)**2) / N; ``backward(dout=1)`` -> dy.
    y and t of the same shape (N, ...); the loss of an autoencoder, with t = its input.
    ``forward(y, t, mask)``: only the entries mask (y's shape, 0/1) marks count, loss =
    0.5 * sum(mask * (y - t)**2) / N (a recommender's rated movies)."""

    loss_fn = "mse_loss"

    def forward(self, x, t, mask=None):
        return super().forward(x, t, mask=mask)

    def targets(self, t, x):
        return t  # real-valued targets, checked against y's shape by mse_loss


def _integer_labels(func, t, x):
    """Integer labels (N,) from integer labels (N,) or (N, 1), or one-hot rows of x's shape."""
    t = np.asarray(t)
    if t.ndim == 2 and t.shape == np.shape(x):
        if not (((t == 0) | (t == 1)).all() and (t.sum(axis=1) == 1).all()):
            raise ValueError(f"{func}: a 2-D t must be one-hot (exactly one 1 per row, "
                             f"zeros elsewhere), shape {np.shape(x)}")
        return t.argmax(axis=1)
    if t.ndim == 2 and t.shape[1] == 1 and t.dtype.kind in "iu":
        return t[:, 0]  # labels as a column, as the textbook's scripts build them
    return t

