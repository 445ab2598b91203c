#!/usr/bin/env bash
# Build fastnn with AddressSanitizer + UndefinedBehaviorSanitizer in a fresh virtual
# environment and run the kernel tests under it.  Any out-of-bounds access, use after
# free or undefined behaviour in a kernel aborts the run with a report.
#
#   bash tests/sanitize.sh            # from the repository root; takes a few minutes
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(mktemp -d)/venv
python3 -m venv "$venv"
. "$venv/bin/activate"
FASTNN_SANITIZE=1 python -m pip install --quiet ".[test]"

# The Python interpreter is not built with ASan: preload the runtime.  Python's own
# allocations are not tracked for leaks (detect_leaks=0); bounds and UB checks are on.
libasan=$(gcc -print-file-name=libasan.so)
export LD_PRELOAD="$libasan"
# allocator_may_return_null: an impossible allocation (tested: a 10**12-element padded
# image) must come back as NULL, hence MemoryError, not abort the process.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

cd "$(mktemp -d)"  # import the installed (sanitized) build, not the source tree
python -c "import fastnn; assert fastnn.build_info()['compile_args'].count('-fsanitize=address,undefined')"

# Canary: the sanitizer must be live.  The private kernel trusts its caller, so an
# undersized output buffer is an out-of-bounds write that ASan has to report.
if python -c "
import numpy as np
from fastnn._kernels import im2col
x = np.ones((1, 1, 4, 4))
im2col.im2col(x, np.empty((3, 9)), 3, 3, 1, 0, 2, 2)  # needs (4, 9)
" 2> canary.log; then
    echo "fastnn sanitize: the canary ran without a report: the sanitizer is not active" >&2
    exit 1
fi
grep -q "AddressSanitizer: heap-buffer-overflow" canary.log
echo "fastnn sanitize: canary caught (heap-buffer-overflow reported)"
python -m pytest -q -p no:cacheprovider \
    "$OLDPWD/tests/test_fast_vs_reference.py" "$OLDPWD/tests/test_fuzz.py" \
    "$OLDPWD/tests/test_checks.py" "$OLDPWD/tests/test_threads.py" \
    "$OLDPWD/tests/test_edges.py" "$OLDPWD/tests/test_simd.py" \
    --rootdir "$OLDPWD"
echo "fastnn sanitize: clean (ASan + UBSan)"
