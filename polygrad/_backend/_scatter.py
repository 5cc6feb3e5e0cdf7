"""The two scatters the indexing rules need, written with standard functions only.

Loaders use these where their library has nothing faster (see each loader).
"""
from __future__ import annotations

import math
from typing import Any, Callable

__all__ = ["standard_scatter", "standard_scatter_add"]


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
