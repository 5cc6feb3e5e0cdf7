"""The rules table: every op polygrad differentiates, forward and vjp side by side.

A rule is two functions written against an array-API namespace ``xp``:

  forward(xp, *arrays, **attrs) -> array
  vjp(xp, g, out, *arrays, **attrs) -> one cotangent per input

and optionally ``checks(shapes, attrs)``, which words a shape error the same on every
backend. One module per family registers its rules in ``RULES`` as it is imported;
adding an op is adding one entry to a family (or a new family module imported here).
See ``_core`` for the contract (lazy cotangents, domains, no unbroadcasting in rules).
"""
from __future__ import annotations

from . import elementwise, fft, indexing, linalg, manipulation, nn, nondiff, outputs, reductions  # noqa: F401 - they register
from . import special  # noqa: F401 - registers "special.<name>"
from . import elementwise, indexing, linalg, manipulation, nn, nondiff, reductions  # noqa: F401 - they register
from . import batching  # noqa: F401,E402 - batching rules for vmap, after every family
from ._core import RULES, Rule, broadcast_shapes, defrule, normalize_axes, normalize_axis

__all__ = ["Rule", "RULES", "defrule", "normalize_axis", "normalize_axes", "broadcast_shapes"]
