"""Where one training step's time goes, layer by layer (issue 11, item 4).

    python benchmarks/step_profile.py [--model simple|deep] [--dtype float32|float64]

Times each layer's forward and backward pass inside full SimpleConvNet or DeepConvNet
steps (batch 100 of MNIST-shaped random images, Adam), the loss and the optimizer update,
medians over --steps steps; prints ms and the share of the step.
"""
import argparse
import time
from collections import defaultdict

import numpy as np

import fastnn
from fastnn import nets
from fastnn.optim import Adam


def profile(network, optimizer, x, t, steps):
    times = defaultdict(list)
    for _ in range(steps + 2):
        record = {}
        start_step = time.perf_counter()
        h = x
        for name, layer in network.layers.items():
            start = time.perf_counter()
            h = layer.forward(h, True) if isinstance(layer, (fastnn._layers.Dropout,
                                                              fastnn._layers.BatchNormalization)) else layer.forward(h)
            record[f"{name} forward"] = time.perf_counter() - start
        start = time.perf_counter()
        network.last_layer.forward(h, t)
        dout = network.last_layer.backward(1)
        record["loss"] = time.perf_counter() - start
        first = next(iter(network.layers.values()))
        for name, layer in reversed(network.layers.items()):
            start = time.perf_counter()
            if layer is first and hasattr(layer, "dW"):  # as Network: no input gradient
                layer.backward(dout, need_dx=False)
            else:
                dout = layer.backward(dout)
            record[f"{name} backward"] = time.perf_counter() - start
        start = time.perf_counter()
        grads = {p: getattr(network.layers[n], a) for p, (n, a) in network.grad_sources.items()}
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
