"""Small calls, busy cores and mixed BLAS: fastnn's mirrors against the code they replace.

Runs the same user code twice, once on the upstream modules and once with the import
prefix swapped to fastnn's mirror, in the same process:

* textbook (``--textbook-dir``, a checkout of oreilly-japan/deep-learning-from-scratch):
  - ``ch05 loss``: one ``MultiLayerNet(784, [50], 10).loss`` on a batch of 3, the unit of
    ch05's numerical gradient check (which makes 2 of them per parameter);
  - ``ch05 check``: ch05's ``gradient_check.py`` (its TwoLayerNet, batch of 3);
  - ``ch07 check``: ch07's ``gradient_check.py`` (numerical and backprop gradients of a
    SimpleConvNet on one 10x10 image);
  - ``ch07 step``: a training step of ch07's SimpleConvNet (batch 100, Adam);
* CS231n (``--cs231n-dir``, an assignment2 directory with ``im2col_cython`` built):
  - ``cs231n check``: the notebook's gradient check of the assignment's ThreeLayerConvNet
    (conv-relu-pool, affine-relu, affine, softmax through ``layer_utils``; batch of 3,
    3x16x16, 3 filters of 3x3, hidden 7), central differences at every parameter;
  - ``cs231n step``: its forward and backward at batch 50 (3x32x32, 32 7x7 filters,
    hidden 100);
  - the FullyConnectedNets, BatchNormalization and Dropout notebooks: the assignment's own
    ``classifiers/fc_net.py`` (its imports of ``cs231n.`` swapped to ``fastnn.cs231n.``)
    and update rules (its ``optim.py``, or ``fastnn.cs231n.optim`` where ``solver.py``'s
    ``from cs231n import optim`` is swapped), on CIFAR-10-shaped random data
    (CIFAR-10 itself is not needed): each notebook's gradient check (``FullyConnectedNet``
    [20, 30] on 2 rows of 15, float64, every parameter) and one ``Solver`` step of each of
    its training runs (a minibatch drawn, the loss and gradients, the update rule on
    every parameter), at the notebook's sizes, dtypes and update rules, and the model's
    loss and gradients alone (``... loss``: the part fc_net.py's imports replace);
* each step again with one core busy (another process spinning), and each step after a
  512x512 ``A @ A`` of NumPy's in the same loop (the step alone is timed).

Each case is timed upstream and fastnn in turn, repeat after repeat.  Prints a table of
medians (with the spread of the repeats) and the ratio upstream / fastnn (above 1: fastnn
faster).  ``--json PATH`` writes the measurements.

    python benchmarks/small_calls.py --textbook-dir ~/deep-learning-from-scratch \\
        --cs231n-dir ~/cs231n/assignment2
"""
import argparse
import contextlib
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import types
from typing import Callable, NamedTuple

import numpy as np


def load_source(path, swap_from=None, swap_to=None, extra=None):
    """Execute a script's source as a module, its imports optionally re-prefixed."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    if swap_from:
        source = source.replace(swap_from, swap_to)
    module = types.ModuleType(os.path.basename(path))
    module.__dict__.update(extra or {})
    exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 (the user's script)
    return module


class Case(NamedTuple):
    """One row: ``sample()`` times the case once (seconds per call), ``repeats`` times,
    inside ``context()`` (e.g. a busy core)."""
    sample: Callable[[], float]
    repeats: int
    context: Callable = contextlib.nullcontext


def calls(func, number=1):
    """A sampler: the time of ``number`` calls of ``func``, per call."""
    def sample():
        start = time.perf_counter()
        for _ in range(number):
            func()
        return (time.perf_counter() - start) / number
    return sample


def after_blas(step, A):
    """A sampler: the step, timed alone, right after NumPy multiplies A by itself."""
    def sample():
        A @ A
        start = time.perf_counter()
        step()
        return time.perf_counter() - start
    return sample


def spread(times):
    """Median, min and max of a list of timings."""
    return float(np.median(times)), float(min(times)), float(max(times))


def timed(func, repeats, number=1):
    """Median and spread (min, max) of ``repeats`` timings of ``number`` calls, seconds
    per call (after one warm-up sample)."""
    sample = calls(func, number)
    sample()
    return spread([sample() for _ in range(repeats)])


def timed_pair(upstream, ours):
    """Median and spread (min, max), seconds per call, of each of two Cases, sampled in
    turn (upstream, fastnn, upstream, ...) so that a machine whose speed drifts (these are
    shared) slows both alike."""
    times = ([], [])
    with upstream.context():
        for case in (upstream, ours):
            case.sample()  # warm up: caches, thread pools, first-touch pages
        for _ in range(upstream.repeats):
            for case, kept in zip((upstream, ours), times):
                kept.append(case.sample())
    return tuple(spread(t) for t in times)


@contextlib.contextmanager
def busy_core():
    """Another process spinning on one core for the duration."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


# -- the textbook ----------------------------------------------------------------------

def textbook_cases(root, prefix, repeats):
    """{case: Case} for the textbook's code on ``prefix`` ('common.' or 'fastnn.textbook.')."""
    sys.path[:0] = [root, os.path.join(root, "ch07")]
    swap = ("from common.", f"from {prefix}") if prefix != "common." else (None, None)
    mln = importlib.import_module(prefix + "multi_layer_net")
    optimizer = importlib.import_module(prefix + "optimizer")
    convnet = load_source(os.path.join(root, "ch07", "simple_convnet.py"), *swap)  # user code
    rng = np.random.default_rng(0)
    results = {}

    np.random.seed(0)
    net = mln.MultiLayerNet(784, [50], 10)
    x3, t3 = rng.random((3, 784)), np.eye(10)[[1, 4, 7]]
    results["ch05 loss"] = Case(calls(lambda: net.loss(x3, t3), number=500), repeats)

    two_layer = load_source(os.path.join(root, "ch05", "two_layer_net.py"), *swap)
    np.random.seed(0)
    net = two_layer.TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    results["ch05 check"] = Case(calls(lambda: (net.numerical_gradient(x3, t3),
                                                net.gradient(x3, t3))), max(3, repeats // 5))

    np.random.seed(0)
    small = convnet.SimpleConvNet(input_dim=(1, 10, 10), conv_param={
        "filter_num": 10, "filter_size": 3, "pad": 0, "stride": 1},
        hidden_size=10, output_size=10, weight_init_std=0.01)
    X, T = rng.random((1, 1, 10, 10)), np.array([1]).reshape(1, 1)
    results["ch07 check"] = Case(calls(lambda: (small.numerical_gradient(X, T),
                                                small.gradient(X, T))), max(3, repeats // 3))

    np.random.seed(0)
    big = convnet.SimpleConvNet()
    adam = optimizer.Adam(lr=0.001)
    x100, t100 = rng.random((100, 1, 28, 28)), rng.integers(0, 10, 100)

    def step():
        adam.update(big.params, big.gradient(x100, t100))
    results.update(step_cases("ch07 step", step, repeats, rng))
    sys.path[:2] = []
    return results


def step_cases(name, step, repeats, rng):
    """A training step alone, with one core busy, and after a NumPy product."""
    A = rng.standard_normal((512, 512))
    return {name: Case(calls(step), repeats),
            f"{name}, one core busy": Case(calls(step), repeats, busy_core),
            f"{name} after A @ A": Case(after_blas(step, A), repeats)}


# -- CS231n ----------------------------------------------------------------------------

def three_layer_loss(lu, x, y, p, conv_param, pool_param):
    """The assignment's ThreeLayerConvNet on ``layer_utils`` ``lu``: loss and gradients."""
    h1, c1 = lu.conv_relu_pool_forward(x, p["W1"], p["b1"], conv_param, pool_param)
    h2, c2 = lu.affine_relu_forward(h1, p["W2"], p["b2"])
    scores, c3 = lu.affine_forward(h2, p["W3"], p["b3"])
    loss, dscores = lu.softmax_loss(scores, y)
    grads = {}
    dh2, grads["W3"], grads["b3"] = lu.affine_backward(dscores, c3)
    dh1, grads["W2"], grads["b2"] = lu.affine_relu_backward(dh2, c2)
    _, grads["W1"], grads["b1"] = lu.conv_relu_pool_backward(dh1, c1)
    return loss, grads


def three_layer_params(rng, C, H, filters, size, hidden, scale):
    return {"W1": rng.standard_normal((filters, C, size, size)) * scale, "b1": np.zeros(filters),
            "W2": rng.standard_normal((filters * H * H // 4, hidden)) * scale, "b2": np.zeros(hidden),
            "W3": rng.standard_normal((hidden, 10)) * scale, "b3": np.zeros(10)}


def numerical_gradient(f, x, h=1e-5):
    """Central differences at every element of x, as the assignment's
    ``eval_numerical_gradient`` (x perturbed in place and restored)."""
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = f()
        x[ix] = old - h
        minus = f()
        x[ix] = old
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def cs231n_cases(layer_utils, repeats):
    """{case: Case} for the assignment's ThreeLayerConvNet on ``layer_utils``: its
    notebook's gradient check (batch of 3, 3x16x16, 3 filters 3x3, hidden 7) and a step."""
    lu = layer_utils
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((3, 3, 16, 16)), rng.integers(0, 10, 3)
    small = three_layer_params(rng, 3, 16, 3, 3, 7, 1e-2)
    same = {"stride": 1, "pad": 1}
    halve = {"pool_height": 2, "pool_width": 2, "stride": 2}

    def check():
        def f():
            return three_layer_loss(lu, xs, ys, small, same, halve)[0]
        return {name: numerical_gradient(f, value) for name, value in small.items()}
    results = {"cs231n check": Case(calls(check), max(3, repeats // 5))}
    x, y = rng.standard_normal((50, 3, 32, 32)), rng.integers(0, 10, 50)
    params = three_layer_params(rng, 3, 32, 32, 7, 100, 1e-3)
    conv_param = {"stride": 1, "pad": 3}

    def step():
        three_layer_loss(lu, x, y, params, conv_param, halve)
    results.update(step_cases("cs231n step", step, repeats, rng))
    return results


def fc_net_cases(assignment_dir, prefix, repeats):
    """{case: Case} for the assignment's ``FullyConnectedNet`` and ``TwoLayerNet`` on
    ``prefix``'s layers and update rules ('cs231n.' or 'fastnn.cs231n.': fc_net.py's
    imports and solver.py's ``from cs231n import optim`` changed), as the three notebooks
    use them."""
    swap = ("from cs231n.", f"from {prefix}") if prefix != "cs231n." else (None, None)
    fc_net = load_source(os.path.join(assignment_dir, "cs231n", "classifiers", "fc_net.py"), *swap)
    optim = importlib.import_module(prefix + "optim")
    results = {}

    def check(variants):
        """The notebooks' gradient check: every parameter, for each variant's options."""
        np.random.seed(231)
        X, y = np.random.randn(2, 15), np.random.randint(10, size=2)
        for options in variants:
            model = fc_net.FullyConnectedNet([20, 30], input_dim=15, num_classes=10,
                                             weight_scale=5e-2, dtype=np.float64, **options)
            for value in model.params.values():
                numerical_gradient(lambda: model.loss(X, y)[0], value)
    checks = {"fc check": [{"reg": 0}, {"reg": 3.14}],
              "bn check": [{"reg": reg, "normalization": "batchnorm"} for reg in (0, 3.14)],
              "dropout check": [{"dropout": p, "seed": 123} for p in (1, 0.75, 0.5)]}
    for case, variants in checks.items():
        results[case] = Case(calls(lambda variants=variants: check(variants)), max(3, repeats // 5))

    np.random.seed(0)
    X_train = np.random.randn(1000, 3, 32, 32) * 60  # CIFAR-10 less its mean: float64
    y_train = np.random.randint(10, size=1000)

    def solver_step(model, batch, rule, learning_rate):
        """One ``Solver._step``: a minibatch, the loss and gradients, the update rule."""
        update, configs = getattr(optim, rule), {p: {"learning_rate": learning_rate}
                                                 for p in model.params}

        def step():
            mask = np.random.choice(len(X_train), batch)
            _, grads = model.loss(X_train[mask], y_train[mask])
            for p, w in model.params.items():
                model.params[p], configs[p] = update(w, grads[p], configs[p])
        return step
    steps = {
        # FullyConnectedNets: the TwoLayerNet run (float64), then the five-layer nets
        # (float32) of the update-rule comparison and the best model.
        "fc TwoLayerNet step": (fc_net.TwoLayerNet(hidden_dim=90, reg=0.5), 100, "sgd", 1e-3),
        "fc 5x100 step": (fc_net.FullyConnectedNet([100] * 5, weight_scale=5e-2), 100,
                          "adam", 1e-3),
        "bn 5x100 step": (fc_net.FullyConnectedNet([100] * 5, weight_scale=2e-2,
                                                   normalization="batchnorm"), 50, "adam", 1e-3),
        "dropout 500 step": (fc_net.FullyConnectedNet([500], dropout=0.25), 100, "adam", 5e-4),
    }
    for case, (model, batch, rule, learning_rate) in steps.items():
        results[case] = Case(calls(solver_step(model, batch, rule, learning_rate), 5), repeats)
        # the part fc_net.py's imports replace: the loss and gradients alone, one minibatch
        X, y = X_train[:batch], y_train[:batch]
        results[case.replace(" step", " loss")] = Case(
            calls(lambda model=model, X=X, y=y: model.loss(X, y), 5), repeats)
    return results


def machine():
    model = "unknown"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--textbook-dir", help="a checkout of deep-learning-from-scratch")
    parser.add_argument("--cs231n-dir", help="CS231n's assignment2 directory, im2col_cython built")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    import fastnn
    info = fastnn.build_info()
    print(f"# {machine()}  fastnn {fastnn.__version__}, {info['num_threads']} threads, "
          f"SIMD {info['simd']}, NumPy BLAS {info['numpy_blas']}, blas_spin: {info['blas_spin']}")
    rows = {}
    def compare(upstream, ours):
        rows.update({case: timed_pair(upstream[case], ours[case]) for case in upstream})
    if args.textbook_dir:
        compare(textbook_cases(args.textbook_dir, "common.", args.repeats),
                textbook_cases(args.textbook_dir, "fastnn.textbook.", args.repeats))
    else:
        print("# textbook: skipped (give --textbook-dir)")
    if args.cs231n_dir:
        sys.path.insert(0, args.cs231n_dir)
        import cs231n.layer_utils as upstream_lu
        from fastnn.cs231n import layer_utils as our_lu
        compare(cs231n_cases(upstream_lu, args.repeats), cs231n_cases(our_lu, args.repeats))
        compare(fc_net_cases(args.cs231n_dir, "cs231n.", args.repeats),
                fc_net_cases(args.cs231n_dir, "fastnn.cs231n.", args.repeats))
    else:
        print("# CS231n: skipped (give --cs231n-dir)")
    print(f"{'case':34s} {'upstream ms':>22s} {'fastnn ms':>22s} {'upstream/fastnn':>16s}")
    for case, (up, ours) in rows.items():
        def fmt(t):
            return f"{t[0] * 1e3:9.3f} ({t[1] * 1e3:.3f}-{t[2] * 1e3:.3f})"
        print(f"{case:34s} {fmt(up):>22s} {fmt(ours):>22s} {up[0] / ours[0]:15.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "build_info": info,
                       "results": {case: {"upstream": up, "fastnn": ours}
                                   for case, (up, ours) in rows.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
