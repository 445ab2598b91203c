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
                        lambda threads, dtype: {"fma_gflops": 100.0, "matmul_gflops": 80.0, "copy_gbps": 20.0})
    result = bench.run(dtypes=("float64",), cases=cases)
    assert [row["label"] for row in result["rows"]] == [c.label for c in cases]
    table = bench.format_table(result)
    for case in cases:
        assert case.label in table
    path = tmp_path / "bench.json"
    bench.save_json(result, path)
    assert json.loads(path.read_text())["rows"][0]["unit"] == "FLOP"


def test_fma_ceiling_is_positive_and_finite():
    from fastnn._kernels import ceilings
    value = ceilings.fma_gflops(1, True, iterations=100_000)
    assert np.isfinite(value) and value > 0
