"""Training on real digits (the MNIST test set bundled with fastnn, split 8,000 / 2,000):
the accuracy targets, the overfitting experiment, the autoencoder and the RBM, and the
`fastnn train` command."""
import os

import numpy as np
import pytest
from test_data import MNIST_DIR

from fastnn import cli, nets
from fastnn.datasets.mnist import load_mnist
from fastnn.train import Trainer


@pytest.fixture(scope="module")
def digits():
    return load_mnist(MNIST_DIR, flatten=False, split=(8000, 2000))


def flat(x):
    return x.reshape(len(x), -1)


def test_simple_convnet_reaches_97_5_percent_in_5_epochs(digits):
    (x, t), (xt, tt) = digits
    net = nets.SimpleConvNet(weight_init_std="he", dtype=np.float32, seed=0)
    trainer = Trainer(net, x, t, xt, tt, epochs=5, mini_batch_size=100, optimizer="adam",
                      optimizer_param={"lr": 0.002}, verbose=False, seed=0)
    assert trainer.train() >= 0.975
    assert len(trainer.test_acc_list) == 5 and len(trainer.train_loss_list) == 5 * 80
    assert np.mean(trainer.train_loss_list[-80:]) < np.mean(trainer.train_loss_list[:80])


def test_mlp_reaches_95_percent(digits):
    (x, t), (xt, tt) = digits
    net = nets.MultiLayerNet(784, [100, 100], 10, use_batchnorm=True, dtype=np.float32, seed=0)
    trainer = Trainer(net, flat(x), t, flat(xt), tt, epochs=10, optimizer="adam",
                      optimizer_param={"lr": 0.001}, verbose=False, seed=0)
    assert trainer.train() >= 0.95


def test_deep_convnet_learns_fast(digits):
    """DeepConvNet's ≥ 98 % takes ~10 epochs (docs/training.md); here, 2 epochs."""
    (x, t), (xt, tt) = digits
    net = nets.DeepConvNet(dtype=np.float32, seed=0)
    trainer = Trainer(net, x, t, xt, tt, epochs=2, optimizer="adam",
                      optimizer_param={"lr": 0.001}, verbose=False, seed=0)
    assert trainer.train() >= 0.90


def test_overfitting_and_regularisation(digits):
    """The textbook's experiment: 300 samples, a 7-layer 100-unit ReLU net, SGD.  It fits
    the training set far better than the test set; weight decay narrows the gap."""
    (x, t), (xt, tt) = digits
    gaps = {}
    for decay in (0.0, 0.1):
        net = nets.MultiLayerNet(784, [100] * 6, 10, weight_decay_lambda=decay, seed=0)
        trainer = Trainer(net, flat(x[:300]), t[:300], flat(xt), tt, epochs=150,
                          mini_batch_size=100, optimizer="sgd", optimizer_param={"lr": 0.01},
                          verbose=False, seed=0)
        trainer.train()
        gaps[decay] = trainer.train_acc_list[-1] - trainer.test_acc_list[-1]
        if decay == 0.0:
            assert trainer.train_acc_list[-1] > 0.99  # memorised
    assert gaps[0.0] > 0.15
    assert gaps[0.1] < gaps[0.0] - 0.05


def test_autoencoder_reconstruction_error_falls(digits):
    from fastnn.optim import Adam
    (x, _), (xt, _) = digits
    x, xt = flat(x[:2000]), flat(xt[:500])
    ae = nets.AutoEncoder(784, (64, 16), seed=0)
    before = ae.reconstruction_error(xt)
    opt = Adam(lr=0.005)
    for epoch in range(5):
        for i in range(0, len(x), 50):
            opt.update(ae.params, ae.gradient(x[i:i + 50]))
    after = ae.reconstruction_error(xt)
    assert after < 0.6 * before
    assert ae.encode(xt[:3]).shape == (3, 16)


def test_rbm_learns_the_digits(digits):
    (x, _), (xt, _) = digits
    v = (flat(x[:2000]) > 0.5).astype(np.float64)  # binary units: binarised pixels
    v_test = (flat(xt[:500]) > 0.5).astype(np.float64)
    rbm = nets.RBM(784, 64, k=1, seed=0)
    before = rbm.reconstruction_error(v_test)
    for epoch in range(5):
        for i in range(0, len(v), 20):
            rbm.contrastive_divergence(v[i:i + 20], lr=0.05)
    assert rbm.reconstruction_error(v_test) < 0.6 * before
    # digits become likelier (lower free energy) than the same pixels shuffled
    shuffled = np.random.default_rng(0).permuted(v_test, axis=1)
    assert rbm.free_energy(v_test).mean() < rbm.free_energy(shuffled).mean() - 50


def test_fastnn_train_ends_with_the_test_accuracy(tmp_path, capsys):
    args = ["train", "--model", "mlp", "--data-dir", MNIST_DIR, "--epochs", "3",
            "--train-size", "2000", "--test-size", "500", "--quiet",
            "--save", str(tmp_path / "mlp.npz")]
    assert cli.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("test accuracy: 0.") and float(lines[-1].split()[-1]) > 0.7
    assert any(line.startswith("time per epoch:") for line in lines)
    assert (tmp_path / "mlp.npz").exists()


def test_fastnn_train_with_an_empty_data_dir_says_so(tmp_path, capsys):
    assert cli.main(["train", "--data-dir", str(tmp_path), "--quiet"]) == 2
    assert "no MNIST files in" in capsys.readouterr().err


def test_trainer_history_and_plot(tmp_path, digits):
    pytest.importorskip("matplotlib")
    (x, t), (xt, tt) = digits
    net = nets.MultiLayerNet(784, [20], 10, seed=0)
    trainer = Trainer(net, flat(x[:500]), t[:500], flat(xt[:100]), tt[:100], epochs=2,
                      mini_batch_size=64, optimizer="momentum", optimizer_param={"lr": 0.05},
                      evaluate_sample_num_per_epoch=50, verbose=False, seed=1)
    trainer.train()
    assert len(trainer.train_loss_list) == 2 * 8 and len(trainer.epoch_times) == 2
    path = tmp_path / "curves.png"
    trainer.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trainer_rejects_mismatched_data():
    net = nets.MultiLayerNet(4, [3], 2, seed=0)
    with pytest.raises(ValueError, match="same number of samples"):
        Trainer(net, np.zeros((5, 4)), np.zeros(4, int), np.zeros((2, 4)), np.zeros(2, int))


@pytest.mark.parametrize("which", ["x_train", "t_train", "x_test", "t_test"])
def test_trainer_refuses_non_finite_data_naming_the_first_bad_value(which, rng):
    data = {"x_train": rng.standard_normal((6, 4)), "t_train": np.eye(2)[rng.integers(0, 2, 6)],
            "x_test": rng.standard_normal((3, 4)), "t_test": np.eye(2)[rng.integers(0, 2, 3)]}
    data[which][2, 1] = np.nan
    data[which][1, 0] = np.inf  # the first in C order
    net = nets.MultiLayerNet(4, [3], 2, seed=0)
    with pytest.raises(ValueError, match=rf"Trainer: {which} must be finite, but {which}\[1, 0\] is inf"):
        Trainer(net, **data)


def test_fastnn_train_offline_trains_on_the_bundled_digits(tmp_path, monkeypatch, capsys):
    """A fresh machine without a network: no MNIST cached, no mirror reachable."""
    from fastnn.datasets import mnist as data
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "MIRRORS", ((tmp_path / "nowhere").as_uri() + "/",))
    assert cli.main(["train", "--model", "mlp", "--epochs", "1", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("MNIST is not in") and "bundled with fastnn" in lines[0]
    assert "first 8000 to train, the last 2000 to test" in lines[0]
    assert lines[-1].startswith("test accuracy: 0.") and float(lines[-1].split()[-1]) > 0.8
