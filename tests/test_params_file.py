"""Every model's parameter file goes through one loader: a file of another model, shape,
dtype or format is a ValueError naming it, and nothing is loaded half."""
import numpy as np
import pytest

from fastnn import nets
from fastnn import recommend as rc

MODELS = {
    "MultiLayerNet": lambda n: nets.MultiLayerNet(n, [5], 3, use_batchnorm=True, seed=n),
    "SimpleConvNet": lambda n: nets.SimpleConvNet((1, n, n), {"filter_num": 2, "filter_size": 3,
                                                             "pad": 0, "stride": 1}, 4, 3, seed=n),
    "RBM": lambda n: nets.RBM(n_visible=n, n_hidden=4, seed=n),
    "RBMRecommender": lambda n: rc.RBMRecommender(n, n_hidden=4, seed=n),
    "AutoEncoderRecommender": lambda n: rc.AutoEncoderRecommender(n, (4, 3), seed=n),
}


def params_of(model):
    return getattr(model, "network", model).params


def snapshot(model):
    return {k: v.copy() for k, v in params_of(model).items()}


def assert_unchanged(model, before):
    for key, value in params_of(model).items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("kind", MODELS)
def test_round_trip_in_place(kind, tmp_path):
    saved, loaded = MODELS[kind](12), MODELS[kind](12)
    for value in params_of(saved).values():  # away from the initial values both share
        value += np.random.default_rng(0).standard_normal(value.shape)
    saved.save_params(tmp_path / "p.npz")
    arrays = dict(params_of(loaded))
    loaded.load_params(tmp_path / "p.npz")
    for key, value in params_of(loaded).items():
        assert value is arrays[key]  # the same arrays, which the layers hold
        np.testing.assert_array_equal(value, params_of(saved)[key])


@pytest.mark.parametrize("kind", MODELS)
def test_a_file_of_another_shape_or_model_is_refused(kind, tmp_path):
    MODELS[kind](8).save_params(tmp_path / "small.npz")
    model = MODELS[kind](12)
    before = snapshot(model)
    with pytest.raises(ValueError, match="small.npz"):
        model.load_params(tmp_path / "small.npz")
    assert_unchanged(model, before)
    other = "MultiLayerNet" if kind.startswith("RBM") else "RBM"  # (the RBMs share a layout)
    MODELS[other](12).save_params(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="other.npz"):
        model.load_params(tmp_path / "other.npz")
    assert_unchanged(model, before)


def damaged_files(path, good):
    """(name, bytes-writer) of files that are not this model's parameters."""
    arrays = dict(np.load(good))
    first = next(iter(arrays))
    yield "npy", lambda: np.save(path, arrays[first])
    yield "truncated", lambda: path.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    yield "text", lambda: path.write_text("W,b\n1,2\n")
    yield "int", lambda: np.savez(path, **{**arrays, first: arrays[first].astype(np.int64)})
    nan = arrays[first].copy()
    nan.flat[-1] = np.nan
    yield "nan", lambda: np.savez(path, **{**arrays, first: nan})
    yield "objects", lambda: np.savez(path, **{**arrays, first: np.array([{}, None], dtype=object)})
    yield "extra", lambda: np.savez(path, **arrays, unexpected=np.zeros(2))


@pytest.mark.parametrize("kind", MODELS)
def test_files_that_are_not_parameters_are_value_errors(kind, tmp_path):
    good = tmp_path / "good.npz"
    MODELS[kind](12).save_params(good)
    model = MODELS[kind](12)
    before = snapshot(model)
    for name, write in damaged_files(tmp_path / "bad.npz", good):
        write()
        path = tmp_path / ("bad.npz.npy" if name == "npy" else "bad.npz")
        with pytest.raises(ValueError, match="bad.npz"):
            model.load_params(path)
        assert_unchanged(model, before)
    with pytest.raises(FileNotFoundError):
        model.load_params(tmp_path / "missing.npz")


def test_saving_is_atomic_and_names_the_file_as_numpy_does(tmp_path, monkeypatch):
    model = MODELS["RBM"](6)
    model.save_params(tmp_path / "w")  # np.savez's naming: .npz added
    assert (tmp_path / "w.npz").exists() and not (tmp_path / "w.npz.tmp").exists()
    before = (tmp_path / "w.npz").read_bytes()

    def interrupted(file, **arrays):
        file.write(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save_params(tmp_path / "w.npz")
    assert (tmp_path / "w.npz").read_bytes() == before  # the previous file, whole
