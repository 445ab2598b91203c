"""The first call after a pause: conv5 forward+backward (float32, (100,32,7,7) x
(64,32,3,3), pad 1) back to back, after ``time.sleep(0.05)`` and after 50 ms of busy
Python, on fastnn or (``--torch``) PyTorch CPU.  Medians of ``--calls`` calls with their
10th-90th percentiles, after 20 warm-up calls.  Run one process per setting (thread
waiting is fixed when the OpenMP runtime loads):

    python benchmarks/after_pause.py
    OMP_WAIT_POLICY=active python benchmarks/after_pause.py --label active
    python benchmarks/after_pause.py --torch
"""
import argparse
import time

import numpy as np


def fastnn_step(rng):
    from fastnn import functional as F
    x = rng.standard_normal((100, 32, 7, 7)).astype(np.float32)
    w = rng.standard_normal((64, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)

    def step():
        out, cache = F.conv_forward(x, w, b, {"stride": 1, "pad": 1})
        F.conv_backward(out, cache)
    return step


def torch_step(threads):
    import torch
    torch.set_num_threads(threads)
    x = torch.randn(100, 32, 7, 7, requires_grad=True)
    conv = torch.nn.Conv2d(32, 64, 3, padding=1)

    def step():
        out = conv(x)
        out.backward(out.detach())
    return step


def timed(step, pause, calls):
    times = []
    for _ in range(calls):
        if pause == "sleep":
            time.sleep(0.05)
        elif pause == "busy":
            end = time.perf_counter() + 0.05
            while time.perf_counter() < end:
                pass
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    t = np.array(times) * 1e3
    return f"{np.median(t):5.2f} ms ({np.percentile(t, 10):.2f}-{np.percentile(t, 90):.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    if args.torch:
        step, name = torch_step(args.threads), "PyTorch"
    else:
        import fastnn
        fastnn.set_num_threads(args.threads)
        step, name = fastnn_step(np.random.default_rng(0)), "fastnn"
    for _ in range(20):
        step()
    print(f"{name} {args.label} {args.threads} threads: back to back {timed(step, None, args.calls)}"
          f" | after a 50 ms sleep {timed(step, 'sleep', args.calls)}"
          f" | after 50 ms busy Python {timed(step, 'busy', args.calls)}")


if __name__ == "__main__":
    main()
