import os
import zlib

# Outputs of the compiled kernels start as NaN in the tests (fastnn/_alloc.py): an
# element a kernel forgets to write cannot pass a comparison with the reference.  Set
# before fastnn is first imported, which reads it once.
os.environ.setdefault("FASTNN_POISON", "1")

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id: fresh values per test, reproducible runs."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
