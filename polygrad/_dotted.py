"""Trees with dotted names, and arrays moved between backends through the host.

Modules name their parameters by attribute path (``layers.0.weight``), optimizers their
state by parameter and slot (``state.layers.0.weight.m``), and checkpoints store one flat
``{dotted name: array}`` mapping; these helpers convert between nested dicts/lists and
that flat form, and between any backend's arrays and NumPy.
"""
from __future__ import annotations

import numbers
from typing import Any, Iterator

import numpy as np

from . import _backend
from ._graph import Value
from .errors import StateDictError

__all__ = ["join", "flatten", "unflatten", "to_host", "to_backend", "check_state"]


def join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _is_leaf(item: Any) -> bool:
    return not isinstance(item, (dict, list, tuple))


def _items(tree: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(tree, dict):
        for key, item in tree.items():
            yield from _items(item, join(prefix, str(key)))
    elif isinstance(tree, (list, tuple)):
        for i, item in enumerate(tree):
            yield from _items(item, join(prefix, str(i)))
    else:
        yield prefix, tree


def flatten(tree: Any, what: str = "flatten") -> dict[str, Any]:
    """Nested dicts, lists and tuples as one ``{dotted name: leaf}`` dict, in order.

    A name met twice, or a leaf whose name is the prefix of another (``a`` and ``a.b``),
    is a ValueError naming both: such a tree cannot be stored flat and read back.
    """
    flat: dict[str, Any] = {}
    for name, leaf in _items(tree, ""):
        if name == "":
            raise ValueError(f"{what}: expected a dict (or list) of arrays, got a single {type(tree).__name__}")
        if name in flat:
            raise ValueError(f"{what}: the name {name!r} occurs twice in the tree")
        flat[name] = leaf
    names = sorted(flat)
    for a, b in zip(names, names[1:]):
        if b.startswith(a + "."):
            raise ValueError(f"{what}: {a!r} is both an array and the prefix of {b!r}")
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``flatten`` for dicts: ``{"a.b": x}`` -> ``{"a": {"b": x}}`` (lists
    come back as dicts keyed "0", "1"...)."""
    tree: dict[str, Any] = {}
    for name, leaf in flat.items():
        *path, last = name.split(".")
        node = tree
        for i, part in enumerate(path):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"unflatten: {'.'.join(path[: i + 1])!r} is both an array and the prefix of {name!r}")
        if last in node:
            raise ValueError(f"unflatten: {name!r} is both an array and the prefix of other names")
        node[last] = leaf
    return tree


def to_host(obj: Any, what: str = "to_host") -> np.ndarray:
    """A Value, an array of any backend, or a Python number, as a NumPy array (no dtype change)."""
    if isinstance(obj, Value):
        return np.asarray(obj.backend.to_numpy(obj._require_data(what)))
    if isinstance(obj, (np.ndarray, np.generic)):
        return np.asarray(obj)
    if isinstance(obj, numbers.Number):
        return np.asarray(obj)
    for loaded in list(_backend._loaded.values()):
        if loaded.is_array(obj):
            return np.asarray(loaded.to_numpy(obj))
    if hasattr(obj, "__dlpack__"):
        try:
            return np.from_dlpack(obj)
        except (TypeError, ValueError, RuntimeError, BufferError):
            pass
    if hasattr(obj, "__array__"):
        return np.asarray(obj)
    raise TypeError(f"{what}: cannot read an array from an object of type {type(obj).__name__}")


def to_backend(obj: Any, on: _backend.Backend, what: str = "to_backend"):
    """``obj`` (a Value, any backend's array, NumPy, a number) as an array of backend ``on``,
    its dtype unchanged; arrays already on ``on`` pass through without a copy."""
    if isinstance(obj, Value) and obj.backend is on:
        return obj._require_data(what)
    if not isinstance(obj, Value) and on.is_array(obj):
        return obj
    return on.asarray(to_host(obj, what))


def _shape(obj: Any) -> tuple:
    shape = getattr(obj, "shape", None)
    return () if shape is None else tuple(shape)


def check_state(expected: dict[str, tuple], given: dict[str, Any], what: str, strict: bool = True
                ) -> tuple[list[str], list[str]]:
    """Compare a flat state with the ``{name: shape}`` a loader expects.

    Returns (missing, unexpected) names. Shape mismatches always raise; missing and
    unexpected names raise when ``strict``. The StateDictError lists every problem at once.
    """
    missing = [name for name in expected if name not in given]
    unexpected = [name for name in given if name not in expected]
    mismatched = [f"{name}: {_shape(given[name])} in the state, {expected[name]} expected"
                  for name in expected if name in given and _shape(given[name]) != tuple(expected[name])]
    problems = []
    if strict and missing:
        problems.append("missing: " + ", ".join(missing))
    if strict and unexpected:
        problems.append("unexpected: " + ", ".join(unexpected))
    if mismatched:
        problems.append("shape mismatch: " + "; ".join(mismatched))
    if problems:
        raise StateDictError(f"{what}: the state does not fit ({'; '.join(problems)})")
    return missing, unexpected
