"""Anomaly mode: the first NaN or infinity an op produces raises, naming the op, the shapes
and the line of user code that created the node.

Hooked into ``apply`` (forward), the backward walk and replay; each hook first reads
``_state.anomaly_watch[0]`` (non-zero only while some thread has the mode on), so with
the mode off nothing here runs and nodes record nothing.
"""
from __future__ import annotations

import linecache
import os
import sys
from typing import Any

from . import _state
from .errors import AnomalyError

__all__ = ["active", "watch", "check_forward", "check_cotangent", "origin_of"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def active() -> bool:
    """Anomaly mode is on in this context."""
    return _state.anomaly_watch[0] > 0 and _state._anomaly.get()


def _user_line() -> str:
    """'file:line in function: source' of the innermost frame outside polygrad itself."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    filename, line = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, line).strip()
    where = f"{filename}:{line} in {frame.f_code.co_name}"
    return f"{where}: {source}" if source else where


def origin_of(node: Any) -> str:
    """Where ``node`` was created, if anomaly mode was on then."""
    origin = getattr(node, "_origin", None)
    return origin or "an unknown place (anomaly mode was off when the node was created)"


def _finite(data: Any, on: Any) -> bool:
    xp = on.xp
    dtype = data.dtype
    if not (on.is_float(dtype) or xp.isdtype(dtype, "complex floating")):
        return True
    return bool(xp.all(xp.isfinite(data)))


def _what(data: Any, on: Any) -> str:
    xp = on.xp
    has_nan = bool(xp.any(xp.isnan(data)))
    has_inf = bool(xp.any(xp.isinf(data)))
    return " and ".join(word for word, found in (("nan", has_nan), ("inf", has_inf)) if found) or "nan"


def watch(node: Any, parents: tuple) -> Any:
    """apply's hook: remember where ``node`` was made; raise if its data is not finite."""
    if not _state._anomaly.get():
        return node
    node._origin = _user_line()
    if node.data is not None:
        check_forward(node, node.op or "op", [p.data for p in parents], node.data)
    return node


def check_forward(node: Any, op: str, inputs: list, data: Any) -> None:
    """Raise if ``data``, the result of ``op`` on the arrays ``inputs``, is not finite."""
    on = node.backend
    if _finite(data, on):
        return
    shapes = ", ".join(str(tuple(a.shape)) for a in inputs)
    leaves = [i for i, a in enumerate(inputs) if not _finite(a, on)]
    note = ""
    if leaves:
        note = "; input " + ", ".join(map(str, leaves)) + " already held nan or inf"
    raise AnomalyError(
        f"{op}: the forward produced {_what(data, on)} (input shapes {shapes}; output shape "
        f"{tuple(data.shape)}){note}; the node was created at {origin_of(node)}"
    )


def check_cotangent(node: Any, position: int, parent: Any, cotangent: Any) -> None:
    """The engine's hook: the cotangent ``node``'s vjp gave input ``position``."""
    from ._graph import Value  # here: _graph imports this module
    data = cotangent.data if isinstance(cotangent, Value) else cotangent  # a Value under create_graph
    on = node.backend
    if _finite(data, on):
        return
    shapes = ", ".join(str(p.shape) for p in node.parents)
    raise AnomalyError(
        f"{node.op}: the backward produced {_what(data, on)} in the gradient of input {position} "
        f"(input shapes {shapes}; output shape {node.shape}); the node was created at {origin_of(node)}"
    )
