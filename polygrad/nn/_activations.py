"""Activation functions, composed from the namespace's differentiable ops.

Each is written so that no branch of a ``where`` can overflow (an inf there would turn
into nan in the backward pass), and the gradient at the kinks is JAX's: leaky_relu'(0) = 1,
elu'(0) = alpha, softplus'(0) = 1/2.
"""
from __future__ import annotations

import math

from .. import namespace as pn
from ..errors import PolygradError

__all__ = ["gelu", "silu", "softplus", "elu", "leaky_relu"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x, approximate: bool = True):
    """x * Phi(x), Phi the standard normal CDF.

    approximate=True (JAX's default): Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2,
    within 5e-4 of the exact form. approximate=False (PyTorch's default): (1 + erf(x/sqrt 2)) / 2,
    which needs ``special.erf`` in polygrad's namespace.
    """
    if approximate:
        inner = _SQRT_2_OVER_PI * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1.0 + pn.tanh(inner))
    erf = getattr(getattr(pn, "special", None), "erf", None)
    if erf is None:
        raise PolygradError(
            "gelu(approximate=False) needs pg.special.erf, which this polygrad does not have yet; "
            "use gelu(x) (the tanh approximation, within 5e-4 of the exact form)"
        )
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


def silu(x):
    """x * sigmoid(x) (also called swish)."""
    return x * pn.sigmoid(x)


def softplus(x):
    """log(1 + exp(x)), as hi + log1p(exp(lo - hi)) with hi = max(x, 0), lo = min(x, 0):
    exp never sees a positive argument, and the split ties at 0 give the exact 1/2 there."""
    hi, lo = pn.maximum(x, 0.0), pn.minimum(x, 0.0)
    return hi + pn.log1p(pn.exp(lo - hi))


def elu(x, alpha: float = 1.0):
    """x where x > 0, alpha * (exp(x) - 1) elsewhere."""
    positive = x > 0.0
    return pn.where(positive, x, alpha * pn.expm1(pn.where(positive, 0.0, x)))


def leaky_relu(x, negative_slope: float = 0.01):
    """x where x >= 0, negative_slope * x elsewhere."""
    return pn.where(x >= 0.0, x, negative_slope * x)
