"""Checkpoints that lose nothing (issue 13): a run killed mid-epoch and resumed reaches the
uninterrupted run's final weights bit for bit; a truncated or foreign file is a clear
error."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

from fastnn import checkpoint, nets
from fastnn.train import Trainer

MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist")


def make_trainer(seed=0, optimizer="Adam"):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((90, 10)), rng.integers(0, 3, 90)
    net = nets.MultiLayerNet(10, [12, 8], 3, use_dropout=True, dropout_ration=0.2,
                             use_batchnorm=True, seed=seed)
    return Trainer(net, x, t, x[:30], t[:30], epochs=3, mini_batch_size=20, optimizer=optimizer,
                   optimizer_param={"lr": 0.01}, verbose=False, progress=False, seed=seed)


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("optimizer", ["Adam", "Momentum"])
def test_resume_after_an_interruption_gives_the_same_weights(optimizer, tmp_path):
    whole = make_trainer(optimizer=optimizer)
    whole.train()
    path = tmp_path / "run.ckpt"
    broken = make_trainer(optimizer=optimizer)
    step = broken.train_step

    def failing_step(x, t):  # dies in the middle of the second epoch (after step 7 of 15)
        if len(broken.train_loss_list) == 7:
            raise Interrupted
        return step(x, t)
    broken.train_step = failing_step
    with pytest.raises(Interrupted):
        broken.train(checkpoint=path, checkpoint_every=3)
    resumed = make_trainer(seed=99, optimizer=optimizer)  # other weights: all must be restored
    resumed.train(checkpoint=path, checkpoint_every=3, resume=path)
    for key, value in whole.network.params.items():
        np.testing.assert_array_equal(resumed.network.params[key], value)
    assert resumed.train_loss_list == whole.train_loss_list
    bn = [k for k, layer in whole.network.layers.items() if hasattr(layer, "running_var")]
    for name in bn:
        np.testing.assert_array_equal(resumed.network.layers[name].running_var,
                                      whole.network.layers[name].running_var)


def test_truncated_foreign_and_mismatched_checkpoints_are_clear_errors(tmp_path):
    trainer = make_trainer()
    trainer.train(checkpoint=tmp_path / "good.ckpt")
    data = (tmp_path / "good.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="truncated or not a fastnn checkpoint"):
        checkpoint.load(tmp_path / "cut.ckpt", make_trainer())
    np.savez(tmp_path / "foreign.npz", W1=np.zeros(3))
    with pytest.raises(ValueError, match="not a fastnn checkpoint"):
        checkpoint.load(tmp_path / "foreign.npz", make_trainer())
    other = Trainer(nets.MultiLayerNet(10, [5], 3), np.zeros((4, 10)), np.zeros(4, int),
                    np.zeros((4, 10)), np.zeros(4, int), optimizer="Adam", verbose=False)
    with pytest.raises(ValueError, match="does not fit this network"):
        checkpoint.load(tmp_path / "good.ckpt", other)
    with pytest.raises(ValueError, match="written with Adam"):
        checkpoint.load(tmp_path / "good.ckpt", make_trainer(optimizer="SGD"))
    assert not (tmp_path / "good.ckpt.tmp").exists()  # written, then renamed


@pytest.mark.skipif(not os.path.isdir(MNIST_DIR), reason="the MNIST test set is not at ../shared/data/mnist")
def test_fastnn_train_killed_mid_run_and_resumed(tmp_path):
    fastnn_cli = shutil.which("fastnn", path=os.path.dirname(sys.executable))
    base = [fastnn_cli, "train", "--model", "mlp", "--epochs", "25", "--train-size", "2000",
            "--test-size", "200", "--data-dir", MNIST_DIR, "--dtype", "float64", "--quiet",
            "--threads", "1"]
    run = dict(cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=300)
    subprocess.run(base + ["--save", str(tmp_path / "whole.npz")], check=True, **run)
    ckpt = tmp_path / "run.ckpt"
    process = subprocess.Popen(base + ["--checkpoint", str(ckpt), "--checkpoint-every", "7"],
                               cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.01)
    time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    if process.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    subprocess.run(base + ["--resume", str(ckpt), "--save", str(tmp_path / "resumed.npz")],
                   check=True, **run)
    whole, resumed = np.load(tmp_path / "whole.npz"), np.load(tmp_path / "resumed.npz")
    assert sorted(whole.files) == sorted(resumed.files)
    for key in whole.files:
        np.testing.assert_array_equal(resumed[key], whole[key])
