"""MovieLens 100K ratings, as published by GroupLens, read into dense users x movies matrices.

The files (``ml-100k.zip``): ``u.data`` (all 100,000 ratings: user, item, rating,
timestamp, tab-separated), the splits ``u1.base``/``u1.test`` ... ``u5`` (5-fold) and
``ua``/``ub`` (10 test ratings per user), ``u.info`` (the counts of users, items and
ratings) and ``u.item`` (``id|title|...``, Latin-1).  Users and items are numbered from
1; in the matrices, user u and item i are row u-1 and column i-1, and 0 means unrated.

``load_movielens(data_dir, split)`` validates what it reads: a malformed line, a rating
outside 1-5, an id outside the counts of ``u.info`` (943 users and 1,682 items without
it) or a pair rated twice is a ``ValueError`` naming the file and the line.  Without the
files, it downloads the official archive into ``data_dir`` (default
``$FASTNN_MOVIELENS``, else ``~/.cache/fastnn/ml-100k``) and checks its MD5; with no
network either, it says so and names ``--data-dir``.
"""
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from fastnn.datasets.downloads import CHECKSUM_MISMATCH, fetch

__all__ = ["URL", "MD5", "SPLITS", "MovieLens", "load_movielens", "download_movielens",
           "read_ratings", "default_data_dir"]

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MD5 = "0e33842e24a9c977be4e0107933c0723"  # of ml-100k.zip, as GroupLens publishes it
SHAPE = (943, 1682)  # users, items of ML-100K (u.info)
SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub", "all")


@dataclass
class MovieLens:
    """train, test: (users, movies) ratings 1-5, 0 where unrated (float64); titles: the
    movies' titles (index = item id - 1), or None without ``u.item``."""
    train: np.ndarray
    test: np.ndarray
    titles: list

    @property
    def shape(self):
        return self.train.shape


def default_data_dir():
    """``$FASTNN_MOVIELENS`` if set, else ``~/.cache/fastnn/ml-100k``."""
    return os.environ.get("FASTNN_MOVIELENS") or os.path.join(
        os.path.expanduser("~"), ".cache", "fastnn", "ml-100k")


def _find(data_dir, name):
    """data_dir/name or data_dir/ml-100k/name (the archive's folder), or None."""
    for path in (os.path.join(data_dir, name), os.path.join(data_dir, "ml-100k", name)):
        if os.path.exists(path):
            return path
    return None


def _is_number(field):
    """Whether ``field`` is a decimal integer in ASCII digits (``str.isdigit`` alone also
    takes '²' and other digits that ``int`` refuses)."""
    return field.isascii() and field.isdigit()


def read_shape(data_dir):
    """(users, items) from ``u.info`` ('943 users', '1682 items', ...), else ML-100K's."""
    path = _find(data_dir, "u.info")
    if path is None:
        return SHAPE
    counts = {}
    with open(path, encoding="latin-1") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if len(fields) != 2 or not _is_number(fields[0]):
                raise ValueError(f"{path}, line {number}: expected '<count> <what>', got {line!r}")
            counts[fields[1]] = int(fields[0])
    if "users" not in counts or "items" not in counts:
        raise ValueError(f"{path}: expected the counts of users and items, got {sorted(counts)}")
    if counts["users"] < 1 or counts["items"] < 1:
        raise ValueError(f"{path}: expected at least one user and one item, got "
                         f"{counts['users']} users and {counts['items']} items")
    return counts["users"], counts["items"]


def read_ratings(path, shape):
    """The ratings of one file as a (users, items) matrix, 0 where unrated.  Each line:
    user, item, rating (1-5), timestamp, tab-separated; ids from 1 within ``shape``."""
    matrix = np.zeros(shape)
    first_line = {}
    with open(path, encoding="latin-1") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 4 or not all(_is_number(field) for field in fields):
                raise ValueError(f"{path}, line {number}: expected 4 tab-separated integers "
                                 f"(user, item, rating, timestamp), got {line.rstrip()!r}")
            user, item, rating = (int(v) for v in fields[:3])
            for what, value, limit in (("user", user, shape[0]), ("item", item, shape[1])):
                if not 1 <= value <= limit:
                    raise ValueError(f"{path}, line {number}: {what} id {value} is outside "
                                     f"1..{limit}")
            if not 1 <= rating <= 5:
                raise ValueError(f"{path}, line {number}: rating {rating} is outside 1..5")
            if (user, item) in first_line:
                raise ValueError(f"{path}, line {number}: user {user} rated item {item} "
                                 f"already on line {first_line[user, item]}")
            first_line[user, item] = number
            matrix[user - 1, item - 1] = rating
    return matrix


def read_titles(path, count):
    """Titles from ``u.item`` (``id|title|release date|...``, Latin-1): a list of ``count``."""
    titles = [f"item {i}" for i in range(1, count + 1)]
    with open(path, encoding="latin-1") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\r\n").split("|")
            if len(fields) < 2 or not _is_number(fields[0]) or not 1 <= int(fields[0]) <= count:
                raise ValueError(f"{path}, line {number}: expected 'id|title|...' with an id "
                                 f"in 1..{count}, got {line.rstrip()!r}")
            titles[int(fields[0]) - 1] = fields[1]
    return titles


def load_movielens(data_dir=None, split="u1", download=True):
    """The ratings of ``split`` ('u1'..'u5', 'ua', 'ub': its .base and .test files;
    'all': u.data, with an empty test matrix) as a :class:`MovieLens`.  Downloads the
    official archive when the files are missing and ``download`` is true."""
    if split not in SPLITS:
        raise ValueError(f"load_movielens: split must be one of {SPLITS}, got {split!r}")
    data_dir = data_dir or default_data_dir()
    names = ("u.data",) if split == "all" else (f"{split}.base", f"{split}.test")
    if any(_find(data_dir, name) is None for name in names):
        if not download:
            raise FileNotFoundError(f"load_movielens: {' and '.join(names)} not found in "
                                    f"{data_dir} (pass the ML-100K directory: --data-dir)")
        download_movielens(data_dir)
    shape = read_shape(data_dir)
    train = read_ratings(_find(data_dir, names[0]), shape)
    test = read_ratings(_find(data_dir, names[1]), shape) if len(names) == 2 else np.zeros(shape)
    items = _find(data_dir, "u.item")
    return MovieLens(train, test, read_titles(items, shape[1]) if items else None)


def download_movielens(data_dir=None, url=None, md5=None, timeout=30):
    """Fetch the ML-100K archive (``url``, default :data:`URL`) into data_dir, check its
    MD5 (default :data:`MD5`) and unpack the ``ml-100k/`` files there.  A failed download
    or checksum is a ``ConnectionError`` naming ``--data-dir``.  Returns data_dir."""
    data_dir = data_dir or default_data_dir()
    url, md5 = url or URL, md5 or MD5
    os.makedirs(data_dir, exist_ok=True)
    archive = os.path.join(data_dir, "ml-100k.zip")
    reason = fetch(url, archive, md5, timeout)
    if reason == CHECKSUM_MISMATCH:
        raise ConnectionError(f"download_movielens: {url} failed its MD5 check (expected "
                              f"{md5}); nothing was kept")
    if reason is not None:
        raise ConnectionError(
            f"download_movielens: could not fetch {url} ({reason}). Without a network, put "
            f"the ML-100K files (u.data, u1.base, u1.test, ...) in a directory and pass it "
            f"(--data-dir)")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(data_dir)
    return data_dir

