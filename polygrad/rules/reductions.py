"""Reductions: sum, mean, prod, max, min, var, std; the running sums and products."""
from __future__ import annotations

import math

from ._core import (
    check_reduction_axis, defrule, expand_reduced, kept_shape, normalize_axes, normalize_axis, reduced_count, scalar,
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


# -- running sums and products (the namespace resolves axis=None to 0 for 1-D input) --------

def _from(start: int, axis: int) -> tuple:
    """The key selecting positions start: along axis."""
    return (slice(None),) * axis + (slice(start, None), ...)


def _reverse_cumulative_sum(xp, a, axis):
    """sum over k >= j of a[k], along axis: the transpose of a running sum."""
    return xp.flip(xp.cumulative_sum(xp.flip(a, axis=axis), axis=axis), axis=axis)


@defrule("cumulative_sum")
def cumulative_sum(xp, x, *, axis, include_initial=False):
    """running sums along axis (include_initial: a leading 0)"""
    return xp.cumulative_sum(x, axis=axis, include_initial=include_initial)


@cumulative_sum.defvjp
def cumulative_sum_vjp(xp, g, out, x, *, axis, include_initial=False):
    axis = normalize_axis(axis, x.ndim)
    if include_initial:  # the leading 0 depends on nothing
        g = g[_from(1, axis)]
    return (_reverse_cumulative_sum(xp, g, axis),)


@defrule("cumulative_prod")
def cumulative_prod(xp, x, *, axis, include_initial=False):
    """running products along axis (include_initial: a leading 1); exact gradients where x holds zeros"""
    return xp.cumulative_prod(x, axis=axis, include_initial=include_initial)


@cumulative_prod.defvjp
def cumulative_prod_vjp(xp, g, out, x, *, axis, include_initial=False):
    # d out[k] / d x[j] = prod(x[i] for i <= k, i != j) for k >= j. Before the first zero
    # of x that is out[k] / x[j]; at the first zero z it is the running product of x with
    # x[z] read as 1; after z every term holds x[z] = 0. The division is only ever by a
    # nonzero x, so zeros are exact (PyTorch's cumprod_backward; JAX agrees), in O(n).
    axis = normalize_axis(axis, x.ndim)
    if include_initial:
        g, out = g[_from(1, axis)], out[_from(1, axis)]
    is_zero = x == 0
    zeros_so_far = xp.cumulative_sum(xp.astype(is_zero, x.dtype), axis=axis)
    before_zero = zeros_so_far == 0
    first_zero = is_zero & (zeros_so_far == 1)
    one, nothing = scalar(xp, 1.0, g), scalar(xp, 0.0, g)
    divided = _reverse_cumulative_sum(xp, g * out, axis) / xp.where(before_zero, x, one)
    at_zero = xp.sum(xp.where(zeros_so_far > 0, g * xp.cumulative_prod(xp.where(first_zero, one, x), axis=axis), nothing),
                     axis=axis, keepdims=True)
    return (xp.where(before_zero, divided, xp.where(first_zero, at_zero, nothing)),)
