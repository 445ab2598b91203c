"""MovieLens loading and the two recommenders, on synthetic ratings written in
the ML-100K file format (tests/movielens_files.py)."""
import hashlib
import os
import zipfile

import numpy as np
import pytest
from helpers import rel_error
from movielens_files import planted_ratings, write_movielens, write_ratings

from fastnn import cli, nets
from fastnn.datasets import movielens
from fastnn import recommend as rc
from fastnn.gradcheck import numerical_gradient


@pytest.fixture(scope="module")
def planted():
    """ML-100K's shape (943 users x 1,682 movies, ~100,000 ratings), 80/20 split."""
    return planted_ratings()


# -- loading ------------------------------------------------------------------------------

def test_load_reads_the_files_as_published(tmp_path, planted):
    train, test = planted
    write_movielens(tmp_path, train, test)
    data = movielens.load_movielens(tmp_path, split="u1", download=False)
    np.testing.assert_array_equal(data.train, train)
    np.testing.assert_array_equal(data.test, test)
    assert data.titles[0] == "Film 1 (Amélie) (1995)" and len(data.titles) == 1682
    everything = movielens.load_movielens(tmp_path, split="all", download=False)
    np.testing.assert_array_equal(everything.train, np.where(train > 0, train, test))
    assert not everything.test.any()


@pytest.mark.parametrize("line, message", [
    ("1\t2\t3\n", "line 2: expected 4 tab-separated integers"),
    ("1\t2\tx\t5\n", "line 2: expected 4 tab-separated integers"),
    ("1\t2\t\u00b2\t5\n", "line 2: expected 4 tab-separated integers"),  # '²'.isdigit()
    ("1\t2\t6\t5\n", "line 2: rating 6 is outside 1..5"),
    ("0\t2\t3\t5\n", "line 2: user id 0 is outside 1..4"),
    ("1\t9\t3\t5\n", "line 2: item id 9 is outside 1..5"),
    ("1\t1\t4\t5\n", "line 2: user 1 rated item 1 already on line 1"),
])
def test_a_malformed_file_names_the_file_and_line(tmp_path, line, message):
    (tmp_path / "u.info").write_text("4 users\n5 items\n2 ratings\n")
    (tmp_path / "u1.base").write_text("1\t1\t5\t881250949\n" + line)
    (tmp_path / "u1.test").write_text("")
    with pytest.raises(ValueError, match=f"u1.base, {message}"):
        movielens.load_movielens(tmp_path, download=False)


def test_missing_files_without_download_name_the_option(tmp_path):
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        movielens.load_movielens(tmp_path, download=False)
    with pytest.raises(ValueError, match="split must be one of"):
        movielens.load_movielens(tmp_path, split="u9")


def _archive(tmp_path, train, test):
    source = write_movielens(tmp_path / "source" / "ml-100k", train, test)
    path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in os.listdir(source):
            zf.write(os.path.join(source, name), f"ml-100k/{name}")
    return path, hashlib.md5(path.read_bytes()).hexdigest()


def test_download_checks_the_archive_and_unpacks_it(tmp_path):
    train, test = planted_ratings(users=30, movies=40, per_user=10)
    archive, md5 = _archive(tmp_path, train, test)
    target = tmp_path / "cache"
    movielens.download_movielens(target, url=archive.as_uri(), md5=md5)
    data = movielens.load_movielens(target, download=False)  # found in cache/ml-100k/
    np.testing.assert_array_equal(data.train, train)
    with pytest.raises(ConnectionError, match="failed its MD5 check"):
        movielens.download_movielens(tmp_path / "other", url=archive.as_uri(), md5="0" * 32)
    assert not os.listdir(tmp_path / "other")  # nothing kept
    with pytest.raises(ConnectionError, match="--data-dir"):
        movielens.download_movielens(tmp_path / "none", url=(tmp_path / "absent.zip").as_uri())


def test_load_downloads_when_the_files_are_missing(tmp_path, monkeypatch):
    train, test = planted_ratings(users=30, movies=40, per_user=10)
    archive, md5 = _archive(tmp_path, train, test)
    monkeypatch.setattr(movielens, "URL", archive.as_uri())
    monkeypatch.setattr(movielens, "MD5", md5)
    data = movielens.load_movielens(tmp_path / "empty")
    np.testing.assert_array_equal(data.test, test)


# -- the RBM recommender --------------------------------------------------------------------

def test_rbm_beats_each_movies_majority_and_learns(planted):
    train, test = planted
    rbm = rc.RBMRecommender(train.shape[1], n_hidden=100, k=1, seed=0)
    shuffled = np.random.default_rng(1).permuted(train, axis=0)  # breaks the users' taste

    def gap():
        return rbm.free_energy(train).mean() - rbm.free_energy(shuffled).mean()
    errors, gaps = [], [gap()]
    for _ in range(8):
        errors.append(rbm.fit_epoch(train))
        gaps.append(gap())
    baseline = rc.majority_baseline(train, test)
    loss = rbm.test_loss(train, test)
    assert loss < baseline - 0.08, (loss, baseline)
    assert errors[-1] < errors[0] - 0.05 and gaps[-1] < gaps[0] - 1, (errors, gaps)


def test_rbm_keeps_unrated_movies_out_of_the_update(rng):
    ratings = np.where(rng.random((20, 12)) < 0.5, rng.integers(1, 6, (20, 12)), 0).astype(float)
    ratings[:, 3] = 0  # nobody rated movie 3
    rbm = rc.RBMRecommender(12, n_hidden=5, seed=0)
    liked, rated = rc.binarize(ratings)
    grads = rbm.gradient(liked, rated)
    assert not grads["W"][3].any() and grads["b_visible"][3] == 0
    assert grads["W"].any()


@pytest.mark.parametrize("model", [lambda: rc.RBMRecommender(12, n_hidden=5, seed=0),
                                   lambda: rc.AutoEncoderRecommender(12, seed=0)],
                         ids=["rbm", "autoencoder"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_ratings_are_refused_with_their_index(model, bad, rng):
    ratings = np.where(rng.random((20, 12)) < 0.5, rng.integers(1, 6, (20, 12)), 0).astype(float)
    ratings[7, 4] = bad
    recommender = model()
    before = {k: v.copy() for k, v in _params(recommender).items()}
    with pytest.raises(ValueError, match=r"ratings\[7, 4\] is"):
        recommender.fit_epoch(ratings)
    for key, value in _params(recommender).items():  # refused before any update
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(ValueError, match=r"ratings\[7, 4\] is"):
        recommender.predict(ratings)


def _params(recommender):
    return getattr(recommender, "network", recommender).params


def test_rbm_backends_agree(planted):
    train, _ = planted
    models = [rc.RBMRecommender(train.shape[1], n_hidden=20, seed=3, backend=b)
              for b in ("fast", "reference")]
    for model in models:
        model.fit_epoch(train[:300])
    for key in models[0].params:
        assert rel_error(models[0].params[key], models[1].params[key]) < 1e-10


# -- the autoencoder recommender -----------------------------------------------------------

def test_autoencoder_beats_each_movies_mean_rating(planted):
    train, test = planted
    model = rc.AutoEncoderRecommender(train.shape[1], seed=0)
    first = model.fit_epoch(train)
    for _ in range(7):
        last = model.fit_epoch(train)
    baseline = rc.mean_baseline(train, test)
    loss = model.test_loss(train, test)
    assert loss < baseline - 0.2 and last < first, (loss, baseline, first, last)
    picks = rc.recommend(model, train, user=5, top=4)
    scores = [score for _, score in picks]
    assert scores == sorted(scores, reverse=True) and all(train[4, m] == 0 for m, _ in picks)


def _check_autoencoder(net, x, **kwargs):
    grads = net.gradient(x, **kwargs)
    loss_kwargs = {k: v for k, v in kwargs.items() if k != "corrupted"}
    x_in = kwargs.get("corrupted", x)
    for key, value in net.params.items():
        numeric = numerical_gradient(lambda: net.loss(x_in, x, **loss_kwargs), value)
        assert rel_error(grads[key], numeric) < 1e-6, key


@pytest.mark.parametrize("variant", ["overcomplete", "sparse", "denoising", "masked"])
def test_autoencoder_variants_gradient_check(variant, backend, rng):
    x = rng.uniform(0.1, 0.9, (4, 6))
    options = {"overcomplete": dict(hidden_size_list=(9,)),
               "sparse": dict(hidden_size_list=(5, 3), sparsity=(0.2, 0.5)),
               "denoising": dict(hidden_size_list=(4,), corruption=0.3),
               "masked": dict(hidden_size_list=(4,), output_activation="identity")}[variant]
    net = nets.AutoEncoder(6, backend=backend, seed=1, **options)
    if variant == "denoising":
        corrupted = net.corrupt(x)
        assert (corrupted == 0).any() and (corrupted[corrupted != 0] == x[corrupted != 0]).all()
        _check_autoencoder(net, x, corrupted=corrupted)
    elif variant == "masked":
        mask = (rng.random(x.shape) < 0.6).astype(float)
        _check_autoencoder(net, x, mask=mask)
        # what the mask hides does not matter
        t = np.where(mask > 0, x, 99.0)
        g1, g2 = net.gradient(x, x, mask=mask), net.gradient(x, t, mask=mask)
        assert all(np.array_equal(g1[k], g2[k]) for k in g1)
    else:
        _check_autoencoder(net, x)


def test_autoencoder_variant_arguments_are_checked():
    with pytest.raises(ValueError, match="sparsity"):
        nets.AutoEncoder(6, (4,), activation="relu", sparsity=(0.1, 1.0))
    with pytest.raises(ValueError, match="corruption"):
        nets.AutoEncoder(6, (4,), corruption=1.0)
    with pytest.raises(ValueError, match="output_activation"):
        nets.AutoEncoder(6, (4,), output_activation="softmax")


# -- the command --------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["rbm", "autoencoder"])
def test_recommend_command(model, tmp_path, capsys):
    train, test = planted_ratings(users=120, movies=150, per_user=30)
    write_movielens(tmp_path / "data", train, test)
    save = tmp_path / "params.npz"
    code = cli.main(["recommend", "--model", model, "--data-dir", str(tmp_path / "data"),
                     "--epochs", "2", "--user", "7", "--top", "3", "--save", str(save)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and save.exists()
    assert out[0].startswith("epoch 1/2: train loss ") and "test loss" in out[0]
    assert out[-1].startswith("test loss: ") and len(out[-1].split()[-1]) == 6
    listed = [line for line in out if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(listed) == 3 and all("Film" in line for line in listed)
    cli.main(["recommend", "--model", model, "--data-dir", str(tmp_path / "data"),
              "--epochs", "1", "--quiet"])
    assert capsys.readouterr().out.splitlines()[0].startswith("test loss: ")
