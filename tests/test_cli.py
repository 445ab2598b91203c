"""The `fastnn` command and the benchmark's bookkeeping (no timings are asserted)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import bench, cli


def test_info_prints_the_build(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("compiler", "openmp", "simd", "num_threads", "numpy"):
        assert key in out


def test_python_m_fastnn_help(tmp_path):
    # From another directory (`python -m` puts the working directory first on sys.path),
    # finding the same fastnn these tests import: installed, or built in place.
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(fastnn.__file__))}
    out = subprocess.run([sys.executable, "-m", "fastnn", "--help"], capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0 and "bench" in out.stdout and "info" in out.stdout


@pytest.mark.parametrize("command", [[], ["info"], ["bench"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(command + ["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: fastnn" in out and len(out.splitlines()) >= 3


def test_work_counts_flops_and_minimal_bytes():
    conv = bench.Case("conv", "c", (2, 3, 5, 5), (4, 3, 3, 3), pad=1)
    # out (2, 4, 5, 5); 27 multiply-adds per output; forward + backward = 3 forwards
    assert bench.work(conv, "float32", (2, 4, 5, 5)) == (3 * 2 * 200 * 27, "FLOP")
    pool = bench.Case("max_pool", "p", (2, 3, 4, 4))
    assert bench.work(pool, "float64", (2, 3, 2, 2)) == ((2 * 96 + 2 * 24) * 8, "B")
    bn = bench.Case("batchnorm", "b", (2, 3, 4, 4))
    assert bench.work(bn, "float32", (2, 3, 4, 4)) == (5 * 96 * 4, "B")


def test_bench_runs_and_reports_every_case(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "time_call", lambda fn, **kw: (fn(), (1e-3, 1e-3, 2e-3))[1])
    cases = [bench.Case("conv", "tiny conv", (2, 3, 6, 6), (4, 3, 3, 3), pad=1),
             bench.Case("max_pool", "tiny pool", (2, 3, 6, 6)),
             bench.Case("avg_pool", "tiny avg", (2, 3, 6, 6)),
             bench.Case("batchnorm", "tiny bn", (2, 3, 6, 6))]
    monkeypatch.setattr(bench, "measure_ceilings",
                        lambda threads, dtype, quick=False: {"fma_gflops": 100.0, "matmul_gflops": 80.0,
                                                             "copy_gbps": 20.0})
    result = bench.run(dtypes=("float64",), cases=cases)
    assert [row["label"] for row in result["rows"]] == [c.label for c in cases]
    table = bench.format_table(result)
    for case in cases:
        assert case.label in table
    path = tmp_path / "bench.json"
    bench.save_json(result, path)
    assert json.loads(path.read_text())["rows"][0]["unit"] == "FLOP"


def test_the_matmul_ceiling_holds_numpys_blas_to_the_thread_count():
    """fastnn.set_num_threads does not reach NumPy's BLAS: the ceiling sets it itself
    (threadpoolctl is in the test extra), and says so in the table when it cannot."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not any(lib["user_api"] == "blas" for lib in threadpoolctl.threadpool_info()):
        pytest.skip("threadpoolctl sees no BLAS in this NumPy")
    limit, limited = bench.blas_threads(1)
    with limit:
        inside = [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
                  if lib["user_api"] == "blas"]
    assert limited and inside and set(inside) == {1}
    result = {"meta": {"fastnn": "x", "threads": 1, "torch": None, "numpy": np.__version__,
                       "build": fastnn.build_info()},
              "ceilings": {"float32": {"fma_gflops": 1.0, "matmul_gflops": 1.0,
                                       "matmul_threads": None, "copy_gbps": 1.0}}, "rows": []}
    assert "BLAS at its own thread count" in bench.format_table(result)


def test_bench_quick_runs_one_case_of_each_family(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench, "time_call", lambda fn, **kw: calls.append(kw) or (1e-3, 1e-3, 2e-3))
    assert cli.main(["bench", "--quick", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert "--quick" in out
    assert {c.kind for c in bench.QUICK_CASES} == {"conv", "max_pool", "batchnorm"}
    for case in bench.QUICK_CASES:
        assert case.label in out
    quick_calls = [kw for kw in calls if kw.get("max_reps") == bench.QUICK_TIMING["max_reps"]]
    assert len(quick_calls) >= 2 * len(bench.QUICK_CASES)  # fastnn and the reference, each case


def test_fma_ceiling_is_positive_and_finite():
    from fastnn._kernels import ceilings
    value = ceilings.fma_gflops(1, True, iterations=100_000)
    assert np.isfinite(value) and value > 0


# -- every known failure: one line on stderr, exit status 2 ------------------------------------

def _write_corrupt_mnist(directory):
    directory.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (directory / name).write_bytes(b"\x1f\x8b not really gzip")
    return directory


def _write_malformed_movielens(directory):
    directory.mkdir()
    (directory / "u.info").write_text("4 users\n5 items\n1 ratings\n")
    (directory / "u1.base").write_text("1\t1\t9\t881250949\n")  # a rating of 9
    (directory / "u1.test").write_text("")
    return directory


def _write_movielens(directory):
    from movielens_files import planted_ratings, write_movielens
    train, test = planted_ratings(users=30, movies=40, per_user=10)
    return write_movielens(directory, train, test)


FAILURES = {
    # command line                                  what the one line says
    "info: bad option": (lambda d: ["info", "--verbose"], "unrecognized arguments: --verbose"),
    "bench: bad option": (lambda d: ["bench", "--threads", "0"], "n must be >= 1, got 0"),
    "bench: bad dtype": (lambda d: ["bench", "--dtype", "float16"], "invalid choice: 'float16'"),
    "bench: unwritable output": (lambda d: ["bench", "--json", str(d / "no" / "b.json")],
                                 "does not exist"),
    "train: missing data": (lambda d: ["train", "--data-dir", str(d)], "no MNIST files in"),
    "train: bad file": (lambda d: ["train", "--data-dir", str(_write_corrupt_mnist(d / "m"))],
                        "not a readable IDX file"),
    "train: bad option": (lambda d: ["train", "--batch-size", "x"], "invalid int value: 'x'"),
    "train: bad number": (lambda d: ["train", "--threads", "0"], "n must be >= 1"),
    "train: bad interval": (lambda d: ["train", "--checkpoint", str(d / "c"), "--checkpoint-every", "0"],
                            "--checkpoint-every must be >= 1"),
    "train: unwritable output": (lambda d: ["train", "--save", str(d / "no" / "p.npz")],
                                 "does not exist"),
    "recommend: missing data": (lambda d: ["recommend", "--data-dir", str(d)], "could not fetch"),
    "recommend: bad file": (lambda d: ["recommend", "--data-dir",
                                       str(_write_malformed_movielens(d / "ml"))],
                            "u1.base, line 1: rating 9 is outside 1..5"),
    "recommend: bad option": (lambda d: ["recommend", "--data-dir", str(_write_movielens(d / "ml")),
                                         "--hidden", "0"], "must be >= 1"),
    "recommend: bad user": (lambda d: ["recommend", "--data-dir", str(_write_movielens(d / "ml")),
                                       "--user", "31"], "--user 31: user ids are 1..30"),
    "recommend: unwritable output": (lambda d: ["recommend", "--data-dir", str(_write_movielens(d / "ml")),
                                              "--epochs", "0", "--save", str(d / "x" / "p.npz")],
                                   "does not exist"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_every_known_failure_is_one_line_and_exit_status_2(case, tmp_path, capsys, monkeypatch):
    from fastnn.datasets import movielens
    monkeypatch.setattr(movielens, "URL", (tmp_path / "nowhere.zip").as_uri())  # no network
    make_args, message = FAILURES[case]
    args = make_args(tmp_path)
    try:
        status = cli.main(args)
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"fastnn {args[0]}:") or err.startswith("fastnn: "), err
    assert message in err, err


def test_a_bad_checkpoint_is_one_line(tmp_path, capsys):
    from test_data import MNIST_DIR
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    status = cli.main(["train", "--data-dir", MNIST_DIR, "--model", "mlp", "--quiet",
                       "--resume", str(tmp_path / "bad.ckpt")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "truncated or not a fastnn checkpoint" in err
