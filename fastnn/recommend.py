"""The curriculum's two recommenders on MovieLens-style ratings (users x movies, 1-5, 0 =
unrated; :mod:`fastnn.datasets.movielens` reads them).

* :class:`RBMRecommender`: a restricted Boltzmann machine whose visible units are the
  movies, binary (a rating of 3 or more is "liked", 1-2 "not liked"), trained by CD-k
  with the unrated units kept out: they contribute nothing to the hidden units, are
  never reconstructed and never enter the update.  Its test loss is the course's: the
  mean absolute distance between the predicted liked/not-liked (P(v = 1 | h) > 1/2,
  h = P(h | the user's training ratings)) and the actual one, over the test ratings.
* :class:`AutoEncoderRecommender`: a stacked autoencoder (movies -> 20 -> 10 -> 20 ->
  movies by default, sigmoid hidden units, linear output) trained on the squared error of
  the rated entries only (:class:`fastnn.nets.AutoEncoder` with a mask); its loss is the
  RMSE over the rated entries (train) or the test ratings, predicted from the training
  ratings.

Both multiply on fastnn's kernels, in its own thread pool (``backend="fast"``; the
``"reference"`` backend multiplies with NumPy, for comparison): no NumPy BLAS call in the
loop.  The RBM's sigmoids (with their bias and mask) and the RMSE's sum of squares are
the backend's too; the other elementwise passes are NumPy's.  :func:`majority_baseline`
and :func:`mean_baseline` are the obvious predictors they must beat.
"""
import numpy as np

from fastnn import checks
from fastnn import functional, nets
from fastnn.reference import functional as reference_functional
from fastnn.optim import get_optimizer

__all__ = ["binarize", "RBMRecommender", "AutoEncoderRecommender", "majority_baseline",
           "mean_baseline", "rmse", "recommend"]


def binarize(ratings):
    """(liked, rated) of a ratings matrix: liked 1 where rating >= 3, 0 elsewhere; rated 1
    where rated (> 0).  Both float64, the shape of ratings."""
    ratings = np.asarray(ratings)
    return (ratings >= 3).astype(np.float64), (ratings > 0).astype(np.float64)


def _check_ratings(func, ratings, n_movies):
    """(ratings as float64 (users, n_movies), rated: ratings > 0 as bools), each rating 0
    (unrated) or in [1, 5] (never NaN)."""
    ratings = np.asarray(ratings, dtype=np.float64)
    if ratings.ndim != 2:
        raise ValueError(f"{func}: ratings must be 2-D (users, movies), got shape {ratings.shape}")
    if ratings.shape[1] != n_movies:
        raise ValueError(f"{func}: ratings must have {n_movies} movies (columns), got shape "
                         f"{ratings.shape}")
    rated = ratings > 0
    if (ratings.size and ratings.min() >= 0 and ratings.max() <= 5
            and not ((ratings < 1) & rated).any()):
        return ratings, rated  # the common case in a few passes (a NaN fails both bounds)
    checks.finite(func, "ratings", ratings)  # the first bad value's index
    if ((ratings != 0) & ((ratings < 1) | (ratings > 5))).any():
        raise ValueError(f"{func}: ratings must be 0 (unrated) or in [1, 5]")
    return ratings, rated


_BACKENDS = {"fast": functional, "reference": reference_functional}


def _backend(backend):
    """The functional backend whose ``matmul`` and ``sigmoid`` the RBM uses (and
    ``squared_error_sum`` the RMSE): fastnn's kernels, or NumPy's."""
    if backend in _BACKENDS:
        return _BACKENDS[backend]
    raise ValueError(f"backend must be 'fast' or 'reference', got {backend!r}")


def _batches(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


class RBMRecommender(nets.ParamsFile):
    """A binary RBM over movies: n_movies visible units, n_hidden hidden ones, CD-k.

    k Gibbs steps per update, lr on the batch-mean gradient, batch_size users.
    ``fit_epoch(ratings)`` trains one epoch over the users (shuffled batches) and returns
    the training reconstruction error (mean absolute distance on the rated entries);
    ``test_loss(train, test)``; ``predict(ratings)`` P(liked) (users, movies);
    ``free_energy(ratings)`` per user; ``params`` W (n_movies, n_hidden), b_visible,
    b_hidden; ``save_params(path)``/``load_params(path)`` (.npz).
    """

    def __init__(self, n_movies, n_hidden=100, k=1, lr=1.0, batch_size=100,
                 dtype=np.float64, seed=None, backend="fast"):
        if int(k) < 1 or int(n_hidden) < 1 or int(batch_size) < 1:
            raise ValueError(f"RBMRecommender: k, n_hidden and batch_size must be >= 1, got "
                             f"{k}, {n_hidden}, {batch_size}")
        self.dtype = checks.float_dtype(dtype)
        self.k, self.lr, self.batch_size = int(k), float(lr), int(batch_size)
        self.rng = np.random.default_rng(seed)
        self.F = _backend(backend)
        self.params = {
            "W": (0.01 * self.rng.standard_normal((n_movies, n_hidden))).astype(self.dtype),
            "b_visible": np.zeros(n_movies, dtype=self.dtype),
            "b_hidden": np.zeros(n_hidden, dtype=self.dtype)}

    def _inputs(self, func, ratings):
        """(liked, rated) of checked ratings as 0/1 arrays of the model's dtype (liked
        implies rated: liked is also the visible vector with unrated units 0)."""
        ratings, rated = _check_ratings(func, ratings, len(self.params["b_visible"]))
        return (ratings >= 3).astype(self.dtype), rated.astype(self.dtype)

    def hidden_probs(self, v):
        """P(h = 1 | v) for visible vectors v (N, movies) with unrated entries 0."""
        z = self.F.matmul(v, self.params["W"])
        return self.F.sigmoid(z, self.params["b_hidden"], out=z)

    def visible_probs(self, h, mask=None):
        """P(v = 1 | h), (N, movies); times ``mask`` (N, movies) where given."""
        z = self.F.matmul(h, self.params["W"].T)
        return self.F.sigmoid(z, self.params["b_visible"], mask, out=z)

    def gradient(self, liked, rated):
        """The CD-k estimate of the log-likelihood gradient (an ascent direction) for a
        batch of users (liked, rated: (N, movies), 0/1), unrated units kept out."""
        return self._gradient(liked * rated, rated)

    def _gradient(self, v0, rated):
        ph0 = self.hidden_probs(v0)
        h = (self.rng.random(ph0.shape) < ph0).astype(self.dtype)
        for _ in range(self.k):
            vk = self.visible_probs(h, mask=rated)  # only rated units are reconstructed
            phk = self.hidden_probs(vk)
            h = (self.rng.random(phk.shape) < phk).astype(self.dtype)
        n = self.dtype.type(len(v0))
        dW = self.F.matmul(v0, ph0, transpose_a=True)
        dW -= self.F.matmul(vk, phk, transpose_a=True)
        dW /= n
        return {"W": dW, "b_visible": (v0 - vk).sum(axis=0) / n,
                "b_hidden": (ph0 - phk).sum(axis=0) / n}

    def fit_epoch(self, ratings, on_batch=None):
        """One epoch of CD-k updates over the users, in shuffled batches; returns the
        reconstruction error on the rated entries afterwards.  ``on_batch(i, count)`` is
        called after each batch (a progress bar)."""
        liked, rated = self._inputs("RBMRecommender.fit_epoch", ratings)
        batches = _batches(len(liked), self.batch_size, self.rng)
        lr = self.dtype.type(self.lr)
        for i, batch in enumerate(batches, 1):
            for key, g in self._gradient(liked[batch], rated[batch]).items():
                g *= lr
                self.params[key] += g
            if on_batch:
                on_batch(i, len(batches))
        return self._distance(self._reconstruct(liked), liked, rated)

    def _reconstruct(self, visible):
        return self.visible_probs(self.hidden_probs(visible))

    def predict(self, ratings):
        """P(liked) (users, movies) from each user's ratings: P(v = 1 | h = P(h | v))."""
        return self._reconstruct(self._inputs("RBMRecommender.predict", ratings)[0])

    @staticmethod
    def _distance(probs, liked, rated):
        """Mean of |(probs > 1/2) - liked| over the rated entries: the share of them
        predicted wrong."""
        rated = rated > 0
        wrong = np.count_nonzero(((probs > 0.5) != (liked > 0)) & rated)
        return wrong / max(np.count_nonzero(rated), 1)

    def test_loss(self, train, test):
        """Mean absolute distance between predicted and actual liked/not-liked over the
        test ratings, predicting from the training ratings."""
        liked, rated = self._inputs("RBMRecommender.test_loss", test)
        return self._distance(self.predict(train), liked, rated)

    def free_energy(self, ratings):
        """F(v) = -v.b_visible - sum_j softplus(v W + b_hidden)_j per user (N,), v the
        liked units of the rated entries."""
        v, _ = self._inputs("RBMRecommender.free_energy", ratings)
        pre = self.F.matmul(v, self.params["W"]) + self.params["b_hidden"]
        return -(v @ self.params["b_visible"]) - np.logaddexp(0, pre).sum(axis=1)


class AutoEncoderRecommender:
    """A stacked autoencoder over movies, trained on the rated entries' squared error.

    hidden_size_list (default (20, 10): movies -> 20 -> 10 -> 20 -> movies), optimizer
    ('rmsprop', 'adam', ... with lr), batch_size; ``sparsity``/``corruption`` as
    :class:`fastnn.nets.AutoEncoder`.  ``fit_epoch(ratings)`` returns the training RMSE
    on the rated entries; ``test_loss(train, test)`` the RMSE on the test ratings;
    ``predict(ratings)`` the predicted ratings (users, movies).
    """

    def __init__(self, n_movies, hidden_size_list=(20, 10), optimizer="rmsprop", lr=0.01,
                 batch_size=16, sparsity=None, corruption=0.0, dtype=np.float64, seed=None,
                 backend="fast"):
        if int(batch_size) < 1:
            raise ValueError(f"AutoEncoderRecommender: batch_size must be >= 1, got {batch_size}")
        self.network = nets.AutoEncoder(n_movies, tuple(hidden_size_list), activation="sigmoid",
                                        output_activation="identity", sparsity=sparsity,
                                        corruption=corruption, backend=backend, dtype=dtype,
                                        seed=seed)
        self.optimizer = get_optimizer(optimizer, lr=lr)
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)

    def _inputs(self, func, ratings):
        ratings, rated = _check_ratings(func, ratings, self.network.params["W1"].shape[0])
        return ratings.astype(self.network.dtype, copy=False), rated.astype(self.network.dtype)

    def fit_epoch(self, ratings, on_batch=None):
        """One epoch over the users who rated anything, in shuffled batches; returns the
        RMSE on the rated entries afterwards.  ``on_batch(i, count)`` after each batch."""
        ratings, rated = self._inputs("AutoEncoderRecommender.fit_epoch", ratings)
        users = np.flatnonzero(rated.any(axis=1))
        batches = _batches(len(users), self.batch_size, self.rng)
        for i, batch in enumerate(batches, 1):
            x = ratings[users[batch]]
            grads = self.network.gradient(x, x, mask=rated[users[batch]])
            self.optimizer.update(self.network.params, grads)
            if on_batch:
                on_batch(i, len(batches))
        return rmse(self.network.predict(ratings), ratings, rated, self.network.backend)

    def predict(self, ratings):
        """Predicted ratings (users, movies) from each user's ratings."""
        ratings, _ = self._inputs("AutoEncoderRecommender.predict", ratings)
        return self.network.predict(ratings)

    def test_loss(self, train, test):
        """RMSE over the test ratings, predicting from the training ratings."""
        test, rated = self._inputs("AutoEncoderRecommender.test_loss", test)
        return rmse(self.predict(train), test, rated, self.network.backend)

    def save_params(self, path):
        self.network.save_params(path)

    def load_params(self, path):
        self.network.load_params(path)


def rmse(predicted, actual, mask, backend="reference"):
    """sqrt(mean((predicted - actual)**2)) over the entries where mask (their shape) is 1,
    0 where it marks none; the squares summed by the backend's ``squared_error_sum``
    (``"fast"``: one compiled pass)."""
    total = _backend(backend).squared_error_sum(predicted, actual, mask)
    return float(np.sqrt(total / max(float(np.sum(mask)), 1)))


def majority_baseline(train, test):
    """The RBM's baseline: each movie's majority liked/not-liked in train (the overall
    majority for a movie nobody rated) as the prediction for every test rating; returns
    its mean absolute distance on the test ratings."""
    train_liked, train_rated = binarize(train)
    liked, rated = binarize(test)
    likes, count = (train_liked * train_rated).sum(axis=0), train_rated.sum(axis=0)
    overall = (train_liked * train_rated).sum() >= train_rated.sum() / 2
    majority = np.where(count > 0, likes >= count / 2, overall)
    return float((np.abs(majority[None, :] - liked) * rated).sum() / max(rated.sum(), 1))


def mean_baseline(train, test):
    """The autoencoder's baseline: each movie's mean training rating (the overall mean for
    a movie nobody rated) for every test rating; returns its RMSE on the test ratings."""
    train, test = np.asarray(train, dtype=np.float64), np.asarray(test, dtype=np.float64)
    rated = train > 0
    count = rated.sum(axis=0)
    overall = train[rated].mean() if rated.any() else 0.0
    means = np.where(count > 0, train.sum(axis=0) / np.maximum(count, 1), overall)
    return rmse(np.broadcast_to(means, test.shape), test, test > 0)


def recommend(model, ratings, user, top):
    """The ``top`` movies user ``user`` (an id from 1) has not rated that ``model``
    predicts highest: a list of (movie index from 0, score)."""
    ratings = np.asarray(ratings)
    if not 1 <= user <= len(ratings):
        raise ValueError(f"recommend: user must be an id in 1..{len(ratings)}, got {user}")
    scores = model.predict(ratings[user - 1:user])[0]
    unrated = np.flatnonzero(ratings[user - 1] == 0)
    best = unrated[np.argsort(-scores[unrated], kind="stable")[:top]]
    return [(int(i), float(scores[i])) for i in best]
