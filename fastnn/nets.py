"""The networks of the from-scratch curriculum, on either backend.

Every network takes ``backend="fast"`` (compiled layers, :mod:`fastnn.layers`) or
``"reference"`` (:mod:`fastnn.reference.layers`), a ``dtype`` (float32 or float64) and a
``seed``, and has the textbook's interface: ``params`` (name -> array, updated in place by
the optimizers), ``predict(x)``, ``loss(x, t)``, ``accuracy(x, t)``, ``gradient(x, t)``
(backpropagation, name -> array), ``save_params(path)``/``load_params(path)`` (.npz).

* :class:`MultiLayerNet` (alias ``MultiLayerNetExtend``): fully connected, with activation,
  weight initialisation, weight decay, dropout and batch normalisation options.
* :class:`SimpleConvNet`: conv - relu - pool - affine - relu - affine.
* :class:`DeepConvNet`: six 3x3 convolutions (16, 16, 32, 32, 64, 64), pooling after every
  two, affine - relu - dropout - affine - dropout, He initialisation.
* :class:`AutoEncoder`: a fully connected encoder-decoder trained on reconstruction (MSE).
* :class:`RBM`: a restricted Boltzmann machine with binary units, trained by CD-k.
"""
from collections import OrderedDict

import numpy as np

from fastnn import checks
from fastnn import generic_layers as generic
from fastnn import params_file

__all__ = ["MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet",
           "AutoEncoder", "RBM", "layers_for"]


# Layers whose result (output forward, input gradient backward) is a fresh array that the
# layer itself does not keep (their caches hold inputs or derived data): a ReLU after one
# may overwrite that array in place instead of allocating its own, whose first touch costs
# page faults (benchmarks/NOTES.md, "Small calls").  Not Dropout, whose inference output
# is its input, nor Sigmoid/Tanh/Relu, whose caches are their outputs.
_FRESH_RESULTS = (generic.Affine, generic.Convolution, generic.Pooling,
                  generic.BatchNormalization)


def _overwritable(a):
    return isinstance(a, np.ndarray) and a.flags.c_contiguous and a.flags.writeable


def layers_for(backend):
    """The layer module of a backend: 'fast' or 'reference'."""
    if backend == "fast":
        from fastnn import layers
    elif backend == "reference":
        from fastnn.reference import layers
    else:
        raise ValueError(f"backend must be 'fast' or 'reference', got {backend!r}")
    return layers


def init_std(scheme, fan_in):
    """Standard deviation of initial weights: 'he'/'relu' sqrt(2/fan_in), 'xavier'/'sigmoid'
    sqrt(1/fan_in), or a number used as it is."""
    if isinstance(scheme, str):
        key = scheme.lower()
        if key in ("he", "relu"):
            return np.sqrt(2.0 / fan_in)
        if key in ("xavier", "sigmoid", "tanh"):
            return np.sqrt(1.0 / fan_in)
        raise ValueError(f"weight_init_std must be 'he', 'relu', 'xavier', 'sigmoid' or a "
                         f"number, got {scheme!r}")
    return float(scheme)


_GLOBAL_GENERATOR = "numpy.random"  # how a pickled network names NumPy's global generator


class Network:
    """What every textbook network shares: layers in order, a loss layer, parameters,
    weight decay, and the gradient by backpropagation.

    Subclasses fill ``params`` and ``layers`` (an OrderedDict name -> layer) and set
    ``last_layer``; ``grad_sources`` maps each parameter name to (layer name, gradient
    attribute); ``decayed`` lists the parameters under weight decay.
    """

    def __init__(self, backend, dtype, seed, weight_decay_lambda=0.0):
        layers_for(backend)  # checks the name
        self.backend = backend
        self.dtype = checks.float_dtype(dtype)
        # seed: None, an int or a Generator; or NumPy's global generator, the module
        # ``np.random`` itself (the textbook's mirror: np.random.seed reproduces a run).
        self.rng = seed if seed is np.random else np.random.default_rng(seed)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        self.layers = OrderedDict()
        self.grad_sources = {}
        self.decayed = []
        self.last_layer = None
        self.last_loss = None

    @property
    def L(self):
        """The layer module of this network's backend (looked up, not kept: a network
        holds no module object, so it pickles and deep-copies)."""
        return layers_for(self.backend)

    def __getstate__(self):
        state = self.__dict__.copy()
        if state.get("rng") is np.random:  # NumPy's global generator: a module, kept by name
            state["rng"] = _GLOBAL_GENERATOR
        return state

    def __setstate__(self, state):
        if isinstance(state.get("rng"), str) and state["rng"] == _GLOBAL_GENERATOR:
            state["rng"] = np.random
        self.__dict__.update(state)

    # -- building -------------------------------------------------------------------
    def _weights(self, name, shape, std):
        self.params[name] = (std * self.rng.standard_normal(shape)).astype(self.dtype)
        self.decayed.append(name)
        return self.params[name]

    def _zeros(self, name, size):
        self.params[name] = np.zeros(size, dtype=self.dtype)
        return self.params[name]

    def _add(self, name, layer, **grads):
        """Append a layer; grads maps parameter names to the layer's gradient attributes."""
        self.layers[name] = layer
        for param, attr in grads.items():
            self.grad_sources[param] = (name, attr)
        return layer

    # -- using ----------------------------------------------------------------------
    def predict(self, x, train_flg=False):
        """Scores (N, classes) for x; ``train_flg`` switches dropout and batch statistics."""
        x = np.asarray(x)
        owned = False  # whether x is a fresh output that no layer keeps (never the input)
        for layer in self.layers.values():
            if isinstance(layer, generic.Relu):
                x = layer.forward(x, overwrite_x=owned and _overwritable(x))
            elif isinstance(layer, (generic.Dropout, generic.BatchNormalization)):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
            owned = isinstance(layer, _FRESH_RESULTS)
        return x

    def weight_decay(self):
        """0.5 * lambda * sum of squared weights (the L2 term of the loss)."""
        if not self.weight_decay_lambda:
            return 0.0
        return 0.5 * self.weight_decay_lambda * sum(
            float(np.sum(self.params[k] ** 2)) for k in self.decayed)

    def loss(self, x, t, train_flg=True):
        """Mean loss of the batch plus weight decay; t: labels (N,) or one-hot (N, C)."""
        return self.last_layer.forward(self.predict(x, train_flg), t) + self.weight_decay()

    def accuracy(self, x, t, batch_size=100):
        """Fraction of x classified as t (labels or one-hot), in inference mode."""
        t = np.asarray(t)
        labels = t.argmax(axis=1) if t.ndim == 2 else t
        correct = 0
        for i in range(0, len(x), batch_size):
            scores = self.predict(x[i:i + batch_size], train_flg=False)
            correct += int(np.sum(scores.argmax(axis=1) == labels[i:i + batch_size]))
        return correct / max(len(x), 1)

    def gradient(self, x, t):
        """Gradients of ``loss(x, t)`` for every parameter, by backpropagation.  The loss
        itself (before any update) is kept in ``last_loss``."""
        self.last_loss = float(self.loss(x, t, train_flg=True))
        return self._backpropagate(self.last_layer.backward(1))

    def _backpropagate(self, dout, extra=None):
        """Run every layer's backward pass from the loss gradient ``dout``; ``extra`` maps a
        layer name to a gradient added to what reaches that layer's output (a penalty on
        it).  Returns the parameters' gradients, weight decay included."""
        first = next(iter(self.layers.values()), None)
        owned = True  # dout: a loss layer's fresh gradient, or a sum made for this pass
        for name, layer in reversed(self.layers.items()):
            if extra and name in extra:
                dout, owned = dout + extra[name], True
            if layer is first and isinstance(layer, (generic.Affine, generic.Convolution)):
                layer.backward(dout, need_dx=False)  # the input's gradient: of no use
            elif isinstance(layer, generic.Relu):
                dout = layer.backward(dout, overwrite_dout=owned and _overwritable(dout))
            else:
                dout = layer.backward(dout)
                owned = isinstance(layer, _FRESH_RESULTS)
        grads = {}
        for param, (layer_name, attr) in self.grad_sources.items():
            grads[param] = getattr(self.layers[layer_name], attr)
            if param in self.decayed and self.weight_decay_lambda:
                grads[param] = grads[param] + self.weight_decay_lambda * self.params[param]
        return grads

    def save_params(self, path):
        """Write every parameter (and batch-norm running statistics) to an .npz file."""
        arrays = dict(self.params)
        for name, layer in generic.layers_of_kind(self, generic.BatchNormalization).items():
            if layer.running_mean is not None:
                arrays[f"{name}.running_mean"] = layer.running_mean
                arrays[f"{name}.running_var"] = layer.running_var
        params_file.save(path, arrays)

    def load_params(self, path):
        """Read parameters saved by :meth:`save_params` into this network, in place (the
        layers keep using the same arrays); :func:`fastnn.params_file.load_into` checks
        names, shapes, dtypes and values first (a ``ValueError`` changes nothing)."""
        statistics = {}
        for name, layer in generic.layers_of_kind(self, generic.BatchNormalization).items():
            shape = np.shape(layer.gamma)
            statistics[f"{name}.running_mean"] = statistics[f"{name}.running_var"] = shape
        saved = params_file.load_into("load_params", path, self.params, statistics)
        for name, layer in generic.layers_of_kind(self, generic.BatchNormalization).items():
            if f"{name}.running_mean" in saved:
                layer.running_mean = saved[f"{name}.running_mean"].astype(self.dtype)
                layer.running_var = saved[f"{name}.running_var"].astype(self.dtype)

class MultiLayerNet(Network):
    """Fully connected network: [Affine - (BatchNorm) - activation - (Dropout)] x hidden,
    then Affine and softmax with cross-entropy.

    input_size, hidden_size_list (e.g. [100, 100]), output_size; activation 'relu',
    'sigmoid' or 'tanh'; weight_init_std 'he'/'relu', 'xavier'/'sigmoid' or a number;
    weight_decay_lambda (L2); use_dropout with dropout_ration; use_batchnorm.
    x (N, input_size) -> scores (N, output_size).
    """

    ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0.0, use_dropout=False,
                 dropout_ration=0.5, use_batchnorm=False, backend="fast", dtype=np.float64,
                 seed=None):
        super().__init__(backend, dtype, seed, weight_decay_lambda)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(self.ACTIVATIONS)}, got {activation!r}")
        L = self.L
        sizes = [input_size, *hidden_size_list, output_size]
        for i in range(1, len(sizes)):
            W = self._weights(f"W{i}", (sizes[i - 1], sizes[i]), init_std(weight_init_std, sizes[i - 1]))
            b = self._zeros(f"b{i}", sizes[i])
            self._add(f"Affine{i}", L.Affine(W, b), **{f"W{i}": "dW", f"b{i}": "db"})
            if i == len(sizes) - 1:
                break
            if use_batchnorm:
                gamma = np.ones(sizes[i], dtype=self.dtype)
                self.params[f"gamma{i}"] = gamma
                beta = self._zeros(f"beta{i}", sizes[i])
                self._add(f"BatchNorm{i}", L.BatchNormalization(gamma, beta),
                          **{f"gamma{i}": "dgamma", f"beta{i}": "dbeta"})
            self._add(f"Activation{i}", getattr(L, self.ACTIVATIONS[activation])())
            if use_dropout:
                self._add(f"Dropout{i}", L.Dropout(dropout_ration, seed=self.rng))
        self.last_layer = L.SoftmaxWithLoss()


MultiLayerNetExtend = MultiLayerNet


def _conv_out(size, filter_size, stride, pad):
    return (size + 2 * pad - filter_size) // stride + 1


class SimpleConvNet(Network):
    """conv - relu - pool(2x2) - affine - relu - affine - softmax, the textbook's defaults.

    input_dim (C, H, W); conv_param {'filter_num', 'filter_size', 'pad', 'stride'};
    hidden_size; output_size; weight_init_std (the textbook's fixed 0.01, or 'he').
    x (N, C, H, W) -> scores (N, output_size).
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param=None, hidden_size=100, output_size=10, weight_init_std=0.01,
                 backend="fast", dtype=np.float64, seed=None):
        super().__init__(backend, dtype, seed)
        p = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1, **(conv_param or {})}
        C, H, W = input_dim
        fn, fs = p["filter_num"], p["filter_size"]
        conv_h = _conv_out(H, fs, p["stride"], p["pad"])
        conv_w = _conv_out(W, fs, p["stride"], p["pad"])
        pool_size = fn * (conv_h // 2) * (conv_w // 2)
        L = self.L
        W1 = self._weights("W1", (fn, C, fs, fs), init_std(weight_init_std, C * fs * fs))
        self._add("Conv1", L.Convolution(W1, self._zeros("b1", fn), p["stride"], p["pad"]),
                  W1="dW", b1="db")
        self._add("Relu1", L.Relu())
        self._add("Pool1", L.Pooling(2, 2, stride=2))
        W2 = self._weights("W2", (pool_size, hidden_size), init_std(weight_init_std, pool_size))
        self._add("Affine1", L.Affine(W2, self._zeros("b2", hidden_size)), W2="dW", b2="db")
        self._add("Relu2", L.Relu())
        W3 = self._weights("W3", (hidden_size, output_size), init_std(weight_init_std, hidden_size))
        self._add("Affine2", L.Affine(W3, self._zeros("b3", output_size)), W3="dW", b3="db")
        self.last_layer = L.SoftmaxWithLoss()


class DeepConvNet(Network):
    """The textbook's deep network: conv-relu-conv-relu-pool three times (16, 16, 32, 32,
    64, 64 filters of 3x3; the fourth convolution pads 2, as in the book), then
    affine-relu-dropout-affine-dropout-softmax.  He initialisation.

    input_dim (C, H, W); hidden_size; output_size; dropout_ratio.
    x (N, C, H, W) -> scores (N, output_size).
    """

    CONVS = [(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]  # (filters, pad), 3x3

    def __init__(self, input_dim=(1, 28, 28), hidden_size=50, output_size=10,
                 dropout_ratio=0.5, backend="fast", dtype=np.float64, seed=None):
        super().__init__(backend, dtype, seed)
        L = self.L
        channels, h, w = input_dim
        for i, (filters, pad) in enumerate(self.CONVS, start=1):
            W = self._weights(f"W{i}", (filters, channels, 3, 3), init_std("he", channels * 9))
            self._add(f"Conv{i}", L.Convolution(W, self._zeros(f"b{i}", filters), 1, pad),
                      **{f"W{i}": "dW", f"b{i}": "db"})
            self._add(f"Relu{i}", L.Relu())
            channels, h, w = filters, _conv_out(h, 3, 1, pad), _conv_out(w, 3, 1, pad)
            if i % 2 == 0:
                self._add(f"Pool{i // 2}", L.Pooling(2, 2, stride=2))
                h, w = h // 2, w // 2
        flat = channels * h * w
        if flat < 1:
            raise ValueError(f"DeepConvNet: input_dim {input_dim} is too small for three poolings")
        W7 = self._weights("W7", (flat, hidden_size), init_std("he", flat))
        self._add("Affine1", L.Affine(W7, self._zeros("b7", hidden_size)), W7="dW", b7="db")
        self._add("Relu7", L.Relu())
        self._add("Dropout1", L.Dropout(dropout_ratio, seed=self.rng))
        W8 = self._weights("W8", (hidden_size, output_size), init_std("he", hidden_size))
        self._add("Affine2", L.Affine(W8, self._zeros("b8", output_size)), W8="dW", b8="db")
        self._add("Dropout2", L.Dropout(dropout_ratio, seed=self.rng))
        self.last_layer = L.SoftmaxWithLoss()


class AutoEncoder(Network):
    """A fully connected autoencoder: x -> hidden_size_list (encoder, the last size is the
    code) -> mirrored decoder -> reconstruction of x, trained on half the squared error.

    input_size; hidden_size_list (e.g. (128, 32); an overcomplete code is a size above
    input_size); activation of the hidden layers; output_activation 'sigmoid' (inputs in
    [0, 1]) or 'identity' (real values, e.g. ratings).  The variants of the curriculum:

    * ``sparsity=(rho, beta)``: a KL-divergence penalty beta * sum_j KL(rho || rho_hat_j)
      on the code, rho_hat_j the mean activation of code unit j over the batch (sigmoid
      hidden activations only);
    * ``corruption=p``: denoising, each input element zeroed with probability p in
      training (``gradient``), the loss taken against the clean input.

    ``loss(x, t=None, mask=None)``: 0.5 * sum(mask * (x_hat - t)**2) / N plus the penalty
    (t defaults to x; mask, 0/1 of x's shape, keeps only the entries it marks: rated
    movies for a recommender).  ``gradient(x, t=None, mask=None, corrupted=None)``
    (``corrupted``: the corrupted input to use instead of drawing one), ``encode(x)``,
    ``reconstruct(x)``, ``reconstruction_error(x)`` (mean squared error per element).
    x (N, input_size) -> reconstruction (N, input_size).
    """

    OUTPUTS = {"sigmoid": "Sigmoid", "identity": None}

    def __init__(self, input_size=784, hidden_size_list=(128, 32), activation="sigmoid",
                 weight_init_std="xavier", output_activation="sigmoid", sparsity=None,
                 corruption=0.0, backend="fast", dtype=np.float64, seed=None):
        super().__init__(backend, dtype, seed)
        if activation not in MultiLayerNet.ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(MultiLayerNet.ACTIVATIONS)}")
        if output_activation not in self.OUTPUTS:
            raise ValueError(f"output_activation must be one of {sorted(self.OUTPUTS)}, "
                             f"got {output_activation!r}")
        if sparsity is not None:
            rho, beta = sparsity
            if not 0 < rho < 1 or beta < 0 or activation != "sigmoid":
                raise ValueError("sparsity=(rho, beta) needs 0 < rho < 1, beta >= 0 and "
                                 f"sigmoid hidden units, got {sparsity!r} with {activation!r}")
        if not 0 <= corruption < 1:
            raise ValueError(f"corruption must be in [0, 1), got {corruption!r}")
        self.sparsity, self.corruption = sparsity, float(corruption)
        L = self.L
        sizes = [input_size, *hidden_size_list, *reversed(hidden_size_list[:-1]), input_size]
        self.code_layer = len(hidden_size_list)
        for i in range(1, len(sizes)):
            W = self._weights(f"W{i}", (sizes[i - 1], sizes[i]), init_std(weight_init_std, sizes[i - 1]))
            self._add(f"Affine{i}", L.Affine(W, self._zeros(f"b{i}", sizes[i])),
                      **{f"W{i}": "dW", f"b{i}": "db"})
            last = i == len(sizes) - 1
            name = self.OUTPUTS[output_activation] if last else MultiLayerNet.ACTIVATIONS[activation]
            if name:
                self._add(f"Activation{i}", getattr(L, name)())
        self.last_layer = L.MSEWithLoss()

    def _code(self):
        return self.layers[f"Activation{self.code_layer}"].out

    def sparsity_penalty(self):
        """beta * sum_j KL(rho || rho_hat_j) of the last forward pass's code (0 without
        sparsity), and its gradient with respect to the code (N, code size) or None."""
        if self.sparsity is None:
            return 0.0, None
        rho, beta = self.sparsity
        code = self._code()
        rho_hat = code.mean(axis=0)
        penalty = beta * float(np.sum(rho * np.log(rho / rho_hat)
                                      + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))))
        grad = beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / len(code)
        return penalty, np.broadcast_to(grad.astype(code.dtype), code.shape)

    def loss(self, x, t=None, mask=None, train_flg=True):
        """Reconstruction loss 0.5 * sum(mask * (x_hat - t)**2) / N plus the sparsity
        penalty (t defaults to x, mask to all ones)."""
        x = np.asarray(x)
        t = x if t is None else np.asarray(t)
        y = self.predict(x, train_flg)
        return self.last_layer.forward(y, t, mask) + self.sparsity_penalty()[0]

    def corrupt(self, x):
        """x with each element zeroed with probability ``corruption`` (a copy; x itself
        when corruption is 0)."""
        x = np.asarray(x)
        if not self.corruption:
            return x
        return x * (self.rng.random(x.shape) >= self.corruption)

    def gradient(self, x, t=None, mask=None, corrupted=None):
        """Gradients of ``loss(corrupted, t or x, mask)``: the input is ``corrupted`` when
        given, else ``corrupt(x)`` (x itself unless denoising).  ``last_loss`` keeps the loss."""
        x = np.asarray(x)
        t = x if t is None else t
        x_in = self.corrupt(x) if corrupted is None else corrupted
        self.last_loss = float(self.loss(x_in, t, mask))
        dout = self.last_layer.backward(1)
        penalty_grad = self.sparsity_penalty()[1]
        extra = None if penalty_grad is None else {f"Activation{self.code_layer}": penalty_grad}
        return self._backpropagate(dout, extra)

    def encode(self, x):
        """The code (N, hidden_size_list[-1])."""
        h = np.asarray(x)
        for i, layer in enumerate(self.layers.values()):
            h = layer.forward(h)
            if i == 2 * self.code_layer - 1:
                return h
        return h

    def reconstruct(self, x):
        return self.predict(x)

    def reconstruction_error(self, x):
        """Mean squared error per element between x and its reconstruction."""
        x = np.asarray(x)
        return float(np.mean((self.predict(x) - x) ** 2))


class ParamsFile:
    """save_params/load_params (.npz) for a model whose parameters are the dict ``params``."""

    def save_params(self, path):
        """Write ``params`` to an .npz file."""
        params_file.save(path, self.params)

    def load_params(self, path):
        """Read parameters saved by :meth:`save_params` into ``params``, in place, after
        :func:`fastnn.params_file.load_into` checked names, shapes, dtypes and values."""
        params_file.load_into("load_params", path, self.params)


class RBM(ParamsFile):
    """A restricted Boltzmann machine with binary visible and hidden units, trained by
    contrastive divergence (CD-k), in NumPy (its work is matrix products, which BLAS does).

    n_visible, n_hidden, k (Gibbs steps per update).  Parameters W (n_visible, n_hidden),
    b_visible, b_hidden in ``params``.  Visible data v (N, n_visible) in [0, 1].
    """

    def __init__(self, n_visible=784, n_hidden=128, k=1, dtype=np.float64, seed=None):
        self.dtype = checks.float_dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.k = int(k)
        self.params = {
            "W": (0.01 * self.rng.standard_normal((n_visible, n_hidden))).astype(self.dtype),
            "b_visible": np.zeros(n_visible, dtype=self.dtype),
            "b_hidden": np.zeros(n_hidden, dtype=self.dtype),
        }

    @staticmethod
    def _sigmoid(z):
        return 0.5 * (1 + np.tanh(0.5 * z))

    def hidden_probs(self, v):
        """P(h = 1 | v), (N, n_hidden)."""
        return self._sigmoid(v @ self.params["W"] + self.params["b_hidden"])

    def visible_probs(self, h):
        """P(v = 1 | h), (N, n_visible)."""
        return self._sigmoid(h @ self.params["W"].T + self.params["b_visible"])

    def _sample(self, probs):
        return (self.rng.random(probs.shape) < probs).astype(self.dtype)

    def free_energy(self, v):
        """F(v) = -v . b_visible - sum_j softplus(v W + b_hidden)_j, per sample (N,)."""
        v = np.asarray(v, dtype=self.dtype)
        pre = v @ self.params["W"] + self.params["b_hidden"]
        return -(v @ self.params["b_visible"]) - np.logaddexp(0, pre).sum(axis=1)

    def gradient(self, v):
        """The CD-k estimate of the log-likelihood gradient (ascent direction) for a batch:
        positive statistics from the data, negative ones after k Gibbs steps."""
        v0 = np.asarray(v, dtype=self.dtype)
        ph0 = self.hidden_probs(v0)
        h = self._sample(ph0)
        for _ in range(self.k):
            vk = self.visible_probs(h)
            phk = self.hidden_probs(vk)
            h = self._sample(phk)
        n = len(v0)
        return {"W": (v0.T @ ph0 - vk.T @ phk) / n,
                "b_visible": (v0 - vk).mean(axis=0),
                "b_hidden": (ph0 - phk).mean(axis=0)}

    def contrastive_divergence(self, v, lr=0.1):
        """One CD-k update of the parameters in place; returns the batch's reconstruction
        error before the update."""
        error = self.reconstruction_error(v)
        for key, g in self.gradient(v).items():
            self.params[key] += self.dtype.type(lr) * g
        return error

    def reconstruction_error(self, v):
        """Mean squared error per element of v against P(v | h ~ P(h | v)) means."""
        v = np.asarray(v, dtype=self.dtype)
        return float(np.mean((v - self.visible_probs(self.hidden_probs(v))) ** 2))
