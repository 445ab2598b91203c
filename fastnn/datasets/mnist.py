"""MNIST in its original IDX format: reading (gzip or raw), validating, downloading.

``load_mnist`` follows the textbook's ``dataset/mnist.py``: it returns
``(x_train, t_train), (x_test, t_test)`` with the options ``normalize``, ``flatten`` and
``one_hot_label``.  Files are read from a directory (``data_dir``, else
``$FASTNN_DATA``, else ``~/.cache/fastnn/mnist``); a corrupt or truncated file is a clear
error, never a wrong array.  Where only the 10,000-image test set is at hand,
``split=(n_train, n_test)`` divides it (first n_train images to train, last n_test to test).
That test set ships with fastnn, in :data:`BUNDLED_MNIST_DIR`.
"""
import gzip
import math
import os
import struct
import zlib

import numpy as np

from fastnn.datasets.downloads import fetch, md5_of

__all__ = ["load_mnist", "read_idx", "download_mnist", "default_data_dir", "find_file",
           "MNIST_FILES", "BUNDLED_MNIST_DIR"]

# name -> (md5 of the official .gz file, shape of its array)
MNIST_FILES = {
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", (60000,)),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", (10000,)),
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
           "http://yann.lecun.com/exdb/mnist/")

# The official MNIST test set (10,000 digits, CC BY-SA 3.0), shipped inside the package:
# what `fastnn train` and the tests use where no full MNIST is at hand (its README.md).
BUNDLED_MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files", "mnist")

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def default_data_dir():
    """``$FASTNN_DATA`` if set, else ``~/.cache/fastnn/mnist``."""
    return os.environ.get("FASTNN_DATA") or os.path.join(
        os.path.expanduser("~"), ".cache", "fastnn", "mnist")


def read_idx(path):
    """Read an IDX file (raw, or gzip when the name ends in .gz) into an array.

    Validates the magic number (two zero bytes, a known type code, 1 to 4 dimensions) and
    that the payload is exactly as long as the dimensions say; raises ``ValueError``
    naming the file (and the byte offset where the file stops making sense) otherwise.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as exc:  # gzip's errors for corrupt/truncated streams
        raise ValueError(f"read_idx: {path} is not a readable IDX file ({exc})") from None
    if len(data) < 4:
        raise ValueError(f"read_idx: {path} is too short for an IDX header ({len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise ValueError(f"read_idx: {path} has no IDX magic number at offset 0 (got "
                         f"{data[:4].hex()}: two zero bytes, a type code, 1-4 dimensions)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header: {ndim} "
                         f"dimensions need {header} bytes, the file ends at offset {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for any header
    if len(data) - header != expected:
        raise ValueError(f"read_idx: {path} should hold {expected} bytes of data for shape "
                         f"{shape} from offset {header}, but holds {len(data) - header}: "
                         f"truncated or corrupt")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="))


def find_file(data_dir, name):
    """Path of ``name`` in data_dir, gzipped (``name.gz``) or raw, or None."""
    for candidate in (name + ".gz", name):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    return None


def _read_checked(data_dir, name):
    """Read one of the MNIST files and check its shape against the official one."""
    path = find_file(data_dir, name)
    array = read_idx(path)
    _, shape = MNIST_FILES[name]
    if array.shape != shape or array.dtype != np.uint8:
        raise ValueError(f"load_mnist: {path} holds {array.dtype} {array.shape}, "
                         f"MNIST's {name} is uint8 {shape}")
    return array


def _prepare(images, labels, normalize, flatten, one_hot_label):
    x = images.astype(np.float32) / 255.0 if normalize else images.copy()
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)
    t = labels.astype(np.int64)
    if one_hot_label:
        t = np.eye(10, dtype=np.float32)[t]
    return x, t


def load_mnist(data_dir=None, normalize=True, flatten=True, one_hot_label=False, split=None):
    """MNIST as ``(x_train, t_train), (x_test, t_test)``.

    normalize: float32 pixels in [0, 1] (else uint8 0-255).  flatten: x (N, 784), else
    (N, 1, 28, 28).  one_hot_label: t (N, 10) float32, else int64 labels (N,).
    split=(n_train, n_test): use only the 10,000 test images, the first n_train to train
    and the last n_test to test (for machines that have only the test set).
    """
    data_dir = data_dir or default_data_dir()
    names = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    if split is None:
        names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] + names
    missing = [n for n in names if find_file(data_dir, n) is None]
    if missing:
        hint = ("" if split is not None or find_file(data_dir, names[2]) is None else
                "; only the test set is there: pass split=(n_train, n_test) to divide it")
        raise FileNotFoundError(
            f"load_mnist: {', '.join(missing)} not found in {data_dir} (give data_dir, set "
            f"FASTNN_DATA, or call download_mnist()){hint}")
    test_images = _read_checked(data_dir, "t10k-images-idx3-ubyte")
    test_labels = _read_checked(data_dir, "t10k-labels-idx1-ubyte")
    if split is None:
        train = (_read_checked(data_dir, "train-images-idx3-ubyte"),
                 _read_checked(data_dir, "train-labels-idx1-ubyte"))
        test = (test_images, test_labels)
    else:
        n_train, n_test = (int(v) for v in split)
        if n_train < 0 or n_test < 0 or n_train + n_test > len(test_images):
            raise ValueError(f"load_mnist: split {split} needs n_train + n_test <= "
                             f"{len(test_images)} and both >= 0")
        train = (test_images[:n_train], test_labels[:n_train])
        test = (test_images[len(test_images) - n_test:], test_labels[len(test_images) - n_test:])
    return (_prepare(*train, normalize, flatten, one_hot_label),
            _prepare(*test, normalize, flatten, one_hot_label))


def download_mnist(data_dir=None, mirrors=None, timeout=30):
    """Fetch the four official .gz files into data_dir, verifying each one's MD5.

    mirrors: base URLs tried in order (default: MIRRORS).  Files already present with the
    right checksum are kept.  A file that fails the
    check is deleted and the next mirror tried.  Raises ``ConnectionError`` naming
    ``--data-dir`` when no mirror can be reached.  Returns data_dir.
    """
    data_dir = data_dir or default_data_dir()
    mirrors = MIRRORS if mirrors is None else mirrors
    os.makedirs(data_dir, exist_ok=True)
    for name, (md5, _) in MNIST_FILES.items():
        target = os.path.join(data_dir, name + ".gz")
        if os.path.exists(target) and md5_of(target) == md5:
            continue
        errors = []
        for mirror in mirrors:
            reason = fetch(mirror + name + ".gz", target, md5, timeout)
            if reason is None:
                break
            errors.append(f"{mirror}: {reason}")
        else:
            raise ConnectionError(
                f"download_mnist: could not fetch {name}.gz ({'; '.join(errors)}). Without a "
                f"network, put the IDX files in a directory and pass it (--data-dir)")
    return data_dir

