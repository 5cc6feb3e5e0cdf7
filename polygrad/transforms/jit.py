"""jit, as in JAX: f traced once per input signature into a static graph, then replayed.

Tracing. On the first call with a given signature (the backend, the pytree structure of
the arguments, each array leaf's shape and dtype, and the values of Python-number leaves,
which are static) jit makes one placeholder per array leaf (``pg.placeholder``), feeds it
this call's array and runs ``f`` once on the placeholders, as a transform (so a grad inside
f records its backward pass as graph nodes too: ``jit(value_and_grad(loss))`` replays
forward and backward). Python control flow that asks a traced Value for its contents
(``if x.sum() > 0``, ``float(x)``, ``x.item()``, ``x.numpy()``) raises pg.TracerError, as
JAX's ConcretizationTypeError: its answer would be baked into the graph. Values ``f`` closes
over are constants of the graph (as in JAX: pass parameters as arguments).

Replay. numpy, cupy and array_api_strict: ``root.forward(**feeds)`` (polygrad/replay.py)
re-runs the recorded ops; the root is all of f's array outputs packed into one node, whose
ancestors (the outputs) then hold this call's results. jax: the recorded graph as one
function of the placeholder arrays, running each op's rule forward with jnp, under
``jax.jit``; mlx: the same function under ``mx.compile``.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

from .. import _backend, _state
from .. import namespace as pn
from .._graph import RULES, Value
from ..engine import toposort
from ..replay import placeholder
from . import _tree
from ._trace import _name

__all__ = ["jit"]


class _Traced:
    """One signature's graph: the placeholders, f's output leaves, and how to replay them."""

    def __init__(self, f: Callable, args: tuple, kwargs: dict, leaves: list, treedef, on):
        self.on = on
        self.names: list[str | None] = []  # per input leaf: its placeholder's name, None if static
        fed = []
        with _state.use_backend_name(on.name):
            for i, leaf in enumerate(leaves):
                if _is_static(leaf):
                    self.names.append(None)
                    fed.append(leaf)
                    continue
                data = _array_of(leaf, on)
                name = f"jit_arg{i}"
                node = placeholder(tuple(data.shape), name=name, dtype=data.dtype)
                node.data = data  # this call's array: the first feed
                node.requires_grad = on.is_float(data.dtype)  # a grad inside f sees through it
                self.names.append(name)
                fed.append(node)
        self.placeholders = [x for x in fed if isinstance(x, Value) and x.name in self.names]
        args, kwargs = _tree.unflatten(treedef, fed)
        with _state.entering_transform(), _state.enable_grad(), _state.jit_tracing():
            result = f(*args, **kwargs)
        self.out_leaves, self.out_tree = _tree.flatten(result)
        self.array_outputs = [k for k, x in enumerate(self.out_leaves) if isinstance(x, Value)]
        self.first = [x.data if isinstance(x, Value) else x for x in self.out_leaves]
        self._compiled = None
        self._root = None
        if on.name in ("jax", "mlx"):
            self._compiled = self._compile()
        elif self.array_outputs:
            outputs = [self.out_leaves[k] for k in self.array_outputs]
            if len(outputs) == 1:
                self._root = outputs[0]
            else:
                with _state.enable_grad():
                    float_dtype = next((x.dtype for x in outputs if on.is_float(x.dtype)), None)
                    parts = [x if float_dtype is None or x.dtype == float_dtype else pn.astype(x, float_dtype)
                             for x in outputs]
                    self._root = pn.concat([pn.reshape(x, (-1,)) for x in parts], axis=0)

    def _compile(self) -> Callable:
        """The graph as one function of the placeholder arrays, compiled by the backend."""
        roots = [self.out_leaves[k] for k in self.array_outputs]
        order: list[Value] = []
        seen: set[int] = set()
        for root in roots:
            for node in toposort(root):
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
        order.sort(key=lambda node: node._id)  # creation order: parents before children
        inputs = {id(p): k for k, p in enumerate(self.placeholders)}
        steps = []  # (slot, rule forward, parent slots, attrs) for each op node
        slot_of: dict[int, int] = {}
        constants = []
        for node in order:
            if node.op is None:
                if id(node) in inputs:
                    slot_of[id(node)] = ("in", inputs[id(node)])
                else:
                    slot_of[id(node)] = ("const", len(constants))
                    constants.append(node.data)
                continue
            slot_of[id(node)] = ("op", len(steps))
            steps.append((RULES[node.op].forward, [slot_of[id(p)] for p in node.parents], node.attrs))
        out_slots = [slot_of[id(root)] for root in roots]
        xp = self.on.xp

        def run(*arrays):
            results = []
            pick = {"in": arrays, "const": constants, "op": results}
            for forward, parents, attrs in steps:
                results.append(forward(xp, *[pick[kind][i] for kind, i in parents], **attrs))
            return tuple(pick[kind][i] for kind, i in out_slots)

        if self.on.name == "jax":
            import jax
            return jax.jit(run)
        import mlx.core as mx
        return mx.compile(run)

    def __call__(self, leaves: list) -> list:
        arrays = [_array_of(leaf, self.on) for leaf, name in zip(leaves, self.names) if name is not None]
        outs = list(self.first)
        if self._compiled is not None:
            fresh = self._compiled(*arrays)
        elif self._root is not None:
            self._root.forward(**{p.name: a for p, a in zip(self.placeholders, arrays)})
            fresh = [self.out_leaves[k].data for k in self.array_outputs]
        else:
            fresh = []
        for k, array in zip(self.array_outputs, fresh):
            outs[k] = array
        return outs


def _is_static(leaf: Any) -> bool:
    return isinstance(leaf, numbers.Number) and not hasattr(leaf, "shape")


def _array_of(leaf: Any, on) -> Any:
    if isinstance(leaf, Value):
        return leaf._require_data("jit")
    return leaf if on.is_array(leaf) else Value(leaf, backend=on).data


def _signature_part(leaf: Any, on) -> tuple:
    if _is_static(leaf):
        return ("static", type(leaf), leaf)
    if isinstance(leaf, Value) or on.is_array(leaf):
        data = leaf._require_data("jit") if isinstance(leaf, Value) else leaf
        return (tuple(data.shape), data.dtype)
    return ("host", tuple(getattr(leaf, "shape", ())), str(getattr(leaf, "dtype", type(leaf))))


def jit(f: Callable) -> Callable:
    """f compiled, like jax.jit: traced once per input signature, then replayed.

    The signature is the backend, the arguments' pytree structure, each array leaf's shape
    and dtype, and each Python-number leaf's value (numbers are static: a new one retraces).
    Raw arrays in give raw arrays out; Values in give Values (without a graph). Python
    control flow on a traced value raises pg.TracerError. ``jitted.trace_count`` tells how
    many signatures were traced.
    """
    cache: dict = {}

    def jitted(*args, **kwargs):
        on = next((x.backend for x in args if isinstance(x, Value)), None) or _backend.backend()
        if not kwargs and all(on.is_array(x) for x in args):
            # the common call, arrays only: no pytree walk (optree takes ~15 us per jax array)
            leaves, treedef = list(args), len(args)
        else:
            leaves, treedef = _tree.flatten((args, kwargs))
            on = next((x.backend for x in leaves if isinstance(x, Value)), on)
        key = (on.name, treedef, tuple(_signature_part(x, on) for x in leaves))
        traced = cache.get(key)
        if traced is None:
            if isinstance(treedef, int):
                treedef = _tree.flatten((args, kwargs))[1]
            traced = cache[key] = _Traced(f, args, kwargs, leaves, treedef, on)
            jitted.trace_count += 1
            outs = traced.first
        else:
            outs = traced(leaves)
        if any(isinstance(x, Value) for x in leaves):
            outs = [Value._wrap(o, on) if on.is_array(o) else o for o in outs]
        return _tree.unflatten(traced.out_tree, outs)

    jitted.trace_count = 0
    jitted.__name__ = f"jit({_name(f)})"
    jitted.__wrapped__ = f
    return jitted
