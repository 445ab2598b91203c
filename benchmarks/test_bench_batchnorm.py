"""Forward+backward of batchnorm at the seed networks' shapes."""
import pytest
from conftest import cases_of, step_for


@pytest.mark.parametrize("case", cases_of("batchnorm"))
def test_batchnorm(benchmark, case, dtype, backend):
    benchmark.group = f"batchnorm {case.describe()} {dtype}"
    benchmark(step_for(case, dtype, backend))
