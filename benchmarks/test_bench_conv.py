"""Forward+backward of conv at the seed networks' shapes."""
import pytest
from conftest import cases_of, step_for


@pytest.mark.parametrize("case", cases_of("conv"))
def test_conv(benchmark, case, dtype, backend):
    benchmark.group = f"conv {case.describe()} {dtype}"
    benchmark(step_for(case, dtype, backend))
