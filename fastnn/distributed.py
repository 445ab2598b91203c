"""Data-parallel training on MPI (mpi4py), in the pattern of Horovod and ChainerMN: the
initial weights broadcast from rank 0, each global batch split by rank, the gradients
summed, the same optimizer step on every rank.

::

    from fastnn.distributed import DataParallel
    net = DataParallel(SimpleConvNet(seed=0))      # broadcasts rank 0's parameters
    for x_batch, t_batch in batches:                # the same global batches on every rank
        grads = net.gradient(x_batch, t_batch)      # this rank's shard, then summed
        optimizer.update(net.params, grads)         # identical on every rank

Launch with ``mpiexec -n 4 python script.py`` (``python -m mpi4py script.py`` makes an
exception on one rank end them all).  Without mpi4py, or on one process, ``DataParallel``
is the network itself with no communication.

* **Shards.** A global batch of N samples is split in contiguous shards whose sizes
  differ by at most one, the first N % p ranks taking one more (:func:`shard_bounds`).
  Any N >= 1 works: with fewer samples than ranks (an epoch's short last batch), the
  last ranks have empty shards and contribute nothing.
* **Same model as one process, deterministically.** Each rank turns its shard's mean
  gradient into a sum (times its shard size); the sums are gathered (``Allgather``) and
  added on every rank in rank order, then divided by N: the global batch's mean gradient,
  equal to one process's up to rounding (float64: ~1e-15 relative), and bitwise the same
  on every rank and every repetition.  MPI's ``Allreduce`` promises no order of summation,
  so it is not used: gathering moves (p - 1) times a gradient's bytes to each rank against
  Allreduce's 2(p - 1)/p (benchmarks/NOTES.md, "Training steps and epochs").
* **Batch normalisation** uses each rank's own batch statistics (as PyTorch's DDP by
  default), and after every step rank 0's running statistics are broadcast, so all ranks
  evaluate with the same ones.  With it, an N-rank run is not the one-process run.
* **Randomness per rank.** Dropout masks and autoencoder corruption are drawn on each
  rank from its own stream: before every step, each of the network's generators is
  re-seeded from (a key rank 0 draws and broadcasts, the step, the rank), so two ranks
  never share a mask, a run repeats bitwise, and a checkpoint restores the streams
  (:meth:`DataParallel.rank_streams`).  With dropout, an N-rank run is therefore the
  one-process run in distribution, not in its bits.
* **Threads.** Ranks on one node share its cores: :func:`default_threads` gives each rank
  the node's cores divided by the ranks on it (found with a shared-memory split).
"""
import os
import time

import numpy as np

from fastnn.generic_layers import BatchNormalization, Dropout, layers_of_kind

__all__ = ["DataParallel", "world", "default_threads", "shard_bounds"]


class _SingleProcess:
    """The communicator of a run without MPI: one rank, nothing to exchange."""
    rank, size = 0, 1

    def Bcast(self, buf, root=0):
        pass

    def Allgather(self, send, recv):
        recv[...] = np.asarray(send).reshape(recv.shape)

    def Split_type(self, *args, **kwargs):
        return self

    def Get_size(self):
        return 1

    def Abort(self, code=1):
        raise SystemExit(code)


# Environment variables an MPI launcher sets in the processes it starts (MPICH's Hydra,
# Open MPI, MVAPICH, PMIx): without one, this is a plain process and mpi4py (which would
# initialise MPI on import) is not imported.
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE",
                      "PMIX_RANK")


def world():
    """MPI's COMM_WORLD when this process was started by an MPI launcher and mpi4py is
    installed, else a one-process stand-in."""
    if not any(k in os.environ for k in LAUNCHER_VARIABLES):
        return _SingleProcess()
    try:
        from mpi4py import MPI
    except ImportError:
        return _SingleProcess()
    return MPI.COMM_WORLD


def _generators(network):
    """The network's distinct random generators (its own, for corruption, and its dropout
    layers'), in a fixed order."""
    found = [getattr(network, "rng", None)]
    found += [layer.rng for layer in layers_of_kind(network, Dropout).values()]
    unique = []
    for generator in found:
        if isinstance(generator, np.random.Generator) and all(generator is not g for g in unique):
            unique.append(generator)
    return unique


def _local_size(comm):
    """How many ranks share this node (a shared-memory split of the communicator)."""
    if comm.Get_size() == 1:
        return 1
    from mpi4py import MPI
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        return local.Get_size()
    finally:
        local.Free()


def default_threads(comm=None):
    """Threads for each rank: this node's cores divided by the ranks on it (at least 1)."""
    comm = comm or world()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // _local_size(comm))


def shard_bounds(n, rank, size):
    """Rows [start, stop) of a global batch of n >= 1 samples that ``rank`` of ``size``
    takes: contiguous shards, the first n % size ranks one sample more (empty shards for
    the last ranks when n < size)."""
    if n < 1:
        raise ValueError(f"a global batch must hold at least one sample, got {n}")
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class DataParallel:
    """A network trained on all ranks of ``comm`` (default: MPI's COMM_WORLD).

    Broadcasts rank 0's parameters (and batch-norm running statistics) at construction.
    ``gradient(x, t)`` takes the *global* batch (the same on every rank), computes this
    rank's shard and returns the global batch's mean gradient, the same on every rank;
    ``last_loss`` is the global batch's mean loss.  ``params``, ``predict``, ``loss``,
    ``accuracy``, ``save_params``... are the wrapped network's (``network``).
    """

    def __init__(self, network, comm=None):
        self.network = network
        self.comm = comm or world()
        self.rank, self.size = self.comm.rank, self.comm.size
        self.last_loss = None
        self.exchange_seconds = 0.0  # time spent in Allgather (benchmarks/distributed.py)
        for value in network.params.values():
            self._broadcast(value)
        self._broadcast_running_statistics()
        self._generators = _generators(network) if self.size > 1 else []
        self._stream_key = np.zeros(1, dtype=np.uint64)
        if self._generators:  # rank 0's key for every rank: runs repeat on any machine
            self._stream_key[0] = self._generators[0].integers(2**63)
            self.comm.Bcast(self._stream_key, root=0)
        self._step = 0

    def __getattr__(self, name):  # params, predict, accuracy, loss, save_params, ...
        return getattr(self.network, name)

    def rank_streams(self):
        """What re-seeds this run's random streams (for a checkpoint): None on one process,
        else {'key': ..., 'step': steps done}."""
        if not self._generators:
            return None
        return {"key": int(self._stream_key[0]), "step": self._step}

    def set_rank_streams(self, state):
        """Continue the random streams from :meth:`rank_streams`' ``state``."""
        if self._generators and state is not None:
            self._stream_key[0], self._step = int(state["key"]), int(state["step"])

    def _reseed_streams(self):
        """Each generator's stream for this step on this rank, from (key, step, rank, index)."""
        for index, generator in enumerate(self._generators):
            seed = np.random.SeedSequence([int(self._stream_key[0]), self._step, self.rank, index])
            generator.bit_generator.state = type(generator.bit_generator)(seed).state
        self._step += 1

    def _broadcast(self, array):
        if self.size > 1:
            if not array.flags.c_contiguous:
                raise ValueError("DataParallel: parameters must be C-contiguous arrays")
            self.comm.Bcast(array, root=0)

    def _broadcast_running_statistics(self):
        for layer in layers_of_kind(self.network, BatchNormalization).values():
            if layer.running_mean is not None:
                self._broadcast(layer.running_mean)
                self._broadcast(layer.running_var)

    def gradient(self, x, t):
        """The global batch's mean gradient (x, t: the whole batch, on every rank)."""
        x, t = np.asarray(x), np.asarray(t)
        n = len(x)
        if self.size == 1:
            grads = self.network.gradient(x, t)
            self.last_loss = self.network.last_loss
            return grads
        start, stop = shard_bounds(n, self.rank, self.size)
        self._reseed_streams()
        shard = stop - start
        names = list(self.network.params)
        if shard:
            grads, loss = self.network.gradient(x[start:stop], t[start:stop]), self.network.last_loss
        else:  # fewer samples than ranks: this rank adds nothing
            grads, loss = {k: np.zeros_like(p) for k, p in self.network.params.items()}, 0.0
        # This rank's sums (mean times shard size) and its loss sum, in one vector.
        local = np.concatenate([np.ravel(grads[k]).astype(np.float64) * shard for k in names]
                               + [np.array([loss * shard])])
        gathered = np.empty((self.size, local.size))
        start = time.perf_counter()
        self.comm.Allgather(local, gathered)
        self.exchange_seconds += time.perf_counter() - start
        total = gathered[0].copy()
        for r in range(1, self.size):  # rank order: the same bits everywhere, every time
            total += gathered[r]
        total /= n
        self.last_loss = float(total[-1])
        out, offset = {}, 0
        for k in names:
            size = np.size(grads[k])
            out[k] = total[offset:offset + size].reshape(np.shape(grads[k])).astype(
                np.asarray(grads[k]).dtype)
            offset += size
        self._broadcast_running_statistics()
        return out
