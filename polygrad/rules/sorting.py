"""Sorting with a gradient: sort (argsort, an integer result, is in nondiff)."""
from __future__ import annotations

from ._core import defrule


@defrule("sort")
def sort(xp, x, *, axis=-1, descending=False, stable=True):
    """x sorted along axis; each element's gradient is the cotangent of the place it was sorted to"""
    return xp.sort(x, axis=axis, descending=descending, stable=stable)


@sort.defvjp
def sort_vjp(xp, g, out, x, *, axis=-1, descending=False, stable=True):
    # Ties as JAX's: equal elements take their places in the order of a stable ascending
    # sort, reversed when descending (jnp.sort(descending=True) flips an ascending sort),
    # whatever `stable` says (it only frees the library to order ties as it likes).
    order = xp.argsort(x, axis=axis, stable=True)
    if descending:
        order = xp.flip(order, axis=axis)
    place = xp.argsort(order, axis=axis)  # the inverse permutation: where each element went
    return (xp.take_along_axis(g, place, axis=axis),)
