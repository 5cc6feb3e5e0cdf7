"""checkpoint (remat), as jax.checkpoint: trade compute for memory.

``checkpoint(f)(*args)`` runs f and keeps only its outputs: the graph f records is
dropped, and the call becomes one ``call`` node. Its vjp runs f again on the same inputs,
under a fresh graph, and backpropagates through that: the arrays f's ops keep for their
vjps exist for one checkpointed call at a time during backward, not for the whole model.

Gradients flow to the arguments and to Values f closes over (a layer's weights held by
a module): the first run records f once to find them (any Value made before the call
that requires a gradient and feeds one of f's ops), then drops the recording.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from .. import _graph, _state
from .. import namespace as pn
from .._graph import Value
from ..engine import vjp_graph
from ..errors import PolygradError
from . import _tree
from ._call import Arguments, Call, Outputs, bind, stand_in
from ._trace import grad_context

__all__ = ["checkpoint", "remat"]


def checkpoint(fun: Callable, *, prevent_cse: bool = True, static_argnums: int | Sequence[int] = ()) -> Callable:
    """``fun`` whose forward is recomputed in backward instead of kept, as jax.checkpoint.

    Arguments and results may be pytrees. ``static_argnums`` are passed unchanged (not
    flattened). ``prevent_cse`` is accepted for JAX compatibility: polygrad does no
    common-subexpression elimination, so there is nothing to prevent. Outside recording
    (``pg.no_grad()``) the function is simply called.
    """
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        if not _state.is_grad_enabled():
            return fun(*args, **kwargs)
        arguments = Arguments(args, kwargs, static)
        values = arguments.values()
        on = values[0].backend if values else None
        start = next(_graph._creation)  # nodes numbered after this were made by this call
        stand_ins = [Value._wrap(v._require_data("checkpoint"), v.backend, requires_grad=v.requires_grad)
                     for v in values]
        result = _run(fun, arguments, stand_ins)
        leaves, tree = _tree.flatten(result)
        made_here = [k for k, leaf in enumerate(leaves) if isinstance(leaf, Value) and leaf._id > start]
        closed_over = _closed_over([leaves[k] for k in made_here], start)
        parents = values + closed_over
        packed = [k for k in made_here if leaves[k].requires_grad and leaves[k].backend.is_float(leaves[k].dtype)]
        if not packed:
            return result  # nothing to differentiate: f ran as usual
        on = on or leaves[packed[0]].backend
        outputs = Outputs(leaves, tree, packed, on)
        for k, leaf in enumerate(leaves):
            if isinstance(leaf, Value) and k not in made_here:
                outputs.kept[k] = leaf  # a Value made before the call, returned as it is: keep its graph
        data = outputs.pack(on.xp, leaves)
        on.evaluate(data)  # lazy backends: compute now, so the recorded arrays can go
        fn = _Checkpointed(fun, arguments, len(values), closed_over, outputs, on,
                           [p.requires_grad for p in parents])
        del result, leaves, stand_ins
        return bind(fn, parents, data, outputs)

    return checkpointed


remat = checkpoint  # jax.remat is jax.checkpoint


def _run(fun: Callable, arguments: Arguments, stand_ins: Sequence) -> Any:
    dynamic, kwargs = arguments.rebuild(stand_ins)
    with _state.enable_grad():
        return fun(*arguments.full(dynamic), **kwargs)


def _closed_over(outputs: Sequence[Value], start: int) -> list[Value]:
    """Values made before the call (numbered <= start) that require a gradient and feed the
    graph under ``outputs``, in the order met."""
    found, found_ids, seen = [], set(), set()
    stack = list(outputs)
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if parent._id < start:
                if parent.requires_grad and id(parent) not in found_ids:
                    found_ids.add(id(parent))
                    found.append(parent)
            elif id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return found


class _Checkpointed(Call):
    """A checkpointed call: forward re-runs f without recording; vjp re-runs it recording."""

    def __init__(self, fun, arguments, n_args, closed_over, outputs, on, needs):
        self.fun = fun
        self.name = f"checkpoint({getattr(fun, '__qualname__', None) or getattr(fun, '__name__', 'f')})"
        self.arguments = arguments
        self.n_args = n_args
        self.closed_over = closed_over
        self.outputs = outputs
        self.on = on
        self.needs = needs

    def forward(self, xp, *arrays):
        stand_ins = [Value._wrap(a, self.on) for a in arrays[:self.n_args]]
        with _state.no_grad():
            leaves = _tree.leaves(_run_quiet(self.fun, self.arguments, stand_ins))
        return self.outputs.pack(self.on.xp, leaves)

    def vjp(self, xp, g, out, *arrays):
        create = isinstance(g, Value)
        stand_ins = [stand_in(a, self.on, needs_grad=need, create_graph=create)
                     for a, need in zip(arrays[:self.n_args], self.needs)]
        leaves = _tree.leaves(_run(self.fun, self.arguments, stand_ins))
        if len(leaves) != len(self.outputs.shapes) + len(self.outputs.kept):
            raise PolygradError(f"{self.name}: the function returned a different structure when run again")
        with _state.enable_grad():
            root = self.outputs.pack(pn, leaves)
        targets = [s for s, need in zip(stand_ins, self.needs) if need] + self.closed_over
        with grad_context(create):
            found = vjp_graph(root, g, targets, create) if root.requires_grad else {}
        cts = [found.get(id(s)) if need else None for s, need in zip(stand_ins, self.needs)]
        return tuple(cts) + tuple(found.get(id(v)) for v in self.closed_over)


def _run_quiet(fun: Callable, arguments: Arguments, stand_ins: Sequence) -> Any:
    dynamic, kwargs = arguments.rebuild(stand_ins)
    return fun(*arguments.full(dynamic), **kwargs)

