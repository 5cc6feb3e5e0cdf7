"""Checkpoints on disk without pickle: ``pg.save(path, tree)`` and ``pg.load(path)``
through the safetensors format (a JSON header and raw little-endian array bytes).

A tree is nested dicts, lists and tuples of Values, arrays of any backend, NumPy arrays
and Python numbers; it is stored flat under dotted names (``model.layers.0.weight``).
Arrays are copied to the host byte for byte, so a file saved on one backend loads on
another with the same bits.
"""
from __future__ import annotations

import importlib
import json
import os
from typing import Any

import numpy as np

from . import _backend
from ._dotted import flatten, to_host, unflatten
from .errors import PolygradError

__all__ = ["save", "load"]

# Metadata keys polygrad writes in the file's header (safetensors metadata is str -> str).
_ORDER_KEY = "polygrad.names"


def _safetensors():
    try:
        return importlib.import_module("safetensors.numpy")
    except ImportError as exc:
        raise PolygradError(
            f"pg.save and pg.load need the safetensors package ({exc}); install polygrad from its "
            'checkout with `pip install -e .`, or `pip install safetensors`'
        ) from exc


def _contiguous(array: np.ndarray) -> np.ndarray:
    # safetensors.numpy writes an array's memory as it lies: a transposed view would be
    # stored scrambled. (Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.)
    return array if array.flags.c_contiguous else np.array(array, order="C")


def save(path: str | os.PathLike, tree: Any, *, metadata: dict[str, str] | None = None) -> None:
    """Write ``tree`` to ``path`` (conventionally ``*.safetensors``).

    E.g. ``pg.save("ckpt.safetensors", {"model": model.state_dict(), "optimizer": opt.state_dict()})``.
    Python numbers are stored as 0-d arrays (int64, float64, bool). ``metadata``: extra
    str -> str entries for the header. Names may not repeat, nor be the prefix of another.
    """
    flat = flatten(tree, "save")
    arrays = {name: _contiguous(to_host(leaf, f"save: {name}")) for name, leaf in flat.items()}
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise PolygradError(f"save: {name} has dtype {array.dtype}; safetensors stores bool, integer and "
                                "float arrays only")
    header = dict(metadata or {})
    header[_ORDER_KEY] = json.dumps(list(arrays))
    try:
        _safetensors().save_file(arrays, os.fspath(path), metadata=header)
    except PolygradError:
        raise
    except Exception as exc:  # safetensors' own error type: name the file instead
        raise PolygradError(f"save: cannot write {os.fspath(path)!r}: {exc}") from exc


def load(path: str | os.PathLike, *, backend: str | None = None, flat: bool = False) -> dict[str, Any]:
    """Read a safetensors file into arrays of the active backend (or ``backend``), dtypes
    and bits as stored.

    Returns nested dicts split at the dots (lists come back as dicts keyed "0", "1"...), or
    the flat ``{dotted name: array}`` dict with ``flat=True`` (for files from other tools,
    whose names may not nest). ``module.load_state_dict(pg.load(path))`` and
    ``optimizer.load_state_dict(...)`` take either form.
    """
    module = _safetensors()
    name = os.fspath(path)
    if not os.path.exists(name):
        raise FileNotFoundError(f"load: no file {name!r}")
    try:
        arrays = module.load_file(name)
        with importlib.import_module("safetensors").safe_open(name, "np") as handle:
            header = handle.metadata() or {}
    except Exception as exc:  # safetensors' own error type: name the file instead
        raise PolygradError(f"load: {name!r} is not a readable safetensors file: {exc}") from exc
    order = json.loads(header[_ORDER_KEY]) if _ORDER_KEY in header else sorted(arrays)
    on = _backend.get_backend(backend) if backend else _backend.backend()
    result = {key: on.asarray(arrays[key]) for key in order if key in arrays}
    return result if flat else unflatten(result)
