"""One training epoch of each MovieLens recommender: fastnn, its NumPy reference backend, and
the same model in PyTorch CPU (when installed), at ML-100K's shape.

    python benchmarks/recommenders.py [--data-dir ML100K] [--repeats 5] [--dtype float64]
                                      [--json PATH]

Without ``--data-dir``, synthetic ratings with planted structure in ML-100K's shape (943
users x 1,682 movies, ~100,000 ratings; tests/movielens_files.py).  The models:
the RBM (100 hidden units, CD-1, batch 100, unrated units kept out) and the stacked
autoencoder (1682-20-10-20-1682, sigmoid, linear output, RMSprop lr 0.01, batch 16, the
squared error of the rated entries), in ``--dtype`` for every framework.  Medians of ``--repeats`` epochs, spread in
parentheses, the frameworks' epochs taken in turn; the same thread count for every
framework.  Each epoch ends, in every
framework, with the training loss over all users (one more forward pass), as
``fit_epoch`` reports it.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

import fastnn
from fastnn.datasets import movielens
from fastnn import recommend as rc



def ratings(data_dir):
    if data_dir:
        data = movielens.load_movielens(data_dir, split="u1")
        return data.train, data.test
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from movielens_files import planted_ratings
    return planted_ratings()


def timed_epochs(fits, repeats):
    """{framework: (median, min, max) seconds an epoch}: one warm-up epoch each, then the
    frameworks' epochs in turn, ``repeats`` rounds, so that none runs on a colder heap or
    caches than the others (timed one framework after another, fastnn's autoencoder, run
    first, took 0.059 s an epoch against the reference's 0.051; in turn, 0.052 and 0.055,
    benchmarks/NOTES.md, "Recommenders")."""
    for fit in fits.values():
        fit()
    times = {name: [] for name in fits}
    for _ in range(repeats):
        for name, fit in fits.items():
            start = time.perf_counter()
            fit()
            times[name].append(time.perf_counter() - start)
    return {name: (float(np.median(t)), min(t), max(t)) for name, t in times.items()}


def torch_models(train, threads, dtype):
    """The two recommenders in PyTorch: (rbm_epoch, autoencoder_epoch) callables."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    x = torch.tensor(train, dtype=dtype)
    liked, rated = (x >= 3).to(dtype), (x > 0).to(dtype)
    users, movies = x.shape
    W = 0.01 * torch.randn(movies, 100, dtype=dtype)
    bv, bh = torch.zeros(movies, dtype=dtype), torch.zeros(100, dtype=dtype)

    def rbm_epoch():
        for batch in torch.randperm(users).split(100):
            v0, mask = liked[batch] * rated[batch], rated[batch]
            ph0 = torch.sigmoid(v0 @ W + bh)
            h = torch.bernoulli(ph0)
            vk = torch.sigmoid(h @ W.T + bv) * mask
            phk = torch.sigmoid(vk @ W + bh)
            n = len(batch)
            W.add_((v0.T @ ph0 - vk.T @ phk) / n)
            bv.add_((v0 - vk).sum(0) / n)
            bh.add_((ph0 - phk).sum(0) / n)
        # the epoch's training loss, as fastnn's fit_epoch reports it
        probs = torch.sigmoid(torch.sigmoid((liked * rated) @ W + bh) @ W.T + bv)
        return float(((((probs > 0.5).to(dtype) - liked).abs() * rated).sum() / rated.sum()))

    net = torch.nn.Sequential(torch.nn.Linear(movies, 20), torch.nn.Sigmoid(),
                              torch.nn.Linear(20, 10), torch.nn.Sigmoid(),
                              torch.nn.Linear(10, 20), torch.nn.Sigmoid(),
                              torch.nn.Linear(20, movies)).to(dtype)
    optimizer = torch.optim.RMSprop(net.parameters(), lr=0.01, alpha=0.99, eps=1e-7)
    active = torch.nonzero(rated.any(dim=1)).flatten()

    def autoencoder_epoch():
        for batch in active[torch.randperm(len(active))].split(16):
            target, mask = x[batch], rated[batch]
            loss = 0.5 * (((net(target) - target) * mask) ** 2).sum() / len(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():  # the epoch's training RMSE, as fastnn's fit_epoch reports it
            return float(torch.sqrt((((net(x) - x) * rated) ** 2).sum() / rated.sum()))
    return rbm_epoch, autoencoder_epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--json")
    args = parser.parse_args()
    train, _ = ratings(args.data_dir)
    threads = fastnn.get_num_threads()
    fits = {"RBM (CD-1, 100 hidden)": {}, "autoencoder 1682-20-10-20": {}}
    for backend in ("fast", "reference"):
        rbm = rc.RBMRecommender(train.shape[1], seed=0, backend=backend, dtype=args.dtype)
        ae = rc.AutoEncoderRecommender(train.shape[1], seed=0, backend=backend,
                                       dtype=args.dtype)
        fits["RBM (CD-1, 100 hidden)"][backend] = lambda rbm=rbm: rbm.fit_epoch(train)
        fits["autoencoder 1682-20-10-20"][backend] = lambda ae=ae: ae.fit_epoch(train)
    try:
        rbm_epoch, ae_epoch = torch_models(train, threads, args.dtype)
        fits["RBM (CD-1, 100 hidden)"]["pytorch"] = rbm_epoch
        fits["autoencoder 1682-20-10-20"]["pytorch"] = ae_epoch
    except ImportError:
        print("# PyTorch not installed: its column is empty")
    rows = {name: timed_epochs(model_fits, args.repeats) for name, model_fits in fits.items()}
    print(f"# {train.shape[0]} users x {train.shape[1]} movies, {int((train > 0).sum())} "
          f"training ratings; {args.dtype}; {threads} threads; SIMD {fastnn.get_simd_level()}; "
          f"seconds per epoch, median (min-max) of {args.repeats}")
    print(f"{'model':28s} {'fastnn':>20s} {'reference':>20s} {'PyTorch':>20s}")
    for name, cols in rows.items():
        cells = [f"{cols[k][0]:.3f} ({cols[k][1]:.3f}-{cols[k][2]:.3f})" if k in cols else "-"
                 for k in ("fast", "reference", "pytorch")]
        print(f"{name:28s} {cells[0]:>20s} {cells[1]:>20s} {cells[2]:>20s}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": threads, "dtype": args.dtype, "shape": list(train.shape), "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
