"""The MNIST (IDX) loader: valid files, corrupt ones, the real test set, downloading."""
import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

from fastnn.datasets import mnist as data

MNIST_DIR = data.BUNDLED_MNIST_DIR  # the official test set, installed with the package


def idx_bytes(array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = struct.pack(">HBB", 0, codes[array.dtype], array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("x.gz" if compress else "x")
    with (gzip.open if compress else open)(path, "wb") as f:  # closed: gzip buffers writes
        f.write(idx_bytes(array))
    np.testing.assert_array_equal(data.read_idx(path), array)
    big_endian = np.array([1, -2, 300], dtype=">i4")
    (tmp_path / "y").write_bytes(idx_bytes(big_endian))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "y"), [1, -2, 300])


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-1], "truncated or corrupt"),
    (lambda b: b + b"\0", "truncated or corrupt"),
    (lambda b: b"\1\2" + b[2:], "no IDX magic number"),
    (lambda b: b[:6], "truncated inside its header"),
    (lambda b: b[:2], "too short"),
])
def test_read_idx_rejects_damaged_files(tmp_path, damage, message):
    path = tmp_path / "bad"
    path.write_bytes(damage(idx_bytes(np.zeros((3, 2), np.uint8))))
    with pytest.raises(ValueError, match=message):
        data.read_idx(path)


def test_read_idx_rejects_a_broken_gzip_stream(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 4), np.uint8)))[:-12])
    with pytest.raises(ValueError, match="not a readable IDX file"):
        data.read_idx(path)


def test_the_bundled_test_set_is_the_official_one_and_loads():
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        md5 = hashlib.md5(open(os.path.join(MNIST_DIR, name + ".gz"), "rb").read()).hexdigest()
        assert md5 == data.MNIST_FILES[name][0]
    (x, t), (xt, tt) = data.load_mnist(MNIST_DIR, split=(8000, 2000))
    assert x.shape == (8000, 784) and xt.shape == (2000, 784) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.99
    assert t.dtype == np.int64 and set(np.unique(t)) == set(range(10))
    (x, t), _ = data.load_mnist(MNIST_DIR, normalize=False, flatten=False, one_hot_label=True,
                                split=(100, 10))
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.uint8 and t.shape == (100, 10)
    np.testing.assert_array_equal(t.sum(axis=1), 1)


def test_without_a_training_set_load_mnist_asks_for_a_split():
    with pytest.raises(FileNotFoundError, match=r"split=\(n_train, n_test\)"):
        data.load_mnist(MNIST_DIR)
    with pytest.raises(ValueError, match="n_train \\+ n_test <= 10000"):
        data.load_mnist(MNIST_DIR, split=(9000, 2000))


def test_an_empty_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found in"):
        data.load_mnist(str(tmp_path), split=(10, 10))


def test_download_verifies_checksums_and_tries_mirrors(tmp_path, monkeypatch):
    files = {"a": np.zeros((2, 2), np.uint8), "b": np.ones((3,), np.uint8)}
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    table = {}
    for name, array in files.items():
        payload = gzip.compress(idx_bytes(array))
        (good / (name + ".gz")).write_bytes(payload)
        (bad / (name + ".gz")).write_bytes(payload[:-1] + b"x")  # a corrupt copy
        table[name] = (hashlib.md5(payload).hexdigest(), array.shape)
    monkeypatch.setattr(data, "MNIST_FILES", table)
    target = tmp_path / "cache"
    mirrors = (bad.as_uri() + "/", good.as_uri() + "/")
    assert data.download_mnist(str(target), mirrors=mirrors) == str(target)
    for name, array in files.items():
        np.testing.assert_array_equal(data.read_idx(target / (name + ".gz")), array)
    with pytest.raises(ConnectionError, match="--data-dir"):
        data.download_mnist(str(tmp_path / "other"), mirrors=(bad.as_uri() + "/",))
    assert not any(p.suffix == ".part" for p in (tmp_path / "other").iterdir())
