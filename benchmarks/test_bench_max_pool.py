"""Forward+backward of max_pool at the seed networks' shapes."""
import pytest
from conftest import cases_of, step_for


@pytest.mark.parametrize("case", cases_of("max_pool"))
def test_max_pool(benchmark, case, dtype, backend):
    benchmark.group = f"max_pool {case.describe()} {dtype}"
    benchmark(step_for(case, dtype, backend))
