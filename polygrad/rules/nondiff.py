"""stop_gradient, and functions without a gradient: recorded (so replay recomputes them), never differentiated."""
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
    "argmax", "argmin", "argsort", "sort", "all", "any", "count_nonzero",
    "nonzero", "searchsorted", "floor_divide", "nextafter",
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
