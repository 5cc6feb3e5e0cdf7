"""``xp.special`` (also ``pg.special``): SciPy's special functions over Values, differentiable.

Names and signatures are ``scipy.special``'s. SciPy's array-API dispatch (with
``SCIPY_ARRAY_API=1``) looks a function up as ``xp.special.<name>`` on the namespace of its
arguments before falling back to NumPy, so ``scipy.special.erf(value)`` lands here and
gets a gradient. (SciPy's logsumexp, softmax and log_softmax are written with array-API
calls and do not dispatch; the ones here take SciPy's signatures for direct use.)

Integer and boolean arguments are promoted to the default float dtype, as SciPy promotes
them to float64. Which backends compute what, and how: polygrad/_backend/_special.py; the
rules and their gradient conventions: polygrad/rules/special.py.
"""
from __future__ import annotations

import numbers
import sys

from .. import _backend
from .._graph import Value, _lift, apply
from ..errors import OpError
from ..rules import RULES, normalize_axes
from ..rules.special import _weighted_sum

__all__ = [
    "erf", "erfc", "erfinv", "erfcx", "ndtr", "log_ndtr", "ndtri",
    "gammaln", "gamma", "digamma", "psi", "polygamma", "betaln", "gammainc", "gammaincc",
    "i0e", "i1e", "expit", "logit", "log_expit", "softplus", "xlogy", "xlog1py",
    "entr", "rel_entr", "kl_div", "huber", "pseudo_huber", "sinc", "cbrt", "boxcox",
    "logsumexp", "softmax", "log_softmax",
]


def _float(x):
    """x, with integer or boolean data made the default float dtype (SciPy promotes them to
    float64). Raw float arrays and Python numbers are left to apply(), which lifts them as
    constants of the default dtype (or of the other arguments' float dtype)."""
    if isinstance(x, numbers.Number) or not hasattr(x, "dtype"):
        return x
    value = x if isinstance(x, Value) else _lift((x,), _backend.backend(), "special")[0]
    if value.backend.is_float(value.dtype):
        return x
    return apply("astype", value, dtype=_backend.default_dtype(value.backend))


def _value(x) -> Value:
    """x as a Value of a float dtype."""
    x = _float(x)
    return x if isinstance(x, Value) else _lift((x,), _backend.backend(), "special")[0]


def _named(function, op: str):
    function.__name__ = function.__qualname__ = op.split(".", 1)[1]
    function.__doc__ = f"SciPy's {function.__name__}: {RULES[op].doc}"
    return function


def _unary(op: str):
    def function(x, /):
        return apply(op, _float(x))
    return _named(function, op)


def _binary(op: str):
    def function(x1, x2, /):
        return apply(op, _float(x1), _float(x2))
    return _named(function, op)


erf = _unary("special.erf")
erfc = _unary("special.erfc")
erfinv = _unary("special.erfinv")
erfcx = _unary("special.erfcx")
ndtr = _unary("special.ndtr")
log_ndtr = _unary("special.log_ndtr")
ndtri = _unary("special.ndtri")
gammaln = _unary("special.gammaln")
gamma = _unary("special.gamma")
digamma = _unary("special.digamma")
psi = digamma  # SciPy's other name for it (its array-API dispatch looks up "psi")
i0e = _unary("special.i0e")
i1e = _unary("special.i1e")
expit = _unary("special.expit")
logit = _unary("special.logit")
log_expit = _unary("special.log_expit")
softplus = _unary("special.softplus")
entr = _unary("special.entr")
sinc = _unary("special.sinc")
cbrt = _unary("special.cbrt")

betaln = _binary("special.betaln")
xlogy = _binary("special.xlogy")
xlog1py = _binary("special.xlog1py")
rel_entr = _binary("special.rel_entr")
kl_div = _binary("special.kl_div")
huber = _binary("special.huber")
pseudo_huber = _binary("special.pseudo_huber")
boxcox = _binary("special.boxcox")


def gammainc(a, x, /):
    """P(a, x), the regularized lower incomplete gamma function. Its gradient is in x
    only: backward into an ``a`` that requires a gradient is a GradientError."""
    return apply("special.gammainc", _float(a), _float(x))


def gammaincc(a, x, /):
    """Q(a, x) = 1 - P(a, x). Its gradient is in x only, as gammainc's."""
    return apply("special.gammaincc", _float(a), _float(x))


def polygamma(n, x, /):
    """The n-th derivative of digamma; ``n`` one non-negative integer (a Python int, or a
    one-element integer array)."""
    order = _order(n)
    return apply("special.polygamma", _float(x), n=order)


def _order(n) -> int:
    if isinstance(n, Value):
        n = n._require_data("special.polygamma")
    if not isinstance(n, numbers.Integral):
        if getattr(n, "shape", None) != () or "int" not in str(getattr(n, "dtype", "")):
            raise OpError(
                f"special.polygamma: the order n must be one non-negative integer (a Python int or a "
                f"0-d integer array); got {type(n).__name__} of shape {getattr(n, 'shape', None)} and "
                f"dtype {getattr(n, 'dtype', None)} (for several orders, call polygamma once per order)"
            )
        n = int(n)
    if n < 0:
        raise OpError(f"special.polygamma: the order n must be non-negative, got {n}")
    return int(n)


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over axis, as SciPy's. With ``return_sign`` a tuple (log |sum|,
    sign of the sum); the sign takes no gradient. Without it a negative sum gives nan."""
    from . import sign, squeeze, stop_gradient  # the parent namespace (it imports this module)
    a = _value(a)
    weights = () if b is None else (_value(b),)
    axis = _axis(axis)
    out = apply("special.logsumexp", a, *weights, axis=axis, keepdims=keepdims, signed=bool(return_sign))
    if not return_sign:
        return out
    # The sign of the same shifted sum, from the rule's own helper run on polygrad's namespace
    # (so replay recomputes it), cut from the graph: it is piecewise constant.
    namespace = sys.modules[__package__]
    total, _ = _weighted_sum(namespace, stop_gradient(a), tuple(map(stop_gradient, weights)), axis)
    signs = sign(total)
    return out, signs if keepdims else squeeze(signs, axis=normalize_axes(axis, signs.ndim))


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) over axis (every axis by default, as SciPy's)."""
    return apply("special.softmax", _float(x), axis=_axis(axis))


def log_softmax(x, axis=None):
    """x - logsumexp(x) over axis (every axis by default, as SciPy's)."""
    return apply("special.log_softmax", _float(x), axis=_axis(axis))
