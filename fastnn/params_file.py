"""Parameter files: a model's named arrays in one ``.npz`` archive, and the one loader
that every model (:class:`fastnn.nets.Network`, :class:`fastnn.nets.RBM`, the
recommenders) and :mod:`fastnn.checkpoint` read them back with.

Reading checks everything before it changes anything: the file must be an ``.npz``
archive of plain arrays (a ``.npy`` file, a truncated or foreign file, pickled objects
are refused), hold exactly the names the model has (a file of another model is
refused, not half loaded), each of the model's shape, of a floating dtype (cast to the
model's) and finite.  Every refusal is a ``ValueError`` that names the file and the
array; a file that does not exist is ``FileNotFoundError``.
"""
import os
import zipfile
import zlib

import numpy as np

from fastnn import checks

__all__ = ["save", "read", "check", "load_into"]

# What reading a damaged archive raises, from NumPy's format code, zipfile and zlib.
_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def save(path, arrays):
    """Write ``arrays`` (name -> array) to ``path`` as an ``.npz`` archive (``.npz`` is
    added to a name without it, as ``np.savez`` does), atomically: to ``PATH.tmp``, then
    renamed, so an interrupted save leaves any previous file whole."""
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def read(what, path):
    """Every array of the ``.npz`` archive at ``path``, as a dict name -> array.

    ``what`` names the caller in errors (e.g. ``'Network.load_params'``).
    """
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except _READ_ERRORS as exc:
        raise ValueError(f"{what}: {path} is not an .npz file of arrays ({exc})") from None
    if isinstance(loaded, np.ndarray):
        raise ValueError(f"{what}: {path} holds one array (a .npy file), not the named "
                         f"arrays of an .npz file")
    try:
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except _READ_ERRORS as exc:
        raise ValueError(f"{what}: {path} is truncated or damaged ({exc})") from None


def check(what, path, arrays, shapes, optional=None):
    """Require ``arrays`` (read from ``path``) to be the arrays ``shapes`` describes.

    shapes: name -> shape of every array the file must hold; optional: name -> shape of
    arrays it may hold.  Any other name, a missing one, another shape, a non-floating
    dtype or a non-finite value is a ``ValueError`` naming the file and the array.
    """
    optional = optional or {}
    missing = sorted(set(shapes) - set(arrays))
    if missing:
        raise ValueError(f"{what}: {path} lacks {missing}: it was not saved by this model")
    unknown = sorted(set(arrays) - set(shapes) - set(optional))
    if unknown:
        raise ValueError(f"{what}: {path} holds {unknown}, which this model does not have: "
                         f"it was saved by another model")
    for name, array in arrays.items():
        shape = tuple(shapes.get(name, optional.get(name)))
        if array.shape != shape:
            raise ValueError(f"{what}: {name} has shape {array.shape} in {path}, the model "
                             f"needs {shape}")
        if array.dtype.kind != "f":
            raise ValueError(f"{what}: {name} in {path} is {array.dtype}; parameters are "
                             f"floating-point arrays")
        checks.finite(f"{what}: {path}", name, array)


def load_into(what, path, params, optional=None):
    """Read ``path`` into the arrays of ``params`` (name -> array), in place, after
    :func:`check` passed for all of them; values are cast to each array's dtype.

    optional: name -> shape of other arrays the file may hold (batch-norm statistics).
    Returns those that it holds, as a dict.
    """
    arrays = read(what, path)
    check(what, path, arrays, {k: np.shape(v) for k, v in params.items()}, optional)
    for key, value in params.items():
        value[...] = arrays[key]
    return {k: v for k, v in arrays.items() if k not in params}
