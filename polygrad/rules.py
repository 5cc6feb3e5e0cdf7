"""The rules table: every op polygrad differentiates, forward and vjp side by side.

A rule is two functions written against an array-API namespace ``xp``:

  forward(xp, *arrays, **attrs) -> array
  vjp(xp, g, out, *arrays, **attrs) -> one cotangent per input

``g`` is the cotangent of the output, ``out`` the forward's result. A cotangent may
be ``None`` (no gradient flows to that input) or a zero-argument function, which the
engine calls only if that input needs a gradient: matmul uses it so that a constant
input costs no matrix product. Rules never unbroadcast: the engine sums each
cotangent back to its input's shape (leading and size-1 axes alike).

Because vjps only use ``xp``, the engine can run them with ``xp`` = polygrad's own
namespace over Values; that records the backward pass as a graph, which is how
``create_graph=True`` and higher derivatives work.

``domain`` tells the conformance suite where inputs are valid: "real" (anywhere),
"positive", "above_minus_one", "nonzero" (divisors), or a tuple of those per input.
Conventions at kinks follow JAX's (see README): relu'(0) = 0, abs'(0) = 1, sign' = 0,
ties of max/min/maximum/minimum/clip share the gradient equally.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Callable

__all__ = ["Rule", "RULES", "defrule", "normalize_axis", "normalize_axes"]


class Rule:
    """One op: a forward, a vjp (None for ops without a gradient) and metadata."""

    __slots__ = ("name", "forward", "vjp", "domain", "broadcasts", "doc")

    def __init__(self, name: str, forward: Callable, domain: Any, broadcasts: bool):
        self.name = name
        self.forward = forward
        self.vjp: Callable | None = None
        self.domain = domain
        self.broadcasts = broadcasts
        self.doc = (forward.__doc__ or "").strip()

    def defvjp(self, vjp: Callable) -> "Rule":
        self.vjp = vjp
        return self

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def __repr__(self) -> str:
        return f"Rule({self.name!r})"


RULES: dict[str, Rule] = {}


def defrule(name: str, *, domain: Any = "real", broadcasts: bool = False) -> Callable[[Callable], Rule]:
    """Register ``forward`` under ``name``; attach the vjp with ``@rule.defvjp``."""
    def register(forward: Callable) -> Rule:
        rule = Rule(name, forward, domain, broadcasts)
        RULES[name] = rule
        return rule
    return register


# -- helpers shared by rules -----------------------------------------------------

def normalize_axis(axis: int, ndim: int) -> int:
    if not -ndim <= axis < builtins.max(ndim, 1):
        raise IndexError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim if ndim else 0


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative ints (None means all axes)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    axes = tuple(sorted(normalize_axis(a, ndim) for a in axis))
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axis in {axis}")
    return axes


def _kept_shape(shape: tuple, axis: Any) -> tuple:
    """The shape of a reduction over ``axis`` with keepdims=True."""
    axes = normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_count(shape: tuple, axis: Any) -> int:
    return math.prod(shape[i] for i in normalize_axes(axis, len(shape)))


def _expand_reduced(xp, g, shape, axis, keepdims):
    """A reduction's cotangent broadcast back over the reduced axes."""
    if not keepdims:
        g = xp.reshape(g, _kept_shape(shape, axis))
    return xp.broadcast_to(g, shape)


def _scalar(xp, value, like):
    """A 0-d array of ``like``'s dtype: Python floats in ops would promote float32."""
    return xp.asarray(value, dtype=like.dtype)


def _tie_masks(xp, a, b, out):
    """JAX's balanced masks for out = max(a, b) or min(a, b): 1 for the input that was
    chosen, 0.5 each where they tie, 0 for both where out is nan. Arithmetic on 0/1
    masks rather than where(): NumPy's where is several times slower."""
    chose_a = xp.astype(a == out, out.dtype)
    chose_b = xp.astype(b == out, out.dtype)
    tie = chose_a * chose_b * _scalar(xp, 0.5, out)
    return chose_a - tie, chose_b - tie


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
    return lambda: g * b, lambda: g * a


@defrule("divide", domain=("real", "nonzero"), broadcasts=True)
def divide(xp, a, b):
    """a / b"""
    return xp.divide(a, b)


@divide.defvjp
def divide_vjp(xp, g, out, a, b):
    return lambda: g / b, lambda: xp.negative(g) * out / b


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
        zero = _scalar(xp, 0.0, b)
        return g * xp.where(b == zero, zero, b * xp.pow(a, b - _scalar(xp, 1.0, b)))

    def grad_b():
        safe_a = xp.where(a == _scalar(xp, 0.0, a), _scalar(xp, 1.0, a), a)
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
    return (g / (x + _scalar(xp, 1.0, x)),)


@defrule("expm1")
def expm1(xp, x):
    """exp(x) - 1, accurate near 0"""
    return xp.expm1(x)


@expm1.defvjp
def expm1_vjp(xp, g, out, x):
    return (g * (out + _scalar(xp, 1.0, out)),)


@defrule("sqrt", domain="positive")
def sqrt(xp, x):
    """square root; its gradient at 0 is inf, as in JAX"""
    return xp.sqrt(x)


@sqrt.defvjp
def sqrt_vjp(xp, g, out, x):
    return (g / (_scalar(xp, 2.0, out) * out),)


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
    return (g * (_scalar(xp, 1.0, out) - out * out),)


@defrule("sigmoid")
def sigmoid(xp, x):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows"""
    e = xp.exp(xp.negative(xp.abs(x)))
    one = _scalar(xp, 1.0, e)
    return xp.where(x >= _scalar(xp, 0.0, x), one / (one + e), e / (one + e))


@sigmoid.defvjp
def sigmoid_vjp(xp, g, out, x):
    return (g * out * (_scalar(xp, 1.0, out) - out),)


@defrule("relu")
def relu(xp, x):
    """max(x, 0); its gradient at 0 is 0, as jax.nn.relu's"""
    return xp.maximum(x, _scalar(xp, 0.0, x))


@relu.defvjp
def relu_vjp(xp, g, out, x):
    # A multiply by the 0/1 mask: NumPy's where() is about 4x slower on large arrays.
    return (g * xp.astype(x > _scalar(xp, 0.0, x), g.dtype),)


@defrule("abs")
def abs(xp, x):  # noqa: A001 - the array API's name
    """|x|; its gradient at 0 is 1, as JAX's"""
    return xp.abs(x)


@abs.defvjp
def abs_vjp(xp, g, out, x):
    return (xp.where(x >= _scalar(xp, 0.0, x), g, xp.negative(g)),)


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
    mask_a, mask_b = _tie_masks(xp, a, b, out)
    return lambda: g * mask_a, lambda: g * mask_b


@defrule("minimum", broadcasts=True)
def minimum(xp, a, b):
    """elementwise min; ties share the gradient equally, as in JAX"""
    return xp.minimum(a, b)


@minimum.defvjp
def minimum_vjp(xp, g, out, a, b):
    mask_a, mask_b = _tie_masks(xp, a, b, out)
    return lambda: g * mask_a, lambda: g * mask_b


@defrule("where", broadcasts=True)
def where(xp, condition, a, b):
    """a where condition holds, else b"""
    return xp.where(condition, a, b)


@where.defvjp
def where_vjp(xp, g, out, condition, a, b):
    zero = _scalar(xp, 0.0, g)
    return None, lambda: xp.where(condition, g, zero), lambda: xp.where(condition, zero, g)


@defrule("clip")
def clip(xp, x, *, min=None, max=None):  # noqa: A002 - the array API's names
    """x limited to [min, max]; at a bound the gradient is halved, as jnp.clip's"""
    return xp.clip(x, min=min, max=max)


@clip.defvjp
def clip_vjp(xp, g, out, x, *, min=None, max=None):  # noqa: A002
    # jnp.clip is minimum(maximum(x, min), max): a value equal to a bound ties there.
    factor, inner = None, x
    if min is not None:
        low = _scalar(xp, min, x)
        clipped = xp.maximum(inner, low)
        factor = _tie_masks(xp, inner, low, clipped)[0]
        inner = clipped
    if max is not None:
        high = _scalar(xp, max, x)
        upper = _tie_masks(xp, inner, high, xp.minimum(inner, high))[0]
        factor = upper if factor is None else factor * upper
    return (g if factor is None else g * factor,)


# -- reductions --------------------------------------------------------------------------

@defrule("sum")
def sum(xp, x, *, axis=None, keepdims=False):  # noqa: A001
    """sum over axis"""
    return xp.sum(x, axis=axis, keepdims=keepdims)


@sum.defvjp
def sum_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    return (_expand_reduced(xp, g, x.shape, axis, keepdims),)


@defrule("mean")
def mean(xp, x, *, axis=None, keepdims=False):
    """mean over axis"""
    return xp.mean(x, axis=axis, keepdims=keepdims)


@mean.defvjp
def mean_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    count = _reduced_count(x.shape, axis)
    scale = _scalar(xp, 1.0 / count if count else math.nan, g)
    return (_expand_reduced(xp, g * scale, x.shape, axis, keepdims),)


@defrule("prod")
def prod(xp, x, *, axis=None, keepdims=False):
    """product over axis; exact gradients where x holds zeros"""
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
    return (_expand_reduced(xp, g, x.shape, axis, keepdims) * others,)


def _chooser_vjp(xp, g, out, x, axis, keepdims):
    """max/min: the gradient is shared equally among the elements that tie."""
    kept = out if keepdims else xp.reshape(out, _kept_shape(x.shape, axis))
    chosen = xp.astype(x == kept, g.dtype)
    count = xp.sum(chosen, axis=axis, keepdims=True)
    g = g if keepdims else xp.reshape(g, kept.shape)
    return (chosen * (g / count),)


@defrule("max")
def max(xp, x, *, axis=None, keepdims=False):  # noqa: A001
    """maximum over axis; ties share the gradient equally, as in JAX"""
    return xp.max(x, axis=axis, keepdims=keepdims)


@max.defvjp
def max_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    return _chooser_vjp(xp, g, out, x, axis, keepdims)


@defrule("min")
def min(xp, x, *, axis=None, keepdims=False):  # noqa: A001
    """minimum over axis; ties share the gradient equally, as in JAX"""
    return xp.min(x, axis=axis, keepdims=keepdims)


@min.defvjp
def min_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    return _chooser_vjp(xp, g, out, x, axis, keepdims)


def _over_dof(numerator, shape, axis, correction):
    """numerator / (N - correction); nan where that is 0 (an empty axis, or N == correction),
    as in JAX, whose var and std gradients are nan there."""
    dof = _reduced_count(shape, axis) - correction
    return numerator / dof if dof else math.nan


@defrule("var")
def var(xp, x, *, axis=None, correction=0.0, keepdims=False):
    """variance over axis, dividing by (N - correction)"""
    return xp.var(x, axis=axis, correction=correction, keepdims=keepdims)


@var.defvjp
def var_vjp(xp, g, out, x, *, axis=None, correction=0.0, keepdims=False):
    centred = x - xp.mean(x, axis=axis, keepdims=True)
    scale = _scalar(xp, _over_dof(2.0, x.shape, axis, correction), g)
    return (_expand_reduced(xp, g * scale, x.shape, axis, keepdims) * centred,)


@defrule("std")
def std(xp, x, *, axis=None, correction=0.0, keepdims=False):
    """standard deviation over axis; its gradient is nan where std is 0, as JAX's"""
    return xp.std(x, axis=axis, correction=correction, keepdims=keepdims)


@std.defvjp
def std_vjp(xp, g, out, x, *, axis=None, correction=0.0, keepdims=False):
    centred = x - xp.mean(x, axis=axis, keepdims=True)
    scale = _scalar(xp, _over_dof(1.0, x.shape, axis, correction), g)
    return (_expand_reduced(xp, g * scale / out, x.shape, axis, keepdims) * centred,)


def _max_shift(xp, x, axis):
    """max(x) over axis (kept), the shift that keeps exp from overflowing; over an empty
    axis, where max has no value, 0 (JAX's softmax and logsumexp accept empty axes)."""
    if _reduced_count(x.shape, axis) == 0:
        return xp.zeros(_kept_shape(x.shape, axis), dtype=x.dtype)
    return xp.max(x, axis=axis, keepdims=True)


def _finite_shift(xp, x, axis):
    """_max_shift, with 0 where the max is not finite (a row of -inf stays -inf, not nan)."""
    shift = _max_shift(xp, x, axis)
    return xp.where(xp.isfinite(shift), shift, _scalar(xp, 0.0, shift))


@defrule("logsumexp")
def logsumexp(xp, x, *, axis=None, keepdims=False):
    """log(sum(exp(x))) over axis, shifted by the max so it cannot overflow; -inf over an empty axis"""
    shift = _finite_shift(xp, x, axis)
    total = xp.sum(xp.exp(x - shift), axis=axis, keepdims=True)
    out = xp.log(total) + shift
    return out if keepdims else xp.squeeze(out, axis=normalize_axes(axis, x.ndim))


@logsumexp.defvjp
def logsumexp_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    # softmax(x), from x shifted by its max as in the forward (and in JAX), not exp(x - out):
    # out is rounded at its own magnitude (5e-4 at 1e4 in float32), x - out would carry that.
    e = xp.exp(x - _finite_shift(xp, x, axis))
    return (xp.reshape(g, _kept_shape(x.shape, axis)) * (e / xp.sum(e, axis=axis, keepdims=True)),)


@defrule("softmax")
def softmax(xp, x, *, axis=-1):
    """exp(x) / sum(exp(x)) along axis, shifted by the max"""
    e = xp.exp(x - _max_shift(xp, x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


@softmax.defvjp
def softmax_vjp(xp, g, out, x, *, axis=-1):
    return (out * (g - xp.sum(g * out, axis=axis, keepdims=True)),)


@defrule("log_softmax")
def log_softmax(xp, x, *, axis=-1):
    """x - logsumexp(x) along axis, shifted by the max"""
    shifted = x - _max_shift(xp, x, axis)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


@log_softmax.defvjp
def log_softmax_vjp(xp, g, out, x, *, axis=-1):
    return (g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True),)


# -- linear algebra ----------------------------------------------------------------------

@defrule("matmul")
def matmul(xp, a, b):
    """matrix product with array-API semantics: 1-D operands, batch broadcasting"""
    return xp.matmul(a, b)


@matmul.defvjp
def matmul_vjp(xp, g, out, a, b):
    if a.ndim >= 2 and b.ndim >= 2:
        return (lambda: xp.matmul(g, xp.matrix_transpose(b)),
                lambda: xp.matmul(xp.matrix_transpose(a), g))
    # Promote 1-D operands to matrices, as matmul itself does, then drop the axis again.
    a2 = xp.reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = xp.reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = xp.expand_dims(g2, axis=-2) if b.ndim >= 2 else xp.reshape(g2, (1,))
    if b.ndim == 1:
        g2 = xp.expand_dims(g2, axis=-1) if g2.ndim else xp.reshape(g2, (1, 1))
    if g2.ndim == 1:
        g2 = xp.reshape(g2, (1, 1))

    def grad_a():
        ga = xp.matmul(g2, xp.matrix_transpose(b2))
        return xp.reshape(ga, ga.shape[:-2] + (ga.shape[-1],)) if a.ndim == 1 else ga

    def grad_b():
        gb = xp.matmul(xp.matrix_transpose(a2), g2)
        return xp.reshape(gb, gb.shape[:-1]) if b.ndim == 1 else gb
    return grad_a, grad_b


def _tensordot_axes(axes, a_ndim):
    if isinstance(axes, int):
        return tuple(range(a_ndim - axes, a_ndim)), tuple(range(axes))
    first, second = axes
    return tuple(first), tuple(second)


@defrule("tensordot")
def tensordot(xp, a, b, *, axes=2):
    """contraction over axes, with array-API ``axes`` semantics (int or two sequences)"""
    return xp.tensordot(a, b, axes=axes)


@tensordot.defvjp
def tensordot_vjp(xp, g, out, a, b, *, axes=2):
    axes_a, axes_b = _tensordot_axes(axes, a.ndim)
    axes_a = tuple(normalize_axis(i, a.ndim) for i in axes_a)
    axes_b = tuple(normalize_axis(i, b.ndim) for i in axes_b)
    free_a = tuple(i for i in range(a.ndim) if i not in axes_a)
    free_b = tuple(i for i in range(b.ndim) if i not in axes_b)
    g_free_a = tuple(range(len(free_a)))
    g_free_b = tuple(range(len(free_a), g.ndim))
    pair_of_b = dict(zip(axes_b, axes_a))
    pair_of_a = dict(zip(axes_a, axes_b))

    def grad_a():
        # Axes of the result: a's free axes, then b's contracted axes in b's order.
        ga = xp.tensordot(g, b, axes=(g_free_b, free_b))
        order = free_a + tuple(pair_of_b[i] for i in sorted(axes_b))
        return xp.permute_dims(ga, tuple(sorted(range(a.ndim), key=order.__getitem__)))

    def grad_b():
        # Axes of the result: a's contracted axes in a's order, then b's free axes.
        gb = xp.tensordot(a, g, axes=(free_a, g_free_a))
        order = tuple(pair_of_a[i] for i in sorted(axes_a)) + free_b
        return xp.permute_dims(gb, tuple(sorted(range(b.ndim), key=order.__getitem__)))
    return grad_a, grad_b


# -- shape -----------------------------------------------------------------------------------

@defrule("reshape")
def reshape(xp, x, *, shape):
    """the same elements in a new shape (C order)"""
    return xp.reshape(x, shape)


@reshape.defvjp
def reshape_vjp(xp, g, out, x, *, shape):
    return (xp.reshape(g, x.shape),)


@defrule("permute_dims")
def permute_dims(xp, x, *, axes):
    """axes reordered: result axis i is input axis axes[i]"""
    return xp.permute_dims(x, axes)


@permute_dims.defvjp
def permute_dims_vjp(xp, g, out, x, *, axes):
    return (xp.permute_dims(g, tuple(sorted(range(len(axes)), key=axes.__getitem__))),)


@defrule("matrix_transpose")
def matrix_transpose(xp, x):
    """the last two axes swapped"""
    return xp.matrix_transpose(x)


@matrix_transpose.defvjp
def matrix_transpose_vjp(xp, g, out, x):
    return (xp.matrix_transpose(g),)


@defrule("expand_dims")
def expand_dims(xp, x, *, axis):
    """a size-1 axis inserted at axis"""
    return xp.expand_dims(x, axis=axis)


@expand_dims.defvjp
def expand_dims_vjp(xp, g, out, x, *, axis):
    return (xp.reshape(g, x.shape),)


@defrule("squeeze")
def squeeze(xp, x, *, axis):
    """size-1 axes removed"""
    return xp.squeeze(x, axis=axis)


@squeeze.defvjp
def squeeze_vjp(xp, g, out, x, *, axis):
    return (xp.reshape(g, x.shape),)


@defrule("broadcast_to")
def broadcast_to(xp, x, *, shape):
    """x repeated along new leading and size-1 axes; the engine sums the gradient back"""
    return xp.broadcast_to(x, shape)


@broadcast_to.defvjp
def broadcast_to_vjp(xp, g, out, x, *, shape):
    return (g,)


@defrule("concat")
def concat(xp, *arrays, axis=0):
    """arrays joined along an existing axis (axis=None flattens them first)"""
    return xp.concat(arrays, axis=axis)


@concat.defvjp
def concat_vjp(xp, g, out, *arrays, axis=0):
    flatten = axis is None
    if flatten:
        g = xp.reshape(g, (-1,))
        axis = 0
    axis = normalize_axis(axis, g.ndim)
    pieces, start = [], 0
    for x in arrays:
        size = math.prod(x.shape) if flatten else x.shape[axis]
        key = (slice(None),) * axis + (slice(start, start + size),) + (slice(None),) * (g.ndim - axis - 1)
        pieces.append(xp.reshape(g[key], x.shape))
        start += size
    return tuple(pieces)


@defrule("stack")
def stack(xp, *arrays, axis=0):
    """arrays joined along a new axis"""
    return xp.stack(arrays, axis=axis)


@stack.defvjp
def stack_vjp(xp, g, out, *arrays, axis=0):
    axis = normalize_axis(axis, g.ndim)
    rest = (slice(None),) * (g.ndim - axis - 1)
    return tuple(g[(slice(None),) * axis + (i,) + rest] for i in range(len(arrays)))


# -- indexing --------------------------------------------------------------------------------

@defrule("getitem")
def getitem(xp, x, *, key):
    """x[key] for a basic key: integers, slices, None and Ellipsis"""
    return x[key]


@getitem.defvjp
def getitem_vjp(xp, g, out, x, *, key):
    return (xp.scatter(g, key, x.shape),)


@defrule("scatter")
def scatter(xp, values, *, key, shape):
    """zeros(shape) with values written at a basic key: the transpose of getitem"""
    return xp.scatter(values, key, shape)


@scatter.defvjp
def scatter_vjp(xp, g, out, values, *, key, shape):
    return (g[key],)


@defrule("take")
def take(xp, x, indices, *, axis=None):
    """x's elements at integer indices along axis; repeated indices add up in the gradient"""
    return xp.take(x, indices, axis=axis)


@take.defvjp
def take_vjp(xp, g, out, x, indices, *, axis=None):
    axis = 0 if axis is None else normalize_axis(axis, x.ndim)
    return xp.scatter_add(g, indices, x.shape, axis), None


@defrule("scatter_add")
def scatter_add(xp, values, indices, *, shape, axis):
    """zeros(shape) with values added at indices along axis: the transpose of take"""
    return xp.scatter_add(values, indices, shape, axis)


@scatter_add.defvjp
def scatter_add_vjp(xp, g, out, values, indices, *, shape, axis):
    return xp.take(g, indices, axis=axis), None


# -- dtype and graph control -------------------------------------------------------------------

@defrule("astype")
def astype(xp, x, *, dtype):
    """x converted to another float dtype"""
    return xp.astype(x, dtype)


@astype.defvjp
def astype_vjp(xp, g, out, x, *, dtype):
    return (xp.astype(g, x.dtype),)


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
    "nonzero", "searchsorted", "floor_divide",
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
