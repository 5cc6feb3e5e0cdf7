"""Shape manipulation: reshape, permute_dims, expand_dims, squeeze, broadcast_to, concat, stack,
repeat, tile, roll; the triangles tril and triu. All linear: each vjp is the op's transpose."""
from __future__ import annotations

import math

from ._core import broadcast_shapes, defrule, normalize_axes, normalize_axis


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
    """a size-1 axis inserted at axis (a tuple: one at each of those axes of the result)"""
    if isinstance(axis, tuple):
        return xp.reshape(x, expanded_shape(tuple(x.shape), axis))
    return xp.expand_dims(x, axis=axis)


def expanded_shape(shape: tuple, axes: tuple) -> tuple:
    """shape with size-1 axes at ``axes`` (positions in the result, negative from its end)."""
    ndim = len(shape) + len(axes)
    at = normalize_axes(axes, ndim)
    rest = iter(shape)
    return tuple(1 if i in at else next(rest) for i in range(ndim))


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


# -- repetition and rotation --------------------------------------------------------------------

@defrule("repeat")
def repeat(xp, x, *, repeats, axis=None):
    """each element repeated along axis (None: of the flattened x); repeats an int or an integer array"""
    return xp.repeat(x, repeats, axis=axis)


@repeat.defvjp
def repeat_vjp(xp, g, out, x, *, repeats, axis=None):
    shape = tuple(x.shape)
    if axis is None:
        shape, axis = (math.prod(shape),), 0
    axis = normalize_axis(axis, len(shape))
    n = shape[axis]
    if isinstance(repeats, int) or math.prod(repeats.shape) == 1:
        times = int(repeats if isinstance(repeats, int) else xp.reshape(repeats, ()))
        split = shape[:axis] + (n, times) + shape[axis + 1:]  # each element's copies side by side
        ct = xp.sum(xp.reshape(g, split), axis=axis + 1)
    else:  # element i's copies are a run of repeats[i] positions: add each run up
        owner = xp.repeat(xp.arange(n, dtype=repeats.dtype), repeats)
        ct = xp.scatter_add(g, owner, shape, axis)
    return (xp.reshape(ct, x.shape),)


@defrule("tile")
def tile(xp, x, *, repetitions):
    """x repeated as a whole repetitions[i] times along axis i"""
    return xp.tile(x, repetitions)


@tile.defvjp
def tile_vjp(xp, g, out, x, *, repetitions):
    ndim = max(x.ndim, len(repetitions))
    shape = (1,) * (ndim - x.ndim) + tuple(x.shape)
    reps = (1,) * (ndim - len(repetitions)) + tuple(repetitions)
    # Tile i of axis a holds x's axis a whole: split every axis into (tile, position) and
    # add the tiles up.
    split = tuple(n for pair in zip(reps, shape) for n in pair)
    summed = xp.sum(xp.reshape(g, split), axis=tuple(range(0, 2 * ndim, 2)))
    return (xp.reshape(summed, x.shape),)


@defrule("roll")
def roll(xp, x, *, shift, axis=None):
    """x's elements shifted along axis (None: of the flattened x), wrapping around"""
    return xp.roll(x, shift=shift, axis=axis)


@roll.defvjp
def roll_vjp(xp, g, out, x, *, shift, axis=None):
    back = -shift if isinstance(shift, int) else tuple(-s for s in shift)
    return (xp.roll(g, shift=back, axis=axis),)


# -- triangles --------------------------------------------------------------------------------------

@defrule("tril")
def tril(xp, x, *, k=0):
    """x with the elements above diagonal k of its last two axes set to 0"""
    return xp.tril(x, k=k)


@tril.defvjp
def tril_vjp(xp, g, out, x, *, k=0):
    return (xp.tril(g, k=k),)


@defrule("triu")
def triu(xp, x, *, k=0):
    """x with the elements below diagonal k of its last two axes set to 0"""
    return xp.triu(x, k=k)


@triu.defvjp
def triu_vjp(xp, g, out, x, *, k=0):
    return (xp.triu(g, k=k),)
