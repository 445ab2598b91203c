"""pytest-benchmark suites: `pytest benchmarks/` (not part of the test suite).

Each suite times forward+backward of one kernel family at the seed networks' shapes
(fastnn.bench.CASES) for fastnn and the NumPy reference, and PyTorch CPU when installed.
Compare with `pytest benchmarks/ --benchmark-group-by=param:case`.
"""
import numpy as np
import pytest

from fastnn import bench
from fastnn import functional as fast
from fastnn.reference import functional as reference

BACKENDS = ["fastnn", "reference", "torch"]


def cases_of(kind):
    return [pytest.param(case, id=f"{case.label}-{case.describe()}".replace(" ", "_"))
            for case in bench.CASES if case.kind == kind]


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def step_for(case, dtype, backend):
    """A zero-argument forward+backward for one case on one backend."""
    x, w, b, dout, _ = bench.make_inputs(case, dtype, np.random.default_rng(0))
    if backend == "torch":
        torch = pytest.importorskip("torch")
        return bench.torch_step(torch, case, x, w, b, dout)
    F = fast if backend == "fastnn" else reference
    return lambda: bench.numpy_step(F, case, x, w, b, dout)
