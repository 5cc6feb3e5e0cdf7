"""vmap, as in JAX: f mapped over a batch axis of its arguments, one op at a time.

Design. vmap runs ``f`` once, on ``BatchedValue``s: Values whose data carry the batch axis
in front while their ``shape`` and the attrs recorded on their nodes describe one example.
While vmap runs ``f`` (a context flag), ``apply`` sends every op that meets a batched input
to that op's batching rule (``Rule.batch``; the families are in rules/batching.py), which
runs the op once on the whole batch. So ``f`` sees examples and computes batches, with no
Python loop over the batch. Transforms inside ``f`` compose: ``grad`` records its backward
pass through ``apply`` (vmap counts as an enclosing transform, so grad builds its cotangents
as a graph), so the vjps are batched the same way, and ``vmap(grad(loss))`` gives
per-example gradients from one batched backward pass.

Gradients through vmap. When recording is on and an input leaf requires a gradient (a
Value leaf, a tracer of an enclosing grad/vjp/jacrev, batched or not) or ``f`` closes over
a Value that does, the vmapped call becomes one ``call`` node (transforms/_call.py, as
checkpoint and custom_vjp) over those Values. Its vjp is vmap of f's vjp, as in JAX:
a batched argument gets its per-example cotangents along its mapped axis, an unbatched one
(in_axes None, or closed over) their sum over the batch. Without create_graph the vjp
backpropagates, batched, through the graph the call recorded; with create_graph (grad of
grad through vmap, hessian) it is itself a vmapped function of the parents and the output
cotangent, so it records one more such node and can be differentiated again.

Not covered: vmap inside vmap.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import optree

from .. import _backend, _graph, _state
from .. import namespace as pn
from .._graph import BatchedValue, Value, _leaf_array
from ..engine import vjp_graph
from ..errors import PolygradError, ShapeError
from . import _tree
from ._call import Call, Outputs, bind, closed_over_values
from ._trace import _name, grad_context, pack, tracer

__all__ = ["vmap"]


def _per_argument(in_axes: Any, args: tuple, what: str) -> list:
    """One in_axes entry (an int, None or a pytree prefix) per positional argument."""
    if isinstance(in_axes, (int, type(None))):
        return [in_axes] * len(args)
    if isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ShapeError(f"{what}: in_axes has {len(in_axes)} entries for {len(args)} positional arguments")
        return list(in_axes)
    raise ShapeError(f"{what}: in_axes must be an int, None, or a tuple with one entry per argument")


def _leaf_axes(spec: Any, arg: Any, count: int) -> list:
    """One axis (int or None) per leaf of ``arg``, from its in_axes entry ``spec``."""
    if isinstance(spec, (int, type(None))):
        return [spec] * count
    # a pytree prefix of the argument, with int or None leaves
    full = optree.tree_broadcast_prefix(spec, arg, none_is_leaf=True, namespace=_tree.NAMESPACE)
    return optree.tree_leaves(full, none_is_leaf=True, namespace=_tree.NAMESPACE)


def _front_data(leaf: Any, axis: int, what: str) -> tuple[Any, Any]:
    """(data, backend) of ``leaf`` with its batch axis (``axis``) moved in front."""
    if isinstance(leaf, Value):
        on = leaf.backend
        data = leaf._require_data(what)
    else:  # the array a leaf Value would hold (its own copy, floats in the default dtype)
        on = _backend.backend()
        data = _leaf_array(leaf, on, None)
    if data.ndim == 0:
        raise ShapeError(f"{what}: cannot map over axis {axis} of a 0-d argument (in_axes None leaves it unbatched)")
    if not -data.ndim <= axis < data.ndim:
        raise ShapeError(f"{what}: in_axes {axis} is out of range for an argument of shape {tuple(data.shape)}")
    axis %= data.ndim
    if axis:
        data = on.xp.moveaxis(data, axis, 0)
    return data, on


def _from_front(leaf: Any, axis: int | None, size: int, on, what: str) -> Any:
    """An output leaf's array with its batch axis at ``axis`` (unbatched ones broadcast)."""
    if not isinstance(leaf, Value):
        leaf = Value(leaf, backend=on)
    data = leaf._require_data(what)
    xp = leaf.backend.xp
    if leaf.__class__ is not BatchedValue:
        if axis is None:
            return data
        data = xp.broadcast_to(xp.expand_dims(data, axis=0), (size,) + tuple(data.shape))
    elif axis is None:
        raise ShapeError(f"{what}: out_axes None for an output that depends on the batch")
    if axis:
        axis = axis % data.ndim
        data = xp.moveaxis(data, 0, axis)
    return data


def _out_specs(out_axes: Any, result: Any, count: int) -> list:
    if isinstance(out_axes, (int, type(None))):
        return [out_axes] * count
    full = optree.tree_broadcast_prefix(out_axes, result, none_is_leaf=True, namespace=_tree.NAMESPACE)
    return optree.tree_leaves(full, none_is_leaf=True, namespace=_tree.NAMESPACE)


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """f mapped over an axis of its arguments, like jax.vmap.

    ``in_axes``: an int (every argument mapped over that axis), None (unbatched), or a
    tuple with one entry per positional argument, each an int, None or a pytree prefix of
    the argument. ``out_axes``: an int, None, or a pytree prefix of f's result. Each op
    runs once on the whole batch (its batching rule); an op without one raises an OpError
    naming it. Raw arrays in give raw arrays out; Values in give Values, which carry
    gradients back to the inputs (and to Values f closes over) when those require one.
    """
    what = f"vmap({_name(f)})"

    def vmapped(*args):
        axes = []
        for arg, spec in zip(args, _per_argument(in_axes, args, what)):
            axes.extend(_leaf_axes(spec, arg, _tree.structure(arg).num_leaves))
        leaves, args_tree = _tree.flatten(tuple(args))

        def flat_f(*flat):
            return f(*_tree.unflatten(args_tree, flat))
        return _mapped(flat_f, leaves, axes, out_axes, what)
    return vmapped


class _Run:
    """``fun`` run once under vmap on ``leaves`` (one axis, int or None, per leaf).

    ``grad_positions``: the leaves that are Values requiring a gradient while recording;
    ``fun`` sees fresh stand-ins for them (``stand_ins``), so the Values' own graph stays
    outside and the call can become one node over them."""

    def __init__(self, fun: Callable, leaves: Sequence, axes: Sequence, what: str):
        if _state._vmapping.get():
            raise PolygradError(f"{what}: vmap inside vmap is not supported yet")
        recording = _state.is_grad_enabled()
        self.grad_positions = [k for k, leaf in enumerate(leaves)
                               if recording and isinstance(leaf, Value) and leaf.requires_grad]
        self.any_value = any(isinstance(leaf, Value) for leaf in leaves)
        self.start = next(_graph._creation)  # nodes numbered after this were made by this run
        size, on = None, None
        inputs = list(leaves)
        needs = set(self.grad_positions)
        self.stand_ins = []
        for k, (leaf, axis) in enumerate(zip(leaves, axes)):
            if axis is None:
                if k in needs:  # a fresh leaf: gradients reach it through this call's node
                    inputs[k] = Value._wrap(leaf._require_data(what), leaf.backend, requires_grad=True)
                    inputs[k].requires_grad = True  # complex too
                    self.stand_ins.append(inputs[k])
                continue
            data, leaf_on = _front_data(leaf, axis, what)
            n = data.shape[0]
            if size is not None and n != size:
                raise ShapeError(f"{what}: mapped axes have different sizes ({size} and {n})")
            size, on = n, leaf_on
            inputs[k] = BatchedValue._wrap(data, on)
            if k in needs:
                inputs[k].requires_grad = True
                self.stand_ins.append(inputs[k])
        if size is None:
            raise ShapeError(f"{what}: in_axes maps no argument (all None)")
        self.size, self.on = size, on
        # inputs that require a gradient: transforms inside f record their backward passes
        with _state.entering_transform(), _state.vmapping(differentiated=bool(self.grad_positions)):
            self.result = fun(*inputs)
        self.out_leaves, self.out_tree = _tree.flatten(self.result)


def _mapped(fun: Callable, leaves: Sequence, axes: Sequence, out_axes: Any, what: str) -> Any:
    """vmap's work: run ``fun`` (a function of the flat leaves) batched, then hand back its
    result, through one call node when gradients must flow through it."""
    run = _Run(fun, leaves, axes, what)
    specs = _out_specs(out_axes, run.result, len(run.out_leaves))
    size, on = run.size, run.on
    recording = _state.is_grad_enabled()
    packed = [k for k, leaf in enumerate(run.out_leaves)
              if recording and isinstance(leaf, Value) and leaf.requires_grad and leaf._id > run.start
              and leaf.data is not None and on.is_inexact(leaf.dtype)]
    outs = []
    for k, (leaf, axis) in enumerate(zip(run.out_leaves, specs)):
        if recording and isinstance(leaf, Value) and leaf.requires_grad and leaf._id < run.start:
            outs.append(_passed_through(leaf, axis, size))  # a Value made outside, returned: keep its graph
        else:
            outs.append(_from_front(leaf, axis, size, on, what))
    if not packed:
        if run.any_value:
            outs = [o if isinstance(o, Value) else Value._wrap(o, on) for o in outs]
        return _tree.unflatten(run.out_tree, outs)
    closed_over = closed_over_values([run.out_leaves[k] for k in packed], run.start)
    parents = [leaves[k] for k in run.grad_positions] + closed_over
    outputs = Outputs(outs, run.out_tree, packed, on)
    for k, o in enumerate(outs):
        if k not in packed:
            outputs.kept[k] = o if isinstance(o, Value) else Value._wrap(o, on)
    fn = _Vmapped(what, fun, leaves, axes, specs, run, closed_over, outputs)
    data = outputs.pack(on.xp, outs)
    return bind(fn, parents, data, outputs)


def _passed_through(leaf: Value, axis: int | None, size: int) -> Value:
    """An output that is a Value made before the call (an argument or a closed-over Value
    returned as it is): broadcast along the batch with polygrad's ops, keeping its graph."""
    if axis is None:
        return leaf
    out = pn.broadcast_to(pn.expand_dims(leaf, axis=0), (size,) + tuple(leaf.shape))
    return pn.moveaxis(out, 0, axis) if axis % out.ndim else out


class _Vmapped(Call):
    """A vmapped call as one node: forward runs the vmapped function again; vjp is vmap of
    its vjp (see the module docstring)."""

    def __init__(self, what, fun, leaves, axes, specs, run: _Run, closed_over, outputs: Outputs):
        self.name = what
        self.fun = fun
        self.leaves = list(leaves)
        self.axes = list(axes)
        self.specs = specs
        self.grad_positions = run.grad_positions
        self.closed_over = closed_over
        self.outputs = outputs
        self.size, self.on = run.size, run.on
        # the batched graph the first run recorded, backpropagated through by a vjp without
        # create_graph (dropped when forward runs again on other data: replay)
        self.recorded = (run.out_leaves, run.stand_ins)

    def _leaves_with(self, parents: Sequence) -> list:
        leaves = list(self.leaves)
        for k, p in zip(self.grad_positions, parents):
            leaves[k] = p
        return leaves

    def forward(self, xp, *arrays):
        self.recorded = None
        parents = [Value._wrap(a, self.on) for a in arrays]  # as Values: no copy, dtype kept
        with _state.no_grad():
            run = _Run(self.fun, self._leaves_with(parents), self.axes, self.name)
        leaves = [_from_front(leaf, axis, run.size, run.on, self.name)
                  for leaf, axis in zip(run.out_leaves, self.specs)]
        return self.outputs.pack(self.on.xp, leaves)

    def vjp(self, xp, g, out, *arrays):
        create = isinstance(g, Value)
        pieces = self.outputs.unpack(xp, g)
        if create or self.recorded is None:
            cts = self._vmapped_pullback(xp, pieces, arrays, create)
        else:
            cts = self._recorded_pullback(pieces)
        needs = len(self.grad_positions)
        result = []
        for k, ct in enumerate(cts):
            axis = self.axes[self.grad_positions[k]] if k < needs else None
            if ct is not None and axis is None:  # unbatched: the sum of the per-example cotangents
                ct = xp.sum(ct, axis=0)
            result.append(ct)
        return tuple(result)

    def _seeds(self, pieces: Sequence, front: bool) -> list:
        """The output cotangents as the function's outputs are under vmap: batched along the
        front (``front``: moved there here) or, for out_axes None, unbatched and divided by
        the batch size, since the vmapped vjp sums the unbatched inputs' cotangents over the batch."""
        seeds = []
        for piece, k in zip(pieces, self.outputs.packed):
            axis = self.specs[k]
            if axis is None:
                seeds.append(piece / self.size)
            elif front:
                seeds.append(BatchedValue._wrap(self.on.xp.moveaxis(piece, axis, 0) if axis else piece, self.on))
            else:
                seeds.append(piece)
        return seeds

    def _recorded_pullback(self, pieces: Sequence) -> list:
        """Cotangents (arrays, the batch in front for unbatched inputs) by backpropagating
        through the graph the first run recorded, each op batched, nothing recorded."""
        out_leaves, stand_ins = self.recorded
        targets = list(stand_ins) + list(self.closed_over)
        seeds = [s if isinstance(s, Value) else Value._wrap(s, self.on) for s in self._seeds(pieces, True)]
        with _state.entering_transform(), _state.vmapping(), _state.no_grad():
            root, seed = _packed_root([out_leaves[k] for k in self.outputs.packed], seeds)
            found = vjp_graph(root, seed, targets, True) if root.requires_grad else {}
            cts = []
            for k, target in enumerate(targets):
                ct = found.get(id(target))
                if ct is not None:
                    axis = self.axes[self.grad_positions[k]] if k < len(stand_ins) else None
                    ct = _batched_data(ct, self.size, 0 if axis is None else axis)
                cts.append(ct)
        return cts

    def _vmapped_pullback(self, xp, pieces: Sequence, parents: Sequence, create: bool) -> list:
        """Cotangents by vmap of f's vjp: a function of the parents and the output
        cotangents, so that with create_graph it is a node that can be differentiated again."""
        n = len(self.leaves)
        needs = len(self.grad_positions)
        call = self

        def pullback(*flat):
            leaves = list(flat[:n])
            tracers = []
            for k in call.grad_positions:
                leaves[k] = tracer(leaves[k], call.name, lambda: "an argument", nested=True)
                tracers.append(leaves[k])
            with _state.enable_grad():
                result = call.fun(*leaves)
            out_leaves = _tree.leaves(result)
            chosen = [out_leaves[k] for k in call.outputs.packed]
            root, seed = _packed_root(chosen, list(flat[n:]))
            targets = tracers + list(call.closed_over)
            with grad_context(True, keep_graph=_state.differentiated_outside()):
                found = vjp_graph(root, seed, targets, True) if root.requires_grad else {}
            return [found[id(t)] if id(t) in found else _zeros(t) for t in targets]

        if not create:  # arrays: as Values, so f's stand-ins keep their dtype and are not copied
            parents = [Value._wrap(a, self.on) for a in parents]
        parent_leaves = self._leaves_with(parents[:needs])
        seeds = self._seeds(pieces, False)
        cotangent_axes = [self.specs[k] for k in self.outputs.packed]
        out_axes = [self.axes[k] if self.axes[k] is not None else 0 for k in self.grad_positions]
        out_axes += [0] * len(self.closed_over)
        with grad_context(create):
            cts = _mapped(pullback, parent_leaves + seeds, self.axes + cotangent_axes, out_axes,
                          f"{self.name} vjp")
        if not create:
            cts = [ct.data if isinstance(ct, Value) else ct for ct in cts]
        return cts


def _packed_root(chosen: Sequence[Value], seeds: Sequence) -> tuple[Value, Any]:
    """(root, seed): the chosen outputs as one node and their cotangents as one, packed as
    Trace packs them (flattened and concatenated) when there are several."""
    if len(chosen) == 1:
        return chosen[0], seeds[0]
    with _state.enable_grad():
        root = pack(pn, chosen)
    seed = pack(pn, seeds)
    if seed.dtype != root.dtype:
        seed = pn.astype(seed, root.dtype)
    return root, seed


def _batched_data(ct: Value, size: int, axis: int) -> Any:
    """A cotangent computed under vmap as an array with its batch axis at ``axis``."""
    xp = ct.backend.xp
    data = ct.data
    if ct.__class__ is not BatchedValue:
        data = xp.broadcast_to(xp.expand_dims(data, axis=0), (size,) + tuple(data.shape))
    return xp.moveaxis(data, 0, axis) if axis else data


def _zeros(target: Value) -> Value:
    return type(target)._wrap(target.backend.xp.zeros_like(target.data), target.backend)
