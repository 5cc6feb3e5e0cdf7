"""The static-graph path: placeholders, feeds and replay.

``root.forward(**feeds)`` re-executes the recorded ops under ``root`` with new
placeholder data; no graph is rebuilt.
"""
from __future__ import annotations

from typing import Any

from ._graph import RULES, Value, run_forward
from .engine import toposort
from .errors import DTypeError, PolygradError, ShapeError

__all__ = ["placeholder", "replay"]


def placeholder(shape, *, name: str, dtype=None) -> Value:
    """A named input fed later with ``root.forward(name=array)``; None in shape means any size."""
    return Value(shape=shape, name=name, dtype=dtype)


def replay(root: Value, feeds: dict) -> None:
    """Re-run every recorded op under ``root`` with placeholder data from ``feeds``."""
    order = toposort(root)
    for node in order:
        if node.op is not None and not RULES[node.op].replayable:
            raise PolygradError(
                f"forward: the graph holds {node.op}, whose output's shape depends on the data: it "
                f"ran once, eagerly, when the graph was built, and cannot be replayed; call "
                f"{node.op} again on the new data instead of replaying"
            )
    leaves = {}
    for node in order:
        if node.op is None and node.name is not None:
            leaves.setdefault(node.name, node)
    unknown = sorted(set(feeds) - set(leaves))
    if unknown:
        raise ShapeError(
            f"forward: no placeholder named {', '.join(map(repr, unknown))} in this graph; "
            f"its placeholders are: {', '.join(map(repr, sorted(leaves))) or 'none'}"
        )
    for name, array in feeds.items():
        _feed(leaves[name], array)
    for node in order:
        if node.op is None:
            if node.data is None:
                raise ShapeError(f"forward: placeholder {node.name!r} was not fed")
            continue
        arrays = [p.data for p in node.parents]
        node.data = run_forward(RULES[node.op], node.backend, arrays, node.attrs, node.parents)
        node.grad = None


def _feed(placeholder: Value, array: Any) -> None:
    on = placeholder.backend
    dtype = placeholder.dtype
    data = array.data if isinstance(array, Value) else array
    if not on.is_array(data):
        data = on.asarray(data)
    if data.dtype != dtype:
        if on.is_float(dtype) != on.is_float(data.dtype):
            raise DTypeError(f"forward: feed {placeholder.name!r} has dtype {data.dtype}, the placeholder {dtype}")
        data = on.xp.astype(data, dtype)
    declared = placeholder._shape
    shape = tuple(data.shape)
    if declared is not None and (
        len(declared) != len(shape) or any(d is not None and d != n for d, n in zip(declared, shape))
    ):
        raise ShapeError(f"forward: feed {placeholder.name!r} has shape {shape}, the placeholder expects {declared}")
    placeholder.data = data
