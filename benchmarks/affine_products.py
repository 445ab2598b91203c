"""The affine layers' matrix products at the curriculum's shapes: fastnn against NumPy's
BLAS, with the same thread count for both.

For each (N, D, M) — a batch of N through a D -> M layer — times the three products of an
affine layer: forward ``x @ W`` (N, D) x (D, M), backward ``dout @ W.T`` (N, M) x (M, D)
and ``x.T @ dout`` (D, N) x (N, M); fastnn's ``fastnn.functional.matmul`` against NumPy's
``@`` on the same arrays, at 1 and 2 threads (``fastnn.set_num_threads`` and
threadpoolctl's BLAS limit), float32 and float64.  Prints medians of ``--repeats`` timings
(each of enough calls to last about a millisecond) with their spread, GFLOP/s, and the
ratio NumPy time / fastnn time (above 1: fastnn faster).

    python benchmarks/affine_products.py [--repeats 15] [--threads 1 2] [--shapes ae mlp] [--json PATH]
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import functional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import small_calls  # noqa: E402 (a sibling script: its timing helper)

# (name, N, D, M): the textbook's MLPs (784 -> 50 -> 10, 784 -> 100 -> ... -> 10, batches
# of 1, 3 and 100), CS231n's TwoLayerNet (3072 -> 100 -> 10, batch 100) and the
# networks' affine layers (SimpleConvNet 4320 -> 100 -> 10, DeepConvNet 1024 -> 50 -> 10),
# the recommenders' 943 users x 1682 movies by 20 to 200 hidden units, and the
# autoencoder's batches of 16 users through its outer layers (1682 -> 20, 20 -> 1682).
SHAPES = [
    ("mlp 784-50 b1", 1, 784, 50), ("mlp 784-50 b3", 3, 784, 50),
    ("mlp 784-50 b100", 100, 784, 50), ("mlp 50-10 b100", 100, 50, 10),
    ("mlp 784-100 b100", 100, 784, 100), ("mlp 100-100 b100", 100, 100, 100),
    ("mlp 100-10 b100", 100, 100, 10),
    ("cs231n 3072-100 b100", 100, 3072, 100), ("cs231n 100-10 b100", 100, 100, 10),
    ("simple 4320-100 b100", 100, 4320, 100), ("deep 1024-50 b100", 100, 1024, 50),
    ("rbm 1682-20 b943", 943, 1682, 20), ("rbm 1682-100 b943", 943, 1682, 100),
    ("ae 1682-200 b943", 943, 1682, 200),
    ("ae 1682-20 b16", 16, 1682, 20), ("ae 20-1682 b16", 16, 20, 1682),
]


def timed(func, repeats):
    """(median, min, max) seconds per call, over ``repeats`` timings of enough calls to
    take about a millisecond (small_calls.timed, with the count calibrated first)."""
    func()
    start = time.perf_counter()
    func()
    number = max(1, int(1e-3 / max(time.perf_counter() - start, 1e-7)))
    return small_calls.timed(func, repeats, number)


def products(N, D, M, dtype, rng):
    """The three products of an affine layer as (name, flops, fastnn call, NumPy call)."""
    x = rng.standard_normal((N, D)).astype(dtype)
    W = rng.standard_normal((D, M)).astype(dtype)
    dout = rng.standard_normal((N, M)).astype(dtype)
    WT = W.T
    return [
        ("x@W", 2 * N * D * M, lambda: functional.matmul(x, W), lambda: x @ W),
        ("dout@W.T", 2 * N * D * M, lambda: functional.matmul(dout, WT), lambda: dout @ WT),
        ("x.T@dout", 2 * N * D * M, lambda: functional.matmul(x, dout, transpose_a=True),
         lambda: x.T @ dout),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    parser.add_argument("--shapes", nargs="+", help="only the shapes whose name contains "
                        "one of these (e.g. --shapes ae mlp)")
    parser.add_argument("--json")
    args = parser.parse_args()
    shapes = [s for s in SHAPES if not args.shapes or any(k in s[0] for k in args.shapes)]
    rng = np.random.default_rng(0)
    print(f"machine: {platform.processor() or platform.machine()}; fastnn simd "
          f"{fastnn.get_simd_level()}; numpy {np.__version__} ({fastnn.build_info()['numpy_blas']})")
    rows = []
    for threads in args.threads:
        fastnn.set_num_threads(threads)
        with threadpool_limits(threads, user_api="blas"):
            for dtype in args.dtype:
                for name, N, D, M in shapes:
                    for op, flops, ours, theirs in products(N, D, M, np.dtype(dtype), rng):
                        t_ours, t_theirs = timed(ours, args.repeats), timed(theirs, args.repeats)
                        rows.append(dict(threads=threads, dtype=dtype, shape=name, op=op,
                                         fastnn=t_ours, numpy=t_theirs, flops=flops))
                        print(f"{threads}t {dtype:7s} {name:22s} {op:9s} fastnn "
                              f"{t_ours[0] * 1e6:8.1f} us ({t_ours[1] * 1e6:.1f}-{t_ours[2] * 1e6:.1f}) "
                              f"{flops / t_ours[0] / 1e9:6.1f} GF/s | numpy {t_theirs[0] * 1e6:8.1f} us "
                              f"{flops / t_theirs[0] / 1e9:6.1f} GF/s | ratio {t_theirs[0] / t_ours[0]:5.2f}",
                              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
