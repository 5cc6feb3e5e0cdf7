"""One node for a whole function call: the ``call`` op, shared by checkpoint, custom_vjp
and custom_jvp.

A node records (op, parents, attrs) and the engine asks ``RULES[op]`` for its vjp; a
function whose gradient is not the composition of its ops' rules (recomputed, or given by
the user) is recorded as one ``call`` node whose attrs hold a ``Call`` object: its
``forward(xp, *arrays)`` computes the outputs (replay runs it again) and its
``vjp(xp, g, out, *arrays)`` returns one cotangent per parent, like a rule's. In
``create_graph`` mode (a transform inside another) the engine passes Values and
polygrad's namespace, and the Call builds its cotangents as a graph.

The function's output leaves are packed into the node's one array: float leaves,
flattened and concatenated (a single leaf is kept as it is); ``unpack`` slices them back
out as Values that take gradients through the node.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import _state
from .. import namespace as pn
from .._graph import Value
from ..rules import defrule
from . import _tree
from ._trace import pack, unpack

__all__ = ["Call", "Arguments", "Outputs", "bind"]


class Call:
    """What a ``call`` node runs: subclasses give forward(xp, *arrays) and vjp(xp, g, out, *arrays)."""

    name = "call"

    def forward(self, xp: Any, *arrays: Any) -> Any:
        raise NotImplementedError

    def vjp(self, xp: Any, g: Any, out: Any, *arrays: Any) -> tuple:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name}>"


@defrule("call")
def call(xp, *arrays, fn):
    """a function run as one node (checkpoint, custom_vjp, custom_jvp): ``fn`` computes it"""
    return fn.forward(xp, *arrays)


@call.defvjp
def call_vjp(xp, g, out, *arrays, fn):
    return fn.vjp(xp, g, out, *arrays)


class Arguments:
    """A call's arguments split into Value leaves (the node's parents) and the rest.

    ``static`` positions (nondiff_argnums, static_argnums) are passed unchanged; the other
    arguments and the keyword arguments are flattened, and their Value leaves replaced by
    stand-ins when the function is run again.
    """

    def __init__(self, args: Sequence, kwargs: dict, static: Sequence[int] = ()):
        self.args = tuple(args)
        self.static = tuple(sorted(i % len(args) for i in static)) if args else ()
        dynamic = tuple(a for i, a in enumerate(self.args) if i not in self.static)
        self.leaves, self.tree = _tree.flatten((dynamic, dict(kwargs)))
        self.positions = [k for k, leaf in enumerate(self.leaves) if isinstance(leaf, Value)]
        self.arg_trees = [_tree.structure(a) for a in dynamic]

    def values(self) -> list[Value]:
        return [self.leaves[k] for k in self.positions]

    def static_args(self) -> tuple:
        return tuple(self.args[i] for i in self.static)

    def rebuild(self, values: Sequence, others: Any = None) -> tuple[tuple, dict]:
        """(dynamic args, kwargs) with ``values`` at the Value leaves; ``others(leaf)``, if
        given, replaces the other leaves."""
        leaves = list(self.leaves) if others is None else [others(x) for x in self.leaves]
        for k, v in zip(self.positions, values):
            leaves[k] = v
        dynamic, kwargs = _tree.unflatten(self.tree, leaves)
        return dynamic, kwargs

    def full(self, dynamic: Sequence) -> tuple:
        """All positional arguments: ``dynamic`` ones with the static ones put back in place."""
        args, it = [], iter(dynamic)
        for i in range(len(self.args)):
            args.append(self.args[i] if i in self.static else next(it))
        return tuple(args)


class Outputs:
    """How a function's output leaves sit in a call node: ``packed`` positions (float
    leaves that take gradients), the rest kept as they were (``kept``)."""

    def __init__(self, leaves: Sequence, tree: Any, packed: Sequence[int], on):
        self.tree = tree
        self.packed = tuple(packed)
        self.shapes = [tuple(leaves[k].shape) for k in self.packed]
        self.dtypes = [leaves[k].dtype for k in self.packed]
        self.kept = {k: _kept(leaf) for k, leaf in enumerate(leaves) if k not in self.packed}
        self.on = on

    def pack(self, xp: Any, leaves: Sequence) -> Any:
        """The packed array (or Value) of the float leaves at ``packed`` positions of ``leaves``."""
        chosen = [_data(leaves[k]) if xp is not pn else leaves[k] for k in self.packed]
        if len(chosen) == 1:
            return chosen[0]
        return pack(xp, chosen)  # mixed float dtypes promote; unpack casts each back

    def unpack(self, xp: Any, packed: Any) -> list:
        """The packed leaves, back in their shapes and dtypes."""
        return unpack(xp, packed, self.shapes, self.dtypes)

    def tree_from(self, pieces: Sequence, fill: Any) -> Any:
        """The output tree: ``pieces`` at the packed positions, ``fill(kept_leaf)`` elsewhere."""
        leaves = [None] * (len(self.packed) + len(self.kept))
        for k, piece in zip(self.packed, pieces):
            leaves[k] = piece
        for k, leaf in self.kept.items():
            leaves[k] = fill(leaf)
        return _tree.unflatten(self.tree, leaves)


def _kept(leaf: Any) -> Any:
    """An output leaf that takes no gradient, without the graph that made it."""
    return leaf.detach() if isinstance(leaf, Value) and leaf.data is not None else leaf


def _data(leaf: Any) -> Any:
    return leaf.data if isinstance(leaf, Value) else leaf


def bind(fn: Call, parents: Sequence[Value], data: Any, outputs: Outputs) -> Any:
    """Record the call node over ``parents`` holding ``data`` and return the function's
    output tree, its float leaves slices of the node."""
    on = outputs.on
    requires = _state.is_grad_enabled() and any(p.requires_grad for p in parents)
    node = Value._node(data, "call", tuple(parents), {"fn": fn}, requires, on)
    with _state.grad_mode(requires):
        pieces = outputs.unpack(pn, node) if outputs.packed else []
    return outputs.tree_from(pieces, lambda leaf: leaf)


def stand_in(array_or_value: Any, on, *, needs_grad: bool, create_graph: bool) -> Value:
    """The Value a re-run of the function sees for one parent: in create_graph mode an
    identity node on the parent (so the cotangents it yields keep their graph), otherwise
    a fresh leaf around the array."""
    if create_graph:
        parent = array_or_value
        if needs_grad and parent.requires_grad:
            return Value._node(parent.data, "reshape", (parent,), {"shape": tuple(parent.shape)}, True, on)
        return Value._wrap(parent.data, on)
    return Value._wrap(array_or_value, on, requires_grad=needs_grad)
