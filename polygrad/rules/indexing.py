"""Indexing and its transposes: getitem, scatter, take, scatter_add."""
from __future__ import annotations


from ._core import defrule, normalize_axis


# -- indexing --------------------------------------------------------------------------------

@defrule("getitem")
def getitem(xp, x, *, key):
    """x[key] for a basic key: integers, slices, None and Ellipsis"""
    return x[key]


@getitem.defvjp
def getitem_vjp(xp, g, out, x, *, key):
    return (xp.scatter(g, key, x.shape),)


@defrule("scatter")
def scatter(xp, values, *, key, shape):
    """zeros(shape) with values written at a basic key: the transpose of getitem"""
    return xp.scatter(values, key, shape)


@scatter.defvjp
def scatter_vjp(xp, g, out, values, *, key, shape):
    return (g[key],)


@defrule("take")
def take(xp, x, indices, *, axis=None):
    """x's elements at integer indices along axis; repeated indices add up in the gradient"""
    return xp.take(x, indices, axis=axis)


@take.defvjp
def take_vjp(xp, g, out, x, indices, *, axis=None):
    axis = 0 if axis is None else normalize_axis(axis, x.ndim)
    return xp.scatter_add(g, indices, x.shape, axis), None


@defrule("scatter_add")
def scatter_add(xp, values, indices, *, shape, axis):
    """zeros(shape) with values added at indices along axis: the transpose of take"""
    return xp.scatter_add(values, indices, shape, axis)


@scatter_add.defvjp
def scatter_add_vjp(xp, g, out, values, indices, *, shape, axis):
    return xp.take(g, indices, axis=axis), None
