"""Data-parallel training on MPI: runs of `mpiexec -n 2` and `-n 3` on this
machine (oversubscribed, short) against the single-process run.  Skipped where mpi4py or
mpiexec is missing, as on a user's machine without the [mpi] extra."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from fastnn import distributed, nets
from fastnn.datasets.mnist import BUNDLED_MNIST_DIR

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi", "train_steps.py")
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")

try:
    import mpi4py  # noqa: F401
    HAVE_MPI = MPIEXEC is not None
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="needs mpi4py and mpiexec: "
                               "pip install 'fastnn[mpi]' (mpi4py and the mpich wheel)")


def run(ranks, mode, out, timeout=120):
    """mpiexec -n ranks python train_steps.py mode out, from a directory without fastnn's
    sources (so the installed package is imported)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [MPIEXEC, "-n", str(ranks), sys.executable, SCRIPT, mode, str(out)]
    if mode == "fail":
        command[4:4] = ["-m", "mpi4py"]  # an exception on one rank aborts them all
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=tempfile.gettempdir())


def single_process(mode, out):
    env = {k: v for k, v in os.environ.items() if k not in distributed.LAUNCHER_VARIABLES}
    subprocess.run([sys.executable, SCRIPT, mode, str(out)], env=env, check=True,
                   cwd=tempfile.gettempdir(), capture_output=True)
    return np.load(out)


def test_shard_bounds_cover_the_batch_once():
    for n, size in [(100, 3), (31, 2), (7, 7), (5, 1), (1, 2), (3, 4), (101 % 50, 2)]:
        bounds = [distributed.shard_bounds(n, r, size) for r in range(size)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1
        assert bounds[0][1] > 0  # rank 0, whose batch-norm statistics are broadcast, has data
    with pytest.raises(ValueError, match="at least one sample"):
        distributed.shard_bounds(0, 0, 4)


class FakeRank:
    """Rank ``rank`` of a world of ``size`` whose other ranks send what this one does: enough
    to run DataParallel's arithmetic in one process."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    def Bcast(self, buf, root=0):
        pass

    def Allgather(self, send, recv):
        recv[...] = np.asarray(send)


def dropout_masks(rank, steps=3, size=2, state=None):
    """The dropout masks of ``steps`` steps on ``rank`` (from the streams' ``state``)."""
    net = nets.MultiLayerNet(6, [40, 40], 3, use_dropout=True, dropout_ration=0.5, seed=0)
    model = distributed.DataParallel(net, FakeRank(rank, size))
    model.set_rank_streams(state)
    x, t = np.random.default_rng(1).standard_normal((8, 6)), np.arange(8) % 3
    masks = []
    for _ in range(steps):
        model.gradient(x, t)
        masks.append([layer.mask.copy() for layer in net.layers.values()
                      if isinstance(layer, nets.layers_for("fast").Dropout)])
    return masks, model


def test_ranks_draw_their_own_dropout_masks():
    """Networks built from one seed on every rank: each rank's masks still differ from the
    others' at every step, and a run repeats its masks bitwise."""
    rank0, _ = dropout_masks(0)
    rank1, _ = dropout_masks(1)
    again, _ = dropout_masks(1)
    for step in range(3):
        for a, b, c in zip(rank0[step], rank1[step], again[step]):
            assert a.shape == b.shape and not np.array_equal(a, b)
            np.testing.assert_array_equal(b, c)
    assert not np.array_equal(rank1[0][0], rank1[1][0])  # and from step to step


def test_rank_streams_continue_after_a_restore():
    _, model = dropout_masks(1, steps=2)
    state = model.rank_streams()
    assert state["step"] == 2
    whole, _ = dropout_masks(1, steps=4)
    resumed, _ = dropout_masks(1, steps=2, state=state)
    for a, b in zip(whole[2:], resumed):
        for mask, same in zip(a, b):
            np.testing.assert_array_equal(mask, same)


def test_a_rank_with_an_empty_shard_adds_nothing():
    """A last batch with fewer samples than ranks (101 samples in batches of 50 on 2
    ranks): rank 1's shard is empty and the step is rank 0's alone."""
    net = nets.MultiLayerNet(6, [5], 3, seed=0, weight_decay_lambda=0.1)
    x, t = np.random.default_rng(1).standard_normal((1, 6)), np.array([2])
    model = distributed.DataParallel(net, FakeRank(1, 2))
    grads = model.gradient(x, t)  # rank 1: nothing; the fake world repeats it, so zeros
    for key, value in grads.items():
        np.testing.assert_array_equal(value, np.zeros_like(net.params[key]))
    assert model.last_loss == 0.0


def test_without_a_launcher_it_is_one_process(monkeypatch):
    for name in distributed.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    comm = distributed.world()
    assert comm.size == 1 and distributed.default_threads(comm) >= 1


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_n_ranks_follow_the_single_process_run(ranks, tmp_path):
    reference = single_process("plain", tmp_path / "one.npz")
    result = run(ranks, "plain", tmp_path / "many.npz")
    assert result.returncode == 0, result.stderr
    many = np.load(tmp_path / "many.npz")
    np.testing.assert_allclose(many["losses"], reference["losses"], rtol=1e-10)
    for key in reference.files:
        if key not in ("losses", "running"):
            np.testing.assert_allclose(many[key], reference[key], rtol=1e-10, atol=1e-14)


@needs_mpi
def test_a_trainer_whose_last_batch_has_fewer_samples_than_ranks(tmp_path):
    """101 samples in batches of 50 on 2 ranks: the last step's one sample is rank 0's."""
    reference = single_process("trainer", tmp_path / "one.npz")
    result = run(2, "trainer", tmp_path / "many.npz")
    assert result.returncode == 0, result.stderr
    many = np.load(tmp_path / "many.npz")
    assert len(many["losses"]) == 2 * 3
    for key in reference.files:
        np.testing.assert_allclose(many[key], reference[key], rtol=1e-10, atol=1e-14)


@needs_mpi
def test_repeated_runs_are_bitwise_identical(tmp_path):
    outputs = []
    for i in range(2):
        result = run(3, "batchnorm", tmp_path / f"run{i}.npz")
        assert result.returncode == 0, result.stderr
        outputs.append(np.load(tmp_path / f"run{i}.npz"))
    for key in outputs[0].files:
        np.testing.assert_array_equal(outputs[0][key], outputs[1][key])
    # per-rank batch statistics: not the one-process run, but a trained, finite one
    one = single_process("batchnorm", tmp_path / "one.npz")
    assert np.isfinite(outputs[0]["losses"]).all()
    assert not np.allclose(outputs[0]["losses"][1:], one["losses"][1:], rtol=1e-10)


@needs_mpi
def test_a_failing_rank_ends_every_rank_promptly(tmp_path):
    # A hang (a rank left waiting) overruns the timeout: subprocess raises TimeoutExpired.
    result = run(2, "fail", tmp_path / "never.npz", timeout=30)
    assert result.returncode != 0
    assert "rank 1 fails at step 3" in result.stderr
    assert not (tmp_path / "never.npz").exists()


MNIST_DIR = BUNDLED_MNIST_DIR


@needs_mpi
def test_fastnn_train_under_mpiexec_prints_once(tmp_path):
    fastnn_cli = shutil.which("fastnn", path=os.path.dirname(sys.executable))
    command = [MPIEXEC, "-n", "2", fastnn_cli, "train", "--model", "mlp", "--epochs", "1",
               "--train-size", "600", "--test-size", "200", "--data-dir", MNIST_DIR,
               "--dtype", "float64", "--save", str(tmp_path / "w.npz")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            cwd=tempfile.gettempdir(), env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("test accuracy: ") for line in lines) == 1
    assert sum(line.startswith("epoch 1/1") for line in lines) == 1
    assert "2 ranks" in result.stdout and (tmp_path / "w.npz").exists()


@needs_mpi
def test_resume_on_many_ranks_gives_the_uninterrupted_weights(tmp_path):
    fastnn_cli = shutil.which("fastnn", path=os.path.dirname(sys.executable))
    base = [MPIEXEC, "-n", "2", fastnn_cli, "train", "--model", "mlp", "--train-size", "600",
            "--test-size", "200", "--data-dir", MNIST_DIR, "--dtype", "float64", "--quiet"]
    run = dict(capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir(),
               env={**os.environ, "OMP_NUM_THREADS": "1"})
    steps = [["--epochs", "2", "--save", str(tmp_path / "whole.npz")],
             ["--epochs", "1", "--checkpoint", str(tmp_path / "one.ckpt")],
             ["--epochs", "2", "--resume", str(tmp_path / "one.ckpt"), "--save", str(tmp_path / "resumed.npz")]]
    for extra in steps:
        result = subprocess.run(base + extra, **run)
        assert result.returncode == 0, result.stderr
    whole, resumed = np.load(tmp_path / "whole.npz"), np.load(tmp_path / "resumed.npz")
    for key in whole.files:
        np.testing.assert_array_equal(resumed[key], whole[key])


@needs_mpi
def test_fastnn_train_ends_every_rank_when_one_fails(tmp_path):
    """Rank 0 cannot write its checkpoint after epoch 1 while rank 1 goes on into epoch 2
    (and would wait for rank 0's gradients forever): every rank must end, promptly."""
    fastnn_cli = shutil.which("fastnn", path=os.path.dirname(sys.executable))
    command = [MPIEXEC, "-n", "2", fastnn_cli, "train", "--model", "mlp", "--epochs", "5",
               "--train-size", "600", "--test-size", "200", "--data-dir", MNIST_DIR, "--quiet",
               "--checkpoint", str(tmp_path / "missing-directory" / "run.ckpt")]
    # A hang (rank 1 left waiting) overruns the timeout: subprocess raises TimeoutExpired.
    result = subprocess.run(command, capture_output=True, text=True, timeout=30,
                            cwd=tempfile.gettempdir(), env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "rank 0 of 2 failed" in result.stderr and "missing-directory" in result.stderr, result.stderr


@needs_mpi
def test_ranks_on_one_node_share_its_cores():
    code = ("import os; from fastnn.distributed import default_threads, world; comm = world(); "
            "rows = comm.gather((default_threads(comm), len(os.sched_getaffinity(0)))); "
            "comm.rank == 0 and print('\\n'.join(f'{a} {b}' for a, b in rows))")
    result = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=60, cwd=tempfile.gettempdir())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        threads, cores = map(int, line.split())
        assert threads == max(1, cores // 2)
