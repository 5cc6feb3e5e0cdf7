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

Not covered: vmap inside vmap, and vmap of Values that an enclosing grad differentiates
(grad(vmap(f)) raises; vmap(grad(f)) is the per-example-gradient case and works).
"""
from __future__ import annotations

from typing import Any, Callable

import optree

from .. import _state
from .._graph import BatchedValue, Value
from ..errors import PolygradError, ShapeError
from . import _tree
from ._trace import _name

__all__ = ["vmap"]


def _axes_for(in_axes: Any, args: tuple, what: str) -> list:
    """One axis (int or None) per leaf of every argument, flat, in argument order."""
    if isinstance(in_axes, (int, type(None))):
        per_arg = [in_axes] * len(args)
    elif isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ShapeError(f"{what}: in_axes has {len(in_axes)} entries for {len(args)} positional arguments")
        per_arg = list(in_axes)
    else:
        raise ShapeError(f"{what}: in_axes must be an int, None, or a tuple with one entry per argument")
    axes = []
    for arg, spec in zip(args, per_arg):
        leaves = _tree.leaves(arg)
        if isinstance(spec, (int, type(None))):
            axes.extend([spec] * len(leaves))
        else:  # a pytree prefix of the argument, with int or None leaves
            full = optree.tree_broadcast_prefix(spec, arg, none_is_leaf=True, namespace=_tree.NAMESPACE)
            axes.extend(optree.tree_leaves(full, none_is_leaf=True, namespace=_tree.NAMESPACE))
    return axes


def _to_front(leaf: Any, axis: int, what: str) -> tuple[BatchedValue, bool]:
    """``leaf`` as a batched Value whose batch axis (``axis``) is in front."""
    is_value = isinstance(leaf, Value)
    if is_value and leaf.requires_grad and _state.transform_depth() > 0:
        raise PolygradError(
            f"{what}: differentiating through vmap (grad of a vmapped function) is not supported; "
            "vmap(grad(f)) is: put grad inside")
    value = leaf if is_value else Value(leaf)
    data = value._require_data(what)
    if data.ndim == 0:
        raise ShapeError(f"{what}: cannot map over axis {axis} of a 0-d argument (in_axes None leaves it unbatched)")
    if not -data.ndim <= axis < data.ndim:
        raise ShapeError(f"{what}: in_axes {axis} is out of range for an argument of shape {tuple(data.shape)}")
    axis %= data.ndim
    if axis:
        data = value.backend.xp.moveaxis(data, axis, 0)
    return BatchedValue._wrap(data, value.backend), is_value


def _from_front(leaf: Any, axis: int | None, size: int, on, what: str) -> Any:
    """An output leaf as a batch with its batch axis at ``axis`` (unbatched ones broadcast)."""
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


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """f mapped over an axis of its arguments, like jax.vmap.

    ``in_axes``: an int (every argument mapped over that axis), None (unbatched), or a
    tuple with one entry per positional argument, each an int, None or a pytree prefix of
    the argument. ``out_axes``: an int, None, or a pytree prefix of f's result. Each op
    runs once on the whole batch (its batching rule); an op without one raises an OpError
    naming it. Raw arrays in give raw arrays out; Values in give Values.
    """
    what = f"vmap({_name(f)})"

    def vmapped(*args):
        if _state._vmapping.get():
            raise PolygradError(f"{what}: vmap inside vmap is not supported yet")
        axes = _axes_for(in_axes, args, what)
        flat_args = []
        trees = []
        any_value = False
        start = 0
        size, on = None, None
        for arg in args:
            leaves, treedef = _tree.flatten(arg)
            new = []
            for leaf, axis in zip(leaves, axes[start:start + len(leaves)]):
                if axis is None:
                    new.append(leaf)
                    any_value = any_value or isinstance(leaf, Value)
                    continue
                batched, was_value = _to_front(leaf, axis, what)
                any_value = any_value or was_value
                n = batched.data.shape[0]
                if size is not None and n != size:
                    raise ShapeError(f"{what}: mapped axes have different sizes ({size} and {n})")
                size, on = n, batched.backend
                new.append(batched)
            start += len(leaves)
            flat_args.extend(new)
            trees.append(_tree.unflatten(treedef, new))
        if size is None:
            raise ShapeError(f"{what}: in_axes maps no argument (all None)")
        with _state.entering_transform(), _state.vmapping():
            result = f(*trees)
        out_leaves, out_tree = _tree.flatten(result)
        if isinstance(out_axes, (int, type(None))):
            out_specs = [out_axes] * len(out_leaves)
        else:
            full = optree.tree_broadcast_prefix(out_axes, result, none_is_leaf=True, namespace=_tree.NAMESPACE)
            out_specs = optree.tree_leaves(full, none_is_leaf=True, namespace=_tree.NAMESPACE)
        outs = [_from_front(leaf, axis, size, on, what) for leaf, axis in zip(out_leaves, out_specs)]
        if any_value:
            outs = [Value._wrap(o, on) for o in outs]
        return _tree.unflatten(out_tree, outs)
    return vmapped
