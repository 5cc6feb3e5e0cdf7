"""The scatters the indexing rules need, written with standard functions only, and the
writes (setitem, put) for libraries whose arrays take ``out[key] = values``.

Loaders use these where their library has nothing faster (see each loader). The writes
never change their input: polygrad's arrays are shared by the graph (copy-on-write).
"""
from __future__ import annotations

import math
from typing import Any, Callable

__all__ = ["standard_scatter", "standard_scatter_add", "copying_setitem", "copying_put", "standard_put"]


def standard_scatter(xp: Any) -> Callable:
    def scatter(values, key, shape):
        out = xp.zeros(shape, dtype=values.dtype)
        if any(k is None for k in key):  # setitem keys may not hold None: drop those axes
            key = tuple(k for k in key if k is not None)
            values = xp.reshape(values, out[key].shape)
        # A lone component unwrapped: array-api-strict 2.6 rejects out[(empty_mask,)] = values
        # (a mask with no elements), though out[empty_mask] = values works.
        out[key[0] if len(key) == 1 else key] = values
        return out
    return scatter


def standard_scatter_add(xp: Any) -> Callable:
    """scatter_add with standard functions only: a one-hot matrix product.

    O(len(indices) * shape[axis]) work: fine for tests and the strict backend,
    which exists to prove standard compliance; fast backends override it.
    """
    def scatter_add(values, indices, shape, axis):
        n = shape[axis]
        moved = xp.moveaxis(values, axis, 0)
        rest = moved.shape[1:]
        flat = xp.reshape(moved, (moved.shape[0], math.prod(rest)))
        indices = xp.where(indices < 0, indices + n, indices)
        positions = xp.arange(n, dtype=indices.dtype)
        onehot = xp.astype(indices[:, None] == positions[None, :], values.dtype)
        summed = xp.matmul(xp.matrix_transpose(onehot), flat)
        return xp.moveaxis(xp.reshape(summed, (n, *rest)), 0, axis)
    return scatter_add


def _lone(key: tuple):
    # array-api-strict 2.6 rejects out[(mask,)] = values for an empty mask; out[mask] works
    return key[0] if len(key) == 1 else key


def copying_setitem(copy: Callable) -> Callable:
    """setitem(x, key, values): a copy of x (made by ``copy``) with values written at a basic
    key or a boolean mask."""
    def setitem(x, key, values):
        out = copy(x)
        out[_lone(key)] = values
        return out
    return setitem


def copying_put(copy: Callable) -> Callable:
    """put(x, indices, values, axis): a copy of x with the slices of values along axis written
    at 1-D integer indices, for libraries that index by integer arrays (the last write wins)."""
    def put(x, indices, values, axis):
        out = copy(x)
        if indices.shape[0] and math.prod(x.shape):  # MLX rejects an empty update
            out[(slice(None),) * axis + (indices,)] = values
        return out
    return put


def standard_put(xp: Any) -> Callable:
    """put with standard functions only (the standard has no integer-array assignment): a
    one-hot comparison finds the last write to each position. O(len(indices) * shape[axis])."""
    def put(x, indices, values, axis):
        n, count = x.shape[axis], indices.shape[0]
        if count == 0:
            return xp.asarray(x, copy=True)
        written = tuple(x.shape[:axis]) + (count,) + tuple(x.shape[axis + 1:])
        values = xp.broadcast_to(xp.asarray(values, dtype=x.dtype), written)
        indices = xp.where(indices < 0, indices + n, indices)
        numbers = xp.arange(count, dtype=indices.dtype)
        hits = indices[:, None] == xp.arange(n, dtype=indices.dtype)[None, :]
        last = xp.max(xp.where(hits, numbers[:, None], xp.asarray(-1, dtype=indices.dtype)), axis=0)
        source = xp.take(values, xp.where(last < 0, xp.zeros_like(last), last), axis=axis)
        mask = xp.reshape(last >= 0, (1,) * axis + (n,) + (1,) * (x.ndim - axis - 1))
        return xp.where(mask, source, x)
    return put
