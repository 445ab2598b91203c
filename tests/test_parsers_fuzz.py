"""The file parsers on random and damaged bytes: every outcome is a clean load or a
``ValueError`` that names the file and where in it (line or byte offset) it went wrong;
never another exception, never a wrong array."""
import gzip
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn.datasets import mnist as data, movielens

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

GOOD_RATINGS = b"1\t1\t5\t881250949\n2\t3\t1\t891717742\n3\t2\t4\t878887116\n"
GOOD_TITLES = "1|Toy Story (1995)|01-Jan-1995||http://x|0\n2|GoldenEye (1995)|x\n".encode("latin-1")


def mutated(good):
    """``good`` with some bytes flipped, deleted or inserted, or random bytes."""
    # Bytes that parsers trip on: separators, signs, and Latin-1 characters that Python
    # calls digits ('\xb2' is '²').
    tricky = st.sampled_from([b"\t", b"\n", b"\r", b"|", b" ", b"-", b"0", b"9", b"\xb2",
                              b"\xb3", b"\xb9", b"\xbd", b"\x00", b"\xff"])
    edit = st.tuples(st.sampled_from(["flip", "delete", "insert"]), st.integers(0, len(good)),
                     st.one_of(tricky, st.binary(min_size=1, max_size=3)))

    def apply(edits):
        b = bytearray(good)
        for kind, at, chunk in edits:
            at = min(at, len(b))
            if kind == "flip" and at < len(b):
                b[at] ^= chunk[0] or 1
            elif kind == "delete":
                del b[at:at + len(chunk)]
            else:
                b[at:at] = chunk
        return bytes(b)
    return st.one_of(st.lists(edit, min_size=1, max_size=6).map(apply), st.binary(max_size=200))


def assert_names_the_place(exc, path, *places):
    message = str(exc)
    assert str(path) in message, message
    assert any(place in message for place in places), message


# Lines of fields built from digits, Latin-1 "digits" and separators: the near misses.
FIELD = st.text(alphabet="0123456789\u00b2\u00b3\u00b9\u00bd -+x.", min_size=0, max_size=4)
NEAR_MISS_LINES = st.lists(st.lists(FIELD, min_size=3, max_size=5).map("\t".join),
                           min_size=1, max_size=4).map(lambda lines: "\n".join(lines).encode("latin-1"))


@FUZZ
@given(st.one_of(mutated(GOOD_RATINGS), NEAR_MISS_LINES))
def test_movielens_ratings(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("ml") / "u1.base"
    path.write_bytes(raw)
    try:
        matrix = movielens.read_ratings(path, (4, 5))
    except ValueError as exc:
        assert_names_the_place(exc, path, "line ")
        return
    assert matrix.shape == (4, 5) and set(np.unique(matrix)) <= {0, 1, 2, 3, 4, 5}
    assert (matrix > 0).sum() == len(raw.decode("latin-1").splitlines())


@FUZZ
@given(mutated(GOOD_TITLES))
def test_movielens_titles(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("ml") / "u.item"
    path.write_bytes(raw)
    try:
        titles = movielens.read_titles(path, 3)
    except ValueError as exc:
        assert_names_the_place(exc, path, "line ")
        return
    assert len(titles) == 3 and all(isinstance(t, str) for t in titles)


@FUZZ
@given(mutated(b"943 users\n1682 items\n100000 ratings\n"))
def test_movielens_counts(tmp_path_factory, raw):
    directory = tmp_path_factory.mktemp("ml")
    (directory / "u.info").write_bytes(raw)
    try:
        users, items = movielens.read_shape(directory)
    except ValueError as exc:
        assert_names_the_place(exc, directory / "u.info", "line ", "expected")
        return
    assert users >= 1 and items >= 1


def idx_bytes(array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


GOOD_IDX = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@FUZZ
@given(mutated(GOOD_IDX), st.booleans())
def test_idx_files(tmp_path_factory, raw, compress):
    path = tmp_path_factory.mktemp("idx") / ("x.gz" if compress else "x")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    try:
        array = data.read_idx(path)
    except ValueError as exc:
        assert_names_the_place(exc, path, "offset", "bytes", "too short")
        return
    assert array.nbytes <= len(raw)  # what it returns is what the file holds
    assert array.tobytes() == raw[len(raw) - array.nbytes:]


@FUZZ
@given(mutated(gzip.compress(GOOD_IDX)))
def test_damaged_gzip_streams(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("idx") / "x.gz"
    path.write_bytes(raw)
    try:
        data.read_idx(path)
    except ValueError as exc:
        assert_names_the_place(exc, path, "offset", "bytes", "not a readable IDX file", "too short")
