"""Special functions, named and called as in ``scipy.special`` (op names "special.<name>").

The array API standard has none of these. Two kinds of rule:

- built from standard functions only, so they run on every backend, array_api_strict
  included: expit, logit, log_expit, xlogy, xlog1py, entr, rel_entr, kl_div, huber,
  pseudo_huber, sinc, cbrt, boxcox, softplus, logsumexp, softmax, log_softmax;
- built on a backend's primitives, ``xp.special.<name>`` (polygrad/_backend/_special.py:
  SciPy on NumPy, jax.scipy.special on JAX...): erf, erfc, erfinv, erfcx, ndtr, log_ndtr,
  ndtri, gammaln, gamma, digamma, polygamma, betaln, gammainc, gammaincc, i0e, i1e.

Every vjp uses only standard functions and ``xp.special`` primitives that
``polygrad.namespace.special`` also has, so create_graph differentiates them again
(gammaln -> digamma -> polygamma(1) -> polygamma(2)...). Conventions where the maths leaves
a choice are JAX's (jax.scipy.special, checked by the conformance suite), with one
exception: boxcox's gradient in lmbda at lmbda == 0 is log(x)**2 / 2, its limit, where
JAX's is 0. gammainc and gammaincc have a gradient in x only (as in SciPy's world: no
closed form in a); asking for one in a is a GradientError, never a silent zero.
"""
from __future__ import annotations

import math

from ..errors import GradientError
from . import nn as _nn
from ._core import defrule, normalize_axes, scalar

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _expit(xp, x):
    """1 / (1 + exp(-x)) from exp(-|x|), which cannot overflow."""
    e = xp.exp(xp.negative(xp.abs(x)))
    one = scalar(xp, 1.0, e)
    return xp.where(x >= scalar(xp, 0.0, x), one / (one + e), e / (one + e))


# -- the error function family --------------------------------------------------------------

@defrule("special.erf")
def erf(xp, x):
    """the error function, 2/sqrt(pi) * integral of exp(-t**2) from 0 to x"""
    return xp.special.erf(x)


@erf.defvjp
def erf_vjp(xp, g, out, x):
    return (g * scalar(xp, _TWO_OVER_SQRT_PI, g) * xp.exp(xp.negative(x * x)),)


@defrule("special.erfc")
def erfc(xp, x):
    """1 - erf(x), accurate where erf(x) is close to 1"""
    return xp.special.erfc(x)


@erfc.defvjp
def erfc_vjp(xp, g, out, x):
    return (g * scalar(xp, -_TWO_OVER_SQRT_PI, g) * xp.exp(xp.negative(x * x)),)


@defrule("special.erfinv", domain="open_unit")
def erfinv(xp, y):
    """the inverse of erf on (-1, 1); -inf and inf at -1 and 1"""
    return xp.special.erfinv(y)


@erfinv.defvjp
def erfinv_vjp(xp, g, out, y):
    return (g * scalar(xp, math.sqrt(math.pi) / 2, g) * xp.exp(out * out),)


@defrule("special.erfcx")
def erfcx(xp, x):
    """exp(x**2) * erfc(x), which stays finite for large x"""
    return xp.special.erfcx(x)


@erfcx.defvjp
def erfcx_vjp(xp, g, out, x):
    return (g * (scalar(xp, 2.0, x) * x * out - scalar(xp, _TWO_OVER_SQRT_PI, out)),)


@defrule("special.ndtr")
def ndtr(xp, x):
    """the standard normal distribution function, erfc(-x / sqrt(2)) / 2"""
    return scalar(xp, 0.5, x) * xp.special.erfc(x * scalar(xp, -1 / _SQRT_2, x))


@ndtr.defvjp
def ndtr_vjp(xp, g, out, x):
    return (g * xp.exp(x * x * scalar(xp, -0.5, x)) * scalar(xp, 1 / _SQRT_2PI, g),)


@defrule("special.log_ndtr")
def log_ndtr(xp, x):
    """log(ndtr(x)), accurate in both tails: from erfcx below 0, log1p above"""
    below = xp.minimum(x, scalar(xp, 0.0, x)) * scalar(xp, 1 / _SQRT_2, x)  # t = x / sqrt(2) <= 0
    above = xp.maximum(x, scalar(xp, 0.0, x)) * scalar(xp, 1 / _SQRT_2, x)
    # ndtr(x) = erfc(-t) / 2 = erfcx(-t) exp(-t**2) / 2 for t < 0: no underflow at x = -40
    lower_tail = xp.log(scalar(xp, 0.5, x) * xp.special.erfcx(xp.negative(below))) - below * below
    upper = xp.log1p(scalar(xp, -0.5, x) * xp.special.erfc(above))
    return xp.where(x < scalar(xp, 0.0, x), lower_tail, upper)


@log_ndtr.defvjp
def log_ndtr_vjp(xp, g, out, x):
    # d/dx log ndtr(x) = pdf(x) / ndtr(x) = exp(-x**2/2 - log_ndtr(x)) / sqrt(2 pi): finite in the tails
    return (g * xp.exp(x * x * scalar(xp, -0.5, x) - out) * scalar(xp, 1 / _SQRT_2PI, g),)


@defrule("special.ndtri", domain="probability")
def ndtri(xp, p):
    """the inverse of ndtr: the standard normal quantile of p in (0, 1)"""
    return xp.special.ndtri(p)


@ndtri.defvjp
def ndtri_vjp(xp, g, out, p):
    return (g * scalar(xp, _SQRT_2PI, g) * xp.exp(out * out * scalar(xp, 0.5, out)),)


# -- the gamma function family --------------------------------------------------------------

@defrule("special.gammaln", domain="positive")
def gammaln(xp, x):
    """log |gamma(x)|"""
    return xp.special.gammaln(x)


@gammaln.defvjp
def gammaln_vjp(xp, g, out, x):
    return (g * xp.special.digamma(x),)


@defrule("special.gamma", domain="positive")
def gamma(xp, x):
    """the gamma function"""
    return xp.special.gamma(x)


@gamma.defvjp
def gamma_vjp(xp, g, out, x):
    return (g * out * xp.special.digamma(x),)


@defrule("special.digamma", domain="positive")
def digamma(xp, x):
    """d/dx log gamma(x) (SciPy's psi)"""
    return xp.special.digamma(x)


@digamma.defvjp
def digamma_vjp(xp, g, out, x):
    return (g * xp.special.polygamma(1, x),)


@defrule("special.polygamma", domain="positive")
def polygamma(xp, x, *, n):
    """the n-th derivative of digamma (n a non-negative Python int)"""
    return xp.special.polygamma(n, x)


@polygamma.defvjp
def polygamma_vjp(xp, g, out, x, *, n):
    return (g * xp.special.polygamma(n + 1, x),)


@defrule("special.betaln", domain="positive", broadcasts=True)
def betaln(xp, a, b):
    """log |beta(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)"""
    return xp.special.gammaln(a) + xp.special.gammaln(b) - xp.special.gammaln(a + b)


@betaln.defvjp
def betaln_vjp(xp, g, out, a, b):
    both = xp.special.digamma(a + b)
    return lambda: g * (xp.special.digamma(a) - both), lambda: g * (xp.special.digamma(b) - both)


def _no_gradient_in_a(op):
    def fail():
        raise GradientError(
            f"{op}(a, x) has a gradient in x only (SciPy's and JAX's closed form is in x; polygrad "
            f"gives none in a rather than a wrong one): pass a as a constant or pg.stop_gradient(a)"
        )
    return fail


def _incomplete_gamma_density(xp, a, x):
    """d/dx gammainc(a, x) = x**(a - 1) exp(-x) / gamma(a), with 0 * log(0) read as 0."""
    am1 = a - scalar(xp, 1.0, a)
    zero = scalar(xp, 0.0, x)
    log_power = xp.where(am1 == scalar(xp, 0.0, am1), zero, am1 * xp.log(x))
    return xp.exp(log_power - x - xp.special.gammaln(a))


@defrule("special.gammainc", domain="positive", broadcasts=True)
def gammainc(xp, a, x):
    """the regularized lower incomplete gamma function P(a, x); a gradient in x only"""
    return xp.special.gammainc(a, x)


@gammainc.defvjp
def gammainc_vjp(xp, g, out, a, x):
    return _no_gradient_in_a("special.gammainc"), lambda: g * _incomplete_gamma_density(xp, a, x)


@defrule("special.gammaincc", domain="positive", broadcasts=True)
def gammaincc(xp, a, x):
    """the regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x); a gradient in x only"""
    return xp.special.gammaincc(a, x)


@gammaincc.defvjp
def gammaincc_vjp(xp, g, out, a, x):
    return (_no_gradient_in_a("special.gammaincc"),
            lambda: xp.negative(g) * _incomplete_gamma_density(xp, a, x))


# -- Bessel functions, exponentially scaled ---------------------------------------------------

@defrule("special.i0e")
def i0e(xp, x):
    """exp(-|x|) * I0(x)"""
    return xp.special.i0e(x)


@i0e.defvjp
def i0e_vjp(xp, g, out, x):
    return (g * (xp.special.i1e(x) - xp.sign(x) * out),)


@defrule("special.i1e")
def i1e(xp, x):
    """exp(-|x|) * I1(x)"""
    return xp.special.i1e(x)


@i1e.defvjp
def i1e_vjp(xp, g, out, x):
    # i0e(x) - i1e(x) (sign(x) + 1/x), whose limit at 0 is 1/2 (as JAX: below eps, 1/2)
    not_tiny = xp.abs(x) > scalar(xp, xp.finfo(x.dtype).eps, x)
    safe = xp.where(not_tiny, x, scalar(xp, 1.0, x))
    slope = xp.special.i0e(safe) - out * (xp.sign(safe) + scalar(xp, 1.0, safe) / safe)
    return (g * xp.where(not_tiny, slope, scalar(xp, 0.5, slope)),)


# -- from standard functions only -----------------------------------------------------------

@defrule("special.expit")
def expit(xp, x):
    """the logistic sigmoid 1 / (1 + exp(-x)), never overflowing"""
    return _expit(xp, x)


@expit.defvjp
def expit_vjp(xp, g, out, x):
    return (g * out * (scalar(xp, 1.0, out) - out),)


@defrule("special.logit", domain="probability")
def logit(xp, p):
    """log(p / (1 - p)), the inverse of expit; -inf at 0, inf at 1"""
    return xp.log(p / (scalar(xp, 1.0, p) - p))


@logit.defvjp
def logit_vjp(xp, g, out, p):
    return (g / (p * (scalar(xp, 1.0, p) - p)),)


@defrule("special.log_expit")
def log_expit(xp, x):
    """log(expit(x)) = min(x, 0) - log1p(exp(-|x|)), accurate for large |x|"""
    return xp.minimum(x, scalar(xp, 0.0, x)) - xp.log1p(xp.exp(xp.negative(xp.abs(x))))


@log_expit.defvjp
def log_expit_vjp(xp, g, out, x):
    return (g * _expit(xp, xp.negative(x)),)


@defrule("special.softplus")
def softplus(xp, x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), never overflowing"""
    return xp.maximum(x, scalar(xp, 0.0, x)) + xp.log1p(xp.exp(xp.negative(xp.abs(x))))


@softplus.defvjp
def softplus_vjp(xp, g, out, x):
    return (g * _expit(xp, x),)


@defrule("special.xlogy", domain=("real", "positive"), broadcasts=True)
def xlogy(xp, x, y):
    """x * log(y), 0 where x == 0 (whatever y)"""
    zero = x == scalar(xp, 0.0, x)
    product = x * xp.log(xp.where(zero, scalar(xp, 1.0, y), y))  # no log(0) warning where x == 0
    return xp.where(zero, scalar(xp, 0.0, product), product)


@xlogy.defvjp
def xlogy_vjp(xp, g, out, x, y):
    return lambda: g * xp.log(y), lambda: g * x / y  # JAX's: log(y) even where x == 0


@defrule("special.xlog1py", domain=("real", "above_minus_one"), broadcasts=True)
def xlog1py(xp, x, y):
    """x * log1p(y), 0 where x == 0 (whatever y)"""
    zero = x == scalar(xp, 0.0, x)
    product = x * xp.log1p(xp.where(zero, scalar(xp, 0.0, y), y))
    return xp.where(zero, scalar(xp, 0.0, product), product)


@xlog1py.defvjp
def xlog1py_vjp(xp, g, out, x, y):
    return lambda: g * xp.log1p(y), lambda: g * x / (y + scalar(xp, 1.0, y))


@defrule("special.entr")
def entr(xp, x):
    """-x log(x) for x > 0, 0 at 0, -inf below"""
    zero = scalar(xp, 0.0, x)
    body = xp.negative(x) * xp.log(xp.where(x > zero, x, scalar(xp, 1.0, x)))  # 0 at 0, nan stays
    return xp.where(x < zero, scalar(xp, -math.inf, x), body)


@entr.defvjp
def entr_vjp(xp, g, out, x):
    # -(log(x) + 1), as JAX: inf at 0 and nan below (where entr is the constant -inf)
    zero = scalar(xp, 0.0, x)
    slope = xp.negative(xp.log(xp.where(x > zero, x, scalar(xp, 1.0, x))) + scalar(xp, 1.0, x))
    slope = xp.where(x == zero, scalar(xp, math.inf, x), slope)
    return (g * xp.where(x < zero, scalar(xp, math.nan, x), slope),)


def _both_positive(xp, x, y):
    """x, y > 0; and x, y with 1 elsewhere, safe to divide and take logs of."""
    both = (x > scalar(xp, 0.0, x)) & (y > scalar(xp, 0.0, y))
    return both, xp.where(both, x, scalar(xp, 1.0, x)), xp.where(both, y, scalar(xp, 1.0, y))


@defrule("special.rel_entr", broadcasts=True)
def rel_entr(xp, x, y):
    """x log(x / y) for x, y > 0; 0 for x == 0 <= y; inf elsewhere (nan stays nan)"""
    both, sx, sy = _both_positive(xp, x, y)
    value = sx * xp.log(sx / sy)
    zero = scalar(xp, 0.0, value)
    edge = xp.where((x == zero) & (y >= zero), zero, scalar(xp, math.inf, value))
    out = xp.where(both, value, edge)
    return xp.where(xp.isnan(x) | xp.isnan(y), scalar(xp, math.nan, out), out)


def _rel_entr_slopes(xp, x, y):
    both, sx, sy = _both_positive(xp, x, y)
    zero = scalar(xp, 0.0, sx)
    return (xp.where(both, xp.log(sx / sy) + scalar(xp, 1.0, sx), zero),
            xp.where(both, xp.negative(sx / sy), zero))


@rel_entr.defvjp
def rel_entr_vjp(xp, g, out, x, y):
    # 0 outside x, y > 0, as JAX (rel_entr is constant there)
    return lambda: g * _rel_entr_slopes(xp, x, y)[0], lambda: g * _rel_entr_slopes(xp, x, y)[1]


@defrule("special.kl_div", broadcasts=True)
def kl_div(xp, x, y):
    """x log(x / y) - x + y for x, y > 0; y for x == 0 <= y; inf elsewhere"""
    return rel_entr.forward(xp, x, y) - x + y


@kl_div.defvjp
def kl_div_vjp(xp, g, out, x, y):
    # rel_entr's slopes - 1 and + 1 everywhere, as JAX's kl_div = rel_entr - x + y
    one = scalar(xp, 1.0, g)
    return (lambda: g * (_rel_entr_slopes(xp, x, y)[0] - one),
            lambda: g * (_rel_entr_slopes(xp, x, y)[1] + one))


@defrule("special.huber", domain=("positive", "real"), broadcasts=True)
def huber(xp, delta, r):
    """r**2 / 2 for |r| <= delta, delta (|r| - delta / 2) beyond; inf for delta < 0"""
    size = xp.abs(r)
    value = xp.where(size <= delta, r * r * scalar(xp, 0.5, r), delta * (size - delta * scalar(xp, 0.5, delta)))
    return xp.where(delta < scalar(xp, 0.0, delta), scalar(xp, math.inf, value), value)


@huber.defvjp
def huber_vjp(xp, g, out, delta, r):
    size = xp.abs(r)
    valid = delta >= scalar(xp, 0.0, delta)
    zero = scalar(xp, 0.0, g)
    inside = size <= delta

    def grad_delta():
        return g * xp.where(valid & xp.logical_not(inside), size - delta, zero)

    def grad_r():
        return g * xp.where(valid, xp.where(inside, r, delta * xp.sign(r)), zero)
    return grad_delta, grad_r


@defrule("special.pseudo_huber", domain=("positive", "real"), broadcasts=True)
def pseudo_huber(xp, delta, r):
    """delta**2 (sqrt(1 + (r / delta)**2) - 1), computed as r**2 / (sqrt(1 + (r/delta)**2) + 1);
    0 for delta == 0, inf for delta < 0"""
    positive, root, _ = _pseudo_huber_parts(xp, delta, r)
    value = r * r / (root + scalar(xp, 1.0, root))
    zero = scalar(xp, 0.0, value)
    return xp.where(delta < zero, scalar(xp, math.inf, value), xp.where(positive, value, zero))


def _pseudo_huber_parts(xp, delta, r):
    positive = delta > scalar(xp, 0.0, delta)
    safe = xp.where(positive, delta, scalar(xp, 1.0, delta))
    ratio = r / safe
    return positive, xp.sqrt(scalar(xp, 1.0, ratio) + ratio * ratio), safe


@pseudo_huber.defvjp
def pseudo_huber_vjp(xp, g, out, delta, r):
    positive, root, safe = _pseudo_huber_parts(xp, delta, r)
    zero = scalar(xp, 0.0, g)

    def grad_delta():  # 2 delta (root - 1) - r (r / delta) / root = 2 out / delta - r**2 / (delta root)
        slope = scalar(xp, 2.0, out) * out / safe - r * r / (safe * root)
        return g * xp.where(positive, slope, zero)

    def grad_r():
        return g * xp.where(positive, r / root, zero)
    return grad_delta, grad_r


@defrule("special.sinc")
def sinc(xp, x):
    """sin(pi x) / (pi x), 1 at 0 (the normalized sinc, as NumPy's and SciPy's)"""
    zero = x == scalar(xp, 0.0, x)
    angle = xp.where(zero, scalar(xp, 1.0, x), x) * scalar(xp, math.pi, x)
    return xp.where(zero, scalar(xp, 1.0, x), xp.sin(angle) / angle)


@sinc.defvjp
def sinc_vjp(xp, g, out, x):
    # (cos(pi x) - sinc(x)) / x, 0 at 0 (as jnp.sinc)
    zero = x == scalar(xp, 0.0, x)
    safe = xp.where(zero, scalar(xp, 1.0, x), x)
    slope = (xp.cos(safe * scalar(xp, math.pi, x)) - out) / safe
    return (g * xp.where(zero, scalar(xp, 0.0, slope), slope),)


@defrule("special.cbrt")
def cbrt(xp, x):
    """the real cube root; its gradient at 0 is inf, as JAX's"""
    return xp.sign(x) * xp.pow(xp.abs(x), scalar(xp, 1.0 / 3.0, x))


@cbrt.defvjp
def cbrt_vjp(xp, g, out, x):
    return (g / (scalar(xp, 3.0, out) * out * out),)


@defrule("special.boxcox", domain=("positive", "real"), broadcasts=True)
def boxcox(xp, x, lmbda):
    """(x**lmbda - 1) / lmbda, log(x) at lmbda == 0 (computed as expm1(lmbda log x) / lmbda)"""
    log_x = xp.log(x)
    at_zero = lmbda == scalar(xp, 0.0, lmbda)
    safe = xp.where(at_zero, scalar(xp, 1.0, lmbda), lmbda)
    return xp.where(at_zero, log_x, xp.expm1(safe * log_x) / safe)


@boxcox.defvjp
def boxcox_vjp(xp, g, out, x, lmbda):
    def grad_x():
        return g * xp.pow(x, lmbda - scalar(xp, 1.0, lmbda))

    def grad_lmbda():
        # (log(x) x**lmbda - out) / lmbda, with x**lmbda = lmbda out + 1; log(x)**2 / 2 at lmbda == 0
        log_x = xp.log(x)
        at_zero = lmbda == scalar(xp, 0.0, lmbda)
        safe = xp.where(at_zero, scalar(xp, 1.0, lmbda), lmbda)
        slope = (log_x * (safe * out + scalar(xp, 1.0, out)) - out) / safe
        return g * xp.where(at_zero, log_x * log_x * scalar(xp, 0.5, log_x), slope)
    return grad_x, grad_lmbda


# -- reductions with SciPy's signatures ------------------------------------------------------

@defrule("special.logsumexp", broadcasts=True)
def logsumexp(xp, a, *b, axis=None, keepdims=False, signed=False):
    """log(sum(b * exp(a))) over axis (b = 1 if not given), shifted by the max of a where
    b != 0; signed: log |sum| (SciPy's return_sign; the sign itself takes no gradient).
    Without signed a negative sum is nan, as SciPy's."""
    total, shift = _weighted_sum(xp, a, b, axis)
    out = xp.log(xp.abs(total) if signed else total) + shift
    return out if keepdims else xp.squeeze(out, axis=normalize_axes(axis, out.ndim))


def _weighted_sum(xp, a, b, axis):
    """sum(b * exp(a - shift)) over axis (kept) and the shift: the max of a where b != 0."""
    if b:
        (b,) = b
        a, b = xp.broadcast_arrays(a, b)
        masked = xp.where(b != scalar(xp, 0.0, b), a, scalar(xp, -math.inf, a))
        shift = _nn._finite_shift(xp, masked, axis)
        return xp.sum(b * xp.exp(a - shift), axis=axis, keepdims=True), shift
    shift = _nn._finite_shift(xp, a, axis)
    return xp.sum(xp.exp(a - shift), axis=axis, keepdims=True), shift


@logsumexp.defvjp
def logsumexp_vjp(xp, g, out, a, *b, axis=None, keepdims=False, signed=False):
    shape = xp.broadcast_arrays(a, *b)[0].shape if b else a.shape
    kept = tuple(1 if i in normalize_axes(axis, len(shape)) else n for i, n in enumerate(shape))
    g = xp.reshape(g, kept)
    if not b:
        e = xp.exp(a - _nn._finite_shift(xp, a, axis))
        return (g * (e / xp.sum(e, axis=axis, keepdims=True)),)
    (weights,) = b
    a_full, b_full = xp.broadcast_arrays(a, weights)
    total, shift = _weighted_sum(xp, a_full, (b_full,), axis)
    scaled = g * xp.exp(a_full - shift) / total  # d out / d b; times b: d out / d a
    return lambda: scaled * b_full, lambda: scaled


@defrule("special.softmax")
def softmax(xp, x, *, axis=None):
    """exp(x) / sum(exp(x)) over axis: SciPy's, over every axis by default"""
    return _nn.softmax.forward(xp, x, axis=axis)


@softmax.defvjp
def softmax_vjp(xp, g, out, x, *, axis=None):
    return _nn.softmax.vjp(xp, g, out, x, axis=axis)


@defrule("special.log_softmax")
def log_softmax(xp, x, *, axis=None):
    """x - logsumexp(x) over axis: SciPy's, over every axis by default"""
    return _nn.log_softmax.forward(xp, x, axis=axis)


@log_softmax.defvjp
def log_softmax_vjp(xp, g, out, x, *, axis=None):
    return _nn.log_softmax.vjp(xp, g, out, x, axis=axis)
