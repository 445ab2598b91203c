"""One training epoch of SimpleConvNet or DeepConvNet (8,000 MNIST-shaped images, batches
of 100, Adam) on fastnn's fast backend, its NumPy reference, and the same network in
PyTorch CPU.

    python benchmarks/train_epoch.py [--model simple|deep] [--threads N] [--repeats R]
                                     [--simd baseline|avx2|avx512] [--no-reference]

Random images stand in for the digits (the time does not depend on the values).  Prints
the median seconds per epoch with the spread over repeats.
"""
import argparse
import time

import numpy as np

import fastnn
from fastnn import nets
from fastnn.optim import Adam

N, BATCH = 8000, 100


def fastnn_epoch(model, backend, dtype, x, t):
    if model == "simple":
        net = nets.SimpleConvNet(weight_init_std="he", backend=backend, dtype=dtype, seed=0)
    else:
        net = nets.DeepConvNet(backend=backend, dtype=dtype, seed=0)
    opt = Adam(lr=0.001)

    def epoch():
        for i in range(0, N, BATCH):
            opt.update(net.params, net.gradient(x[i:i + BATCH], t[i:i + BATCH]))
    return epoch


def torch_net(torch, model):
    """The same layers as fastnn.nets' SimpleConvNet or DeepConvNet, in PyTorch."""
    nn = torch.nn
    if model == "simple":
        return nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
    layers, channels = [], 1
    for i, (filters, pad) in enumerate(nets.DeepConvNet.CONVS, start=1):
        layers += [nn.Conv2d(channels, filters, 3, padding=pad), nn.ReLU()]
        layers += [nn.MaxPool2d(2)] if i % 2 == 0 else []
        channels = filters
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(50, 10), nn.Dropout(0.5))


def torch_epoch(torch, model, dtype, x, t):
    nn = torch.nn
    net = torch_net(torch, model)
    net = net.to(torch.float32 if dtype == np.float32 else torch.float64)
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    tx, tt = torch.from_numpy(x), torch.from_numpy(t)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        for i in range(0, N, BATCH):
            opt.zero_grad()
            loss_fn(net(tx[i:i + BATCH]), tt[i:i + BATCH]).backward()
            opt.step()
    return epoch


def median_spread(fn, repeats):
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return np.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", choices=("simple", "deep"), default="simple")
    parser.add_argument("--simd", choices=("baseline", "avx2", "avx512"), default=None)
    parser.add_argument("--no-reference", action="store_true", help="skip the slow NumPy reference")
    args = parser.parse_args()
    if args.threads:
        fastnn.set_num_threads(args.threads)
    if args.simd:
        fastnn.set_simd_level(args.simd)
    try:
        import torch
        torch.set_num_threads(fastnn.get_num_threads())
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    t = rng.integers(0, 10, N)
    name = {"simple": "SimpleConvNet", "deep": "DeepConvNet"}[args.model]
    print(f"{name}, one epoch of {N} images, batch {BATCH}, Adam; "
          f"{fastnn.get_num_threads()} threads; fastnn simd {fastnn.get_simd_level()}; "
          f"seconds: median (min-max) of {args.repeats}")
    for dtype in (np.float32, np.float64):
        x = rng.random((N, 1, 28, 28)).astype(dtype)
        rows = [("fastnn", fastnn_epoch(args.model, "fast", dtype, x, t))]
        if not args.no_reference:
            rows.append(("reference", fastnn_epoch(args.model, "reference", dtype, x, t)))
        if torch is not None:
            rows.append((f"torch {torch.__version__}", torch_epoch(torch, args.model, dtype, x, t)))
        results = {name: median_spread(fn, args.repeats) for name, fn in rows}
        fast = results["fastnn"][0]
        for name, (med, lo, hi) in results.items():
            print(f"  {np.dtype(dtype).name:8} {name:18} {med:6.2f} s ({lo:.2f}-{hi:.2f})"
                  f"   fastnn is {med / fast:.1f}x faster" if name != "fastnn" else
                  f"  {np.dtype(dtype).name:8} {name:18} {med:6.2f} s ({lo:.2f}-{hi:.2f})")


if __name__ == "__main__":
    main()
