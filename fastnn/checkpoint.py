"""Checkpoints of a training run that lose nothing: a resumed run reaches the same weights,
bit for bit, as one that was never interrupted.

A checkpoint is one ``.npz`` file holding the network's parameters and batch-norm running
statistics, the optimizer's state (its moment arrays and step count), the random
generators' states (the trainer's shuffling, the dropout masks), the position in training
(epoch, samples done in the epoch, the histories) and what that position depends on: the
batch size, the training data's size, sample shape and a hash of its labels, the network
(class, dtype, layers, weight decay) and the optimizer's hyper-parameters.  It is written
atomically: to ``PATH.tmp``, then renamed over ``PATH``, so a run killed while writing
leaves the previous checkpoint whole.

Loading validates the whole file against one schema (:data:`META_FIELDS` and the arrays'
names, shapes and dtypes, through :mod:`fastnn.params_file`) before it changes anything:
every malformed file is a ``ValueError`` saying what was expected.  A run resumed with
other options either continues exactly or is refused:

* another batch size continues at the same *sample* of the same epoch (no sample of the
  epoch is skipped or repeated; the steps from there have the new size);
* other training data (count, sample shape, labels), another network, dtype, weight
  decay, optimizer or optimizer hyper-parameter is a ``ValueError`` naming the option
  and both values.
"""
import hashlib
import json
import numbers
import os

import numpy as np

from fastnn import params_file
from fastnn.generic_layers import BatchNormalization, Dropout, layers_of_kind

FORMAT = "fastnn-checkpoint"
VERSION = 2
_OPTIMIZER_ARRAYS = ("m", "v", "h")  # the per-parameter state fastnn.optim keeps


def _network(model):
    return getattr(model, "network", model)  # through distributed.DataParallel


def _generators(network):
    """The random generators of the network's dropout layers (often one shared object)."""
    return [layer.rng for layer in layers_of_kind(network, Dropout).values()
            if layer.rng is not None]


# -- what a position in training depends on --------------------------------------------------

def describe_data(x, t):
    """The training data as a checkpoint records it: sample count, sample shape and dtype,
    and a SHA-256 of the labels (their values, whatever their integer or float dtype)."""
    x, t = np.asarray(x), np.asarray(t)
    labels = np.ascontiguousarray(t, dtype=np.float64 if t.dtype.kind == "f" else np.int64)
    digest = hashlib.sha256(repr(labels.shape).encode() + labels.tobytes()).hexdigest()
    return {"samples": len(x), "sample_shape": list(x.shape[1:]), "dtype": str(x.dtype),
            "labels_sha256": digest}


def describe_network(network):
    """The network as a checkpoint records it: class, dtype, layers and their options."""
    layers = []
    for name, layer in getattr(network, "layers", {}).items():
        entry = [name, type(layer).__name__]
        if isinstance(layer, Dropout):
            entry.append(float(layer.dropout_ratio))
        layers.append(entry)
    return {"class": type(network).__name__, "dtype": str(getattr(network, "dtype", None)),
            "layers": layers,
            "weight_decay_lambda": float(getattr(network, "weight_decay_lambda", 0) or 0)}


def describe_optimizer(optimizer):
    """The optimizer as a checkpoint records it: class and hyper-parameters (its public
    numbers other than the step count)."""
    hyper = {k: float(v) for k, v in sorted(vars(optimizer).items())
             if not k.startswith("_") and k != "iter" and isinstance(v, numbers.Real)}
    return {"class": type(optimizer).__name__, "hyper": hyper}


# -- the schema ------------------------------------------------------------------------------

def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_list_of_numbers(v):
    return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                       for x in v)


# Every field of the meta record: name -> (a test of its value, what it must be).
META_FIELDS = {
    "format": (lambda v: v == FORMAT, f"'{FORMAT}'"),
    "version": (lambda v: v == VERSION, f"{VERSION}"),
    "epoch": (lambda v: _is_int(v) and v >= 0, "an integer >= 0 (epochs done)"),
    "sample": (lambda v: _is_int(v) and v >= 0, "an integer >= 0 (samples done in the epoch)"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    "data": (lambda v: isinstance(v, dict) and set(v) == {"samples", "sample_shape", "dtype",
                                                          "labels_sha256"},
             "the training data's description"),
    "network": (lambda v: isinstance(v, dict) and set(v) == {"class", "dtype", "layers",
                                                             "weight_decay_lambda"},
                "the network's description"),
    "optimizer": (lambda v: isinstance(v, dict) and set(v) == {"class", "hyper"}
                  and isinstance(v["hyper"], dict), "the optimizer's description"),
    "optimizer_iter": (lambda v: v is None or (_is_int(v) and v >= 0), "null or an integer >= 0"),
    "epoch_rng": (lambda v: isinstance(v, dict), "a generator state"),
    "dropout_rng": (lambda v: isinstance(v, list) and all(isinstance(s, dict) for s in v),
                    "a list of generator states"),
    "rank_streams": (lambda v: v is None or isinstance(v, dict), "null or the ranks' streams"),
    "train_loss_list": (_is_list_of_numbers, "a list of numbers"),
    "train_acc_list": (_is_list_of_numbers, "a list of numbers"),
    "test_acc_list": (_is_list_of_numbers, "a list of numbers"),
}


def _read_meta(path, arrays):
    """The meta record of a checkpoint's arrays, checked against :data:`META_FIELDS`."""
    raw = arrays.pop("meta", None)
    if raw is None:
        raise ValueError(f"checkpoint {path} is not a fastnn checkpoint (no 'meta' record)")
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"a {raw.dtype} array of shape {raw.shape}")
        meta = json.loads(raw.tobytes().decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"checkpoint {path} is not a fastnn checkpoint (its 'meta' record "
                         f"is not JSON text: {exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} is not a fastnn checkpoint (no '{FORMAT}' tag)")
    if meta.get("version") != VERSION:
        raise ValueError(f"checkpoint {path} has version {meta.get('version')!r}; this fastnn "
                         f"reads version {VERSION} (a version 1 file does not record the "
                         f"batch size or the data it was written for)")
    for name, (valid, expected) in META_FIELDS.items():
        if name not in meta:
            raise ValueError(f"checkpoint {path}: its meta record lacks '{name}' ({expected})")
        if not valid(meta[name]):
            raise ValueError(f"checkpoint {path}: '{name}' must be {expected}, got "
                             f"{meta[name]!r:.200}")
    unknown = sorted(set(meta) - set(META_FIELDS))
    if unknown:
        raise ValueError(f"checkpoint {path}: its meta record has unknown fields {unknown}")
    return meta


def _refuse_mismatch(path, option, saved, current):
    if saved != current:
        raise ValueError(f"checkpoint {path} was written with {option} = {saved!r}; this "
                         f"run has {current!r} (resume with the options of the run that "
                         f"wrote it)")


def _array_shapes(network, optimizer_state):
    """(required, optional): the checkpoint's array names -> shapes for this network."""
    required = {f"param/{k}": np.shape(v) for k, v in network.params.items()}
    optional = {}
    for name, layer in layers_of_kind(network, BatchNormalization).items():
        optional[f"running_mean/{name}"] = optional[f"running_var/{name}"] = np.shape(layer.gamma)
    for attr in optimizer_state:
        required.update({f"optimizer/{attr}/{k}": np.shape(v) for k, v in network.params.items()})
    return required, optional


# -- writing and reading ---------------------------------------------------------------------

def save(path, trainer, epoch, sample, epoch_rng_state):
    """Write ``trainer``'s state after ``sample`` samples of ``epoch`` (epochs done, from
    0); ``epoch_rng_state``: the trainer generator's state before that epoch's shuffle."""
    network = _network(trainer.network)
    arrays = {f"param/{k}": v for k, v in network.params.items()}
    for name, layer in layers_of_kind(network, BatchNormalization).items():
        if layer.running_mean is not None:
            arrays[f"running_mean/{name}"] = layer.running_mean
            arrays[f"running_var/{name}"] = layer.running_var
    optimizer = trainer.optimizer
    for attr in _OPTIMIZER_ARRAYS:
        state = getattr(optimizer, attr, None)
        if isinstance(state, dict):
            arrays.update({f"optimizer/{attr}/{k}": v for k, v in state.items()})
    streams = getattr(trainer.network, "rank_streams", None)
    meta = {"format": FORMAT, "version": VERSION, "epoch": epoch, "sample": sample,
            "batch_size": trainer.batch_size,
            "data": describe_data(trainer.x_train, trainer.t_train),
            "network": describe_network(network), "optimizer": describe_optimizer(optimizer),
            "optimizer_iter": getattr(optimizer, "iter", None),
            "epoch_rng": epoch_rng_state,
            "dropout_rng": [g.bit_generator.state for g in _generators(network)],
            "rank_streams": streams() if callable(streams) else None,
            "train_loss_list": [float(v) for v in trainer.train_loss_list],
            "train_acc_list": [float(v) for v in trainer.train_acc_list],
            "test_acc_list": [float(v) for v in trainer.test_acc_list]}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path, trainer):
    """Restore ``trainer`` (its network, optimizer, generators, histories) from ``path``;
    returns (epoch, sample, epoch_rng_state) to continue from: ``sample`` samples of that
    epoch's order are done.  Nothing is changed unless the whole file is valid and fits."""
    try:
        arrays = params_file.read("checkpoint", path)
    except ValueError as exc:
        raise ValueError(f"checkpoint {path} is truncated or not a fastnn checkpoint "
                         f"({exc})") from None
    meta = _read_meta(path, arrays)
    network, optimizer = _network(trainer.network), trainer.optimizer
    if meta["optimizer"]["class"] != type(optimizer).__name__:
        raise ValueError(f"checkpoint {path} was written with {meta['optimizer']['class']}, "
                         f"this run uses {type(optimizer).__name__}")
    for key, value in network.params.items():
        saved = arrays.get(f"param/{key}")
        if saved is None or saved.shape != value.shape:
            raise ValueError(f"checkpoint {path} does not fit this network: parameter {key} "
                             f"is {None if saved is None else saved.shape}, the network's {value.shape}")
    for what, saved, current in (
            ("network", meta["network"], describe_network(network)),
            ("training data", meta["data"], describe_data(trainer.x_train, trainer.t_train)),
            ("optimizer", meta["optimizer"]["hyper"], describe_optimizer(optimizer)["hyper"])):
        for name in list(current) + [k for k in saved if k not in current]:
            _refuse_mismatch(path, f"{what} {name}", saved.get(name), current.get(name))
    if meta["sample"] >= max(meta["data"]["samples"], 1):
        raise ValueError(f"checkpoint {path}: 'sample' {meta['sample']} is not within an "
                         f"epoch of {meta['data']['samples']} samples")
    if len(meta["dropout_rng"]) != len(_generators(network)):
        raise ValueError(f"checkpoint {path} holds {len(meta['dropout_rng'])} dropout "
                         f"generators; this network has {len(_generators(network))}")
    state_attrs = sorted({k.split("/")[1] for k in arrays if k.startswith("optimizer/")})
    unknown = [a for a in state_attrs if a not in _OPTIMIZER_ARRAYS or not hasattr(optimizer, a)]
    if unknown:
        raise ValueError(f"checkpoint {path} holds optimizer state {unknown} that "
                         f"{type(optimizer).__name__} does not keep")
    required, optional = _array_shapes(network, state_attrs)
    params_file.check("checkpoint", path, arrays, required, optional)

    restored = [(g, _checked_state(path, "dropout_rng", g, state))  # set last: a bad state
                for g, state in zip(_generators(network), meta["dropout_rng"])]  # raises first
    epoch_rng = _checked_state(path, "epoch_rng", trainer.rng, meta["epoch_rng"])
    for key, value in network.params.items():
        value[...] = arrays[f"param/{key}"]
    for name, layer in layers_of_kind(network, BatchNormalization).items():
        if f"running_mean/{name}" in arrays:
            layer.running_mean = arrays[f"running_mean/{name}"].astype(network.dtype)
            layer.running_var = arrays[f"running_var/{name}"].astype(network.dtype)
    for attr in state_attrs:
        setattr(optimizer, attr, {k: np.ascontiguousarray(arrays[f"optimizer/{attr}/{k}"],
                                                          dtype=v.dtype)
                                  for k, v in network.params.items()})
    if meta["optimizer_iter"] is not None:
        optimizer.iter = meta["optimizer_iter"]
    for generator, state in restored:
        generator.bit_generator.state = state
    set_streams = getattr(trainer.network, "set_rank_streams", None)
    if callable(set_streams) and meta["rank_streams"] is not None:
        set_streams(meta["rank_streams"])
    trainer.train_loss_list = list(meta["train_loss_list"])
    trainer.train_acc_list = list(meta["train_acc_list"])
    trainer.test_acc_list = list(meta["test_acc_list"])
    return meta["epoch"], meta["sample"], epoch_rng


def _checked_state(path, field, generator, state):
    """A generator state from the file, checked by setting it on a scratch bit generator
    of ``generator``'s kind."""
    kind = type(generator.bit_generator)
    try:
        kind().state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"checkpoint {path}: '{field}' is not a {kind.__name__} generator "
                         f"state ({exc})") from None
    return state
