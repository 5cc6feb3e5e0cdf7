"""The rules table's core: Rule, RULES, defrule and the helpers rules share.

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

__all__ = [
    "Rule", "RULES", "defrule", "normalize_axis", "normalize_axes", "broadcast_shapes",
    "kept_shape", "reduced_count", "expand_reduced", "scalar", "constant", "chosen_mask", "gradient_mask", "check_reduction_axis",
]


class Rule:
    """One op: a forward, a vjp (None for ops without a gradient) and metadata."""

    __slots__ = ("name", "forward", "vjp", "checks", "batch", "domain", "broadcasts", "replayable", "doc")

    def __init__(self, name: str, forward: Callable, domain: Any, broadcasts: bool, replayable: bool = True):
        self.name = name
        self.forward = forward
        self.vjp: Callable | None = None
        self.checks: Callable | None = None
        self.batch: Callable | None = None
        self.domain = domain
        self.broadcasts = broadcasts
        self.replayable = replayable
        self.doc = (forward.__doc__ or "").strip()

    def defvjp(self, vjp: Callable) -> "Rule":
        self.vjp = vjp
        return self

    def defbatch(self, batch: Callable) -> "Rule":
        """batch(xp, arrays, batched, attrs) -> the output with the vmap axis in front.

        ``arrays`` are the inputs as stored under vmap: those with ``batched[i]`` carry the
        batch axis at position 0, the others do not; ``attrs`` are the op's own attributes,
        about the arrays without the batch axis. See rules/batching.py for the families."""
        self.batch = batch
        return self

    def defchecks(self, checks: Callable) -> "Rule":
        """checks(shapes, attrs) -> what is wrong with these input shapes, or None.

        Run only after the backend rejected the inputs, to word the error the same on
        every backend (backends word, and type, their complaints differently)."""
        self.checks = checks
        return self

    def problem(self, shapes: list, attrs: dict) -> str | None:
        """What is wrong with these input shapes for this op, if polygrad can tell."""
        if self.broadcasts and broadcast_shapes(*shapes) is None:
            return f"shapes {' and '.join(map(str, shapes))} cannot be broadcast together"
        return self.checks(shapes, attrs) if self.checks else None

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def __repr__(self) -> str:
        return f"Rule({self.name!r})"


RULES: dict[str, Rule] = {}


def defrule(name: str, *, domain: Any = "real", broadcasts: bool = False,
            replayable: bool = True) -> Callable[[Callable], Rule]:
    """Register ``forward`` under ``name``; attach the vjp with ``@rule.defvjp``.

    ``replayable=False``: the op runs once, eagerly, when the graph is built (its output's
    shape depends on the data, as unique_values'); replaying a graph holding it is an error."""
    def register(forward: Callable) -> Rule:
        rule = Rule(name, forward, domain, broadcasts, replayable)
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


def check_reduction_axis(axis: Any, ndim: int) -> None:
    """A 0-d array has no axis to reduce: the standard allows only axis=None (or ()) there.
    NumPy accepts axis=0 on 0-d input, JAX and MLX do not: polygrad follows the standard on
    every backend (backends check the other out-of-range axes themselves)."""
    if ndim == 0 and axis is not None and axis != ():
        raise IndexError(f"axis {axis} is out of bounds for an array of dimension 0")


def broadcast_shapes(*shapes: tuple) -> tuple | None:
    """The broadcast shape of ``shapes``, or None if they do not broadcast."""
    ndim = builtins.max((len(s) for s in shapes), default=0)
    result = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i and s[i] != 1}
        if len(sizes) > 1:
            return None
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def kept_shape(shape: tuple, axis: Any) -> tuple:
    """The shape of a reduction over ``axis`` with keepdims=True."""
    axes = normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def reduced_count(shape: tuple, axis: Any) -> int:
    return math.prod(shape[i] for i in normalize_axes(axis, len(shape)))


def expand_reduced(xp, g, shape, axis, keepdims):
    """A reduction's cotangent broadcast back over the reduced axes."""
    if not keepdims:
        g = xp.reshape(g, kept_shape(shape, axis))
    return xp.broadcast_to(g, shape)


# (namespace, value, dtype) -> 0-d array. vjps need small constants at every call; making
# one costs 3 us on NumPy and ~460 us on JAX, so each is made once.
_constants: dict = {}


def constant(xp, value, dtype):
    """A 0-d array of ``value`` in ``dtype``, made once per namespace and dtype (read-only)."""
    key = (xp, dtype, value)
    found = _constants.get(key)
    if found is None:
        found = xp.asarray(value, dtype=dtype)
        flags = getattr(found, "flags", None)
        if flags is not None and hasattr(flags, "writeable"):
            flags.writeable = False  # shared by every call
        from .._backend import holds_tracer
        if len(_constants) < 4096 and not holds_tracer(found):  # a tracer must not outlive its trace
            _constants[key] = found
    return found


def scalar(xp, value, like):
    """A 0-d array of ``like``'s dtype: Python floats in ops would promote float32."""
    return constant(xp, value, like.dtype)


def gradient_mask(xp, condition, dtype):
    """The boolean ``condition`` as a mask a gradient of ``dtype`` is multiplied by: cast to
    dtype, or as it is where the namespace multiplies float by bool itself (NumPy's
    ``gradient_mask`` extension)."""
    keep = getattr(xp, "gradient_mask", None)
    return keep(condition, dtype) if keep is not None else xp.astype(condition, dtype)


def chosen_mask(xp, a, b, dtype, *, greater: bool):
    """How much of max(a, b)'s gradient goes to ``a`` (min(a, b)'s with greater=False):
    1 where a was chosen, 0.5 where a and b tie, 0 where b was chosen or either is nan
    (JAX's balanced rule), as a mask the gradient (of ``dtype``) is multiplied by. One mask,
    for one input, against the other operand: the gradient of a constant operand is never
    built. Arithmetic on masks rather than where(): NumPy's where is several times slower."""
    untied_mask = getattr(xp, "untied_mask", None)
    if untied_mask is not None:
        found = untied_mask(a, b, dtype, greater)
        if found is not None:
            return found  # no tie (the usual case for float data): the tie term is not built
    beats = xp.astype(xp.greater(a, b) if greater else xp.less(a, b), dtype)
    ties = xp.equal(a, b)
    return beats + xp.astype(ties, dtype) * constant(xp, 0.5, dtype)
