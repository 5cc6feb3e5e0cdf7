"""The engine: the backward walk, unbroadcast, and the vjp of a recorded graph.

The walk visits only nodes that require a gradient (constants and subgraphs that lead
to no differentiable leaf are never touched), in reverse creation order, which is a
reverse topological order because a node is always made after its parents.
"""
from __future__ import annotations

import contextlib
import operator
from typing import Any, Sequence

from . import _anomaly, _graph, _state
from ._graph import Value, apply, current_parents
from .errors import DTypeError, GradientError, PolygradError, ShapeError
from .rules import RULES
from .rules._core import constant

__all__ = ["toposort", "backward", "vjp_graph", "unbroadcast", "graph_namespace"]

# polygrad's own namespace over Values: running the vjps with it records the backward pass
# as a graph (create_graph). The namespace registers itself here when it is imported, so
# imports keep flowing one way.
_graph_namespace: list = []


def graph_namespace(namespace: Any = None) -> Any:
    """Register (from polygrad.namespace) or return the namespace that records graphs."""
    if namespace is not None:
        _graph_namespace[:] = [namespace]
    return _graph_namespace[0]


_passes_running = [0]  # vjp_graph passes under way (one may run inside another's vjp)


def toposort(root: Value) -> list[Value]:
    """Every node ``root`` depends on, parents before children, root last."""
    return ancestors(root) + [root]


def ancestors(root: Value) -> list[Value]:
    """The nodes ``root`` depends on, parents before children, without the root.

    Iterative depth-first search, O(nodes + edges), deterministic (parents are a
    tuple). Cached on the root for replay; it holds only ancestors, so caching makes
    no reference cycle. A Value written into since (x[key] = v) makes the cache stale.
    """
    rebinds = _graph.rebind_count()
    cached = root._order
    if cached is None or cached[0] != rebinds:
        # Once any Value has been written into (x[key] = v), parents are read repaired to the
        # versions each node was made from (_graph.rebind); until then, as stored.
        order: list[Value] = []
        seen = {id(root)}
        stack = [(root, iter(current_parents(root) if rebinds else root.parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(current_parents(parent) if rebinds else parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
        order.pop()  # the root itself
        cached = root._order = (rebinds, order)
    return cached[1]


def _grad_walk(root: Value) -> list[Value]:
    """The nodes under ``root`` that require a gradient, newest first, without the root.

    Cached on the root (replay keeps the graph, so the walk is the same next time); the
    root is left out so the cache makes no reference cycle. Every node the backward pass
    reads the parents of is visited here, so their parents are repaired here too."""
    rebinds = _graph.rebind_count()
    cached = root._walk
    if cached is None or cached[0] != rebinds:
        seen = {id(root)}
        walk = []
        stack = [root]
        while stack:
            node = stack.pop()
            for parent in (current_parents(node) if rebinds else node.parents):
                if parent.requires_grad and id(parent) not in seen:
                    seen.add(id(parent))
                    walk.append(parent)
                    stack.append(parent)
        walk.sort(key=_creation_order, reverse=True)  # C-level key: no Python call per node
        cached = root._walk = (rebinds, walk)
    return cached[1]


_creation_order = operator.attrgetter("_id")


def unbroadcast(xp: Any, ct: Any, shape: tuple) -> Any:
    """Sum a cotangent back to ``shape``: over leading axes and over size-1 axes."""
    ct_shape = tuple(ct.shape)
    if ct_shape == shape:
        return ct
    lead = len(ct_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and ct_shape[lead + i] != 1
    )
    if axes:
        ct = xp.sum(ct, axis=axes)
    # a reshape only where summing left size-1 axes out (NumPy's reshape is a view, which
    # backward would then copy so that no gradient shares an array)
    return ct if tuple(ct.shape) == shape else xp.reshape(ct, shape)


def _seed(root: Value, grad: Any, create_graph: bool):
    on = root.backend
    if not on.is_inexact(root.dtype):
        raise DTypeError(f"backward: the root has dtype {root.dtype}; only float outputs have gradients")
    if grad is None and not on.is_float(root.dtype):
        raise DTypeError(f"backward: the root has complex dtype {root.dtype}; give its cotangent, "
                         "backward(grad=...), or backpropagate from a real function of it")
    if grad is None:
        # a scalar loss (the usual root) takes the cached read-only 1: backward copies a
        # seed before it becomes anyone's .grad
        shape = tuple(root.data.shape)
        seed = constant(on.xp, 1.0, root.dtype) if not shape else on.xp.ones(shape, dtype=root.dtype)
    elif isinstance(grad, Value):
        seed = grad if create_graph else grad.data
    else:
        seed = on.asarray(grad, dtype=root.dtype) if not on.is_array(grad) else grad
    if tuple(seed.shape) != tuple(root.shape):
        raise ShapeError(f"backward: grad has shape {tuple(seed.shape)}, the root has shape {root.shape}")
    if create_graph and not isinstance(seed, Value):
        seed = Value._node(seed, None, (), {}, False, on)
    return seed


def vjp_graph(root: Value, seed: Any, targets: Sequence[Value] | None, create_graph: bool) -> dict:
    """Backpropagate ``seed`` from ``root``.

    targets=None: every node that requires a gradient takes part and leaves (and
    retained nodes) get ``.grad``. Otherwise only nodes on a path from a target
    take part, and the targets' cotangents are returned by id, nothing written.
    Cotangents in flight wait on the nodes themselves (``_ct``), freed once used. A pass
    may start inside another's vjp (checkpoint and custom rules re-run a function and
    backpropagate through it): it then sets aside the cotangents the outer pass has
    waiting on nodes of its own walk, and puts them back when it ends.
    """
    walk = [root, *_grad_walk(root)]
    on_path = None
    stop_at: set = set()
    if targets is not None:
        stop_at = {id(t) for t in targets}
        on_path = set(stop_at)
        for node in reversed(walk):  # oldest first: parents before children
            if node.op is not None and id(node) not in on_path and any(id(p) in on_path for p in node.parents):
                on_path.add(id(node))
        if id(root) not in on_path:
            return {}
    xp = graph_namespace() if create_graph else root.backend.xp
    results: dict[int, Any] = {}
    finished: list = []
    waiting = None
    if _passes_running[0]:
        waiting = [(node, node._ct) for node in walk if node._ct is not None]
        for node, _ in waiting:
            node._ct = None
    _passes_running[0] += 1
    checking = _state.anomaly_watch[0] and _anomaly.active()  # anomaly mode: check each cotangent
    profiler = _graph._profiler
    root._ct = seed
    try:
        for node in walk:
            ct = node._ct
            if ct is None:
                continue
            node._ct = None
            if on_path is None:
                if node.op is None or node._retain:
                    finished.append((node, ct))  # written at the end: an error leaves .grad as it was
            elif id(node) in stop_at:
                results[id(node)] = ct
                continue
            if node.op is None:
                continue
            parents = node.parents
            try:
                vjp = RULES[node.op].vjp if profiler is None else profiler.timed_vjp(node)
                if create_graph:
                    out = _outputs(node) if isinstance(node.data, tuple) else node
                    cts = vjp(xp, ct, out, *parents, **node.attrs)
                elif len(parents) == 1:
                    cts = vjp(xp, ct, node.data, parents[0].data, **node.attrs)
                elif len(parents) == 2:
                    cts = vjp(xp, ct, node.data, parents[0].data, parents[1].data, **node.attrs)
                else:
                    cts = vjp(xp, ct, node.data, *[p.data for p in parents], **node.attrs)
            except PolygradError:
                raise
            except Exception as exc:
                raise _vjp_failure(node, exc) from exc
            for parent, pct in zip(parents, cts):
                if pct is None or not (parent.requires_grad if on_path is None else id(parent) in on_path):
                    continue
                if callable(pct):  # computed only now that this input needs it
                    pct = pct()
                previous = parent._ct
                if isinstance(pct, tuple):  # to a multi-output node: one cotangent per output, or None
                    parent._ct = pct if previous is None else _add_per_output(previous, pct)
                    continue
                data = parent.data  # an array: a multi-output parent took a tuple above
                shape = data.shape if parent.__class__ is Value else parent.shape  # vmap's: an example's
                if pct.shape != shape:
                    pct = unbroadcast(xp, pct, tuple(shape))
                if pct.dtype != data.dtype:
                    pct = _cast_cotangent(xp, pct, parent, node)
                if checking:
                    _anomaly.check_cotangent(node, _position(parent, parents), parent, pct)
                parent._ct = pct if previous is None else previous + pct
    finally:
        _passes_running[0] -= 1
        root._ct = None
        for node in walk:  # after an error, leave no cotangent behind
            node._ct = None
        for node, ct in waiting or ():
            node._ct = ct
    if not create_graph:  # no two gradients share one array, nor share the caller's seed
        _own_arrays(root.backend, finished, results, seed)
    for node, ct in finished:
        node.grad = ct if node.grad is None else node.grad + ct
    if not create_graph:  # lazy backends (MLX, Dask): the gradients exist once backward returns,
        # computed in one graph with the root, so a lazy loss is not computed twice
        root.backend.evaluate(root.data, *[node.grad for node, _ in finished], *results.values())
    return results


def _vjp_failure(node: Value, exc: Exception) -> GradientError:
    shapes = ", ".join(str(p.shape) for p in node.parents)
    return GradientError(f"{node.op}: vjp failed for input shapes {shapes}: {type(exc).__name__}: {exc}")


def _position(parent: Value, parents: tuple) -> int:
    return next(i for i, p in enumerate(parents) if p is parent)


def _cast_cotangent(xp: Any, ct: Any, parent: Value, node: Value) -> Any:
    """A cotangent in its parent's dtype. A complex cotangent of a real parent (a real input
    of an op with a complex result) keeps its real part, explicitly, as JAX's convention has
    it; a real cotangent of a complex parent is the complex number with no imaginary part."""
    on = parent.backend
    if on.is_float(parent.dtype) and not on.is_float(ct.dtype) and on.is_inexact(ct.dtype):
        real = getattr(xp, "real", None)
        if real is None:
            raise GradientError(
                f"{node.op}: create_graph through a complex result needs a differentiable real(); "
                "this namespace has none"
            )
        ct = real(ct)
    return xp.astype(ct, parent.dtype)


def _own_arrays(on: Any, finished: list, results: dict, seed: Any) -> None:
    """Copy the cotangents that would otherwise be one array in two places: the same array
    for two leaves (add hands its cotangent to both inputs), the seed the caller passed in,
    or a view of another array (reshape's and permute's cotangents are views, on NumPy)."""
    seen = {id(seed)}
    copy = on.xp.asarray

    def owned(ct):
        if id(ct) in seen or getattr(ct, "base", None) is not None:
            ct = copy(ct, copy=True)
        seen.add(id(ct))
        return ct

    for i, (node, ct) in enumerate(finished):
        finished[i] = (node, owned(ct))
    for key, ct in results.items():
        results[key] = owned(ct)


def _add_per_output(previous: tuple, new: tuple) -> tuple:
    return tuple(a if b is None else b if a is None else a + b for a, b in zip(previous, new))


def _outputs(node: Value) -> tuple:
    """A multi-output node's results as Values, for running its vjp with create_graph."""
    count = len(node.data)
    return tuple(apply("output", node, index=i, count=count) for i in range(count))




def backward(root: Value, grad: Any = None, *, create_graph: bool = False) -> None:
    """See Value.backward."""
    if root.data is None:
        raise GradientError("backward: the root has no data; call root.forward(...) with every placeholder first")
    if not root.requires_grad:
        raise GradientError(
            "backward: the root does not depend on any Value that requires a gradient "
            f"(root: {root._describe()}, shape {root.shape})"
        )
    seed = _seed(root, grad, create_graph)
    with (_state.enable_grad() if create_graph else contextlib.nullcontext()):
        vjp_graph(root, seed, None, create_graph)
