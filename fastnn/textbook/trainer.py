"""The textbook's ``common/trainer.py``: minibatch training with a per-epoch evaluation.

Same constructor, lists and printed lines as the textbook's ``Trainer``; minibatches are
drawn with replacement from NumPy's global generator (``np.random.choice``), so
``np.random.seed`` reproduces a run.  (:class:`fastnn.train.Trainer` is fastnn's own:
shuffled epochs, progress bar, checkpoints.)
"""
import os  # noqa: F401  (os, sys and the optimizers: bound by the textbook's star import)
import sys  # noqa: F401

import numpy as np

from fastnn.optim import get_optimizer
from fastnn.textbook.optimizer import *  # noqa: F401,F403
from fastnn.textbook.optimizer import __all__ as _optimizer_names

__all__ = ["Trainer", "os", "sys"] + list(_optimizer_names)


class Trainer:
    """Train ``network`` (with ``params``, ``gradient``, ``loss``, ``accuracy``) by
    ``optimizer`` ('SGD', 'Momentum', 'Nesterov', 'AdaGrad', 'RMSprop' or 'Adam', any
    case) with ``optimizer_param`` for ``epochs`` epochs of ``mini_batch_size`` samples.

    ``train()`` runs every step; ``train_step()`` one.  After each epoch's first step, the
    accuracies on the training and test data (their first
    ``evaluate_sample_num_per_epoch`` samples, when given) are appended to
    ``train_acc_list`` and ``test_acc_list``; every step's loss to ``train_loss_list``.
    """

    def __init__(self, network, x_train, t_train, x_test, t_test,
                 epochs=20, mini_batch_size=100,
                 optimizer='SGD', optimizer_param={'lr': 0.01},  # noqa: B006 (the textbook's)
                 evaluate_sample_num_per_epoch=None, verbose=True):
        self.network = network
        self.verbose = verbose
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = get_optimizer(optimizer, **optimizer_param)
        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list, self.train_acc_list, self.test_acc_list = [], [], []

    def train_step(self):
        """One minibatch: gradient, update, the loss after the update."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)
        x_batch, t_batch = self.x_train[batch_mask], self.t_train[batch_mask]
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))
        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            x_tr, t_tr, x_te, t_te = self.x_train, self.t_train, self.x_test, self.t_test
            if self.evaluate_sample_num_per_epoch is not None:
                n = self.evaluate_sample_num_per_epoch
                x_tr, t_tr, x_te, t_te = x_tr[:n], t_tr[:n], x_te[:n], t_te[:n]
            train_acc = self.network.accuracy(x_tr, t_tr)
            test_acc = self.network.accuracy(x_te, t_te)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print(f"=== epoch:{self.current_epoch}, train acc:{train_acc}, "
                      f"test acc:{test_acc} ===")
        self.current_iter += 1

    def train(self):
        """Every step, then the final test accuracy (printed when verbose)."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
