"""Shape manipulation: reshape, permute_dims, expand_dims, squeeze, broadcast_to, concat, stack."""
from __future__ import annotations

import math

from ._core import broadcast_shapes, defrule, normalize_axis


# -- shape -----------------------------------------------------------------------------------

@defrule("reshape")
def reshape(xp, x, *, shape):
    """the same elements in a new shape (C order)"""
    return xp.reshape(x, shape)


@reshape.defchecks
def reshape_checks(shapes, attrs):
    target = tuple(attrs["shape"])
    if -1 not in target and None not in target and math.prod(target) != math.prod(shapes[0]):
        return (f"cannot reshape shape {shapes[0]} ({math.prod(shapes[0])} elements) into "
                f"{target} ({math.prod(target)} elements)")
    return None


@reshape.defvjp
def reshape_vjp(xp, g, out, x, *, shape):
    return (xp.reshape(g, x.shape),)


@defrule("permute_dims")
def permute_dims(xp, x, *, axes):
    """axes reordered: result axis i is input axis axes[i]"""
    return xp.permute_dims(x, axes)


@permute_dims.defvjp
def permute_dims_vjp(xp, g, out, x, *, axes):
    return (xp.permute_dims(g, tuple(sorted(range(len(axes)), key=axes.__getitem__))),)


@defrule("matrix_transpose")
def matrix_transpose(xp, x):
    """the last two axes swapped"""
    return xp.matrix_transpose(x)


@matrix_transpose.defvjp
def matrix_transpose_vjp(xp, g, out, x):
    return (xp.matrix_transpose(g),)


@defrule("expand_dims")
def expand_dims(xp, x, *, axis):
    """a size-1 axis inserted at axis"""
    return xp.expand_dims(x, axis=axis)


@expand_dims.defvjp
def expand_dims_vjp(xp, g, out, x, *, axis):
    return (xp.reshape(g, x.shape),)


@defrule("squeeze")
def squeeze(xp, x, *, axis):
    """size-1 axes removed"""
    return xp.squeeze(x, axis=axis)


@squeeze.defvjp
def squeeze_vjp(xp, g, out, x, *, axis):
    return (xp.reshape(g, x.shape),)


@defrule("broadcast_to")
def broadcast_to(xp, x, *, shape):
    """x repeated along new leading and size-1 axes; the engine sums the gradient back"""
    return xp.broadcast_to(x, shape)


@broadcast_to.defchecks
def broadcast_to_checks(shapes, attrs):
    target = tuple(attrs["shape"])
    if broadcast_shapes(shapes[0], target) != target:
        return f"shape {shapes[0]} cannot be broadcast to {target}"
    return None


@broadcast_to.defvjp
def broadcast_to_vjp(xp, g, out, x, *, shape):
    return (g,)


@defrule("concat")
def concat(xp, *arrays, axis=0):
    """arrays joined along an existing axis (axis=None flattens them first)"""
    return xp.concat(arrays, axis=axis)


@concat.defchecks
def concat_checks(shapes, attrs):
    if len(shapes) < 2:
        return None
    axis = attrs.get("axis", 0)
    if len({len(s) for s in shapes}) > 1 or (axis is not None and -len(shapes[0]) <= axis < len(shapes[0]) and len({
            s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}) > 1):
        return f"shapes {', '.join(map(str, shapes))} differ outside the concatenation axis {axis}"
    return None


@concat.defvjp
def concat_vjp(xp, g, out, *arrays, axis=0):
    flatten = axis is None
    if flatten:
        g = xp.reshape(g, (-1,))
        axis = 0
    axis = normalize_axis(axis, g.ndim)
    pieces, start = [], 0
    for x in arrays:
        size = math.prod(x.shape) if flatten else x.shape[axis]
        key = (slice(None),) * axis + (slice(start, start + size),) + (slice(None),) * (g.ndim - axis - 1)
        pieces.append(xp.reshape(g[key], x.shape))
        start += size
    return tuple(pieces)


@defrule("stack")
def stack(xp, *arrays, axis=0):
    """arrays joined along a new axis"""
    return xp.stack(arrays, axis=axis)


@stack.defchecks
def stack_checks(shapes, attrs):
    if len(set(shapes)) > 1:
        return f"shapes {', '.join(map(str, shapes))} must all be equal"
    return None


@stack.defvjp
def stack_vjp(xp, g, out, *arrays, axis=0):
    axis = normalize_axis(axis, g.ndim)
    rest = (slice(None),) * (g.ndim - axis - 1)
    return tuple(g[(slice(None),) * axis + (i,) + rest] for i in range(len(arrays)))
