"""``fastnn bench``: forward+backward timings of the NumPy reference, fastnn and PyTorch CPU
at the seed networks' shapes, beside this machine's ceilings measured in the same run.

Every time is the median of repeated runs, with the spread (min-max) reported; work is
counted as FLOPs for convolution (2 per multiply-add, forward + backward = 3x forward)
and as minimal bytes for pooling and batch normalisation (each tensor read or written
once per pass: pooling x, out, dout, dx; batchnorm x, out forward and x, dout, dx backward).
"""
import contextlib
import json
import sys
import time
from dataclasses import dataclass

import numpy as np

import fastnn
from fastnn import functional as fast
from fastnn.reference import functional as ref


@dataclass
class Case:
    """One benchmark: a kernel family, a label and the input shapes."""
    kind: str          # 'conv', 'max_pool', 'avg_pool' or 'batchnorm'
    label: str
    x_shape: tuple
    w_shape: tuple = None
    stride: int = 1
    pad: int = 0

    def describe(self):
        if self.kind == "conv":
            extra = f" s{self.stride}" if self.stride != 1 else ""
            extra += f" p{self.pad}" if self.pad else ""
            return f"{self.x_shape}x{self.w_shape}{extra}"
        return str(self.x_shape)


CASES = [
    Case("conv", "SimpleConvNet conv1", (100, 1, 28, 28), (30, 1, 5, 5)),
    Case("conv", "DeepConvNet conv2", (100, 16, 28, 28), (16, 16, 3, 3), pad=1),
    Case("conv", "DeepConvNet conv5", (100, 32, 7, 7), (64, 32, 3, 3), pad=1),
    Case("conv", "CS231n ThreeLayerConvNet", (50, 3, 32, 32), (32, 3, 7, 7), pad=3),
    Case("conv", "CIFAR 64-channel", (32, 64, 32, 32), (64, 64, 3, 3), pad=1),
    Case("max_pool", "max-pool 2x2", (100, 30, 24, 24)),
    Case("max_pool", "max-pool 2x2", (100, 16, 28, 28)),
    Case("avg_pool", "avg-pool 2x2", (100, 30, 24, 24)),
    Case("avg_pool", "avg-pool 2x2", (100, 16, 28, 28)),
    Case("batchnorm", "spatial batchnorm", (100, 16, 28, 28)),
    Case("batchnorm", "spatial batchnorm", (32, 64, 32, 32)),
]

# ``fastnn bench --quick``: one case of each kernel family, fewer repetitions.
QUICK_CASES = [CASES[0], CASES[1], CASES[5], CASES[9]]
QUICK_TIMING = {"min_time": 0.05, "min_reps": 3, "max_reps": 7}

POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def numpy_step(F, case, x, w, b, dout):
    """One forward+backward through a functional backend (fastnn or the reference)."""
    if case.kind == "conv":
        out, cache = F.conv_forward(x, w, b, {"stride": case.stride, "pad": case.pad})
        return F.conv_backward(dout, cache)
    if case.kind in ("max_pool", "avg_pool"):
        out, cache = getattr(F, f"{case.kind}_forward")(x, POOL)
        return getattr(F, f"{case.kind}_backward")(dout, cache)
    bn_param = {"mode": "train"}
    out, cache = F.spatial_batchnorm_forward(x, w, b, bn_param)
    return F.spatial_batchnorm_backward(dout, cache)


def torch_step(torch, case, x, w, b, dout):
    """The same forward+backward in PyTorch; returns a callable."""
    nnf = torch.nn.functional
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    td = torch.tensor(dout)
    if case.kind == "conv":
        forward = lambda: nnf.conv2d(tx, tw, tb, stride=case.stride, padding=case.pad)  # noqa: E731
    elif case.kind == "max_pool":
        forward = lambda: nnf.max_pool2d(tx, 2, 2)  # noqa: E731
    elif case.kind == "avg_pool":
        forward = lambda: nnf.avg_pool2d(tx, 2, 2)  # noqa: E731
    else:
        forward = lambda: nnf.batch_norm(tx, None, None, tw, tb, True, 0.1, 1e-5)  # noqa: E731

    def step():
        tx.grad = tw.grad = tb.grad = None
        forward().backward(td)
    return step


def make_inputs(case, dtype, rng):
    """Random (x, w, b, dout, out_shape) for a case; w and b are gamma and beta for
    batchnorm and unused placeholders for pooling."""
    x = rng.standard_normal(case.x_shape).astype(dtype)
    N, C, H, W = case.x_shape
    if case.kind == "conv":
        F, _, HH, WW = case.w_shape
        w = (rng.standard_normal(case.w_shape) * 0.1).astype(dtype)
        b = rng.standard_normal(F).astype(dtype)
        out_shape = (N, F, (H + 2 * case.pad - HH) // case.stride + 1,
                     (W + 2 * case.pad - WW) // case.stride + 1)
    elif case.kind == "batchnorm":
        w, b = rng.uniform(0.5, 1.5, C).astype(dtype), rng.standard_normal(C).astype(dtype)
        out_shape = case.x_shape
    else:
        w = b = np.zeros(1, dtype)
        out_shape = (N, C, H // 2, W // 2)
    return x, w, b, rng.standard_normal(out_shape).astype(dtype), out_shape


def work(case, dtype, out_shape):
    """(amount, unit): FLOPs of forward+backward for conv, minimal bytes otherwise."""
    itemsize = np.dtype(dtype).itemsize
    if case.kind == "conv":
        F, C, HH, WW = case.w_shape
        forward = 2 * int(np.prod(out_shape)) * C * HH * WW
        return 3 * forward, "FLOP"
    x_bytes = int(np.prod(case.x_shape)) * itemsize
    out_bytes = int(np.prod(out_shape)) * itemsize
    if case.kind == "batchnorm":
        return 5 * x_bytes, "B"      # forward: x, out; backward: x, dout, dx
    return 2 * x_bytes + 2 * out_bytes, "B"   # x, out; dout, dx


def time_call(fn, min_time=0.4, min_reps=3, max_reps=25):
    """(median, min, max) seconds of fn(), after one warm-up call."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times)), float(np.max(times))


def blas_threads(threads):
    """(context, limited): NumPy's BLAS held to ``threads`` while the context is open,
    where threadpoolctl is installed (``limited`` True); else a context that changes
    nothing.  fastnn.set_num_threads does not reach NumPy's BLAS, which otherwise runs
    its own thread count (at 1 thread the matmul ceiling would be of 2 or more)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), False
    return threadpool_limits(threads, user_api="blas"), True


def measure_ceilings(threads, dtype, quick=False):
    """This machine's limits, now: FMA loop and NumPy matmul GFLOP/s (at ``threads`` BLAS
    threads where threadpoolctl can set them: ``matmul_threads``, else None), copy GB/s
    (``quick``: shorter measurements, for a first look)."""
    from fastnn._kernels import ceilings
    single = np.dtype(dtype) == np.float32
    fma = max(ceilings.fma_gflops(threads, single) for _ in range(1 if quick else 3))
    n = (1024 if quick else 2048) if single else (768 if quick else 1536)
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    min_time = 0.1 if quick else 0.5
    limit, limited = blas_threads(threads)
    with limit:
        matmul_s = time_call(lambda: a @ a, min_time=min_time)[0]
    src = np.ones(64 * 2**20 // 8)  # 64 MiB: bigger than every cache here
    dst = np.empty_like(src)
    copy_s = time_call(lambda: np.copyto(dst, src), min_time=min_time)[0]
    return {"fma_gflops": fma, "matmul_gflops": 2 * n**3 / matmul_s / 1e9,
            "matmul_threads": threads if limited else None,
            "copy_gbps": 2 * src.nbytes / copy_s / 1e9}


def _progress(done, total, label):
    if not sys.stderr.isatty():
        return
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<40}")
    if done == total:
        sys.stderr.write("\r" + " " * (width + 50) + "\r")
    sys.stderr.flush()


def run(threads=None, dtypes=("float32", "float64"), cases=None, with_reference=True,
        quick=False):
    """Run the benchmark; return a dict with 'meta', 'ceilings' (per dtype) and 'rows'.

    cases: default :data:`CASES` (``quick``: :data:`QUICK_CASES`, timed with fewer
    repetitions: a first look in seconds, not a measurement to quote)."""
    cases = cases if cases is not None else (QUICK_CASES if quick else CASES)
    timing = QUICK_TIMING if quick else {}
    try:
        import torch
    except ImportError:
        torch = None
    if threads is not None:
        fastnn.set_num_threads(threads)
    threads = fastnn.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    result = {"meta": {"fastnn": fastnn.__version__, "threads": threads, "quick": quick,
                       "torch": torch.__version__ if torch else None,
                       "numpy": np.__version__, "build": fastnn.build_info()},
              "ceilings": {}, "rows": []}
    total = len(cases) * len(dtypes)
    done = 0
    for dtype in dtypes:
        result["ceilings"][dtype] = measure_ceilings(threads, dtype, quick)
        for case in cases:
            _progress(done, total, f"{case.label} {dtype}")
            rng = np.random.default_rng(0)
            x, w, b, dout, out_shape = make_inputs(case, dtype, rng)
            amount, unit = work(case, dtype, out_shape)
            row = {"kind": case.kind, "label": case.label, "shape": case.describe(),
                   "dtype": dtype, "work": amount, "unit": unit}
            row["fastnn"] = time_call(lambda: numpy_step(fast, case, x, w, b, dout), **timing)
            row["reference"] = (time_call(lambda: numpy_step(ref, case, x, w, b, dout),
                                          **{"min_time": 0.2, **timing})
                                if with_reference else None)
            row["torch"] = (time_call(torch_step(torch, case, x, w, b, dout), **timing)
                            if torch is not None else None)
            result["rows"].append(row)
            done += 1
    _progress(total, total, "")
    return result


def format_table(result):
    """The result of :func:`run` as a text table."""
    lines = []
    meta = result["meta"]
    build = meta["build"]
    level, supported = build.get("simd", "?"), build.get("simd_supported", [])
    lines.append(f"fastnn {meta['fastnn']} | threads {meta['threads']} | numpy {meta['numpy']} | "
                 f"torch {meta['torch'] or 'not installed'} | simd {level} "
                 f"(this CPU: {', '.join(supported)})")
    if meta.get("quick"):
        lines.append("--quick: four cases, few repetitions: a first look, not numbers to quote "
                     "(fastnn bench without --quick measures every case)")
    width = 512 if level == "avx512" else 256
    for dtype, c in result["ceilings"].items():
        blas = ("" if c.get("matmul_threads") else
                " (BLAS at its own thread count: pip install threadpoolctl to hold it to --threads)")
        lines.append(f"ceilings {dtype}: FMA loop ({width}-bit) {c['fma_gflops']:.0f} GFLOP/s, NumPy matmul "
                     f"{c['matmul_gflops']:.0f} GFLOP/s{blas}, copy {c['copy_gbps']:.1f} GB/s")
    header = (f"{'case':<26}{'shape':<36}{'dtype':<8}{'reference':>11}{'fastnn':>18}{'torch':>10}"
              f"{'x ref':>8}{'x torch':>9}{'rate':>14}{'of limit':>9}")
    lines += ["", "forward+backward, median ms (fastnn: min-max)", header, "-" * len(header)]
    for row in result["rows"]:
        med, lo, hi = row["fastnn"]
        ceil = result["ceilings"][row["dtype"]]
        ref_ms = row["reference"][0] * 1e3 if row["reference"] else None
        torch_ms = row["torch"][0] * 1e3 if row["torch"] else None
        if row["unit"] == "FLOP":
            rate = row["work"] / med / 1e9
            rate_s, limit = f"{rate:.0f} GFLOP/s", rate / ceil["fma_gflops"]
        else:
            rate = row["work"] / med / 1e9
            rate_s, limit = f"{rate:.1f} GB/s", rate / ceil["copy_gbps"]
        fast_s = f"{med * 1e3:.2f} ({lo * 1e3:.1f}-{hi * 1e3:.1f})"
        lines.append(
            f"{row['label']:<26}{row['shape']:<36}{row['dtype']:<8}{_ms(ref_ms):>11}{fast_s:>18}"
            f"{_ms(torch_ms):>10}{_ratio(ref_ms, med):>8}{_ratio(torch_ms, med):>9}"
            f"{rate_s:>14}{limit:>9.0%}")
    return "\n".join(lines)


def _ms(value):
    return "–" if value is None else f"{value:.2f}"


def _ratio(other_ms, fast_s):
    return "–" if other_ms is None else f"{other_ms / (fast_s * 1e3):.1f}x"


def save_json(result, path):
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
