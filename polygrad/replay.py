"""The static-graph path: placeholders, feeds and replay.

``root.forward(**feeds)`` re-executes the recorded ops under ``root`` with new
placeholder data; no graph is rebuilt. It is all-or-nothing: every result is computed
aside first and written into the graph only once all of them succeeded, so a feed that
fails part-way (a shape that breaks an op deep in the graph) leaves every node's data
and gradient as they were.

The first replay of a root builds its plan, cached on the root: a flat list of steps
(the rule's forward, the namespace, the positions of the parents' results, the attrs),
so a replay does no graph walk, no rule lookup and no dictionary lookup per node.

Buffer reuse (NumPy): a step whose rule is a ufunc (``Backend.out_kernels``) writes its
result into a spare array of the same shape and dtype, with ``out=``, instead of
allocating one. Replay keeps two arrays per such step: the node's data and a spare (the
data it held before the last replay). A spare is written only when polygrad provably
holds the sole reference to it (its reference count, checked just before writing, is
that of the spare list alone), so an array a user kept (``loss.data``, a view of a node's
data) is never overwritten: that one step then allocates a new array. Where reference
counts cannot tell (a free-threaded Python), there is no reuse.
"""
from __future__ import annotations

import sys
import sysconfig
import threading
from typing import Any

from . import _anomaly, _state
from ._graph import RULES, Value, describe_failure, dtype_name, rebind_count
from .engine import ancestors
from .errors import DTypeError, FeedError, PolygradError, ShapeError

__all__ = ["placeholder", "replay"]

# Reference counts decide whether a spare buffer is polygrad's alone; free-threaded builds
# count references differently, so they get no reuse.
_REUSE = hasattr(sys, "getrefcount") and not sysconfig.get_config_var("Py_GIL_DISABLED")
_refcount = sys.getrefcount


def _references_of_a_spare() -> int:
    """getrefcount of an array held by the spares list alone, read as _compute reads it
    (the list's reference, the local name's, the call's argument)."""
    spares = [object()]
    buffer = spares[0]
    return _refcount(buffer)


_SOLE = _references_of_a_spare()
# Why reuse at all: a tight loop over small arrays would not gain (a fresh array comes hot
# from the cache, a spare is cold), but a training step frees many arrays and the allocator
# hands memory back to the system, so fresh arrays cost page faults: on the chain workload
# (16 KiB arrays), a loop of replay steps took a median 3.3-3.9 ms with reuse, 5.1-6.2 ms
# without; on 32 MiB arrays a multiply takes 5.0 ms into a spare, 8.0 ms into a new array.


def placeholder(shape, *, name: str, dtype=None) -> Value:
    """A named input fed later with ``root.forward(name=array)``; None in shape means any size."""
    return Value(shape=shape, name=name, dtype=dtype)


def is_placeholder(node: Value) -> bool:
    """Made as a placeholder (no data, a declared shape), whether fed since or not. A leaf
    made from data is never one, even when it has a name."""
    return getattr(node, "_placeholder", False) and node.op is None


class _Plan:
    """How to recompute one root's graph (the root itself is not referenced: no cycle).

    steps: one tuple per op node, parents first: (position, out kernel or None, forward,
    xp, positions of the parents' results, attrs, number of parents). The root's result is
    at position len(nodes)."""

    __slots__ = ("nodes", "leaves", "placeholders", "steps", "step_of", "written", "spares", "lock", "rebinds")

    def __init__(self, root: Value):
        self.rebinds = rebind_count()  # a Value written into since (x[key] = v) makes the plan stale
        nodes = ancestors(root)  # parents before children, without the root
        position = {id(node): i for i, node in enumerate(nodes)}
        position[id(root)] = len(nodes)
        self.nodes = nodes
        self.leaves: list[tuple[int, Value]] = []
        self.placeholders: dict[str, tuple[int, Value]] = {}
        self.steps: list[tuple] = []
        self.written: list[tuple[Value, int, bool]] = []  # op nodes but the root: (node, position, reuses)
        for i, node in enumerate([*nodes, root]):
            if node.op is None:
                if is_placeholder(node):
                    self._add_placeholder(i, node)
                else:
                    self.leaves.append((i, node))
                continue
            if not RULES[node.op].replayable:
                raise PolygradError(
                    f"forward: the graph holds {node.op}, whose output's shape depends on the data: it "
                    f"ran once, eagerly, when the graph was built, and cannot be replayed; call "
                    f"{node.op} again on the new data instead of replaying"
                )
            on = node.backend
            args = tuple(position[id(p)] for p in node.parents)
            kernel = on.out_kernels.get(node.op) if _REUSE and not node.attrs and len(args) <= 2 else None
            self.steps.append((i, kernel, RULES[node.op].forward, on.xp, args, node.attrs, len(args)))
            if node is not root:
                self.written.append((node, i, kernel is not None))
        self.step_of = {step[0]: step for step in self.steps}  # for error messages only
        self.spares: list = [None] * (len(nodes) + 1)  # per reusing step: an array to write into
        self.lock = threading.Lock()

    def _add_placeholder(self, i: int, node: Value) -> None:
        if node.name is None:
            raise FeedError("forward: the graph has a placeholder without a name, so it can never be fed; "
                            "give it one: pg.placeholder(shape, name=...)")
        if node.name in self.placeholders:
            raise FeedError(f"forward: the graph has two placeholders named {node.name!r}; names must be unique")
        self.placeholders[node.name] = (i, node)

    def rule_of(self, i: int, root: Value):
        node = root if i == len(self.nodes) else self.nodes[i]
        return node, RULES[node.op]


def _plan_of(root: Value) -> _Plan:
    # A Value written into since the plan was made (x[key] = v) makes it stale: rebuilt.
    plan = getattr(root, "_plan", None)
    if plan is None or plan.rebinds != rebind_count():
        plan = root._plan = _Plan(root)
    return plan


def replay(root: Value, feeds: dict) -> None:
    """Re-run every recorded op under ``root`` with placeholder data from ``feeds``.

    Every placeholder of the graph must be fed, every name fed must be one of them; the
    graph changes only if everything succeeds."""
    plan = _plan_of(root)
    if not plan.lock.acquire(blocking=False):
        raise FeedError("forward: this graph is being replayed by another thread; replay one graph "
                        "from one thread at a time (build one graph per thread)")
    try:
        values: list = [None] * (len(plan.nodes) + 1)
        fed = _check_feeds(plan, feeds, values)
        for i, node in plan.leaves:
            values[i] = node.data
        if _state.anomaly_watch[0] and _anomaly.active():
            _compute_checked(plan, root, values)
        else:
            _compute(plan, root, values)
        _commit(plan, root, values, fed)
    finally:
        plan.lock.release()


def _check_feeds(plan: _Plan, feeds: dict, values: list) -> list:
    placeholders = plan.placeholders
    unknown = [name for name in feeds if name not in placeholders]
    if unknown:
        named = sorted(n.name for _, n in plan.leaves if n.name is not None and n.name in unknown)
        hint = (f" ({', '.join(map(repr, named))} {'is a' if len(named) == 1 else 'are'} named Value"
                f"{'' if len(named) == 1 else 's'} made from data, not placeholders: change their .data to "
                "change them)") if named else ""
        raise FeedError(
            f"forward: no placeholder named {', '.join(map(repr, unknown))} in this graph{hint}; "
            f"its placeholders are: {', '.join(map(repr, sorted(placeholders))) or 'none'}"
        )
    missing = [name for name in placeholders if name not in feeds]
    if missing:
        raise FeedError(
            f"forward: feed every placeholder on each forward; missing: {', '.join(map(repr, sorted(missing)))} "
            f"(this graph's placeholders: {', '.join(map(repr, sorted(placeholders)))})"
        )
    fed = []
    for name, (i, node) in placeholders.items():
        values[i] = data = _feed_array(node, feeds[name])
        fed.append((node, data))
    return fed


def _feed_array(placeholder: Value, array: Any) -> Any:
    """The array a feed gives ``placeholder``, checked against its declared shape and dtype."""
    on = placeholder.backend
    dtype = placeholder.dtype
    data = array.data if isinstance(array, Value) else array
    if data is None:
        raise FeedError(f"forward: the feed for placeholder {placeholder.name!r} is a Value with no data")
    if not on.is_array(data):
        try:
            data = on.asarray(data)
        except PolygradError as exc:
            raise DTypeError(f"forward: placeholder {placeholder.name!r}: {exc}") from exc
    declared = placeholder._shape
    shape = tuple(data.shape)
    if declared is not None and (
        len(declared) != len(shape) or any(d is not None and d != n for d, n in zip(declared, shape))
    ):
        raise ShapeError(
            f"forward: placeholder {placeholder.name!r} expects shape {_words(declared)}; "
            f"the feed has shape {shape}"
        )
    if data.dtype != dtype:
        if on.is_float(dtype) != on.is_float(data.dtype):
            raise DTypeError(
                f"forward: placeholder {placeholder.name!r} expects {dtype_name(dtype)} data; the feed "
                f"is {dtype_name(data.dtype)} (cast it first, e.g. with .astype)"
            )
        data = on.xp.astype(data, dtype)  # another float precision: cast, as Value() does
    return data


def _words(declared: tuple) -> str:
    return f"{declared}" + (" (None: any size)" if None in declared else "")


def _compute(plan: _Plan, root: Value, values: list) -> None:
    """Every step's result into ``values``; nothing in the graph is touched (spare buffers
    are written, but they are no node's data)."""
    spares = plan.spares
    i = -1
    try:
        for i, kernel, forward, xp, args, attrs, arity in plan.steps:
            if kernel is not None:
                buffer = spares[i]
                a = values[args[0]]
                if arity == 1:
                    # an elementwise ufunc of one float array: the result has its shape and dtype
                    if (buffer is not None and buffer.dtype is a.dtype and buffer.shape == a.shape
                            and _refcount(buffer) == _SOLE):
                        values[i] = kernel(a, buffer)
                    else:
                        values[i] = kernel(a)
                else:
                    b = values[args[1]]
                    if buffer is not None and buffer.dtype is a.dtype and a.dtype is b.dtype:
                        # one dtype in, the same out (the ufuncs here on float arrays); the
                        # shape of the one array when both match or the other is 0-d
                        sa, sb = a.shape, b.shape
                        shape = sa if sa == sb or not sb else (sb if not sa else None)
                        if buffer.shape == shape and _refcount(buffer) == _SOLE:
                            values[i] = kernel(a, b, buffer)
                            continue
                    # a new array: the rule's own forward, which broadcasts through the namespace
                    values[i] = kernel(a, b) if a.shape == b.shape else forward(xp, a, b)
            elif attrs:
                values[i] = forward(xp, *[values[j] for j in args], **attrs)
            elif arity == 1:
                values[i] = forward(xp, values[args[0]])
            elif arity == 2:
                values[i] = forward(xp, values[args[0]], values[args[1]])
            else:
                values[i] = forward(xp, *[values[j] for j in args])
    except PolygradError:
        raise
    except Exception as exc:  # the backend's own error: name the op and the inputs
        node, rule = plan.rule_of(i, root)
        arrays = [values[j] for j in plan.step_of[i][4]]
        raise describe_failure(rule, arrays, node.attrs, exc, node.backend) from exc


def _compute_checked(plan: _Plan, root: Value, values: list) -> None:
    """_compute in anomaly mode: each result checked for nan and inf as it is made."""
    last = len(plan.nodes)
    for i, _kernel, forward, xp, args, attrs, _arity in plan.steps:
        node = root if i == last else plan.nodes[i]
        arrays = [values[j] for j in args]
        try:
            values[i] = forward(xp, *arrays, **attrs)
        except PolygradError:
            raise
        except Exception as exc:
            raise describe_failure(RULES[node.op], arrays, attrs, exc, node.backend) from exc
        _anomaly.check_forward(node, node.op, arrays, values[i])


def _commit(plan: _Plan, root: Value, values: list, fed: list) -> None:
    """Write the new results into the graph (nothing here can fail)."""
    for node, data in fed:
        node.data = data
    spares = plan.spares
    for node, i, reuses in plan.written:
        if reuses:
            # the node's previous data becomes the array the next replay may write into
            # (an ndarray with axes: a 0-d ufunc result is a NumPy scalar, which cannot be out=)
            old = node.data
            spares[i] = old if getattr(old, "ndim", 0) and old is not values[i] else None
        node.data = values[i]
        node.grad = None
    if root.op is not None:
        root.data = values[-1]
        root.grad = None
