"""Training loop, as the textbook's ``common/trainer.py``: epochs of shuffled mini-batches,
an optimizer by name, evaluation each epoch, loss and accuracy history, and a plot.

Differences from the textbook: each epoch visits every sample once (shuffled without
replacement, seeded) instead of drawing batches with replacement; the epoch count is
exact; a progress bar is shown on a terminal; each epoch's time is kept.
"""
import sys
import time

import numpy as np

from fastnn import checks
from fastnn import checkpoint as checkpoint_file
from fastnn.optim import get_optimizer

__all__ = ["Trainer"]


class Trainer:
    """Train ``network`` (with ``gradient``, ``last_loss``, ``accuracy`` and ``params``).

    x_train, t_train, x_test, t_test: arrays (N, ...) and labels (N,) or one-hot, all
    finite (NaN or inf is a ValueError naming the first one).
    optimizer: a name ('sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam') with
    optimizer_param (e.g. {'lr': 0.01}), or an optimizer object.  evaluate_sample_num_per_epoch:
    evaluate accuracy on at most this many samples of each set (None: all).  verbose: print
    a line per epoch; progress: a progress bar when stderr is a terminal.
    After :meth:`train`: ``train_loss_list`` (per step), ``train_acc_list``,
    ``test_acc_list`` and ``epoch_times`` (seconds, per epoch).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs=20,
                 mini_batch_size=100, optimizer="SGD", optimizer_param=None,
                 evaluate_sample_num_per_epoch=None, verbose=True, progress=True, seed=None):
        if len(x_train) != len(t_train) or len(x_test) != len(t_test):
            raise ValueError("Trainer: x and t must have the same number of samples")
        for name, value in (("x_train", x_train), ("t_train", t_train), ("x_test", x_test),
                            ("t_test", t_test)):
            checks.finite("Trainer", name, value)
        if int(epochs) < 0 or int(mini_batch_size) < 1:
            raise ValueError(f"Trainer: epochs must be >= 0 and mini_batch_size >= 1, got "
                             f"{epochs} and {mini_batch_size}")
        self.network = network
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = int(epochs)
        self.batch_size = int(mini_batch_size)
        self.optimizer = (get_optimizer(optimizer, **(optimizer_param or {}))
                          if isinstance(optimizer, str) else optimizer)
        self.evaluate_sample_num = evaluate_sample_num_per_epoch
        self.verbose = verbose
        self.progress = progress and sys.stderr.isatty()
        self.rng = np.random.default_rng(seed)
        self.train_loss_list, self.train_acc_list, self.test_acc_list = [], [], []
        self.epoch_times = []

    def train_step(self, x_batch, t_batch):
        """One optimizer step on a batch; returns the batch's loss before the step (the
        one backpropagation computed: no extra forward pass)."""
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        self.train_loss_list.append(self.network.last_loss)
        return self.network.last_loss

    def _evaluate(self, x, t):
        if self.evaluate_sample_num is not None:
            x, t = x[:self.evaluate_sample_num], t[:self.evaluate_sample_num]
        return self.network.accuracy(x, t)

    def train(self, checkpoint=None, checkpoint_every=None, resume=None, write_checkpoints=True):
        """Run all epochs; returns the final test accuracy (on all test samples).

        checkpoint: a path written (atomically, fastnn.checkpoint) at the end of every
        epoch and, with ``checkpoint_every``, every that many steps; resume: a checkpoint
        to continue from (the same final weights as an uninterrupted run; another
        ``mini_batch_size`` continues at the same sample, other data, network or
        optimizer settings are a ValueError: see fastnn.checkpoint).
        ``write_checkpoints=False`` reads but never writes (the other ranks of an MPI run).
        """
        n = len(self.x_train)
        first_epoch, first_sample = 0, 0
        if resume:
            first_epoch, first_sample, state = checkpoint_file.load(resume, self)
            self.rng.bit_generator.state = state
        write = checkpoint if write_checkpoints else None
        for epoch in range(first_epoch + 1, self.epochs + 1):
            start = time.perf_counter()
            epoch_state = self.rng.bit_generator.state  # replays this epoch's shuffle on resume
            order = self.rng.permutation(n)
            loss = self.train_loss_list[-1] if self.train_loss_list else float("nan")
            # Batches by sample position: a run resumed with another batch size continues
            # at the sample where the checkpoint was written.
            first = first_sample if epoch == first_epoch + 1 else 0
            for begin in range(first, n, self.batch_size):
                done = min(begin + self.batch_size, n)
                loss = self.train_step(self.x_train[order[begin:done]], self.t_train[order[begin:done]])
                if self.progress:
                    self._bar(epoch, done, n, loss)
                if (write and checkpoint_every and done < n
                        and len(self.train_loss_list) % checkpoint_every == 0):
                    checkpoint_file.save(write, self, epoch - 1, done, epoch_state)
            self.epoch_times.append(time.perf_counter() - start)
            self.train_acc_list.append(self._evaluate(self.x_train, self.t_train))
            self.test_acc_list.append(self._evaluate(self.x_test, self.t_test))
            if self.progress:
                sys.stderr.write("\r" + " " * 79 + "\r")
            if self.verbose:
                print(f"epoch {epoch}/{self.epochs}: loss {loss:.4f}, train acc "
                      f"{self.train_acc_list[-1]:.4f}, test acc {self.test_acc_list[-1]:.4f}, "
                      f"{self.epoch_times[-1]:.2f} s", flush=True)
            if write:
                checkpoint_file.save(write, self, epoch, 0, self.rng.bit_generator.state)
        return self.network.accuracy(self.x_test, self.t_test)

    def _bar(self, epoch, done, n, loss):
        width = 30
        filled = width * done // n
        sys.stderr.write(f"\repoch {epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{done}/{n} loss {loss:.4f}")
        sys.stderr.flush()

    def plot(self, path):
        """Save the loss and accuracy curves as a PNG (needs matplotlib)."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise RuntimeError("Trainer.plot needs matplotlib: pip install matplotlib") from None
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
        ax_loss.plot(self.train_loss_list, linewidth=0.8)
        ax_loss.set(xlabel="step", ylabel="training loss", title="loss")
        epochs = np.arange(1, len(self.train_acc_list) + 1)
        ax_acc.plot(epochs, self.train_acc_list, marker="o", label="train")
        ax_acc.plot(epochs, self.test_acc_list, marker="s", label="test")
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax_acc.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
