"""Checkpoints of a training run that lose nothing: a resumed run reaches the same weights,
bit for bit, as one that was never interrupted.

A checkpoint is one ``.npz`` file holding the network's parameters and batch-norm running
statistics, the optimizer's state (its moment arrays and step count), the random
generators' states (the trainer's shuffling, the dropout masks) and the position in
training (epoch, step within the epoch, the histories).  It is written atomically: to
``PATH.tmp``, then renamed over ``PATH``, so a run killed while writing leaves the
previous checkpoint whole.  Reading checks the format tag, the version and every shape: a
truncated or foreign file is a ``ValueError`` saying so.
"""
import json
import os
import zipfile

import numpy as np

from fastnn import _layers

FORMAT = "fastnn-checkpoint"
VERSION = 1
_OPTIMIZER_ARRAYS = ("m", "v", "h")  # the per-parameter state fastnn.optim keeps


def _network(model):
    return getattr(model, "network", model)  # through distributed.DataParallel


def _generators(network):
    """The random generators of the network's dropout layers (often one shared object)."""
    return [layer.rng for layer in getattr(network, "layers", {}).values()
            if isinstance(layer, _layers.Dropout) and layer.rng is not None]


def _batchnorms(network):
    return {name: layer for name, layer in getattr(network, "layers", {}).items()
            if isinstance(layer, _layers.BatchNormalization)}


def save(path, trainer, epoch, step, epoch_rng_state):
    """Write ``trainer``'s state at ``step`` (batches done) of ``epoch`` (from 0);
    ``epoch_rng_state``: the trainer generator's state before that epoch's shuffle."""
    network = _network(trainer.network)
    arrays = {f"param/{k}": v for k, v in network.params.items()}
    for name, layer in _batchnorms(network).items():
        if layer.running_mean is not None:
            arrays[f"running_mean/{name}"] = layer.running_mean
            arrays[f"running_var/{name}"] = layer.running_var
    optimizer = trainer.optimizer
    for attr in _OPTIMIZER_ARRAYS:
        state = getattr(optimizer, attr, None)
        if isinstance(state, dict):
            arrays.update({f"optimizer/{attr}/{k}": v for k, v in state.items()})
    meta = {"format": FORMAT, "version": VERSION, "epoch": epoch, "step": step,
            "optimizer": type(optimizer).__name__, "optimizer_iter": getattr(optimizer, "iter", None),
            "epoch_rng": epoch_rng_state,
            "dropout_rng": [g.bit_generator.state for g in _generators(network)],
            "train_loss_list": [float(v) for v in trainer.train_loss_list],
            "train_acc_list": trainer.train_acc_list, "test_acc_list": trainer.test_acc_list}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path, trainer):
    """Restore ``trainer`` (its network, optimizer, generators, histories) from ``path``;
    returns (epoch, step, epoch_rng_state) to continue from."""
    try:
        with np.load(path) as saved:
            arrays = {k: saved[k] for k in saved.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"checkpoint {path} is truncated or not a fastnn checkpoint "
                         f"({exc})") from None
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (KeyError, ValueError, UnicodeDecodeError):
        meta = {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} is not a fastnn checkpoint (no '{FORMAT}' tag)")
    if meta.get("version") != VERSION:
        raise ValueError(f"checkpoint {path} has version {meta.get('version')}; this fastnn "
                         f"reads version {VERSION}")
    network, optimizer = _network(trainer.network), trainer.optimizer
    if meta["optimizer"] != type(optimizer).__name__:
        raise ValueError(f"checkpoint {path} was written with {meta['optimizer']}, this run "
                         f"uses {type(optimizer).__name__}")
    for key, value in network.params.items():
        saved = arrays.get(f"param/{key}")
        if saved is None or saved.shape != value.shape:
            raise ValueError(f"checkpoint {path} does not fit this network: parameter {key} "
                             f"is {None if saved is None else saved.shape}, the network's {value.shape}")
    for key, value in network.params.items():
        value[...] = arrays[f"param/{key}"]
    for name, layer in _batchnorms(network).items():
        if f"running_mean/{name}" in arrays:
            layer.running_mean = arrays[f"running_mean/{name}"].copy()
            layer.running_var = arrays[f"running_var/{name}"].copy()
    for attr in _OPTIMIZER_ARRAYS:
        state = {k.split("/", 2)[2]: v for k, v in arrays.items() if k.startswith(f"optimizer/{attr}/")}
        if state:
            setattr(optimizer, attr, {k: np.ascontiguousarray(state[k]) for k in network.params})
    if meta["optimizer_iter"] is not None:
        optimizer.iter = meta["optimizer_iter"]
    for generator, state in zip(_generators(network), meta["dropout_rng"]):
        generator.bit_generator.state = state
    trainer.train_loss_list = list(meta["train_loss_list"])
    trainer.train_acc_list = list(meta["train_acc_list"])
    trainer.test_acc_list = list(meta["test_acc_list"])
    return meta["epoch"], meta["step"], meta["epoch_rng"]
