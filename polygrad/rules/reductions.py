"""Reductions: sum, mean, prod, max, min, var, std."""
from __future__ import annotations

import math

from ._core import (
    check_reduction_axis, defrule, expand_reduced, kept_shape, normalize_axes, reduced_count, scalar,
)


# -- reductions --------------------------------------------------------------------------

@defrule("sum")
def sum(xp, x, *, axis=None, keepdims=False):  # noqa: A001
    """sum over axis"""
    check_reduction_axis(axis, x.ndim)
    return xp.sum(x, axis=axis, keepdims=keepdims)


@sum.defvjp
def sum_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    return (expand_reduced(xp, g, x.shape, axis, keepdims),)


@defrule("mean")
def mean(xp, x, *, axis=None, keepdims=False):
    """mean over axis"""
    check_reduction_axis(axis, x.ndim)
    return xp.mean(x, axis=axis, keepdims=keepdims)


@mean.defvjp
def mean_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    count = reduced_count(x.shape, axis)
    scale = scalar(xp, 1.0 / count if count else math.nan, g)
    return (expand_reduced(xp, g * scale, x.shape, axis, keepdims),)


@defrule("prod")
def prod(xp, x, *, axis=None, keepdims=False):
    """product over axis; exact gradients where x holds zeros"""
    check_reduction_axis(axis, x.ndim)
    return xp.prod(x, axis=axis, keepdims=keepdims)


@prod.defvjp
def prod_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    # The product of all the other elements, from exclusive cumulative products
    # taken both ways: no division, so zeros in x are exact (JAX agrees).
    axes = normalize_axes(axis, x.ndim)
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    moved = xp.permute_dims(x, kept + axes)
    lead = moved.shape[: len(kept)]
    flat = xp.reshape(moved, (*lead, math.prod(moved.shape[len(kept):])))
    before = xp.cumulative_prod(flat, axis=-1, include_initial=True)[..., :-1]
    after = xp.flip(xp.cumulative_prod(xp.flip(flat, axis=-1), axis=-1, include_initial=True)[..., :-1], axis=-1)
    others = xp.reshape(before * after, moved.shape)
    inverse = tuple(sorted(range(x.ndim), key=(kept + axes).__getitem__))
    others = xp.permute_dims(others, inverse)
    return (expand_reduced(xp, g, x.shape, axis, keepdims) * others,)


def _chooser_vjp(xp, g, out, x, axis, keepdims):
    """max/min: the gradient is shared equally among the elements that tie."""
    kept = out if keepdims else xp.reshape(out, kept_shape(x.shape, axis))
    chosen = xp.astype(x == kept, g.dtype)
    count = xp.sum(chosen, axis=axis, keepdims=True)
    g = g if keepdims else xp.reshape(g, kept.shape)
    return (chosen * (g / count),)


@defrule("max")
def max(xp, x, *, axis=None, keepdims=False):  # noqa: A001
    """maximum over axis; ties share the gradient equally, as in JAX"""
    check_reduction_axis(axis, x.ndim)
    return xp.max(x, axis=axis, keepdims=keepdims)


@max.defvjp
def max_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    return _chooser_vjp(xp, g, out, x, axis, keepdims)


@defrule("min")
def min(xp, x, *, axis=None, keepdims=False):  # noqa: A001
    """minimum over axis; ties share the gradient equally, as in JAX"""
    check_reduction_axis(axis, x.ndim)
    return xp.min(x, axis=axis, keepdims=keepdims)


@min.defvjp
def min_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    return _chooser_vjp(xp, g, out, x, axis, keepdims)


def _over_dof(numerator, shape, axis, correction):
    """numerator / (N - correction); nan where that is 0 (an empty axis, or N == correction),
    as in JAX, whose var and std gradients are nan there."""
    dof = reduced_count(shape, axis) - correction
    return numerator / dof if dof else math.nan


@defrule("var")
def var(xp, x, *, axis=None, correction=0.0, keepdims=False):
    """variance over axis, dividing by (N - correction)"""
    check_reduction_axis(axis, x.ndim)
    return xp.var(x, axis=axis, correction=correction, keepdims=keepdims)


@var.defvjp
def var_vjp(xp, g, out, x, *, axis=None, correction=0.0, keepdims=False):
    centred = x - xp.mean(x, axis=axis, keepdims=True)
    scale = scalar(xp, _over_dof(2.0, x.shape, axis, correction), g)
    return (expand_reduced(xp, g * scale, x.shape, axis, keepdims) * centred,)


@defrule("std")
def std(xp, x, *, axis=None, correction=0.0, keepdims=False):
    """standard deviation over axis; its gradient is nan where std is 0, as JAX's"""
    check_reduction_axis(axis, x.ndim)
    return xp.std(x, axis=axis, correction=correction, keepdims=keepdims)


@std.defvjp
def std_vjp(xp, g, out, x, *, axis=None, correction=0.0, keepdims=False):
    centred = x - xp.mean(x, axis=axis, keepdims=True)
    scale = scalar(xp, _over_dof(1.0, x.shape, axis, correction), g)
    return (expand_reduced(xp, g * scale / out, x.shape, axis, keepdims) * centred,)
