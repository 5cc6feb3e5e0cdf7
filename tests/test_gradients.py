"""Every differentiable rule against central differences in float64 (polygrad.testing.gradcheck).

Cases are generated per family of ops over shapes that exercise the engine's
unbroadcasting (size-1 and leading axes), 0-d and empty arrays, non-contiguous NumPy
inputs, reductions' axis/keepdims, indexing with repeated indices, and (for the
internal rules scatter and scatter_add) second derivatives. Inputs stay inside each
op's domain and away from kinks; the kink conventions are checked against JAX at the
end of this file.

``test_every_differentiable_rule_is_covered`` fails when a rule is added to RULES
without a case here that runs its vjp.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import polygrad as pg
from polygrad.testing import gradcheck
from backends import spec
from conftest import BACKEND, requires_jax, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

_rng = np.random.default_rng(20240601)


# -- inputs ------------------------------------------------------------------------------------

def real(*shape):
    return _rng.normal(size=shape)


def positive(*shape):
    return _rng.uniform(0.5, 2.0, size=shape)


def above_minus_one(*shape):
    return _rng.uniform(-0.7, 2.0, size=shape)


def nonzero(*shape):
    """Values with |x| in [0.5, 2] and a random sign: away from 0 (divisors, kinks)."""
    return _rng.uniform(0.5, 2.0, size=shape) * _rng.choice([-1.0, 1.0], size=shape)


def transposed(make, *shape):
    """A non-contiguous array of ``shape``: the transpose of a C-ordered array."""
    a = make(*reversed(shape)).T
    assert not a.flags.c_contiguous or a.ndim < 2
    return a


def strided(make, *shape):
    """A non-contiguous array of ``shape``: every other row of a larger array."""
    a = make(2 * shape[0], *shape[1:])[::2]
    assert not a.flags.c_contiguous
    return a


@dataclass
class Case:
    id: str
    f: Callable
    args: tuple
    wrt: Any = None

    def __repr__(self):
        return self.id


CASES: list[Case] = []


def case(id_, f, *args, wrt=None):
    CASES.append(Case(id_, f, args, wrt))


# -- elementwise, one input --------------------------------------------------------------------

UNARY = {
    "negative": (pg.negative, real),
    "neg_operator": (lambda x: -x, real),
    "exp": (pg.exp, real),
    "log": (pg.log, positive),
    "log1p": (pg.log1p, above_minus_one),
    "expm1": (pg.expm1, real),
    "sqrt": (pg.sqrt, positive),
    "sin": (pg.sin, real),
    "cos": (pg.cos, real),
    "tanh": (pg.tanh, real),
    "sigmoid": (pg.sigmoid, real),
    "relu": (pg.relu, nonzero),
    "abs": (pg.abs, nonzero),
    "sign": (pg.sign, nonzero),
    "square": (pg.square, real),
    "astype_float64": (lambda x: pg.astype(x, pg.float64), real),
    "clip_scalar_bounds": (lambda x: pg.clip(x, min=-0.3, max=0.4), nonzero),
    "clip_min_only": (lambda x: pg.clip(x, min=0.1), nonzero),
    "clip_max_only": (lambda x: pg.clip(x, max=-0.2), nonzero),
    "softmax": (pg.softmax, real),
    "log_softmax": (pg.log_softmax, real),
}

for name, (fn, make) in UNARY.items():
    needs_axis = name in ("softmax", "log_softmax")
    if not needs_axis:
        case(f"{name}[0d]", fn, make())
    case(f"{name}[(3,)]", fn, make(3))
    case(f"{name}[(2,3,4)]", fn, make(2, 3, 4))
    case(f"{name}[(0,3)]", fn, make(0, 3))
    case(f"{name}[transposed(3,4)]", fn, transposed(make, 3, 4))
    case(f"{name}[strided(3,2)]", fn, strided(make, 3, 2))

case("softmax[axis0]", lambda x: pg.softmax(x, axis=0), real(3, 4))
case("log_softmax[axis1 of 3d]", lambda x: pg.log_softmax(x, axis=1), real(2, 3, 2))
case("softmax[(1,)]", pg.softmax, real(1))


def _cross_entropy(labels):
    """The fused softmax_cross_entropy op's per-example losses (labels a constant),
    weighted so that every example's cotangent differs."""
    def loss(logits):
        per_example = pg.nn.cross_entropy(logits, labels, reduction="none")
        weights = np.linspace(0.5, 1.5, max(per_example.size, 1))[:per_example.size].reshape(per_example.shape)
        return per_example * pg.asarray(weights, dtype=per_example.dtype)
    return loss


for shape in [(4, 3), (2, 3, 4), (0, 3), (3,), (4, 1)]:
    case(f"softmax_cross_entropy[{shape}]", _cross_entropy(_rng.integers(0, shape[-1], shape[:-1])), real(*shape))
case("softmax_cross_entropy[transposed(4,3)]", _cross_entropy(np.array([2, 0, 1, 2])), transposed(real, 4, 3))
case("softmax_cross_entropy[strided(3,5)]", _cross_entropy(np.array([4, 0, 3])), strided(real, 3, 5))
case("softmax_cross_entropy[mean]", lambda x: pg.nn.softmax_cross_entropy(x, np.array([1, 1, 0])), real(3, 2))

# -- elementwise, two inputs: broadcasting against size-1 and missing axes ----------------------

BROADCAST_SHAPES = [((3, 1), (3, 4)), ((4,), (2, 3, 4)), ((1,), ()), ((), ()), ((0, 3), (3,)), ((2, 1, 4), (3, 1))]

BINARY = {
    "add": (lambda a, b: a + b, real, real),
    "subtract": (lambda a, b: a - b, real, real),
    "multiply": (lambda a, b: a * b, real, real),
    "divide": (lambda a, b: a / b, real, nonzero),
    "pow": (lambda a, b: a ** b, positive, real),
    "maximum": (pg.maximum, real, real),
    "minimum": (pg.minimum, real, real),
    "namespace_add": (pg.add, real, real),
    "namespace_subtract": (pg.subtract, real, real),
}

for name, (fn, make_a, make_b) in BINARY.items():
    for sa, sb in BROADCAST_SHAPES:
        case(f"{name}[{sa}+{sb}]", fn, make_a(*sa), make_b(*sb))
        if sa != sb:
            case(f"{name}[{sb}+{sa}]", fn, make_a(*sb), make_b(*sa))
    case(f"{name}[transposed+strided]", fn, transposed(make_a, 3, 2), strided(make_b, 3, 2))

# Python numbers on either side, and the reflected operators.
case("add_scalar_right", lambda x: x + 2.5, real(2, 3))
case("radd_scalar", lambda x: 2.5 + x, real(2, 3))
case("rsub_scalar", lambda x: 1.5 - x, real(2, 3))
case("rmul_scalar", lambda x: 3.0 * x, real(2, 3))
case("rtruediv_scalar", lambda x: 2.0 / x, nonzero(2, 3))
case("truediv_scalar", lambda x: x / 4.0, real(2, 3))
case("rpow_scalar", lambda x: 2.0 ** x, real(2, 3))
case("pow_int_exponent", lambda x: x ** 3, real(2, 3))
case("pow_negative_int_exponent", lambda x: x ** -2, nonzero(2, 3))
case("pow_half_exponent", lambda x: x ** 0.5, positive(2, 3))
case("pow_zero_exponent", lambda x: x ** 0, real(4))
case("pow_base_only", lambda a, b: a ** b, positive(3), real(3), wrt=[0])
case("pow_exponent_only", lambda a, b: a ** b, positive(3), real(3), wrt=[1])
case("maximum_scalar", lambda x: pg.maximum(x, 0.25), nonzero(2, 3))
case("numpy_left_operand", lambda x: np.array([1.0, 2.0, 3.0]) * x, real(2, 3))

# -- the standard's other elementwise functions: 0-d, empty, non-contiguous; binary ones broadcast --

def open_unit(*shape):
    return _rng.uniform(-0.9, 0.9, size=shape)


def above_one(*shape):
    return _rng.uniform(1.2, 3.0, size=shape)


def imag_of_complex(x):
    """imag is defined for complex input: x is made complex where the backend has the complex
    dtype of its precision (MLX has complex64 only, and takes imag of a real array: 0)."""
    wide = "complex128" if x.dtype == pg.backend().dtype("float64") else "complex64"
    if not hasattr(pg.backend().xp, wide):
        return pg.imag(x) + x
    return pg.imag(x * (1.0 + 2.0j)) + pg.real(pg.conj(x * (0.5 - 1.0j)))


MORE_UNARY = {
    "tan": (pg.tan, open_unit), "asin": (pg.asin, open_unit), "acos": (pg.acos, open_unit),
    "atan": (pg.atan, real), "sinh": (pg.sinh, real), "cosh": (pg.cosh, real),
    "asinh": (pg.asinh, real), "acosh": (pg.acosh, above_one), "atanh": (pg.atanh, open_unit),
    "log2": (pg.log2, positive), "log10": (pg.log10, positive), "reciprocal": (pg.reciprocal, nonzero),
    "positive": (lambda x: +x, real), "copy": (lambda x: pg.asarray(x, copy=True), real),
    "real": (pg.real, real), "imag": (imag_of_complex, real), "conj": (pg.conj, real),
}
for name, (fn, make) in MORE_UNARY.items():
    case(f"{name}[0d]", fn, make())
    case(f"{name}[(0,3)]", fn, make(0, 3))
    case(f"{name}[transposed(3,2)]", fn, transposed(make, 3, 2))

MORE_BINARY = {
    "atan2": (pg.atan2, nonzero, nonzero), "hypot": (pg.hypot, nonzero, nonzero),
    "logaddexp": (pg.logaddexp, real, real), "copysign": (pg.copysign, nonzero, nonzero),
    "remainder": (lambda a, b: a % b, real, nonzero),
}
for name, (fn, make_a, make_b) in MORE_BINARY.items():
    for sa, sb in (((3, 1), (2, 1, 4)), ((), ()), ((0, 3), (3,))):
        case(f"{name}[{sa}+{sb}]", fn, make_a(*sa), make_b(*sb))
    case(f"{name}[python scalar]", lambda x, fn=fn: fn(x, 0.75), make_a(2, 3))

# where: the condition broadcasts too, and takes no gradient.
COND = np.array([True, False, True])
case("where[(4,3),(4,1)]", lambda a, b: pg.where(COND, a, b), real(4, 3), real(4, 1))
case("where[(3,),()]", lambda a, b: pg.where(COND, a, b), real(3), real())
case("where[cond (2,1)]", lambda a, b: pg.where(np.array([[True], [False]]), a, b), real(3), real(2, 3))
case("where[transposed]", lambda a, b: pg.where(COND, a, b), transposed(real, 4, 3), real(3))
case("where[from comparison]", lambda a, b: pg.where(a > b, a * b, a - b), nonzero(3, 4), nonzero(3, 4) + 5.0)

# clip with array bounds composes maximum and minimum.
case("clip_array_bounds", lambda x, lo, hi: pg.clip(x, min=lo, max=hi),
     real(2, 4), real(4) - 3.0, real(2, 1) + 3.0)

# -- reductions: axis / keepdims variants ----------------------------------------------------------

AXES = [None, 0, -1, (0, 2), (0, 1, 2)]
REDUCTIONS = {
    "sum": (pg.sum, real),
    "mean": (pg.mean, real),
    "prod": (pg.prod, nonzero),
    "max": (pg.max, real),
    "min": (pg.min, real),
    "var": (pg.var, real),
    "std": (pg.std, real),
    "logsumexp": (pg.logsumexp, real),
}

for name, (fn, make) in REDUCTIONS.items():
    x = make(2, 3, 4)
    for axis in AXES:
        for keepdims in (False, True):
            case(f"{name}[axis={axis},keepdims={keepdims}]",
                 lambda v, fn=fn, axis=axis, keepdims=keepdims: fn(v, axis=axis, keepdims=keepdims), x)
    case(f"{name}[transposed]", lambda v, fn=fn: fn(v, axis=0), transposed(make, 3, 4))
    case(f"{name}[list axis]", lambda v, fn=fn: fn(v, axis=[1, 0]), make(3, 2))
    if name != "std":  # std of one element is 0, where its gradient is nan (a kink, see below)
        case(f"{name}[0d]", fn, make())
        case(f"{name}[(1,4) axis 0]", lambda v, fn=fn: fn(v, axis=0), make(1, 4))

for name in ("sum", "mean", "logsumexp", "prod"):
    fn = REDUCTIONS[name][0]
    case(f"{name}[empty (0,3) axis=1]", lambda v, fn=fn: fn(v, axis=1), real(0, 3))
case("sum[empty (0,3) axis=0]", lambda v: pg.sum(v, axis=0), real(0, 3))
case("prod[empty (0,3) axis=0]", lambda v: pg.prod(v, axis=0), real(0, 3))
case("prod[with zeros]", lambda v: pg.prod(v, axis=1), np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.0, -2.0, 0.5]]))
case("prod[with zeros, all]", pg.prod, np.array([[1.5, 0.0], [2.0, -1.0]]))
case("var[correction=1]", lambda v: pg.var(v, axis=0, correction=1), real(4, 3))
case("std[correction=1,keepdims]", lambda v: pg.std(v, axis=1, correction=1, keepdims=True), real(4, 3))
case("sum_method", lambda v: v.sum(axis=1, keepdims=True), real(3, 4))
case("mean_method", lambda v: v.mean(axis=(0,)), real(3, 4))
case("max_method", lambda v: v.max(axis=-1), real(3, 4))
case("min_method", lambda v: v.min(), real(3, 4))

# -- linear algebra --------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
    ((2, 2, 3), (3, 4)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)),
    ((2, 1, 2, 3), (3, 3, 2)), ((1, 2, 3), (2, 3, 1)),
    ((0, 3), (3, 2)), ((2, 0), (0, 2)),
]
for sa, sb in MATMUL_SHAPES:
    case(f"matmul[{sa}@{sb}]", lambda a, b: a @ b, real(*sa), real(*sb))
case("matmul[transposed]", pg.matmul, transposed(real, 2, 3), transposed(real, 3, 4))
case("matmul[strided]", pg.matmul, strided(real, 2, 3), real(3, 2))
case("matmul[numpy on the left]", lambda b, a=real(2, 3): a @ b, real(3, 2))
case("matmul[first only]", lambda a, b: a @ b, real(2, 3), real(3, 2), wrt=[0])
case("matmul[second only]", lambda a, b: a @ b, real(2, 3), real(3, 2), wrt=[1])

TENSORDOT = [
    ((2, 3), (3, 4), 1),
    ((2, 3, 4), (3, 4, 2), 2),
    ((2,), (3,), 0),
    ((2, 3, 4), (3, 5, 2), ([1, 0], [0, 2])),
    ((2, 3, 4), (4, 2), ([-1], [0])),
]
for sa, sb, axes in TENSORDOT:
    case(f"tensordot[{sa},{sb},axes={axes}]",
         lambda a, b, axes=axes: pg.tensordot(a, b, axes=axes), real(*sa), real(*sb))
case("vecdot", lambda a, b: pg.vecdot(a, b), real(2, 3), real(3))
case("matrix_transpose", pg.matrix_transpose, real(2, 3, 4))
case("matrix_transpose[.mT]", lambda x: x.mT @ x, real(3, 2))

# -- shape manipulation -----------------------------------------------------------------------------

case("reshape", lambda x: pg.reshape(x, (4, 3)), real(2, 6))
case("reshape[-1]", lambda x: pg.reshape(x, (-1,)), transposed(real, 3, 4))
case("reshape[0d]", lambda x: pg.reshape(x, (1, 1)), real())
case("reshape_method", lambda x: x.reshape(3, 2), real(6))
case("reshape[empty]", lambda x: pg.reshape(x, (3, 0)), real(0, 3))
case("permute_dims", lambda x: pg.permute_dims(x, (2, 0, 1)), real(2, 3, 4))
case("permute_dims[.T]", lambda x, w=real(4, 3): x.T * w, real(3, 4))
case("moveaxis", lambda x: pg.moveaxis(x, 0, -1), real(2, 3, 4))
case("expand_dims", lambda x, w=real(3, 2, 4): pg.expand_dims(x, axis=1) * w, real(3, 4))
case("expand_dims[-1]", lambda x: pg.expand_dims(x, axis=-1), real(3))
case("squeeze", lambda x: pg.squeeze(x, axis=(0, 2)), real(1, 3, 1))
case("squeeze[int axis]", lambda x: pg.squeeze(x, axis=1), real(3, 1))
case("broadcast_to", lambda x: pg.broadcast_to(x, (2, 4, 3)), real(4, 1))
case("broadcast_to[0d]", lambda x: pg.broadcast_to(x, (2, 3)), real())
case("broadcast_arrays", lambda a, b, w=real(2, 3, 4): pg.stack(pg.broadcast_arrays(a, b)) * w, real(3, 1), real(4))
case("concat[axis0]", lambda a, b: pg.concat([a, b], axis=0), real(2, 3), real(1, 3))
case("concat[axis-1]", lambda a, b, c: pg.concat([a, b, c], axis=-1), real(2, 1), real(2, 3), transposed(real, 2, 2))
case("concat[axis=None]", lambda a, b: pg.concat([a, b], axis=None), real(4, 3), real(2, 3))
case("concat[empty]", lambda a, b: pg.concat([a, b], axis=0), real(0, 3), real(2, 3))
case("stack[axis0]", lambda a, b: pg.stack([a, b]), real(2, 3), real(2, 3))
case("stack[axis1]", lambda a, b: pg.stack([a, b], axis=1), real(2, 3), strided(real, 2, 3))
case("stack[axis-1, 0d]", lambda a, b: pg.stack([a, b], axis=-1), real(), real())
case("flip", lambda x: pg.flip(x, axis=0), real(3, 2))

# -- indexing -----------------------------------------------------------------------------------------

BASIC_KEYS = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, 3),
    "negative step": slice(None, None, -1),
    "negative step 2": (slice(None), slice(None, None, -2)),
    "None": None,
    "None, Ellipsis, reversed": (None, Ellipsis, slice(None, None, -1)),
    "Ellipsis, int": (Ellipsis, 1),
    "int, int": (2, -2),
    "slice, None, slice": (slice(None), None, slice(1, None)),
    "every other row": slice(None, None, 2),
    "empty slice": slice(2, 2),
    "numpy integer": np.int64(2),
}
for name, key in BASIC_KEYS.items():
    case(f"getitem[{name}]", lambda x, key=key: x[key], real(4, 3))
case("getitem[0d with None]", lambda x: x[None], real())
case("getitem[0d with Ellipsis]", lambda x: x[...] * 2.0, real())
case("getitem[transposed, reversed]", lambda x: x[::-1, 1:], transposed(real, 4, 3))
case("getitem[boolean mask]", lambda x: x[np.array([True, False, True, True])], real(4, 3))

ROWS, COLS = np.array([0, 0, 2, 3]), np.array([1, 1, 0, 1])
ADVANCED_KEYS = {
    "repeated list": [0, 0, 2],
    "negative list": [-1, 0, -1],
    "rows, cols": (ROWS, COLS),
    "columns": (slice(None), [1, 1, 0]),
    "2d index": np.array([[0, 1], [1, 1]]),
    "int and list": (1, [0, 0, 2]),
    "Ellipsis and list": (Ellipsis, [2, 2]),
    "None and list": (None, [2, 2]),
    "empty index": np.array([], dtype=np.int64),
}
for name, key in ADVANCED_KEYS.items():
    case(f"index[{name}]", lambda x, key=key: x[key], real(4, 3))
case("index[3d, middle axes]", lambda x: x[:, [1, 1, 0], [2, 0, 2]], real(2, 3, 3))
case("index[rows, cols, transposed]", lambda x: x[ROWS, COLS], transposed(real, 4, 3))

TAKES = [((4, 3), [0, 0, 2], 0), ((4, 3), [2, 2, 1, 0], 1), ((4, 3), [-1, 0, -1], 1), ((5,), [4, 4, 0], None)]
for shape, idx, axis in TAKES:
    case(f"take[{shape},{idx},axis={axis}]",
         lambda x, idx=np.array(idx), axis=axis: pg.take(x, idx, axis=axis), real(*shape))

# the call op: a checkpointed function of two outputs (packed into one node)
case("call[checkpoint, two outputs]",
     lambda x, y: (lambda pair: pair[0] * pair[1])(pg.checkpoint(lambda a, b: (pg.sin(a) * b, a * a))(x, y)),
     real(3), real(1, 3))

# -- pg.special: one case per rule (tests/test_special.py has the edges and higher derivatives) -------
# The functions built on erf, gamma or Bessel primitives are a declared deviation on
# array_api_strict (backends/array_api_strict.py): their cases are left out there.

def inside(low, high):
    return lambda *shape: _rng.uniform(low, high, size=shape)


S = pg.special
SPECIAL_UNARY = {
    "erf": (S.erf, real), "erfc": (S.erfc, real), "erfinv": (S.erfinv, inside(-0.9, 0.9)),
    "erfcx": (S.erfcx, real), "ndtr": (S.ndtr, real), "log_ndtr": (S.log_ndtr, real),
    "ndtri": (S.ndtri, inside(0.05, 0.95)), "gammaln": (S.gammaln, positive), "gamma": (S.gamma, positive),
    "digamma": (S.digamma, positive), "polygamma": (lambda x: S.polygamma(2, x), positive),
    "i0e": (S.i0e, nonzero), "i1e": (S.i1e, nonzero), "expit": (S.expit, real),
    "logit": (S.logit, inside(0.05, 0.95)), "log_expit": (S.log_expit, real), "softplus": (S.softplus, real),
    "entr": (S.entr, positive), "sinc": (S.sinc, real), "cbrt": (S.cbrt, nonzero),
    "softmax": (S.softmax, real), "log_softmax": (S.log_softmax, real),
}
SPECIAL_BINARY = {
    "betaln": (S.betaln, positive, positive), "xlogy": (S.xlogy, real, positive),
    "xlog1py": (S.xlog1py, real, above_minus_one), "rel_entr": (S.rel_entr, positive, positive),
    "kl_div": (S.kl_div, positive, positive), "huber": (S.huber, positive, nonzero),
    "pseudo_huber": (S.pseudo_huber, positive, real), "boxcox": (S.boxcox, positive, real),
    "logsumexp": (lambda a, b: S.logsumexp(a, axis=1, b=b), real, positive),
    "logsumexp_signed": (lambda a, b: S.logsumexp(a, axis=0, b=b, return_sign=True)[0], real, nonzero),
}
_ON_PRIMITIVES = {"erf", "erfc", "erfinv", "erfcx", "ndtr", "log_ndtr", "ndtri", "gammaln", "gamma",
                  "digamma", "polygamma", "betaln", "i0e", "i1e"}
_HAS_PRIMITIVES = BACKEND != "array_api_strict"
for name, (fn, make) in SPECIAL_UNARY.items():
    if _HAS_PRIMITIVES or name not in _ON_PRIMITIVES:
        case(f"special.{name}[transposed(2,3)]", fn, transposed(make, 2, 3))
for name, (fn, make_a, make_b) in SPECIAL_BINARY.items():
    if _HAS_PRIMITIVES or name not in _ON_PRIMITIVES:
        case(f"special.{name}[(2,3),(3,)]", fn, make_a(2, 3), make_b(3))
if _HAS_PRIMITIVES:
    for name in ("gammainc", "gammaincc"):  # a gradient in x only
        case(f"special.{name}[(2,3),(3,)]", getattr(S, name), positive(2, 3), positive(3), wrt=[1])


# The rest of the standard's functions and item assignment, one case per rule (checked at
# length in tests/test_manipulation_api.py and tests/test_setitem.py).
WITH_ZEROS = real(3, 4)
WITH_ZEROS[0, 1] = WITH_ZEROS[1, 1] = WITH_ZEROS[1, 3] = 0.0


def written(x, key, values):
    """x with values(x) written at key, into a copy (the tests in test_setitem.py write in place)."""
    y = x * 1.0
    y[key] = values(x)
    return y


case("cumulative_sum", lambda x: pg.cumulative_sum(x, axis=1, include_initial=True), real(3, 4))
case("cumulative_prod[zeros]", lambda x: pg.cumulative_prod(x, axis=1), WITH_ZEROS)
case("sort[descending]", lambda x: pg.sort(x, axis=0, descending=True), real(4, 3))
case("repeat[int]", lambda x: pg.repeat(x, 2, axis=1), real(2, 3))
case("repeat[counts]", lambda x: pg.repeat(x, np.array([2, 0, 1])), real(3))
case("tile", lambda x: pg.tile(x, (2, 1, 2)), real(2, 3))
case("roll", lambda x: pg.roll(x, (1, -2), axis=(0, 1)), real(3, 4))
case("tril", lambda x: pg.tril(x, k=1), real(2, 3, 3))
case("triu", lambda x: pg.triu(x, k=-1), real(3, 4))
case("take_along_axis", lambda x: pg.take_along_axis(x, np.array([[0, 2, 2, -1]]), axis=0), real(3, 4))
case("setitem[basic]", lambda x: written(x, (slice(1, None), 0), lambda x: x[0, :2] * 3.0), real(3, 4))
case("setitem[integer arrays]", lambda x: written(x, np.array([2, 1, 2]), lambda x: x[::-1] * 2.0), real(3, 4))

# -- second order: vjps run with polygrad's namespace (create_graph) ---------------------------------
# The inner gradients below are built from scatter (getitem's transpose) and scatter_add
# (take's transpose), so their own vjps are checked here.


def hessian_vector(inner):
    return lambda x: pg.grad(inner)(x)


SECOND_ORDER = {
    "getitem": lambda y: pg.sum(pg.sin(y[1:, ::-1])),
    "getitem None": lambda y: pg.sum(pg.tanh(y[None, 2, ..., :2])),
    "take": lambda y: pg.sum(pg.sin(pg.take(y, np.array([0, 0, 2]), axis=0))),
    "index rows cols": lambda y: pg.sum(pg.sin(y[ROWS, COLS]) * y[ROWS, COLS]),
    "exp log": lambda y: pg.sum(pg.exp(y) * pg.log(y * y + 1.0)),
    "tanh sigmoid": lambda y: pg.sum(pg.tanh(y) * pg.sigmoid(y)),
    "softmax": lambda y: pg.sum(pg.softmax(y, axis=-1) * np.arange(12.0).reshape(4, 3)),
    "logsumexp": lambda y: pg.logsumexp(y * y),
    "matmul": lambda y: pg.sum((y @ y.T) ** 2),
    "prod": lambda y: pg.sum(pg.prod(y, axis=0)),
    "max min": lambda y: pg.max(pg.sin(y)) * pg.min(pg.cos(y)),
    "var std": lambda y: pg.var(y) + pg.std(y, axis=1).sum(),
    "pow": lambda y: pg.sum((y * y + 1.0) ** y),
    "divide": lambda y: pg.sum(1.0 / (y * y + 1.0)),
    "stack concat": lambda y: pg.sum(pg.concat([y, y * y], axis=0) * pg.stack([y, y], axis=0).reshape(8, 3)),
    "cumulative_prod": lambda y: pg.sum(pg.cumulative_prod(y * y, axis=0) * pg.cumulative_sum(y, axis=1)),
    "sort take_along_axis": lambda y: pg.sum(pg.sin(pg.sort(y, axis=0)) * y),
    "setitem put": lambda y: pg.sum(pg.sin(written(y, (slice(None), 1), lambda y: y[:, 0] ** 2))
                                    + pg.exp(written(y, np.array([3, 0, 3]), lambda y: y[:3] * y[1:]))),
}
for name, inner in SECOND_ORDER.items():
    case(f"second_order[{name}]", hessian_vector(inner), real(4, 3))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_gradcheck(c: Case):
    with np.errstate(all="ignore"):
        gradcheck(c.f, *c.args, wrt=c.wrt)


# -- coverage of the rules table -------------------------------------------------------------------------

FAMILY_MODULES = ("test_linalg", "test_fft")


@pytest.mark.backend_independent
def test_every_differentiable_rule_is_covered(monkeypatch):
    """Each rule with a vjp has its vjp run by at least one case above.

    Runs every case's gradient once with each rule's vjp wrapped by a recorder; a rule
    added to RULES without a gradcheck case makes this fail. Which cases exist is a
    property of this file, not of the backend (each backend's run checks every case
    itself, in test_gradcheck): it runs in the numpy run alone (100 s of XLA compiles
    on jax).
    """
    ran: set[str] = set()
    for name, rule in pg.RULES.items():
        if rule.vjp is None:
            continue

        def recording(*args, _vjp=rule.vjp, _name=name, **kwargs):
            ran.add(_name)
            return _vjp(*args, **kwargs)
        monkeypatch.setattr(rule, "vjp", recording)
    # Families with a gradcheck module of their own (same checks, their own inputs) count too.
    family_cases = [Case(name, f, args) for module in FAMILY_MODULES
                    for name, f, args in importlib.import_module(module).GRADCHECK_CASES]
    for c in CASES + family_cases:
        wrt = c.wrt if c.wrt is not None else list(range(len(c.args)))
        args = [pg.Value(a) for a in c.args]

        def scalar(*a, c=c):
            out = c.f(*a)
            return pg.sum(out) if out.ndim else out
        with np.errstate(all="ignore"):
            pg.grad(scalar, argnums=tuple(wrt))(*args)
    differentiable = {name for name, rule in pg.RULES.items() if rule.differentiable}
    declared = set(spec(BACKEND).conformance_deviations)  # rules this backend cannot run, with reasons
    missing = sorted(differentiable - ran - declared)
    assert not missing, f"rules with a vjp but no gradcheck case: {missing}"
    # The coverage test is not vacuous: the table really has many differentiable rules.
    assert len(differentiable) >= 40


def test_float32_stays_float32():
    """No rule promotes float32 to float64 (Python floats in a vjp would): outputs and gradients."""
    pg.set_default_dtype("float32")
    f32 = pg.backend().dtype("float32")
    for c in CASES:
        if c.id.startswith("astype_float64"):
            continue
        wrt = c.wrt if c.wrt is not None else list(range(len(c.args)))

        def gradients(*args, c=c, wrt=wrt):
            values = [pg.Value(a) for a in args]
            assert all(v.dtype == f32 for v, a in zip(values, c.args) if np.asarray(a).dtype.kind == "f")

            def scalar(*a):
                out = c.f(*a)
                assert out.dtype == f32, f"{c.id}: output dtype {out.dtype}"
                return pg.sum(out) if out.ndim else out
            with np.errstate(all="ignore"):
                return [g.data for g in pg.grad(scalar, argnums=tuple(wrt))(*values)]
        grads = _abstractly(gradients, c.args) if BACKEND == "jax" else None
        if grads is None:
            grads = gradients(*c.args)
        for g in grads:
            assert g.dtype == f32, f"{c.id}: gradient dtype {g.dtype}"


def _abstractly(gradients, args):
    """``gradients`` run under jax.eval_shape, on abstract float arrays: JAX's dtypes are the
    same traced as eager, and tracing compiles nothing (every case in ~4 s, where running
    them costs a fresh XLA compile per op and shape, ~0.5 s a case). None where the case
    cannot be traced (a vjp that needs concrete values): it is then run eagerly."""
    import jax
    floats = [i for i, a in enumerate(args) if np.asarray(a).dtype.kind == "f"]

    def on_floats(*arrays):
        full = list(args)
        for i, array in zip(floats, arrays):
            full[i] = array
        return gradients(*full)
    try:
        return jax.eval_shape(on_floats, *[jax.ShapeDtypeStruct(np.shape(args[i]), np.float32) for i in floats])
    except AssertionError:
        raise
    except Exception:  # noqa: BLE001 - a host conversion or data-dependent shape under tracing
        return None


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# -- analytic checks that do not rely on finite differences --------------------------------------------------

@pytest.mark.parametrize("sa, sb", [((3, 1), (3, 4)), ((4,), (2, 3, 4)), ((1,), ()), ((1, 4), (3, 1))])
def test_broadcast_gradients_sum_back(sa, sb):
    """d sum(a + 2b) / da is the number of times each a element was broadcast."""
    a, b = pg.Value(np.ones(sa)), pg.Value(np.ones(sb))
    (a + 2.0 * b).sum().backward()
    out_size = int(np.prod(np.broadcast_shapes(sa, sb)))
    assert a.grad.shape == sa and b.grad.shape == sb
    np.testing.assert_allclose(to_numpy(a.grad), np.full(sa, out_size / max(1, int(np.prod(sa)))))
    np.testing.assert_allclose(to_numpy(b.grad), np.full(sb, 2.0 * out_size / max(1, int(np.prod(sb)))))


def test_noncontiguous_inputs_give_same_gradients():
    base = real(4, 3)
    for view in (base.T, base[::2], base[::-1, ::-2]):
        assert not view.flags.c_contiguous
        grads = []
        for data in (view, np.ascontiguousarray(view)):
            x = pg.Value(data)
            w = pg.Value(np.arange(view.shape[-1] * 2.0).reshape(view.shape[-1], 2))
            pg.sum(pg.tanh(x @ w) * pg.exp(x[:, :1])).backward()
            grads.append((to_numpy(x.grad), to_numpy(w.grad)))
        np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12)
        np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12)


def test_repeated_indices_accumulate():
    x = pg.Value(np.arange(12.0).reshape(4, 3))
    (x[[0, 0, 2]].sum() + x[np.array([1, 1, 1]), np.array([2, 2, 0])].sum() + pg.take(x, np.array([2, 2]), axis=1).sum()).backward()
    expected = np.zeros((4, 3))
    expected[0] += 2
    expected[2] += 1
    expected[1, 2] += 2
    expected[1, 0] += 1
    expected[:, 2] += 2
    np.testing.assert_array_equal(to_numpy(x.grad), expected)


@pytest.mark.parametrize("shape", [(0, 1), (0,), (2, 0), (2, 3)])
def test_gradient_through_a_boolean_mask_with_no_true_element(shape):
    """x[mask] selecting nothing, empty arrays included: the gradient is zeros, on every backend."""
    x = pg.Value(np.ones(shape))
    pg.sum(x[np.zeros(shape, dtype=bool)] * 2.0).backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.zeros(shape))


def test_prod_gradient_with_zeros_is_exact():
    x = pg.Value(np.array([2.0, 0.0, 3.0, 0.5]))
    pg.prod(x).backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [0.0, 3.0, 0.0, 0.0])
    y = pg.Value(np.array([2.0, 0.0, 0.0]))
    pg.prod(y).backward()
    np.testing.assert_array_equal(to_numpy(y.grad), [0.0, 0.0, 0.0])


def test_astype_float32_gradient_returns_to_input_dtype():
    x = pg.Value(np.array([1.0, 2.0]))
    y = pg.astype(x, pg.float32)
    assert y.dtype == pg.backend().dtype("float32")
    (y * y).sum().backward()
    assert x.grad.dtype == pg.backend().dtype("float64")
    np.testing.assert_allclose(to_numpy(x.grad), [2.0, 4.0])


def test_stop_gradient_blocks_only_its_branch():
    x = pg.Value(np.array([1.0, 2.0, 3.0]))
    (pg.stop_gradient(x) * x).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), [1.0, 2.0, 3.0])


# -- kink conventions: must equal JAX's -------------------------------------------------------------------------

KINKS = {
    "relu at 0": (lambda m: m.relu, [0.0, -1.0, 2.0]),
    "abs at 0": (lambda m: m.abs, [0.0, -1.5, 2.0]),
    "sign": (lambda m: m.sign, [0.0, -1.5, 2.0]),
    "max ties": (lambda m: (lambda x: m.max(x)), [1.0, 3.0, 3.0, 2.0]),
    "min ties of three": (lambda m: (lambda x: m.min(x)), [1.0, 1.0, 1.0, 2.0]),
    "max ties along axis": (lambda m: (lambda x: m.max(x, axis=0) * m.asarray([1.0, 2.0, 3.0])),
                            [[1.0, 3.0, 2.0], [1.0, 0.0, 2.0]]),
    "min ties keepdims": (lambda m: (lambda x: m.min(x, axis=1, keepdims=True)), [[1.0, 1.0], [0.0, 2.0]]),
    "maximum ties": (lambda m: (lambda x: m.maximum(x, m.asarray([1.0, 1.0, 5.0]))), [1.0, 2.0, 3.0]),
    "minimum ties": (lambda m: (lambda x: m.minimum(x, m.asarray([1.0, 1.0, 5.0]))), [1.0, 2.0, 3.0]),
    "maximum with scalar 0": (lambda m: (lambda x: m.maximum(x, 0.0)), [0.0, 1.0, -1.0]),
    "clip at bounds": (lambda m: (lambda x: m.clip(x, -1.0, 1.0)), [-1.0, 0.0, 1.0, 2.0, -2.0]),
    "std of a constant": (lambda m: (lambda x: m.std(x, axis=1)), [[1.0, 1.0], [0.0, 2.0]]),
    "var of a constant": (lambda m: (lambda x: m.var(x)), [1.0, 1.0]),
    "sqrt at 0": (lambda m: m.sqrt, [0.0, 4.0]),
    "x ** 0 at 0": (lambda m: (lambda x: x ** 0), [0.0, 2.0]),
    "x ** 1 at 0": (lambda m: (lambda x: x ** 1), [0.0, 2.0]),
    "x ** 2 at 0": (lambda m: (lambda x: x ** 2), [0.0, -2.0]),
}


@pytest.mark.parametrize("name", list(KINKS))
def test_kink_conventions_match_jax(name):
    jax = requires_jax()
    import jax.numpy as jnp
    make, point = KINKS[name]
    x = np.asarray(point, dtype=np.float64)

    class JaxFunctions:  # jnp, plus the nn functions polygrad's namespace also has
        relu = staticmethod(jax.nn.relu)

        def __getattr__(self, name):
            return getattr(jnp, name)

    def total(m):
        return lambda v: m.sum(make(m)(v))
    expected = np.asarray(jax.grad(total(JaxFunctions()))(jnp.asarray(x)))
    with np.errstate(all="ignore"):
        got = to_numpy(pg.grad(total(pg))(x))
    np.testing.assert_array_equal(got, expected)


def test_pow_value_value_kinks_match_jax():
    jax = requires_jax()
    import jax.numpy as jnp
    for base, exponent in [(0.0, 2.0), (0.0, 1.0), (2.0, 0.0), (0.0, 0.5)]:
        args = (np.float64(base), np.float64(exponent))
        expected = jax.grad(lambda a, b: jnp.power(a, b), argnums=(0, 1))(*map(jnp.asarray, args))
        with np.errstate(all="ignore"):
            got = pg.grad(lambda a, b: a ** b, argnums=(0, 1))(*args)
        np.testing.assert_array_equal([float(to_numpy(g)) for g in got], [float(e) for e in expected])


@pytest.mark.parametrize("shape, axis", [((2, 0), -1), ((0, 3), 1), ((0,), 0), ((3, 0, 2), 1)])
def test_softmax_family_over_an_empty_axis_matches_jax(shape, axis):
    """An empty axis has no max to shift by: softmax/log_softmax are empty, logsumexp -inf (as JAX)."""
    jax = requires_jax()
    import jax.numpy as jnp
    x = np.zeros(shape)
    with np.errstate(divide="ignore"):  # log(0) = -inf is the answer
        pairs = [(pg.softmax(pg.Value(x), axis=axis), jax.nn.softmax(jnp.asarray(x), axis=axis)),
                 (pg.log_softmax(pg.Value(x), axis=axis), jax.nn.log_softmax(jnp.asarray(x), axis=axis)),
                 (pg.logsumexp(pg.Value(x), axis=axis), jax.scipy.special.logsumexp(jnp.asarray(x), axis=axis)),
                 (pg.logsumexp(pg.Value(x)), jax.scipy.special.logsumexp(jnp.asarray(x)))]
        for got, expected in pairs:
            np.testing.assert_array_equal(to_numpy(got), np.asarray(expected))
        grad = pg.grad(lambda v: pg.sum(pg.softmax(v, axis=axis) + pg.log_softmax(v, axis=axis))
                       + pg.sum(pg.logsumexp(v, axis=axis)))(x)
    assert to_numpy(grad).shape == shape


@pytest.mark.parametrize("shape, axis, correction", [((2, 0), 1, 0), ((3, 1), 1, 1), ((3, 2), 1, 2), ((0,), None, 0)])
@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's "degrees of freedom <= 0": nan is the answer
def test_var_std_gradient_where_n_equals_correction_matches_jax(name, shape, axis, correction):
    """N - correction == 0 (an empty axis, or as many elements as the correction): nan, not a crash."""
    jax = requires_jax()
    import jax.numpy as jnp
    x = np.arange(float(np.prod(shape))).reshape(shape)
    got = pg.grad(lambda v: pg.sum(getattr(pg, name)(v, axis=axis, correction=correction)))(x)
    expected = jax.grad(lambda v: jnp.sum(getattr(jnp, name)(v, axis=axis, ddof=correction)))(jnp.asarray(x))
    np.testing.assert_array_equal(to_numpy(got), np.asarray(expected))


@pytest.mark.parametrize("axis", [-1, None])
def test_logsumexp_gradient_is_accurate_in_float32_at_large_magnitudes(axis):
    """float32 rounds logsumexp's output near 1e4 by 5e-4: the gradient must not be exp(x - out)."""
    jax = requires_jax()
    import jax.numpy as jnp
    pg.set_default_dtype("float32")
    x = np.array([[1e4, 1e4 - 1, -1e4, 0.0], [-1e4, -1e4, -1e4 + 2, -1e4 + 0.5]], dtype=np.float32)
    got = pg.grad(lambda v: pg.sum(pg.logsumexp(v, axis=axis)))(x)
    expected = jax.grad(lambda v: jnp.sum(jax.scipy.special.logsumexp(v, axis=axis)))(jnp.asarray(x, dtype=jnp.float64))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-6, atol=1e-7)


# -- the checker checks: a rule wrong by 0.1% must fail (autograd's test_tests.py) ---------------------------

def _off_by_a_tenth_of_a_percent(vjp, which=-1):
    """``vjp`` with the cotangent of input ``which`` multiplied by 1.001."""
    return pg.testing.planted_error(vjp, 1.001, which)


PLANTED = {
    "exp": (lambda xp, g, out, x: (g * out * 1.001,), pg.exp, (real(2, 3),)),
    "multiply": (_off_by_a_tenth_of_a_percent(pg.RULES["multiply"].vjp), lambda a, b: a * b, (real(3, 1), real(3, 4))),
    "mean": (_off_by_a_tenth_of_a_percent(pg.RULES["mean"].vjp), lambda x: pg.mean(x, axis=0), (real(3, 4),)),
    "getitem": (_off_by_a_tenth_of_a_percent(pg.RULES["getitem"].vjp), lambda x: x[1:, ::-1], (real(3, 2),)),
    "matmul": (_off_by_a_tenth_of_a_percent(pg.RULES["matmul"].vjp, 0), pg.matmul, (real(2, 3), real(3))),
}


@pytest.mark.parametrize("op", list(PLANTED))
def test_gradcheck_catches_a_rule_wrong_by_a_tenth_of_a_percent(op, monkeypatch):
    wrong_vjp, f, args = PLANTED[op]
    rule = pg.RULES[op]
    original = rule.vjp
    assert gradcheck(f, *args) < 1e-7  # the real rule passes
    monkeypatch.setattr(rule, "vjp", wrong_vjp)
    with pytest.raises(pg.testing.GradcheckError, match=rf"\(ops: [a-z_, ]*\b{op}\b") as caught:
        gradcheck(f, *args)
    assert isinstance(caught.value, AssertionError)  # pytest reports it as a failed check
    assert "finite differences" in str(caught.value)
    monkeypatch.undo()
    assert rule.vjp is original
    gradcheck(f, *args)


def test_gradcheck_reports_the_argument_and_element(monkeypatch):
    monkeypatch.setattr(pg.RULES["multiply"], "vjp", lambda xp, g, out, a, b: (g * b, g * a * 1.001))
    with pytest.raises(pg.testing.GradcheckError, match=r"argument 1, element \(0, 0\)"):
        gradcheck(lambda a, b: a * b, real(2, 2), real(2, 2))


def test_gradcheck_rejects_functions_that_return_no_value():
    with pytest.raises(pg.testing.GradcheckError, match="did not return a Value"):
        gradcheck(lambda x: 1.0, real(2))


@pytest.mark.parametrize("tie_at", [None, 0, -1], ids=["no tie", "tie first", "tie in the last slice"])
@pytest.mark.parametrize("other", ["array", "scalar", "transposed"])
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_and_minimum_split_ties_in_arrays_larger_than_a_slice(op, other, tie_at):
    """Large enough for NumPy's untied_mask to compare slice by slice (4 slices and a part):
    a tie anywhere, even in the last partial slice, must still split the gradient."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=(1032, 129))
    b = {"array": rng.normal(size=a.shape), "scalar": np.asarray(0.25),
         "transposed": rng.normal(size=a.shape[::-1]).T}[other]
    if tie_at is not None:
        a.reshape(-1)[tie_at] = b.reshape(-1)[0] if other == "scalar" else b.reshape(-1)[tie_at]
        if other == "transposed":  # b's element at a's flat position
            a.reshape(-1)[tie_at] = b[np.unravel_index(tie_at % a.size, a.shape)]
    left, right = pg.Value(a), pg.Value(b)
    cot = rng.uniform(0.5, 1.5, size=a.shape)
    pg.sum(getattr(pg, op)(left, right) * cot).backward()
    chosen = a > b if op == "maximum" else a < b
    share = np.where(chosen, 1.0, np.where(a == b, 0.5, 0.0))
    np.testing.assert_array_equal(to_numpy(left.grad), cot * share)
    expected_right = cot * (1.0 - share)
    if other == "scalar":
        expected_right = expected_right.sum()
    np.testing.assert_allclose(to_numpy(right.grad), expected_right, rtol=1e-12)
    assert (tie_at is not None) == bool((a == b).any())
