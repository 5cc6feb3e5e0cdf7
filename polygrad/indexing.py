"""x[key] and x[key] = v for Values: basic keys go to the getitem and setitem rules, integer
arrays to take and put.

Integer-array indices are turned into one flat index over the axes they cover, so
their gradient is a single scatter_add (repeated indices add up) and the index
arithmetic stays in the graph, where replay recomputes it.

Writing is copy-on-write, with JAX's ``x.at[key].set(v)`` as the model: ``x[key] = v``
records a new node and moves it into the Value object ``x`` (``_graph.rebind``); the nodes
built from ``x`` before keep the value they were built from, and gradients reach it.

Integer indices out of range raise ``IndexingError`` (an IndexError) on every backend,
checked on the host whenever the index data exists (JAX would clamp or give nan, MLX
would read memory it never wrote).
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import _state
from ._graph import Value, _constant, apply, rebind
from .errors import BackendError, GradientError, IndexingError, ShapeError

__all__ = ["getitem", "setitem", "check_indices"]


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


def _normalize(key: Any) -> tuple:
    return tuple(map(_plain, key)) if isinstance(key, tuple) else (_plain(key),)


# -- bounds ----------------------------------------------------------------------------------

def check_indices(op: str, indices: Any, size: int, axis: int, shape: tuple, on) -> np.ndarray | None:
    """IndexingError naming ``op``, the axis and ``shape`` if an integer index in ``indices``
    (a Value, a backend array, a NumPy array or a list) lies outside [-size, size).

    Checked on the host (a NumPy min and max), and only where the data exists: an index
    computed from a placeholder is checked by nobody (the backend, at forward()). Returns
    the indices on the host (None where there is no data)."""
    data = indices.data if isinstance(indices, Value) else indices
    if data is None:
        return None
    host = np.asarray(data) if isinstance(data, (np.ndarray, list, tuple)) else np.asarray(on.to_numpy(data))
    if host.size == 0 or host.dtype.kind not in "iu":
        return host  # not integers: the op itself says so, naming the dtype
    low, high = host.min(), host.max()
    if high >= size or (host.dtype.kind == "i" and low < -size):
        bad = high if high >= size else low
        raise IndexingError(f"{op}: index {int(bad)} is out of bounds for axis {axis} of size {size} "
                            f"(input shape {shape})")
    return host


def _check_integer_keys(op: str, key: tuple, shape: tuple) -> None:
    """Integers in a basic key against the axes they index (JAX would clamp them silently)."""
    consuming = [k for k in _expand_ellipsis(op, key, len(shape)) if k is not None]
    for axis, k in enumerate(consuming):
        size = shape[axis]
        if isinstance(k, int) and size is not None and not -size <= k < size:
            raise IndexingError(f"{op}: index {k} is out of bounds for axis {axis} of size {size} "
                                f"(input shape {shape})")


def _expand_ellipsis(op: str, key: tuple, ndim: int) -> tuple:
    consuming = sum(1 for k in key if k is not None and k is not Ellipsis)
    if sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexingError(f"{op}: an index can have only one ellipsis (...), got {key}")
    if consuming > ndim:
        raise IndexingError(f"{op}: too many indices ({consuming}) for a Value with {ndim} axes")
    fill = (slice(None),) * (ndim - consuming)
    positions = [i for i, k in enumerate(key) if k is Ellipsis]
    if positions:
        i = positions[0]
        return key[:i] + fill + key[i + 1:]
    return key + fill


def _pad_basic(key: tuple, shape: tuple | None) -> tuple:
    """x[1] on a matrix: NumPy pads, the standard wants every axis."""
    if shape is not None and not any(k is Ellipsis for k in key) and (
        sum(1 for k in key if k is not None) < len(shape)
    ):
        return key + (Ellipsis,)
    return key


# -- reading ---------------------------------------------------------------------------------

def getitem(x: Value, key: Any) -> Value:
    key = _normalize(key)
    arrays = [i for i, k in enumerate(key) if _is_index_array(k, x)]
    if not arrays:
        key = _pad_basic(key, x.shape)
        if x.shape is not None:
            _check_integer_keys("getitem", key, x.shape)
        return apply("getitem", x, key=key)
    mask = _lone_mask(key, x)
    if mask is not None:
        if x.backend.boolean_masks:
            # A boolean mask: the backend indexes it; the gradient scatters back through it.
            return apply("getitem", x, key=(mask.data,))
        # The backend cannot index by mask: index by the mask's positions instead.
        key = _mask_positions(mask, x)
    plan = _plan("getitem", x, key)
    if plan.basic is not None:
        x = apply("getitem", x, key=plan.basic)
    merged = x if plan.merged else apply("reshape", x, shape=plan.merged_shape)
    taken = apply("take", merged, plan.flat, axis=plan.start)
    if len(plan.index_shape) == 1:
        return taken
    return apply("reshape", taken, shape=plan.before + plan.index_shape + plan.after)


def _lone_mask(key: tuple, x: Value) -> Value | None:
    """The key's boolean mask, as a Value, when the key is one boolean array."""
    if len(key) != 1:
        return None
    index = _as_index(key[0], x)
    return None if x.backend.xp.isdtype(index.dtype, "integral") else index


def _mask_positions(mask: Value, x: Value) -> tuple:
    positions = x.backend.xp.nonzero(mask._require_data("getitem"))
    return tuple(Value._node(p, None, (), {}, False, x.backend) for p in positions)


class _Plan:
    """Integer-array indexing as one flat index into the axes the arrays cover.

    basic: the key's basic part, applied first (None where it selects everything);
    start: the first covered axis; covered: the covered axes' sizes multiplied;
    before/after: the sizes of the other axes (-1 for a placeholder's unknown one);
    flat: the flat index (a 1-D integer Value); index_shape: the index arrays' shape;
    host_flat: the flat index on the host where every index's data is known (else None);
    merged_shape: the shape with the covered axes as one; merged: whether that is the shape."""

    __slots__ = ("basic", "start", "covered", "before", "after", "flat", "index_shape", "host_flat",
                 "merged_shape", "merged")


def _plan(op: str, x: Value, key: tuple) -> _Plan:
    key = _expand_ellipsis(op, key, x.ndim)
    # With an integer array present, plain integers index like 0-d arrays (NumPy, the standard).
    advanced = [i for i, k in enumerate(key) if _is_index_array(k, x) or isinstance(k, int)]
    if advanced != list(range(advanced[0], advanced[-1] + 1)):
        raise IndexingError(
            f"{op}: integer-array indices must sit on consecutive axes "
            f"(got a key with them at positions {advanced}); index in two steps instead"
        )
    plan = _Plan()
    # First the basic part: slices and None, with every advanced component kept whole.
    basic = tuple(slice(None) if i in advanced else k for i, k in enumerate(key))
    plan.basic = None if all(isinstance(k, slice) and k == slice(None) for k in basic) else basic
    shape = x.shape if plan.basic is None else _basic_shape(basic, x.shape)
    plan.start = start = advanced[0]  # only slices and None precede it, one result axis each
    axes = tuple(range(start, start + len(advanced)))
    if shape is None or any(shape[a] is None for a in axes) or shape.count(None) > 1:
        raise ShapeError(
            f"{op}: integer-array indexing of a Value of shape {x.shape} needs the sizes of the "
            "indexed axes, and at most one other axis of unknown size (None)"
        )
    sizes = tuple(shape[a] for a in axes)
    indices, hosts = [], []
    for size, i in zip(sizes, advanced):
        k = key[i]
        x_axis = sum(1 for c in key[:i] if c is not None)
        if isinstance(k, int):
            if not -size <= k < size:
                raise IndexingError(f"{op}: index {k} is out of bounds for axis {x_axis} of size {size} "
                                    f"(input shape {x.shape})")
            indices.append(k)
            hosts.append(k)
            continue
        host = k if isinstance(k, (np.ndarray, list)) else None  # checked before any device copy
        k = _as_index(k, x)
        if not x.backend.xp.isdtype(k.dtype, "integral"):
            raise IndexingError(f"{op}: index arrays must be integers, got {k.dtype} (input shape {x.shape})")
        indices.append(k)
        hosts.append(check_indices(op, k if host is None else host, size, x_axis, x.shape, x.backend))
    # One flat index over the covered axes: sum of index * stride, negatives wrapped. An index
    # whose data is known (a constant) and holds no negative needs no wrapping.
    flat, host_flat, stride = None, 0, 1
    for index, host, size in reversed(list(zip(indices, hosts, sizes))):
        if host is None or host_flat is None:
            host_flat = None
        else:
            host_flat = host_flat + (np.asarray(host) % size) * stride if size else host_flat
        if isinstance(index, int):
            term = (index % size if size else index) * stride
        else:
            if not (index.op is None and host is not None and (not host.size or host.min() >= 0)):
                index = apply("where", apply("less", index, 0), apply("add", index, size), index)
            term = index if stride == 1 else apply("multiply", index, stride)
        if flat is None:
            flat = term
        elif isinstance(term, Value) or isinstance(flat, Value):
            flat = apply("add", term, flat)
        else:
            flat = term + flat
        stride *= size
    if not isinstance(flat, Value):
        flat = _as_index(x.backend.asarray(flat, dtype=x.backend.xp.int64), x)
    plan.index_shape = tuple(flat.shape)
    plan.host_flat = None if host_flat is None else np.broadcast_to(host_flat, plan.index_shape)
    # A placeholder's one axis of unknown size (None) is -1 to reshape.
    plan.before, plan.after = (tuple(-1 if n is None else n for n in part)
                               for part in (shape[:start], shape[start + len(advanced):]))
    plan.covered = math.prod(sizes)
    count = math.prod(plan.index_shape)
    plan.flat = flat if plan.index_shape == (count,) else apply("reshape", flat, shape=(count,))
    plan.merged_shape = plan.before + (plan.covered,) + plan.after
    plan.merged = plan.merged_shape == shape  # one covered axis: no reshape needed
    return plan


def _basic_shape(key: tuple, shape: tuple | None) -> tuple | None:
    """The shape of x[key] for a basic key that names every axis (Ellipsis expanded)."""
    if shape is None:
        return None
    result, axis = [], 0
    for k in key:
        if k is None:
            result.append(1)
            continue
        size = shape[axis]
        axis += 1
        if isinstance(k, slice):
            result.append(None if size is None else len(range(*k.indices(size))))
        # an integer drops its axis
    return tuple(result)


# -- writing ---------------------------------------------------------------------------------

def setitem(x: Value, key: Any, value: Any) -> None:
    """x[key] = value: x becomes a new node, x.at[key].set(value); see the module docstring."""
    _check_writable(x)
    value = _as_values(value, x)
    key = _normalize(key)
    arrays = [i for i, k in enumerate(key) if _is_index_array(k, x)]
    if not arrays:
        if x.shape is None:  # a node under a placeholder: the backend expands the key at forward()
            if any(k is None for k in key):
                raise ShapeError("setitem: a key with None needs the shape of the Value written into; "
                                 "feed its placeholders first")
            written = apply("setitem", x, value, key=key if Ellipsis in key else key + (Ellipsis,))
        else:
            key = _pad_basic(key, x.shape)
            _check_integer_keys("setitem", key, x.shape)
            written = _write_basic(x, _expand_ellipsis("setitem", key, x.ndim), value)
    else:
        mask = _lone_mask(key, x)
        if mask is not None and x.backend.boolean_masks:
            written = apply("setitem", x, value, key=(mask.data,))
        else:
            written = _write_advanced(x, key if mask is None else _mask_positions(mask, x), value)
    if not _state.is_grad_enabled() and x.op is None:
        # no_grad: the leaf stays a leaf (a parameter keeps requiring its gradient), as PyTorch
        written = Value._node(written.data, None, (), {}, x.requires_grad, x.backend)
    rebind(x, written)


def _check_writable(x: Value) -> None:
    if (x.op is None and x.requires_grad and _state.is_grad_enabled()
            and id(x) not in _state.writable_leaves()):
        raise GradientError(
            f"setitem: cannot write into a leaf that requires a gradient (shape {x.shape}): "
            "its .grad would describe a value it no longer holds. Write into a copy "
            "(y = pg.asarray(x, copy=True); y[key] = v), change its data without recording "
            "under `with pg.no_grad():` (as in PyTorch), or differentiate a function that "
            "writes into its argument with pg.grad"
        )


def _as_values(value: Any, x: Value) -> Value:
    """The written values as a Value of x's dtype (x's dtype never changes, as in NumPy)."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if not isinstance(value, Value):
        value = _constant(value, x.backend, x, "setitem")
    elif value.backend is not x.backend:
        raise BackendError(f"setitem: cannot write a {value.backend.name} Value into a {x.backend.name} Value; "
                           f"move it with .to({x.backend.name!r})")
    if _dtype_or_none(value) != _dtype_or_none(x):  # unknown before a placeholder is fed: left be
        value = apply("astype", value, dtype=x.dtype)
    return value


def _dtype_or_none(x: Value):
    return x.dtype if x.data is not None or x._dtype is not None else None


def _write_basic(x: Value, key: tuple, value: Value) -> Value:
    """x.at[key].set(value) for a basic key naming every axis."""
    if any(k is None for k in key):
        # Array assignment keys may not hold None: the axes it adds have size 1; drop them.
        with_none = _basic_shape(key, x.shape)
        key = tuple(k for k in key if k is not None)
        without = _basic_shape(key, x.shape)
        if tuple(value.shape) != with_none:
            value = apply("broadcast_to", value, shape=with_none)
        value = apply("reshape", value, shape=without)
    return apply("setitem", x, value, key=key)


def _write_advanced(x: Value, key: tuple, value: Value) -> Value:
    """x.at[key].set(value) for a key with integer arrays: put into the covered axes."""
    plan = _plan("setitem", x, key)
    part = x if plan.basic is None else apply("getitem", x, key=plan.basic)
    merged = part if plan.merged else apply("reshape", part, shape=plan.merged_shape)
    target = plan.before + plan.index_shape + plan.after
    if tuple(value.shape) != target:
        value = apply("broadcast_to", value, shape=target)
    if len(plan.index_shape) != 1:
        value = apply("reshape", value, shape=plan.before + (math.prod(plan.index_shape),) + plan.after)
    # Known indices that never repeat spare the gradient the search for the write that won.
    unique = plan.host_flat is not None and np.unique(plan.host_flat).size == plan.host_flat.size
    written = apply("put", merged, plan.flat, value, axis=plan.start, unique_indices=unique)
    if not plan.merged:
        written = apply("reshape", written, shape=part.shape)
    if plan.basic is None:
        return written
    return _write_basic(x, plan.basic, written)
