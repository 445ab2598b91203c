"""NumPy's BLAS beside fastnn in one loop: what fastnn does to OpenBLAS's worker threads.

Times, in a fresh process for each mode (``FASTNN_BLAS_SPIN``: the default ``pool``, the
older ``timeout``, and ``keep``, which leaves OpenBLAS alone), a 512x512 ``A @ A`` alone,
a DeepConvNet conv5 forward+backward alone, and the two in one loop (a training step
that also multiplies with NumPy), then the loop's time over the sum of its parts: 1.0
means nothing is lost to threads competing for the cores.

    python benchmarks/blas_pool.py [--dtype float32|float64] [--repeats N]

Prints one line per mode: medians (ms) and the ratio, with the spread (min-max) of the
loop; timings only, nothing asserted.  Run it on a quiet machine.
"""
import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import fastnn
from fastnn import functional as F

dtype, repeats = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
A = rng.standard_normal((512, 512)).astype(dtype)
x = rng.standard_normal((100, 32, 7, 7)).astype(dtype)
w = (0.1 * rng.standard_normal((64, 32, 3, 3))).astype(dtype)
b = np.zeros(64, dtype)
dout = rng.standard_normal((100, 64, 7, 7)).astype(dtype)

def conv():
    out, cache = F.conv_forward(x, w, b, {"stride": 1, "pad": 1})
    F.conv_backward(dout, cache)

def product():
    A @ A

def both():
    product()
    conv()

def median(fn):
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], times[0], times[-1]

result = {"blas_spin": fastnn.build_info()["blas_spin"], "numpy": np.__version__,
          "product": median(product), "conv": median(conv), "both": median(both)}
print(json.dumps(result))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items()
            if k not in ("FASTNN_BLAS_SPIN", "OPENBLAS_THREAD_TIMEOUT")}
    print(f"python {sys.version.split()[0]}, {args.dtype}, {args.repeats} repeats; ms, medians")
    for mode in ("pool", "timeout", "keep"):
        env = {**base, "FASTNN_BLAS_SPIN": mode}
        out = subprocess.run([sys.executable, "-c", CHILD, args.dtype, str(args.repeats)],
                             env=env, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        parts = r["product"][0] + r["conv"][0]
        print(f"{mode:8} numpy {r['numpy']:7} A@A {r['product'][0] * 1e3:6.2f}  conv5 "
              f"{r['conv'][0] * 1e3:6.2f}  both {r['both'][0] * 1e3:6.2f} "
              f"({r['both'][1] * 1e3:.2f}-{r['both'][2] * 1e3:.2f})  both/parts "
              f"{r['both'][0] / parts:4.2f}  [{r['blas_spin']}]")


if __name__ == "__main__":
    main()
