"""stop_gradient, and functions without a gradient: recorded (so replay recomputes them), never
differentiated; the set functions and nonzero, whose output's shape depends on the data, run
once, eagerly, and a replay that meets them is an error."""
from __future__ import annotations

from ._core import Rule, defrule


@defrule("stop_gradient")
def stop_gradient(xp, x):
    """x itself, through which no gradient flows"""
    return x


# -- functions without a gradient: recorded (so replay recomputes them), never differentiated --

NONDIFFERENTIABLE = (
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "isnan", "isinf", "isfinite", "signbit",
    "floor", "ceil", "round", "trunc",
    "argmax", "argmin", "argsort", "all", "any", "count_nonzero",
    "searchsorted", "floor_divide", "nextafter",
    # bitwise on integers, logical on booleans, as the standard has them
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_invert",
    "bitwise_left_shift", "bitwise_right_shift",
)


def _nondifferentiable(name: str) -> Rule:
    def forward(xp, *arrays, **attrs):
        return getattr(xp, name)(*arrays, **attrs)
    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"xp.{name}: no gradient"
    return defrule(name)(forward)


for _name in NONDIFFERENTIABLE:
    _nondifferentiable(_name)
del _name


# -- data-dependent shapes: run once, eagerly; never replayed ----------------------------------
# The namespace computes each function once and records one node per output (attribute
# ``output``: the field's name, or nonzero's axis), so a graph shows where its data came from.

UNIQUE_OUTPUTS = {
    "unique_all": ("values", "indices", "inverse_indices", "counts"),
    "unique_counts": ("values", "counts"),
    "unique_inverse": ("values", "inverse_indices"),
    "unique_values": ("values",),
}


def _set_function(name: str) -> Rule:
    def forward(xp, x, *, output="values"):
        found = getattr(xp, name)(x)
        return found if name == "unique_values" else getattr(found, output)
    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"xp.{name}(x).<output>: no gradient; its shape depends on the data (never replayed)"
    return defrule(name, replayable=False)(forward)


for _name in UNIQUE_OUTPUTS:
    _set_function(_name)
del _name


@defrule("nonzero", replayable=False)
def nonzero(xp, x, *, output=None):
    """xp.nonzero(x) (output=i: its i-th array): no gradient; its shape depends on the data (never replayed)"""
    found = xp.nonzero(x)
    return found if output is None else found[output]
