"""Checkpoints that lose nothing: a run killed mid-epoch and resumed reaches the
uninterrupted run's final weights bit for bit; resumed with other options it continues at
the same sample or is refused with the option named; every malformed file is a clear
ValueError that changes nothing."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from helpers import time_limit

from fastnn import checkpoint, nets
from fastnn.datasets.mnist import BUNDLED_MNIST_DIR as MNIST_DIR
from fastnn.train import Trainer


def make_trainer(seed=0, optimizer="Adam", samples=90, batch_size=20, lr=0.01, dtype=np.float64,
                 labels_seed=1, epochs=3):
    """A small run whose first input column is the sample's index (so a test can see
    which samples each step took)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((samples, 10)).astype(dtype)
    x[:, 0] = np.arange(samples)
    t = np.random.default_rng(labels_seed).integers(0, 3, samples)
    net = nets.MultiLayerNet(10, [12, 8], 3, use_dropout=True, dropout_ration=0.2,
                             use_batchnorm=True, seed=seed, dtype=dtype)
    return Trainer(net, x, t, x[:30], t[:30], epochs=epochs, mini_batch_size=batch_size,
                   optimizer=optimizer, optimizer_param={"lr": lr}, verbose=False,
                   progress=False, seed=seed)


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


def test_fastnn_train_killed_mid_run_and_resumed(tmp_path):
    fastnn_cli = shutil.which("fastnn", path=os.path.dirname(sys.executable))
    base = [fastnn_cli, "train", "--model", "mlp", "--epochs", "25", "--train-size", "2000",
            "--test-size", "200", "--data-dir", MNIST_DIR, "--dtype", "float64", "--quiet",
            "--threads", "1"]
    run = dict(cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=time_limit(300))
    subprocess.run(base + ["--save", str(tmp_path / "whole.npz")], check=True, **run)
    ckpt = tmp_path / "run.ckpt"
    process = subprocess.Popen(base + ["--checkpoint", str(ckpt), "--checkpoint-every", "7"],
                               cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    deadline = time.time() + time_limit(120)
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


# -- malformed files ------------------------------------------------------------------------

def rewrite(source, target, meta=None, arrays=None, drop=()):
    """A copy of the checkpoint ``source`` at ``target`` with meta fields and arrays
    replaced (None: removed) and the arrays named in ``drop`` left out."""
    with np.load(source) as saved:
        contents = {k: saved[k] for k in saved.files}
    record = json.loads(contents["meta"].tobytes().decode())
    for key, value in (meta or {}).items():
        if value is None:
            record.pop(key)
        else:
            record[key] = value
    contents["meta"] = np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)
    contents.update(arrays or {})
    contents = {k: v for k, v in contents.items() if k not in drop}
    with open(target, "wb") as f:  # (np.savez would add .npz to the name)
        np.savez(f, **contents)
    return target


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "good.ckpt"
    make_trainer().train(checkpoint=path)
    return path


MALFORMED = {
    "npy": (lambda src, dst: np.save(dst, np.zeros(3)) or f"{dst}.npy", "one array"),
    "empty": (lambda src, dst: dst.write_bytes(b"") or dst, "truncated or not a fastnn"),
    "not json": (lambda src, dst: rewrite(src, dst, arrays={"meta": np.frombuffer(b"{x", np.uint8)}),
                 "not JSON text"),
    "json list": (lambda src, dst: rewrite(src, dst, arrays={"meta": np.frombuffer(b"[1]", np.uint8)}),
                  "not a fastnn checkpoint"),
    "meta as floats": (lambda src, dst: rewrite(src, dst, arrays={"meta": np.zeros(4)}), "not JSON text"),
    "no meta": (lambda src, dst: rewrite(src, dst, drop=("meta",)), "no 'meta' record"),
    "version 1": (lambda src, dst: rewrite(src, dst, meta={"version": 1}), "has version 1"),
    "unknown field": (lambda src, dst: rewrite(src, dst, meta={"colour": "red"}), "unknown fields"),
    "float epoch": (lambda src, dst: rewrite(src, dst, meta={"epoch": 1.5}), "'epoch' must be"),
    "negative sample": (lambda src, dst: rewrite(src, dst, meta={"sample": -1}), "'sample' must be"),
    "sample past the epoch": (lambda src, dst: rewrite(src, dst, meta={"sample": 90}),
                              "not within an epoch"),
    "loss history of strings": (lambda src, dst: rewrite(src, dst, meta={"train_loss_list": ["a"]}),
                                "'train_loss_list' must be"),
    "bad generator state": (lambda src, dst: rewrite(src, dst, meta={"epoch_rng": {"x": 1}}),
                            "'epoch_rng' is not a PCG64"),
    "missing optimizer array": (lambda src, dst: rewrite(src, dst, drop=("optimizer/m/W1",)),
                                "lacks"),
    "integer parameter": (lambda src, dst: rewrite(src, dst, arrays={"param/b1": np.zeros(12, int)}),
                          "floating-point"),
    "NaN parameter": (lambda src, dst: rewrite(src, dst, arrays={"param/b1": np.full(12, np.nan)}),
                      "must be finite"),
    "misshapen statistics": (lambda src, dst: rewrite(src, dst, arrays={
        "running_mean/BatchNorm1": np.zeros(5)}), "has shape"),
    "foreign array": (lambda src, dst: rewrite(src, dst, arrays={"extra": np.zeros(2)}),
                      "does not have"),
}
for field in ("batch_size", "data", "network", "optimizer", "dropout_rng", "rank_streams"):
    MALFORMED[f"no {field}"] = (lambda src, dst, f=field: rewrite(src, dst, meta={f: None}),
                                f"lacks '{field}'")


@pytest.mark.parametrize("case", MALFORMED)
def test_every_malformed_checkpoint_is_a_value_error_that_changes_nothing(case, good_checkpoint,
                                                                         tmp_path):
    make, message = MALFORMED[case]
    path = make(good_checkpoint, tmp_path / "bad.ckpt")
    trainer = make_trainer(seed=5)
    before = {k: v.copy() for k, v in trainer.network.params.items()}
    with pytest.raises(ValueError, match=message):
        checkpoint.load(path, trainer)
    for key, value in trainer.network.params.items():
        np.testing.assert_array_equal(value, before[key])
    assert trainer.train_loss_list == [] and trainer.optimizer.iter == 0


# -- resuming with other options --------------------------------------------------------------

# Options a resumed run may change, and what the checkpoint says when it refuses one.
CHANGES = {
    "nothing": ({}, None),
    "batch size": ({"batch_size": 7}, None),
    "epochs": ({"epochs": 4}, None),
    "sample count": ({"samples": 80}, "training data samples"),
    "labels": ({"labels_seed": 2}, "training data labels_sha256"),
    "learning rate": ({"lr": 0.02}, "optimizer lr"),
    "optimizer": ({"optimizer": "RMSprop"}, "written with Adam"),
    "dtype": ({"dtype": np.float32}, "network dtype"),
}


def visited(trainer):
    """Record the samples each step of ``trainer`` takes (their first input column)."""
    samples, step = [], trainer.train_step

    def recording_step(x, t):
        samples.extend(int(i) for i in x[:, 0])
        return step(x, t)
    trainer.train_step = recording_step
    return samples


def position(path):
    """Samples done (over all epochs) when the checkpoint at ``path`` was written."""
    with np.load(path) as saved:
        meta = json.loads(saved["meta"].tobytes().decode())
    return meta["epoch"] * meta["data"]["samples"] + meta["sample"]


# A step to stop after, and a checkpoint interval that writes one before it.
STOPS = st.integers(1, 13).flatmap(lambda stop: st.tuples(st.just(stop), st.integers(1, min(stop, 4))))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stop=STOPS, change=st.sampled_from(sorted(CHANGES)))
def test_resume_at_random_points_with_random_option_changes(stop, change, tmp_path):
    """Interrupted after a random step, resumed with one option changed: either the run
    continues at the sample where the checkpoint was written (the whole run's sample
    order, nothing skipped or repeated; bitwise the whole run when nothing that shapes
    the trajectory changed), or the resume is refused naming the option."""
    (stop_after, every), (options, refusal) = stop, CHANGES[change]
    path = tmp_path / f"run-{stop_after}-{every}-{change}.ckpt"
    path.unlink(missing_ok=True)
    broken = make_trainer()
    first_part = visited(broken)
    step = broken.train_step

    def failing_step(x, t):
        if len(broken.train_loss_list) == stop_after:
            raise Interrupted
        return step(x, t)
    broken.train_step = failing_step
    with pytest.raises(Interrupted):
        broken.train(checkpoint=path, checkpoint_every=every)
    resumed = make_trainer(seed=99, **options)
    if refusal:
        with pytest.raises(ValueError, match=refusal):
            resumed.train(checkpoint=path, checkpoint_every=every, resume=path)
        return
    kept = first_part[:position(path)]  # later steps were lost with the "process"
    second_part = visited(resumed)
    resumed.train(checkpoint=path, checkpoint_every=every, resume=path)
    whole = make_trainer(epochs=options.get("epochs", 3))
    whole_samples = visited(whole)
    whole.train()
    assert kept + second_part == whole_samples
    if change in ("nothing", "epochs"):  # the same run: the same bits
        for key, value in whole.network.params.items():
            np.testing.assert_array_equal(resumed.network.params[key], value)
        assert resumed.train_loss_list == whole.train_loss_list
