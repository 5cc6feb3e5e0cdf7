"""Elementwise rules: arithmetic, functions of one or two arrays, complex parts, where, clip,
astype, copy. (Trigonometric and hyperbolic functions are in trig.py.)

Complex inputs follow JAX's convention: a vjp is the transpose of the jvp, so for a
holomorphic f the cotangent of z is g * f'(z) (no conjugate: the existing rules need no
change), and the non-holomorphic ones (abs, real, imag, conj) transpose their real-linear
jvps as JAX does.
"""
from __future__ import annotations


import math

from ._core import chosen_mask, constant, defrule, scalar


# -- arithmetic ------------------------------------------------------------------------

@defrule("add", broadcasts=True)
def add(xp, a, b):
    """a + b"""
    return xp.add(a, b)


@add.defvjp
def add_vjp(xp, g, out, a, b):
    return g, g


@defrule("subtract", broadcasts=True)
def subtract(xp, a, b):
    """a - b"""
    return xp.subtract(a, b)


@subtract.defvjp
def subtract_vjp(xp, g, out, a, b):
    return g, lambda: xp.negative(g)


@defrule("multiply", broadcasts=True)
def multiply(xp, a, b):
    """a * b"""
    return xp.multiply(a, b)


@multiply.defvjp
def multiply_vjp(xp, g, out, a, b):
    # namespace calls rather than operators: NumPy's namespace broadcasts a short trailing
    # axis faster than its operators do (see _backend/_short_axes.py)
    return lambda: xp.multiply(g, b), lambda: xp.multiply(g, a)


@defrule("divide", domain=("real", "nonzero"), broadcasts=True)
def divide(xp, a, b):
    """a / b"""
    return xp.divide(a, b)


@divide.defvjp
def divide_vjp(xp, g, out, a, b):
    return lambda: xp.divide(g, b), lambda: xp.divide(xp.multiply(xp.negative(g), out), b)


@defrule("negative")
def negative(xp, x):
    """-x"""
    return xp.negative(x)


@negative.defvjp
def negative_vjp(xp, g, out, x):
    return (xp.negative(g),)


@defrule("pow", domain=("positive", "real"), broadcasts=True)
def pow(xp, a, b):  # noqa: A001 - the array API's name
    """a ** b. d/db uses log(a) with a == 0 read as 1, as JAX does."""
    return xp.pow(a, b)


@pow.defvjp
def pow_vjp(xp, g, out, a, b):
    def grad_a():
        # x ** 0 is constant: gradient 0 even at x == 0, where b * a ** (b - 1) is 0 * inf
        # (jax.grad(lambda x: x ** 0) agrees).
        zero = scalar(xp, 0.0, b)
        return g * xp.where(b == zero, zero, b * xp.pow(a, b - scalar(xp, 1.0, b)))

    def grad_b():
        safe_a = xp.where(a == scalar(xp, 0.0, a), scalar(xp, 1.0, a), a)
        return g * out * xp.log(safe_a)
    return grad_a, grad_b


# -- elementwise functions -------------------------------------------------------------

@defrule("exp")
def exp(xp, x):
    """e ** x"""
    return xp.exp(x)


@exp.defvjp
def exp_vjp(xp, g, out, x):
    return (g * out,)


@defrule("log", domain="positive")
def log(xp, x):
    """natural logarithm"""
    return xp.log(x)


@log.defvjp
def log_vjp(xp, g, out, x):
    return (g / x,)


@defrule("log1p", domain="above_minus_one")
def log1p(xp, x):
    """log(1 + x), accurate near 0"""
    return xp.log1p(x)


@log1p.defvjp
def log1p_vjp(xp, g, out, x):
    return (g / (x + scalar(xp, 1.0, x)),)


@defrule("expm1")
def expm1(xp, x):
    """exp(x) - 1, accurate near 0"""
    return xp.expm1(x)


@expm1.defvjp
def expm1_vjp(xp, g, out, x):
    return (g * (out + scalar(xp, 1.0, out)),)


@defrule("sqrt", domain="positive")
def sqrt(xp, x):
    """square root; its gradient at 0 is inf, as in JAX"""
    return xp.sqrt(x)


@sqrt.defvjp
def sqrt_vjp(xp, g, out, x):
    return (g / (scalar(xp, 2.0, out) * out),)


@defrule("sin")
def sin(xp, x):
    """sine"""
    return xp.sin(x)


@sin.defvjp
def sin_vjp(xp, g, out, x):
    return (g * xp.cos(x),)


@defrule("cos")
def cos(xp, x):
    """cosine"""
    return xp.cos(x)


@cos.defvjp
def cos_vjp(xp, g, out, x):
    return (xp.negative(g) * xp.sin(x),)


@defrule("tanh")
def tanh(xp, x):
    """hyperbolic tangent"""
    return xp.tanh(x)


@tanh.defvjp
def tanh_vjp(xp, g, out, x):
    return (g * (scalar(xp, 1.0, out) - out * out),)


@defrule("abs")
def abs(xp, x):  # noqa: A001 - the array API's name
    """|x|; its gradient at 0 is 1, as JAX's"""
    return xp.abs(x)


@abs.defvjp
def abs_vjp(xp, g, out, x):
    if x.dtype != out.dtype:  # complex x, real |x|: JAX's cotangent g * conj(x) / |x|, 0 at x = 0
        safe = xp.where(out == scalar(xp, 0.0, out), scalar(xp, 1.0, out), out)
        return (g * xp.conj(x) / safe,)
    # g * (2 [x >= 0] - 1): NumPy's where(x >= 0, g, -g) is ~2.5x slower on large arrays.
    sign = xp.astype(x >= scalar(xp, 0.0, x), g.dtype) * constant(xp, 2.0, g.dtype) - constant(xp, 1.0, g.dtype)
    return (g * sign,)


@defrule("sign")
def sign(xp, x):
    """-1, 0 or 1; its gradient is 0 everywhere"""
    return xp.sign(x)


@sign.defvjp
def sign_vjp(xp, g, out, x):
    return (xp.zeros_like(x),)


@defrule("maximum", broadcasts=True)
def maximum(xp, a, b):
    """elementwise max; ties share the gradient equally, as in JAX"""
    return xp.maximum(a, b)


@maximum.defvjp
def maximum_vjp(xp, g, out, a, b):
    return (lambda: g * chosen_mask(xp, a, b, g.dtype, greater=True),
            lambda: g * chosen_mask(xp, b, a, g.dtype, greater=True))


@defrule("minimum", broadcasts=True)
def minimum(xp, a, b):
    """elementwise min; ties share the gradient equally, as in JAX"""
    return xp.minimum(a, b)


@minimum.defvjp
def minimum_vjp(xp, g, out, a, b):
    return (lambda: g * chosen_mask(xp, a, b, g.dtype, greater=False),
            lambda: g * chosen_mask(xp, b, a, g.dtype, greater=False))


@defrule("where", broadcasts=True)
def where(xp, condition, a, b):
    """a where condition holds, else b"""
    return xp.where(condition, a, b)


@where.defvjp
def where_vjp(xp, g, out, condition, a, b):
    zero = scalar(xp, 0.0, g)
    return None, lambda: xp.where(condition, g, zero), lambda: xp.where(condition, zero, g)


@defrule("clip")
def clip(xp, x, *, min=None, max=None):  # noqa: A002 - the array API's names
    """x limited to [min, max]; at a bound the gradient is halved, as jnp.clip's"""
    return xp.clip(x, min=min, max=max)


@clip.defvjp
def clip_vjp(xp, g, out, x, *, min=None, max=None):  # noqa: A002
    # jnp.clip is minimum(maximum(x, min), max): a value equal to a bound ties there.
    # With min <= max, maximum(x, min) equals max only where x does, so both masks can
    # compare x itself; otherwise the upper mask compares maximum(x, min).
    factor = None
    if min is not None:
        factor = chosen_mask(xp, x, scalar(xp, min, x), g.dtype, greater=True)
    if max is not None:
        inner = x if min is None or min <= max else xp.maximum(x, scalar(xp, min, x))
        upper = chosen_mask(xp, inner, scalar(xp, max, x), g.dtype, greater=False)
        factor = upper if factor is None else factor * upper
    return (g if factor is None else g * factor,)


@defrule("astype")
def astype(xp, x, *, dtype):
    """x converted to another float dtype"""
    return xp.astype(x, dtype)


@astype.defvjp
def astype_vjp(xp, g, out, x, *, dtype):
    # the engine casts every cotangent to its input's dtype (a complex one reaching a real
    # input keeps its real part: the transpose of a real-to-complex cast)
    return (g,)


@defrule("copy")
def copy(xp, x, *, device=None):
    """a new array with x's data (on ``device`` where given): asarray(x, copy=True), to_device"""
    if device is None:
        return xp.asarray(x, copy=True)
    return xp.asarray(x, device=device, copy=True)


@copy.defvjp
def copy_vjp(xp, g, out, x, *, device=None):
    return (g if device is None else xp.asarray(g, device=x.device),)


def _is_complex(xp, x) -> bool:
    return xp.isdtype(x.dtype, "complex floating")


# -- more functions of one or two arrays ---------------------------------------------------

@defrule("positive")
def positive(xp, x):
    """+x"""
    return xp.positive(x)


@positive.defvjp
def positive_vjp(xp, g, out, x):
    return (g,)


@defrule("reciprocal", domain="nonzero")
def reciprocal(xp, x):
    """1 / x"""
    return xp.reciprocal(x)


@reciprocal.defvjp
def reciprocal_vjp(xp, g, out, x):
    return (xp.negative(g) * out * out,)


@defrule("log2", domain="positive")
def log2(xp, x):
    """base-2 logarithm"""
    return xp.log2(x)


@log2.defvjp
def log2_vjp(xp, g, out, x):
    return (g / (x * scalar(xp, math.log(2.0), x)),)


@defrule("log10", domain="positive")
def log10(xp, x):
    """base-10 logarithm"""
    return xp.log10(x)


@log10.defvjp
def log10_vjp(xp, g, out, x):
    return (g / (x * scalar(xp, math.log(10.0), x)),)


@defrule("logaddexp", broadcasts=True)
def logaddexp(xp, a, b):
    """log(exp(a) + exp(b)) without overflow"""
    return xp.logaddexp(a, b)


@logaddexp.defvjp
def logaddexp_vjp(xp, g, out, a, b):
    # d/da = exp(a - out). Where a equals the result (b is -inf, or a is infinite) the
    # exponent is read as 0, so logaddexp(inf, 1) gives (1, 0) rather than nan.
    def share(x):
        zero = scalar(xp, 0.0, out)
        return g * xp.exp(xp.where(x == out, zero, x - out))
    return lambda: share(a), lambda: share(b)


@defrule("remainder", domain=("real", "nonzero"), broadcasts=True)
def remainder(xp, a, b):
    """a - b * floor(a / b), with the sign of b (Python's %)"""
    return xp.remainder(a, b)


@remainder.defvjp
def remainder_vjp(xp, g, out, a, b):
    # out = a - b * q with q the integer the forward chose (recovered from out itself, so
    # the jump the forward took is the one differentiated): d/da = 1, d/db = -q, as JAX's.
    return g, lambda: xp.negative(g) * xp.round((a - out) / b)


@defrule("copysign", broadcasts=True)
def copysign(xp, a, b):
    """|a| with the sign of b; b takes no gradient, and |a|'(0) = 1 as in JAX"""
    return xp.copysign(a, b)


@copysign.defvjp
def copysign_vjp(xp, g, out, a, b):
    def grad_a():
        one = scalar(xp, 1.0, a)
        flip = xp.where(xp.signbit(b), xp.negative(one), one)
        return g * xp.where(a >= scalar(xp, 0.0, a), flip, xp.negative(flip))
    return grad_a, lambda: xp.zeros_like(b)


# -- complex parts --------------------------------------------------------------------------

@defrule("real")
def real(xp, x):
    """the real part (x itself for real x)"""
    return xp.real(x)


@real.defvjp
def real_vjp(xp, g, out, x):
    return (xp.astype(g, x.dtype) if _is_complex(xp, x) else g,)


@defrule("imag")
def imag(xp, x):
    """the imaginary part"""
    return xp.imag(x)


@imag.defvjp
def imag_vjp(xp, g, out, x):
    if not _is_complex(xp, x):
        return (xp.zeros_like(x),)
    return (xp.astype(g, x.dtype) * scalar(xp, -1j, x),)  # JAX: complex(0, -g)


@defrule("conj")
def conj(xp, x):
    """the complex conjugate (x itself for real x)"""
    return xp.conj(x)


@conj.defvjp
def conj_vjp(xp, g, out, x):
    return (xp.conj(g) if _is_complex(xp, x) else g,)
