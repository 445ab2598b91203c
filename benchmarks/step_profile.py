"""Where one training step's time goes, layer by layer (issue 11, item 4).

    python benchmarks/step_profile.py [--model simple|deep] [--dtype float32|float64]

Times each layer's forward and backward pass inside full SimpleConvNet or DeepConvNet
steps (``network.gradient``, batch 100 of MNIST-shaped random images, Adam), the loss and
the optimizer update, medians over --steps steps; prints ms and the share of the step
("between layers": the rest, weight decay and Python included).
"""
import argparse
import time
from collections import defaultdict

import numpy as np

import fastnn
from fastnn import nets
from fastnn.optim import Adam


def timed(method, record, key):
    """method, wrapped to add its duration to record[key]."""
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = method(*args, **kwargs)
        record[key] = record.get(key, 0.0) + time.perf_counter() - start
        return result
    return wrapper


def profile(network, optimizer, x, t, steps):
    """Medians over steps of each layer's forward and backward, the loss and the update,
    timed inside the network's own gradient() (its in-place ReLUs and first layer
    without an input gradient included)."""
    times = defaultdict(list)
    record = {}
    for name, layer in [*network.layers.items(), ("loss", network.last_layer)]:
        layer.forward = timed(layer.forward, record, "loss" if name == "loss" else f"{name} forward")
        layer.backward = timed(layer.backward, record, "loss" if name == "loss" else f"{name} backward")
    for _ in range(steps + 2):
        record.clear()
        start_step = time.perf_counter()
        grads = network.gradient(x, t)
        start = time.perf_counter()
        optimizer.update(network.params, grads)
        record["optimizer"] = time.perf_counter() - start
        record["step"] = time.perf_counter() - start_step
        for key, value in record.items():
            times[key].append(value)
    return {key: float(np.median(values[2:])) for key, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("simple", "deep"), default="simple")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((100, 1, 28, 28)).astype(args.dtype)
    t = rng.integers(0, 10, 100)
    cls = nets.SimpleConvNet if args.model == "simple" else nets.DeepConvNet
    network = cls(dtype=args.dtype, seed=0)
    result = profile(network, Adam(), x, t, args.steps)
    step = result.pop("step")
    print(f"# {args.model}, {args.dtype}, {fastnn.get_num_threads()} threads, SIMD "
          f"{fastnn.get_simd_level()}: step {step * 1e3:.2f} ms (median of {args.steps})")
    for key, value in sorted(result.items(), key=lambda kv: -kv[1]):
        print(f"{key:28s} {value * 1e3:7.3f} ms  {100 * value / step:5.1f} %")
    print(f"{'(between layers)':28s} {(step - sum(result.values())) * 1e3:7.3f} ms")


if __name__ == "__main__":
    main()
