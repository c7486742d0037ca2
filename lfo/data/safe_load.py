"""Checkpoint files that load without running code: the one reader and writer of ``.pt`` files
that a run folder holds (the loop's state, the learners' networks, optimisers and generators).

An unrestricted ``torch.load`` unpickles arbitrary objects, so opening a shared run folder
could run whatever its files carry. Here every file is written as tensors, plain containers
(dict, list, tuple), numbers, strings and ``None`` only, and read back with
``weights_only=True``; a file that needs more is refused with :class:`UnsafeCheckpoint`, never
loaded. Numpy arrays, which the weights-only reader refuses, are stored as tensors under a
one-key marker dict (``{"__ndarray__": tensor}``) and come back as arrays of the same dtype;
numpy scalars are stored as Python numbers.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lfo.data.files import atomic_write

_NDARRAY = "__ndarray__"
_PLAIN = (type(None), bool, int, float, str)


def _legacy_numpy_globals() -> list[Any]:
    """What older checkpoints' numpy arrays and scalars need (numpy 2 and numpy 1 names):
    array and scalar constructors and numeric dtypes, none of which runs code."""
    _reconstruct = np.zeros(1).__reduce__()[0]  # numpy's own pickling functions
    scalar = np.float64(0).__reduce__()[0]
    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes)
              if name.endswith("DType") and name not in
              ("ObjectDType", "VoidDType", "StringDType", "StrDType", "BytesDType")]
    return [np.ndarray, np.dtype, _reconstruct, scalar, *dtypes,
            (_reconstruct, "numpy.core.multiarray._reconstruct"),
            (scalar, "numpy.core.multiarray.scalar")]


def _legacy_names() -> set[str]:
    names = set()
    for item in _legacy_numpy_globals():
        obj, name = item if isinstance(item, tuple) else (item, None)
        names.add(name or f"{obj.__module__}.{obj.__qualname__}")
    return names


class UnsafeCheckpoint(ValueError):
    """A checkpoint file holds Python objects beyond plain data: it was refused, not loaded."""


def to_plain(obj: Any, where: str = "checkpoint") -> Any:
    """``obj`` as tensors, plain containers and numbers only (numpy arrays as marked tensors).

    Raises a ``TypeError`` naming the entry (``where``) of anything else, so a state that
    would not load safely fails when it is saved, not when a run is resumed.
    """
    if isinstance(obj, np.generic):  # before the plain types: np.float64 is a float
        return obj.item()
    if isinstance(obj, torch.Tensor) or type(obj) in _PLAIN:  # exact: subclasses pickle apart
        return obj
    if isinstance(obj, np.ndarray):
        # shares the array's memory when it can (torch.save copies it out right away)
        array = obj if obj.flags.c_contiguous and obj.flags.writeable else obj.copy(order="C")
        try:
            return {_NDARRAY: torch.from_numpy(array)}
        except TypeError as exc:
            raise TypeError(f"{where}: numpy dtype {obj.dtype} cannot be saved safely") from exc
    if type(obj) in (dict, OrderedDict):  # OrderedDict: torch's state dicts
        for key in obj:
            if type(key) not in (str, int):
                raise TypeError(f"{where}: key {key!r} is not a str or int")
        return _same_dict(obj, {key: to_plain(value, f"{where}[{key!r}]")
                                for key, value in obj.items()})
    if type(obj) in (list, tuple):
        items = [to_plain(value, f"{where}[{i}]") for i, value in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise TypeError(f"{where}: a {type(obj).__name__} is not plain data (tensors, containers, "
                    "numbers, strings) and would not load safely")


def _same_dict(like: dict, items: dict) -> dict:
    """``items`` in a dict of ``like``'s type, with its attributes (a state dict's
    ``_metadata``, which ``load_state_dict`` reads)."""
    if type(like) is dict:
        return items
    out = type(like)(items)
    out.__dict__.update(like.__dict__)
    return out


def from_plain(obj: Any) -> Any:
    """Undo :func:`to_plain`: marked tensors become numpy arrays again."""
    if isinstance(obj, dict):
        if len(obj) == 1 and isinstance(obj.get(_NDARRAY), torch.Tensor):
            return obj[_NDARRAY].cpu().numpy()
        return _same_dict(obj, {key: from_plain(value) for key, value in obj.items()})
    if isinstance(obj, (list, tuple)):
        items = [from_plain(value) for value in obj]
        return items if isinstance(obj, list) else tuple(items)
    return obj


def safe_save(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` (checked and converted by :func:`to_plain`) to ``path`` atomically."""
    plain = to_plain(obj, Path(path).name)
    return atomic_write(path, lambda f: torch.save(plain, f))


def unsafe_globals(path: str | os.PathLike) -> list[str]:
    """The Python functions and classes a ``torch.save`` file names beyond the weights-only
    set, read from its pickle opcodes without running them (empty if it is not such a file)."""
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # not a torch zip file (corrupt, truncated, something else)
        return []


def convert_command(path: str | os.PathLike) -> str:
    """The one-time conversion of the run folder that holds checkpoint file ``path``."""
    path = Path(path)
    run = path.parent.parent if path.parent.name.startswith("checkpoint") else path.parent
    return f"python scripts/convert_checkpoint.py --run {run}"


def refusal(path: str | os.PathLike, names: list[str], fix: str | None = None) -> str:
    """The one-line refusal of a file that needs more than plain data to load: the
    conversion command for an older lfo checkpoint (numpy objects only), else a warning."""
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    if set(names) <= _legacy_names():
        why = f"older lfo checkpoint with numpy objects ({shown})"
        fix = fix or f"convert it once with: {convert_command(path)}"
    else:
        why = f"Python objects beyond plain data: {shown}"
        fix = fix or "no lfo version writes such files: do not trust it"
    return f"refused {path} ({why}): loading it may run code, so it was not loaded; {fix}"


def load_legacy(path: str | os.PathLike) -> Any:
    """Read an older checkpoint whose numpy arrays and scalars were pickled as such: the
    weights-only reader with numpy's array constructors added, so nothing else can load and
    nothing runs. For :mod:`scripts.convert_checkpoint`; a file needing more is refused."""
    try:
        with torch.serialization.safe_globals(_legacy_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        names = sorted(set(unsafe_globals(path)) - _legacy_names())
        if names:
            raise UnsafeCheckpoint(refusal(path, names, fix="no lfo version writes such "
                                           "files: it cannot be converted")) from None
        raise ValueError(f"{path} cannot be converted: it is corrupt or holds more than "
                         "numeric numpy arrays; it was left as it was") from exc


def safe_load(path: str | os.PathLike, map_location: Any = "cpu", fix: str | None = None) -> Any:
    """Read a file written by :func:`safe_save` (or any ``torch.save`` of plain data) with
    ``weights_only=True``.

    Raises :class:`UnsafeCheckpoint` (one line naming the file, with ``fix``, the conversion
    command for an older lfo checkpoint, or a warning) when the file needs other Python
    objects; a corrupt or partial file raises a ``ValueError`` (or torch's own error).
    Nothing in a refused file is run.
    """
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:  # what the weights-only reader raises
        names = unsafe_globals(path)
        if names:
            raise UnsafeCheckpoint(refusal(path, names, fix)) from None
        raise ValueError(f"{path} is not a readable checkpoint (corrupt, cut short or not "
                         "written by torch.save); it was not loaded") from exc
    return from_plain(data)
