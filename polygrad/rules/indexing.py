"""Indexing and its transposes: getitem, scatter, take, scatter_add, take_along_axis; and
writing: setitem (a basic key or a mask) and put (integer indices along an axis), both
copy-on-write, as JAX's x.at[key].set(values)."""
from __future__ import annotations

import math

from ._core import defrule, normalize_axis, scalar


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


@defrule("take_along_axis")
def take_along_axis(xp, x, indices, *, axis=-1):
    """x's elements at indices along axis (indices of x's rank; the other axes broadcast)"""
    return xp.take_along_axis(x, indices, axis=axis)


@take_along_axis.defvjp
def take_along_axis_vjp(xp, g, out, x, indices, *, axis=-1):
    return (lambda: _add_along_axis(xp, g, indices, normalize_axis(axis, x.ndim), x.shape[axis]), None)


def _add_along_axis(xp, g, indices, axis, n):
    """zeros with g's elements added at indices along axis: one scatter_add over flat positions.

    The result has g's shape with n along axis (x's, broadcast); the engine sums it back."""
    shape = tuple(g.shape)
    target = shape[:axis] + (n,) + shape[axis + 1:]
    indices = xp.broadcast_to(indices, shape)
    flat = xp.where(indices < 0, indices + n, indices)
    strides = [math.prod(target[i + 1:]) for i in range(len(shape))]  # C order
    if strides[axis] != 1:
        flat = flat * strides[axis]
    for i, size in enumerate(shape):
        if i != axis and size != 1:
            position = xp.reshape(xp.arange(size, dtype=indices.dtype), (1,) * i + (size,) + (1,) * (len(shape) - i - 1))
            flat = flat + (position * strides[i] if strides[i] != 1 else position)
    size = math.prod(target)
    summed = xp.scatter_add(xp.reshape(g, (-1,)), xp.reshape(flat, (-1,)), (size,), 0)
    return xp.reshape(summed, target)


# -- writing (copy-on-write): the Value's __setitem__ records these ------------------------------

@defrule("setitem")
def setitem(xp, x, values, *, key):
    """a copy of x with values written at a basic key or a boolean mask (JAX's x.at[key].set(values))"""
    return xp.setitem(x, key, values)


@setitem.defvjp
def setitem_vjp(xp, g, out, x, values, *, key):
    # x's cotangent is g where nothing was written; values' is g where it was (the engine
    # sums it back over the axes values was broadcast along).
    return lambda: xp.setitem(g, key, scalar(xp, 0, g)), lambda: g[key]


@defrule("put")
def put(xp, x, indices, values, *, axis, unique_indices=False):
    """a copy of x with the slices of values along axis written at 1-D integer indices; where
    an index repeats, one write wins (the last, on NumPy and JAX's CPU) and only it takes a
    gradient (unique_indices=True: known not to repeat, as JAX's flag)"""
    return xp.put(x, indices, values, axis)


@put.defvjp
def put_vjp(xp, g, out, x, indices, values, *, axis, unique_indices=False):
    def of_values():
        if unique_indices:
            return xp.take(g, indices, axis=axis)
        count = indices.shape[0]
        # Which write won each position: write every write's number the same way, read it back.
        numbers = xp.arange(count, dtype=indices.dtype)
        last = xp.put(xp.full((x.shape[axis],), -1, dtype=indices.dtype), indices, numbers, 0)
        won = xp.astype(xp.take(last, indices, axis=0) == numbers, g.dtype)
        won = xp.reshape(won, (1,) * axis + (count,) + (1,) * (g.ndim - axis - 1))
        return xp.take(g, indices, axis=axis) * won
    return lambda: xp.put(g, indices, scalar(xp, 0, g), axis), None, of_values
