"""Forward+backward of avg_pool at the seed networks' shapes."""
import pytest
from conftest import cases_of, step_for


@pytest.mark.parametrize("case", cases_of("avg_pool"))
def test_avg_pool(benchmark, case, dtype, backend):
    benchmark.group = f"avg_pool {case.describe()} {dtype}"
    benchmark(step_for(case, dtype, backend))
