"""Pytrees, through optree: nested dicts, lists, tuples, namedtuples, None and dataclasses
whose leaves are Values, arrays or numbers.

Every transform flattens its arguments and results with these functions, so a structure
works everywhere once it works here. The registry is optree's, in polygrad's own
namespace: registering a type for polygrad changes nothing for other optree users, and a
type registered with optree globally is a pytree here too.

Dataclass instances are pytrees without being registered (JAX asks for
``register_dataclass`` first): their fields are the children, except fields declared
``field(metadata={"static": True})``, which are kept in the structure as metadata. The
first time ``flatten`` meets an unregistered dataclass it registers its type that way;
``register_dataclass`` chooses the fields explicitly.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Sequence

import optree

__all__ = [
    "NAMESPACE", "PyTreeDef", "map", "flatten", "unflatten", "leaves", "structure", "paths",
    "register_dataclass", "register_pytree_node",
]

NAMESPACE = "polygrad"
PyTreeDef = optree.PyTreeSpec

_automatic: set[type] = set()  # dataclass types registered on first sight, not by the user


def _register_found(tree: Any) -> None:
    """Register the dataclass types met as leaves of ``tree`` (nested ones too): with no
    ``is_leaf``, a dataclass instance is a leaf only while its type is unregistered."""
    while True:
        new = {type(x) for x in optree.tree_leaves(tree, namespace=NAMESPACE)
               if dataclasses.is_dataclass(x) and not isinstance(x, type)}
        if not new:
            return
        for cls in new:
            register_dataclass(cls)
            _automatic.add(cls)


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, PyTreeDef]:
    """(leaves, treedef), as ``jax.tree.flatten``; None is an empty node, as in JAX."""
    _register_found(tree)
    return optree.tree_flatten(tree, is_leaf, namespace=NAMESPACE)


def unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """The tree of structure ``treedef`` holding ``leaves``, as ``jax.tree.unflatten``."""
    return optree.tree_unflatten(treedef, list(leaves))


def leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list:
    """The leaves of ``tree``, in flattening order, as ``jax.tree.leaves``."""
    return flatten(tree, is_leaf)[0]


def structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The treedef of ``tree``, as ``jax.tree.structure``."""
    return flatten(tree, is_leaf)[1]


def map(f: Callable[..., Any], tree: Any, *rest: Any,  # noqa: A001 - jax.tree.map's name
        is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``f`` applied leaf by leaf to ``tree`` and trees of the same structure, as ``jax.tree.map``."""
    _register_found(tree)
    for other in rest:
        _register_found(other)
    return optree.tree_map(f, tree, *rest, is_leaf=is_leaf, namespace=NAMESPACE)


def paths(tree: Any) -> list[str]:
    """Each leaf's place in ``tree`` as Python would index it, e.g. ``['layers'][0]``: for messages."""
    _register_found(tree)
    return [accessor.codify("") for accessor in optree.tree_accessors(tree, namespace=NAMESPACE)]


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable) -> type:
    """Make ``nodetype`` a pytree, as ``jax.tree_util.register_pytree_node``:
    ``flatten_func(node) -> (children, aux_data)``, ``unflatten_func(aux_data, children) -> node``."""
    optree.register_pytree_node(nodetype, flatten_func, unflatten_func, namespace=NAMESPACE)
    return nodetype


def register_dataclass(nodetype: type, data_fields: Sequence[str] | None = None,
                       meta_fields: Sequence[str] | None = None) -> type:
    """Make dataclass ``nodetype`` a pytree, as ``jax.tree_util.register_dataclass``: the
    ``data_fields`` are children, the ``meta_fields`` are kept in the structure (they must
    be hashable). Left out, the meta fields are those declared
    ``field(metadata={"static": True})`` and the data fields all the others. Usable as a
    decorator. Rebuilding a node sets its fields without calling ``__init__``."""
    if not dataclasses.is_dataclass(nodetype) or not isinstance(nodetype, type):
        raise TypeError(f"register_dataclass: {nodetype!r} is not a dataclass type")
    names = [f.name for f in dataclasses.fields(nodetype)]
    if meta_fields is None:
        static = [f.name for f in dataclasses.fields(nodetype) if f.metadata.get("static", False)]
        meta_fields = [n for n in static if data_fields is None or n not in data_fields]
    if data_fields is None:
        data_fields = [n for n in names if n not in meta_fields]
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if sorted(data_fields + meta_fields) != sorted(names):
        raise ValueError(
            f"register_dataclass: {nodetype.__name__} has fields {names}; data_fields {list(data_fields)} "
            f"and meta_fields {list(meta_fields)} must name each of them exactly once"
        )

    def flatten_node(node):
        children = tuple(getattr(node, n) for n in data_fields)
        return children, tuple(getattr(node, n) for n in meta_fields), data_fields

    def unflatten_node(meta, children):
        node = object.__new__(nodetype)  # frozen dataclasses too; __post_init__ is not re-run
        for name, value in zip(data_fields, children):
            object.__setattr__(node, name, value)
        for name, value in zip(meta_fields, meta):
            object.__setattr__(node, name, value)
        return node

    if nodetype in _automatic:  # registered on first sight; the user's choice replaces it
        optree.unregister_pytree_node(nodetype, namespace=NAMESPACE)
        _automatic.discard(nodetype)
    optree.register_pytree_node(nodetype, flatten_node, unflatten_node,
                                path_entry_type=optree.GetAttrEntry, namespace=NAMESPACE)
    return nodetype
