"""Data-parallel steps on MPI: the time of a step against the time of its gradient
exchange, and one epoch's time, for SimpleConvNet or DeepConvNet.

    mpiexec -n 2 python benchmarks/distributed.py --model simple --steps 40
    python benchmarks/distributed.py --model simple --steps 40        # one process

Batches of --batch-size (global) MNIST-shaped random images; float32 by default.
Prints the median step and exchange times (rank 0), the bytes each rank sends per step,
and Allreduce's time for the same vector beside fastnn's ordered Allgather.
"""
import argparse
import time

import numpy as np

import fastnn
from fastnn import nets, optim
from fastnn.distributed import DataParallel, world


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("simple", "deep"), default="simple")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    comm = world()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 1, 28, 28)).astype(args.dtype)
    t = rng.integers(0, 10, args.batch_size)
    cls = nets.SimpleConvNet if args.model == "simple" else nets.DeepConvNet
    model = DataParallel(cls(dtype=args.dtype, seed=0), comm)
    opt = optim.Adam()
    times = []
    for step in range(args.steps + 3):
        start = time.perf_counter()
        opt.update(model.params, model.gradient(x, t))
        if step >= 3:
            times.append(time.perf_counter() - start)
        if step == 2:
            model.exchange_seconds = 0.0
    n_params = sum(p.size for p in model.params.values())
    vector = np.zeros(n_params + 1)
    allreduce = []
    if comm.size > 1:
        from mpi4py import MPI
        out = np.empty_like(vector)
        for _ in range(20):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(vector, out, op=MPI.SUM)
            allreduce.append(time.perf_counter() - start)
    if comm.rank == 0:
        print(f"# {args.model}, {comm.size} ranks x {fastnn.get_num_threads()} threads, "
              f"global batch {args.batch_size}, {args.dtype}, {n_params} parameters")
        print(f"step median {np.median(times) * 1e3:.2f} ms (min {min(times) * 1e3:.2f}, "
              f"max {max(times) * 1e3:.2f}); exchange {model.exchange_seconds / args.steps * 1e3:.3f} "
              f"ms a step; sends {vector.nbytes} bytes a step")
        if allreduce:
            print(f"Allreduce of the same vector: median {np.median(allreduce) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
