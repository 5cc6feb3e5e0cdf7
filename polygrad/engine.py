"""The engine: the backward walk, unbroadcast, and the vjp of a recorded graph.

The walk visits only nodes that require a gradient (constants and subgraphs that lead
to no differentiable leaf are never touched), in reverse creation order, which is a
reverse topological order because a node is always made after its parents.
"""
from __future__ import annotations

import contextlib
from typing import Any, Sequence

from . import _state
from ._graph import Value
from .errors import DTypeError, GradientError, PolygradError, ShapeError
from .rules import RULES

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


def toposort(root: Value) -> list[Value]:
    """Every node ``root`` depends on, parents before children, root last."""
    return ancestors(root) + [root]


def ancestors(root: Value) -> list[Value]:
    """The nodes ``root`` depends on, parents before children, without the root.

    Iterative depth-first search, O(nodes + edges), deterministic (parents are a
    tuple). Cached on the root for replay; it holds only ancestors, so caching makes
    no reference cycle.
    """
    if root._order is None:
        order: list[Value] = []
        seen = {id(root)}
        stack = [(root, iter(root.parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(parent.parents)))
                    break
            else:
                stack.pop()
                order.append(node)
        order.pop()  # the root itself
        root._order = order
    return root._order


def _grad_walk(root: Value) -> list[Value]:
    """The nodes under ``root`` that require a gradient, newest first, without the root.

    Cached on the root (replay keeps the graph, so the walk is the same next time); the
    root is left out so the cache makes no reference cycle."""
    walk = root._walk
    if walk is None:
        seen = {id(root)}
        walk = []
        stack = [root]
        while stack:
            for parent in stack.pop().parents:
                if parent.requires_grad and id(parent) not in seen:
                    seen.add(id(parent))
                    walk.append(parent)
                    stack.append(parent)
        walk.sort(key=_creation_order, reverse=True)
        root._walk = walk
    return walk


def _creation_order(node: Value) -> int:
    return node._id


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
    return xp.reshape(ct, shape)


def _seed(root: Value, grad: Any, create_graph: bool):
    on = root.backend
    if not on.is_float(root.dtype):
        raise DTypeError(f"backward: the root has dtype {root.dtype}; only float outputs have gradients")
    if grad is None:
        seed = on.xp.ones(root.data.shape, dtype=root.dtype)
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
    Cotangents in flight wait on the nodes themselves (``_ct``), freed once used.
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
            if create_graph:
                cts = _run_vjp(node, xp, ct, node, parents)
            else:
                cts = _run_vjp(node, xp, ct, node.data, [p.data for p in parents])
            for parent, pct in zip(parents, cts):
                if pct is None or not (parent.requires_grad if on_path is None else id(parent) in on_path):
                    continue
                if callable(pct) and not isinstance(pct, Value):
                    pct = pct()
                pct = unbroadcast(xp, pct, parent.shape)
                if pct.dtype != parent.dtype:
                    pct = xp.astype(pct, parent.dtype)
                previous = parent._ct
                parent._ct = pct if previous is None else previous + pct
    finally:
        root._ct = None
        for node in walk:  # after an error, leave no cotangent behind
            node._ct = None
    for node, ct in finished:
        node.grad = ct if node.grad is None else node.grad + ct
    if not create_graph:  # lazy backends (MLX, Dask): the gradients exist once backward returns,
        # computed in one graph with the root, so a lazy loss is not computed twice
        root.backend.evaluate(root.data, *[node.grad for node, _ in finished], *results.values())
    return results


def _run_vjp(node: Value, xp: Any, ct: Any, out: Any, args: Sequence) -> Sequence:
    try:
        return RULES[node.op].vjp(xp, ct, out, *args, **node.attrs)
    except PolygradError:
        raise
    except Exception as exc:
        shapes = ", ".join(str(p.shape) for p in node.parents)
        raise GradientError(
            f"{node.op}: vjp failed for input shapes {shapes}: {type(exc).__name__}: {exc}"
        ) from exc


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
