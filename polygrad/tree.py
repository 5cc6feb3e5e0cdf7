"""Pytree utilities, as ``jax.tree``: ``pg.tree.map``, ``flatten``, ``unflatten``, ``leaves``,
``structure``; ``register_dataclass`` and ``register_pytree_node`` as in ``jax.tree_util``.

Every transform (grad, vjp, jacrev, checkpoint...) takes and returns pytrees through these.
Built on optree; see ``polygrad/transforms/_tree.py``.
"""
from .transforms._tree import PyTreeDef as PyTreeDef
from .transforms._tree import flatten as flatten
from .transforms._tree import leaves as leaves
from .transforms._tree import map as map  # noqa: A004 - jax.tree.map's name
from .transforms._tree import register_dataclass as register_dataclass
from .transforms._tree import register_pytree_node as register_pytree_node
from .transforms._tree import structure as structure
from .transforms._tree import unflatten as unflatten

__all__ = ["map", "flatten", "unflatten", "leaves", "structure", "register_dataclass",
           "register_pytree_node", "PyTreeDef"]
