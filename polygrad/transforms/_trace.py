"""What the transforms share: running a function of pytrees on tracer Values, pulling
cotangents back through what it recorded, and handing results back as the caller expects.

A *tracer* stands in for one float leaf of a differentiated argument: a fresh node that
requires a gradient, so every transform differentiates with respect to its own inputs
only. Inside another transform a tracer is an identity node on the outer Value (the
outer transform still sees the dependence); a bare leaf would cut it, and reusing the
outer Value itself would confuse the two derivatives (``grad(lambda x: grad(lambda y:
x * y)(x))`` is 1, not 2).

Results follow the inputs: at top level, raw arrays in give raw arrays out and Values in
give Values out (without a graph); inside another transform (``transform_depth() > 0``)
results are Values whose graph the outer transform differentiates.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

from .. import _state
from .. import namespace as pn
from .._graph import Value
from ..engine import vjp_graph
from ..errors import BackendError, DTypeError, GradientError, ShapeError
from . import _tree

__all__ = ["argnums_tuple", "tracer", "Trace", "pack", "deliver", "as_cotangent", "match_structure",
           "grad_context"]


def argnums_tuple(argnums: int | Sequence[int], nargs: int, what: str) -> tuple[int, ...]:
    """``argnums`` as a tuple of non-negative positions; a ValueError naming ``what`` if out of range."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{what}: argnums {argnums} out of range for {nargs} positional arguments")
    return tuple(i % nargs for i in nums)


def grad_context(create_graph: bool):
    """Recording on while cotangents are built as a graph; otherwise left as it is."""
    return _state.enable_grad() if create_graph else contextlib.nullcontext()


def tracer(leaf: Any, what: str, where: Callable[[], str], nested: bool) -> Value:
    """A fresh node requiring a gradient, standing in for ``leaf`` (a Value, an array or a number)."""
    if isinstance(leaf, Value):
        data = leaf._require_data(what)
        on = leaf.backend
        if not on.is_inexact(leaf.dtype):
            raise DTypeError(f"{what}: {where()} has dtype {leaf.dtype}; only float arguments "
                             "(real or complex) can be differentiated")
        kind = type(leaf)  # a BatchedValue (under vmap) stays one
        if nested and leaf.requires_grad:  # an identity node: the outer transform sees through it
            return kind._node(data, "reshape", (leaf,), {"shape": tuple(leaf.shape)}, True, on)
        stand_in = kind._wrap(data, on)
        stand_in.requires_grad = True  # complex too: _wrap marks only real floats
        return stand_in
    value = Value(leaf)
    if not value.backend.is_inexact(value.dtype):
        raise DTypeError(f"{what}: {where()} has dtype {value.dtype}; only float arguments "
                         "(real or complex) can be differentiated")
    value.requires_grad = True
    return value


def pack(xp: Any, arrays: Sequence) -> Any:
    """One array holding ``arrays`` (more than one): each flattened, then concatenated."""
    return xp.concat([xp.reshape(a, (-1,)) for a in arrays], axis=0)


def unpack(xp: Any, packed: Any, shapes: Sequence[tuple], dtypes: Sequence) -> list:
    """The inverse of ``pack``: slices of ``packed`` in their shapes and dtypes."""
    if len(shapes) == 1:
        return [packed]
    parts, start = [], 0
    for shape, dtype in zip(shapes, dtypes):
        size = 1
        for n in shape:
            size *= n
        part = xp.reshape(packed[start:start + size], shape)
        if part.dtype != dtype:
            part = xp.astype(part, dtype)
        parts.append(part)
        start += size
    return parts


def deliver(value: Any, like: Value | None, *, nested: bool, raw: bool) -> Any:
    """A result leaf as the caller gets it: a Value with its graph inside a transform, the
    array at top level when the inputs were arrays, a Value without a graph otherwise.
    ``value`` None means zero, in ``like``'s shape and dtype."""
    if value is None:
        value = like.backend.xp.zeros_like(like.data)
    if nested:
        return value if isinstance(value, Value) else type(like)._wrap(value, like.backend)
    if isinstance(value, Value):
        return value.data if raw else value.detach()
    return value if raw else Value._wrap(value, like.backend)


def deliver_output(leaf: Any, *, nested: bool, raw: bool) -> Any:
    """A primal output or aux leaf as the caller gets it (non-Values pass unchanged)."""
    if not isinstance(leaf, Value) or nested:
        return leaf
    return leaf.data if raw else leaf.detach()


def as_cotangent(value: Any, like: Value, what: str, where: Callable[[], str], create_graph: bool) -> Any:
    """A user's cotangent or tangent for ``like``: an array of its backend, shape and dtype
    (a Value inside a graph when ``create_graph``)."""
    on = like.backend
    if isinstance(value, Value):
        if value.backend is not on:
            raise BackendError(f"{what}: {where()} is a {value.backend.name} Value; the primal is on {on.name}")
        array = value
    else:
        array = value if on.is_array(value) else on.asarray(value)
    if tuple(array.shape) != tuple(like.shape):
        raise ShapeError(f"{what}: {where()} has shape {tuple(array.shape)}; the primal has shape {tuple(like.shape)}")
    if array.dtype != like.dtype:
        array = pn.astype(array, like.dtype) if isinstance(array, Value) else on.xp.astype(array, like.dtype)
    if create_graph:
        return array if isinstance(array, Value) else Value._wrap(array, on)  # unbatched under vmap
    return array.data if isinstance(array, Value) else array


def match_structure(tree: Any, treedef: _tree.PyTreeDef, what: str, name: str) -> list:
    """The leaves of ``tree``, which must have structure ``treedef``; a ShapeError otherwise."""
    found, found_def = _tree.flatten(tree)
    if found_def != treedef:
        raise ShapeError(f"{what}: the {name} has tree structure {found_def}; expected {treedef}")
    return found


def _float_value(leaf: Any) -> bool:
    return isinstance(leaf, Value) and leaf.data is not None and leaf.backend.is_inexact(leaf.dtype)


class Trace:
    """``f(*args, **kwargs)`` run once, with tracers in place of the leaves of ``args[argnums]``.

    Attributes: ``inputs`` (the tracers, flat, argument after argument), ``in_trees`` (one
    treedef per differentiated argument), ``out_leaves``/``out_tree`` (the result, flat),
    ``aux``, ``nested`` (called inside another transform) and ``raw`` (at top level with no
    Value among the differentiated leaves: results are raw arrays).
    """

    def __init__(self, what: str, f: Callable, args: Sequence, kwargs: dict, argnums: int | Sequence[int],
                 has_aux: bool = False):
        self.what = what
        self.nested = _state.transform_depth() > 0
        self.argnums = argnums_tuple(argnums, len(args), what)
        args = list(args)
        self.in_trees: list = []
        self.inputs: list[Value] = []
        any_value = False
        for i in self.argnums:
            leaves, treedef = _tree.flatten(args[i])
            any_value = any_value or any(isinstance(x, Value) for x in leaves)
            tracers = [tracer(x, what, self._where(i, args[i], k), self.nested) for k, x in enumerate(leaves)]
            args[i] = _tree.unflatten(treedef, tracers)
            self.in_trees.append(treedef)
            self.inputs.extend(tracers)
        self.raw = not self.nested and not any_value
        with _state.entering_transform(), _state.enable_grad():
            result = f(*args, **kwargs)
        if has_aux:
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise GradientError(f"{what}: with has_aux=True, {_name(f)} must return a pair (output, aux)")
            result, self.aux = result
        else:
            self.aux = None
        self.out_leaves, self.out_tree = _tree.flatten(result)
        self._roots: dict = {}

    @staticmethod
    def _where(i: int, arg: Any, k: int) -> Callable[[], str]:
        def describe() -> str:  # computed only for an error message
            return f"argument {i}{_tree.paths(arg)[k]}"
        return describe

    # -- reverse mode ----------------------------------------------------------------------
    def differentiable_outputs(self) -> list[int]:
        """Positions of the output leaves a cotangent can flow back from."""
        return [k for k, leaf in enumerate(self.out_leaves) if _float_value(leaf) and leaf.requires_grad]

    def pullback(self, cotangents: Sequence, create_graph: bool) -> list:
        """The cotangents of the inputs (None where none arrives), given one per output leaf
        (None for none): arrays, or Values when ``create_graph``."""
        live = tuple(k for k in self.differentiable_outputs() if cotangents[k] is not None)
        if not live:
            return [None] * len(self.inputs)
        root = self._root(live)
        if len(live) == 1:
            seed = cotangents[live[0]]
        else:
            xp = pn if create_graph else root.backend.xp
            with grad_context(create_graph):
                seed = pack(xp, [cotangents[k] for k in live])
                if seed.dtype != root.dtype:
                    seed = xp.astype(seed, root.dtype)
        with grad_context(create_graph):
            found = vjp_graph(root, seed, self.inputs, create_graph)
        return [found.get(id(t)) for t in self.inputs]

    def _root(self, live: tuple) -> Value:
        """The output leaves at ``live`` as one node (packed when there are several)."""
        root = self._roots.get(live)
        if root is None:
            if len(live) == 1:
                root = self.out_leaves[live[0]]
            else:
                with _state.enable_grad():
                    root = pack(pn, [self.out_leaves[k] for k in live])
            self._roots[live] = root
        return root

    # -- handing results back --------------------------------------------------------------
    def split_inputs(self, flat: Sequence, single: bool) -> Any:
        """Per-input results (flat, in ``inputs`` order) as trees shaped like the arguments:
        one tree when ``single`` (an int argnums), else a tuple of them."""
        trees, start = [], 0
        for treedef in self.in_trees:
            trees.append(_tree.unflatten(treedef, flat[start:start + treedef.num_leaves]))
            start += treedef.num_leaves
        return trees[0] if single else tuple(trees)

    def input_results(self, flat: Sequence, nested: bool) -> list:
        return [deliver(v, t, nested=nested, raw=self.raw) for v, t in zip(flat, self.inputs)]

    def output(self) -> Any:
        """f's result as the caller gets it."""
        return _tree.unflatten(self.out_tree, [deliver_output(x, nested=self.nested, raw=self.raw)
                                               for x in self.out_leaves])

    def aux_output(self) -> Any:
        return _tree.map(lambda x: deliver_output(x, nested=self.nested, raw=self.raw), self.aux)


def _name(f: Callable) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or repr(f)
