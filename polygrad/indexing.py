"""x[key] for Values: basic keys go to the getitem rule, integer arrays to take.

Integer-array indices are turned into one flat index over the axes they cover, so
their gradient is a single scatter_add (repeated indices add up) and the index
arithmetic stays in the graph, where replay recomputes it.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import IndexingError, ShapeError
from ._graph import Value, apply

__all__ = ["getitem"]


def _is_index_array(component: Any, x: Value) -> bool:
    return isinstance(component, (Value, list)) or hasattr(component, "shape") and hasattr(component, "dtype")


def _as_index(component: Any, x: Value) -> Value:
    """An index array as a constant Value of x's backend (NumPy arrays and lists converted)."""
    if isinstance(component, Value):
        return component
    if not x.backend.is_array(component):
        component = x.backend.asarray(component)
    return Value._node(component, None, (), {}, False, x.backend)


def _plain(component: Any) -> Any:
    """NumPy integer scalars as Python ints, so they index as integers do."""
    return int(component) if isinstance(component, numbers.Integral) and not isinstance(component, bool) else component


def getitem(x: Value, key: Any) -> Value:
    key = tuple(map(_plain, key)) if isinstance(key, tuple) else (_plain(key),)
    arrays = [i for i, k in enumerate(key) if _is_index_array(k, x)]
    if not arrays:
        shape = x.shape
        if shape is not None and not any(k is Ellipsis for k in key) and (
            sum(1 for k in key if k is not None) < len(shape)
        ):
            key = key + (Ellipsis,)  # x[1] on a matrix: NumPy pads, the standard wants every axis
        if shape is not None:
            _check_integer_keys(key, shape)
        return apply("getitem", x, key=key)
    if len(key) == 1:
        index = _as_index(key[0], x)
        if not x.backend.xp.isdtype(index.dtype, "integral"):
            if x.backend.boolean_masks:
                # A boolean mask: the backend indexes it; the gradient scatters back through it.
                return apply("getitem", x, key=(index.data,))
            # The backend cannot index by mask: index by the mask's positions instead.
            positions = x.backend.xp.nonzero(index.data)
            return _advanced(x, tuple(Value._node(p, None, (), {}, False, x.backend) for p in positions))
    return _advanced(x, key)


def _check_integer_keys(key: tuple, shape: tuple) -> None:
    """Integers in a basic key against the axes they index (JAX would clamp them silently)."""
    consuming = [k for k in _expand_ellipsis(key, len(shape), False) if k is not None]
    for axis, k in enumerate(consuming):
        size = shape[axis]
        if isinstance(k, int) and size is not None and not -size <= k < size:
            raise ShapeError(f"getitem: index {k} is out of bounds for axis {axis} of size {size} "
                             f"(Value shape {shape})")


def _expand_ellipsis(key: tuple, ndim: int, arrays: bool) -> tuple:
    consuming = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexingError(f"getitem: an index can have only one ellipsis (...), got {key}")
    if consuming > ndim:
        raise IndexingError(f"getitem: too many indices ({consuming}) for a Value with {ndim} axes")
    fill = (slice(None),) * (ndim - consuming)
    positions = [i for i, k in enumerate(key) if k is Ellipsis]
    if positions:
        i = positions[0]
        return key[:i] + fill + key[i + 1:]
    return key + fill


def _advanced(x: Value, key: tuple) -> Value:
    key = _expand_ellipsis(key, x.ndim, True)
    # With an integer array present, plain integers index like 0-d arrays (NumPy, the standard).
    advanced = [i for i, k in enumerate(key) if _is_index_array(k, x) or isinstance(k, int)]
    if advanced != list(range(advanced[0], advanced[-1] + 1)):
        raise IndexingError(
            "getitem: integer-array indices must sit on consecutive axes "
            f"(got a key with them at positions {advanced}); index in two steps instead"
        )
    # First the basic part: slices and None, with every advanced component kept whole.
    basic = tuple(slice(None) if i in advanced else k for i, k in enumerate(key))
    start = advanced[0]  # only slices and None precede it, one result axis each
    if any(not (isinstance(k, slice) and k == slice(None)) for k in basic):
        x = apply("getitem", x, key=basic)
    axes = tuple(range(start, start + len(advanced)))
    if x.shape is None or any(x.shape[a] is None for a in axes) or x.shape.count(None) > 1:
        raise ShapeError(
            f"getitem: integer-array indexing of a Value of shape {x.shape} needs the sizes of the "
            "indexed axes, and at most one other axis of unknown size (None)"
        )
    sizes = tuple(x.shape[a] for a in axes)
    indices = [_as_index(key[i], x) if not isinstance(key[i], int) else key[i] for i in advanced]
    _check_bounds(indices, sizes, x)
    # One flat index over the covered axes: sum of index * stride, negatives wrapped.
    flat = 0
    stride = 1
    for index, size in reversed(list(zip(indices, sizes))):
        if isinstance(index, int):
            index = index % size if size else index
        else:
            index = apply("where", apply("less", index, 0), apply("add", index, size), index)
        term = apply("multiply", index, stride) if isinstance(index, Value) else index * stride
        flat = apply("add", term, flat) if isinstance(term, Value) or isinstance(flat, Value) else term + flat
        stride *= size
    if not isinstance(flat, Value):
        flat = _as_index(x.backend.asarray(flat, dtype=x.backend.xp.int64), x)
    index_shape = tuple(flat.shape)
    # A placeholder's one axis of unknown size (None) is -1 to reshape.
    before, after = (tuple(-1 if n is None else n for n in part)
                     for part in (x.shape[:start], x.shape[start + len(advanced):]))
    merged = apply("reshape", x, shape=before + (math.prod(sizes),) + after)
    flat_index = apply("reshape", flat, shape=(math.prod(index_shape),))
    taken = apply("take", merged, flat_index, axis=start)
    return apply("reshape", taken, shape=before + index_shape + after)


def _check_bounds(indices: list, sizes: tuple, x: Value) -> None:
    xp = x.backend.xp
    for index, size in zip(indices, sizes):
        if isinstance(index, int):
            bad = not -size <= index < size
        elif index.data is None:
            continue  # a placeholder: checked by the backend at forward()
        else:
            data = index.data
            if not xp.isdtype(data.dtype, "integral"):
                raise IndexError(f"getitem: index arrays must be integers, got {data.dtype}")
            bad = bool(xp.any((data < -size) | (data >= size))) if math.prod(data.shape) else False
        if bad:
            raise ShapeError(f"getitem: index out of bounds for an axis of size {size} (Value shape {x.shape})")
