"""The engine: topological order, backpropagation, replay with feeds, transforms."""
from __future__ import annotations

import contextlib
import itertools
from typing import Any, Callable, Iterable, Sequence

from .errors import BackendError, DTypeError, GradientError, PolygradError, ShapeError
from .rules import RULES
from .value import Value, _GradMode, apply, run_forward

__all__ = [
    "toposort", "backward", "vjp_graph", "replay", "grad", "value_and_grad",
    "no_grad", "enable_grad", "stop_gradient", "unbroadcast",
]


def toposort(root: Value) -> list[Value]:
    """Every node ``root`` depends on, parents before children, root last."""
    return _ancestors(root) + [root]


def _ancestors(root: Value) -> list[Value]:
    """The nodes ``root`` depends on, parents before children, without the root.

    Iterative depth-first search, O(nodes + edges), deterministic (parents are a
    tuple). The order without the root is cached on the root for replay; it holds
    only ancestors, so caching makes no reference cycle.
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
    order = _ancestors(root)
    if targets is None:
        on_path = None  # requires_grad marks the nodes that take part
        stop_at: set = set()
    else:
        stop_at = {id(t) for t in targets}
        on_path = set(stop_at)
        for node in order + [root]:
            # requires_grad: ops without a vjp (stop_gradient, comparisons) pass nothing back.
            if (node.op is not None and node.requires_grad and id(node) not in on_path
                    and any(id(p) in on_path for p in node.parents)):
                on_path.add(id(node))
        if id(root) not in on_path:
            return {}
    xp = root.backend.xp
    if create_graph:
        from . import namespace as xp  # the vjps then record a graph of their own
    results: dict[int, Any] = {}
    finished: list = []
    root._ct = seed
    try:
        for node in itertools.chain((root,), reversed(order)):
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
        for node in order:  # after an error, leave no cotangent behind
            node._ct = None
    for node, ct in finished:
        node.grad = ct if node.grad is None else node.grad + ct
    if not create_graph:  # lazy backends (MLX): the gradients exist once backward returns
        root.backend.evaluate(*[node.grad for node, _ in finished], *results.values())
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


def _check_backward_graph(root: Value) -> None:
    for node in _ancestors(root):
        if node.backend is not root.backend:
            raise BackendError(
                f"backward: the graph mixes backends {root.backend.name} and {node.backend.name}"
            )


def backward(root: Value, grad: Any = None, *, create_graph: bool = False) -> None:
    """See Value.backward."""
    if root.data is None:
        raise GradientError("backward: the root has no data; call root.forward(...) with every placeholder first")
    _check_backward_graph(root)
    if not root.requires_grad:
        raise GradientError(
            "backward: the root does not depend on any Value that requires a gradient "
            f"(root: {root._describe()}, shape {root.shape})"
        )
    seed = _seed(root, grad, create_graph)
    with (enable_grad() if create_graph else contextlib.nullcontext()):
        vjp_graph(root, seed, None, create_graph)


def replay(root: Value, feeds: dict) -> None:
    """Re-run every recorded op under ``root`` with placeholder data from ``feeds``."""
    order = toposort(root)
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


# -- transforms ----------------------------------------------------------------------------

@contextlib.contextmanager
def _grad_mode(enabled: bool):
    previous = _GradMode.enabled
    _GradMode.enabled = enabled
    try:
        yield
    finally:
        _GradMode.enabled = previous


def no_grad():
    """``with pg.no_grad():`` ops inside record no graph and nothing requires a gradient."""
    return _grad_mode(False)


def enable_grad():
    """``with pg.enable_grad():`` turns recording back on inside a no_grad block."""
    return _grad_mode(True)


def stop_gradient(x: Any) -> Value:
    """x's value, with no gradient flowing back through it."""
    return apply("stop_gradient", x)


def _argnums_tuple(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"grad: argnums {argnums} out of range for {nargs} positional arguments")
    return tuple(i % nargs for i in nums)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """A function returning (f(*args), df/dargs[argnums]), like jax.value_and_grad.

    f must return a scalar (a 0-d Value). Raw arrays in, raw arrays out; Value
    arguments give Value gradients (with a graph when those Values are themselves
    being differentiated, so grad(grad(f)) works).
    """
    def value_and_grad_f(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        args = list(args)
        targets, raw = [], True
        for i in nums:
            arg = args[i]
            if isinstance(arg, Value):
                raw = False
                if not arg.backend.is_float(arg.dtype):
                    raise DTypeError(f"grad: argument {i} has dtype {arg.dtype}; only float arguments can be differentiated")
                target = arg if arg.requires_grad else Value._wrap(arg.data, arg.backend, requires_grad=True)
            else:
                target = Value(arg)
                if not target.backend.is_float(target.dtype):
                    raise DTypeError(f"grad: argument {i} has dtype {target.dtype}; only float arguments can be differentiated")
                target.requires_grad = True
            args[i] = target
            targets.append(target)
        # Inside an enclosing grad(), gradients must be differentiable themselves.
        create_graph = _TransformDepth.depth > 0 and not raw
        _TransformDepth.depth += 1
        try:
            with enable_grad():
                result = f(*args, **kwargs)
        finally:
            _TransformDepth.depth -= 1
        out, aux = (result if has_aux else (result, None))
        if not isinstance(out, Value):
            raise GradientError(f"grad: {getattr(f, '__name__', f)} must return a Value, got {type(out).__name__}")
        if out.shape != ():
            raise ShapeError(f"grad: {getattr(f, '__name__', f)} must return a scalar, got shape {out.shape}")
        on = out.backend
        grads = {}
        if out.requires_grad:
            seed = on.xp.ones((), dtype=out.dtype)
            if create_graph:
                seed = Value._node(seed, None, (), {}, False, on)
            with (enable_grad() if create_graph else contextlib.nullcontext()):
                grads = vjp_graph(out, seed, targets, create_graph)
        results = []
        for t in targets:
            g = grads.get(id(t))
            if g is None:
                g = t.backend.xp.zeros_like(t.data)
            if raw:
                g = g.data if isinstance(g, Value) else g
            elif not isinstance(g, Value):
                g = Value._wrap(g, t.backend)
            results.append(g)
        grads_out = results[0] if isinstance(argnums, int) else tuple(results)
        value = out.data if raw else out
        return ((value, aux) if has_aux else value), grads_out
    return value_and_grad_f


class _TransformDepth:
    """How many grad()/value_and_grad() calls are running f right now."""
    depth = 0


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued f with respect to args[argnums], like jax.grad."""
    vg = value_and_grad(f, argnums, has_aux)

    def grad_f(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f
