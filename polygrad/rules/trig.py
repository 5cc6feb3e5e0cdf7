"""Trigonometric and hyperbolic rules, their inverses, atan2 and hypot.

Each vjp is JAX's jvp rule transposed (``jax/_src/lax/lax.py``), so the holomorphic ones
(every function of one argument here) carry complex gradients in JAX's convention too:
the cotangent times f'(z), never its conjugate. atan2 and hypot are real-only, as the
standard has them.
"""
from __future__ import annotations

from ._core import defrule, scalar


def _one(xp, like):
    return scalar(xp, 1.0, like)


# -- trigonometric ---------------------------------------------------------------------

@defrule("tan")
def tan(xp, x):
    """tangent"""
    return xp.tan(x)


@tan.defvjp
def tan_vjp(xp, g, out, x):
    return (g * (_one(xp, out) + out * out),)


@defrule("asin", domain="open_unit")
def asin(xp, x):
    """arcsine; its gradient is infinite at -1 and 1"""
    return xp.asin(x)


@asin.defvjp
def asin_vjp(xp, g, out, x):
    return (g / xp.sqrt(_one(xp, x) - x * x),)


@defrule("acos", domain="open_unit")
def acos(xp, x):
    """arccosine; its gradient is infinite at -1 and 1"""
    return xp.acos(x)


@acos.defvjp
def acos_vjp(xp, g, out, x):
    return (xp.negative(g) / xp.sqrt(_one(xp, x) - x * x),)


@defrule("atan")
def atan(xp, x):
    """arctangent"""
    return xp.atan(x)


@atan.defvjp
def atan_vjp(xp, g, out, x):
    return (g / (_one(xp, x) + x * x),)


@defrule("atan2", broadcasts=True)
def atan2(xp, a, b):
    """the angle of the point (b, a): atan(a / b) in the right quadrant; at (0, 0) the
    gradient is nan, as JAX's (0 / 0)"""
    return xp.atan2(a, b)


@atan2.defvjp
def atan2_vjp(xp, g, out, a, b):
    def over_norm():
        return g / (a * a + b * b)
    return lambda: over_norm() * b, lambda: xp.negative(over_norm()) * a


# -- hyperbolic ---------------------------------------------------------------------------

@defrule("sinh")
def sinh(xp, x):
    """hyperbolic sine"""
    return xp.sinh(x)


@sinh.defvjp
def sinh_vjp(xp, g, out, x):
    return (g * xp.cosh(x),)


@defrule("cosh")
def cosh(xp, x):
    """hyperbolic cosine"""
    return xp.cosh(x)


@cosh.defvjp
def cosh_vjp(xp, g, out, x):
    return (g * xp.sinh(x),)


@defrule("asinh")
def asinh(xp, x):
    """inverse hyperbolic sine"""
    return xp.asinh(x)


@asinh.defvjp
def asinh_vjp(xp, g, out, x):
    return (g / xp.sqrt(x * x + _one(xp, x)),)


@defrule("acosh", domain="above_one")
def acosh(xp, x):
    """inverse hyperbolic cosine (x >= 1); its gradient is infinite at 1"""
    return xp.acosh(x)


@acosh.defvjp
def acosh_vjp(xp, g, out, x):
    one = _one(xp, x)
    return (g / xp.sqrt((x - one) * (x + one)),)  # JAX's form: the same branch for complex x


@defrule("atanh", domain="open_unit")
def atanh(xp, x):
    """inverse hyperbolic tangent (-1 < x < 1)"""
    return xp.atanh(x)


@atanh.defvjp
def atanh_vjp(xp, g, out, x):
    return (g / (_one(xp, x) - x * x),)


# -- hypot --------------------------------------------------------------------------------

@defrule("hypot", broadcasts=True)
def hypot(xp, a, b):
    """sqrt(a**2 + b**2) without overflow; at (0, 0) each input takes half the cotangent,
    as JAX's (which picks max(|a|, |b|) there, a tie of the two)"""
    return xp.hypot(a, b)


@hypot.defvjp
def hypot_vjp(xp, g, out, a, b):
    def share(x):
        zero = scalar(xp, 0.0, out)
        at_origin = out == zero
        # a / out away from (0, 0); at (0, 0) JAX's abs'(0) = 1 times the tie's half
        safe = xp.where(at_origin, _one(xp, out), out)
        return g * xp.where(at_origin, scalar(xp, 0.5, out), x / safe)
    return lambda: share(a), lambda: share(b)
