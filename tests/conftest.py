import os
import zlib

# Outputs of the compiled kernels start as NaN in the tests (fastnn/runtime/buffers.py): an
# element a kernel forgets to write cannot pass a comparison with the reference.  Set
# before fastnn is first imported, which reads it once.
os.environ.setdefault("FASTNN_POISON", "1")

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: fresh values per test, reproducible runs."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    """Each floating dtype the kernels run: float32 and float64."""
    return request.param


@pytest.fixture(params=["fast", "reference"])
def backend(request):
    """Each backend, by the name networks and recommenders take: 'fast' (the compiled
    kernels) and 'reference' (NumPy)."""
    return request.param


@pytest.fixture
def functional(backend):
    """The functional module of each backend: fastnn.functional, fastnn.reference.functional."""
    import fastnn.functional
    import fastnn.reference.functional
    return fastnn.functional if backend == "fast" else fastnn.reference.functional
