"""Input generators: for every op of ``polygrad.rules.RULES``, a Hypothesis strategy for
its arrays and attributes. ``GENERATORS`` is the one table of op-specific knowledge; the
input domains come from the rules themselves (``Rule.domain``).

Arrays are NumPy arrays drawn with ``hypothesis.extra.array_api`` (so shapes come with
broadcasting, size-1 axes, 0-d and empty arrays) and later made the backend's, in a
contiguous, transposed or strided layout. Sizes stay tiny (at most 3 per axis, 3 axes):
finite differences cost two forward passes per element and the MLX CPU build is slow.

Float elements lie on a grid of step 1/32 (exact in float32 and float64). The grid makes
exact ties and kinks common (0 for relu/abs/sign, equal elements for max/maximum/clip,
a spread of 0 for std), which JAX judges, and rules out near-ties, which would make the
references ill-conditioned instead of testing polygrad.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import hypothesis.strategies as st
import numpy as np
from hypothesis.extra.array_api import make_strategies_namespace

import polygrad as pg
from polygrad.rules import RULES, normalize_axes
from polygrad.transforms._call import Call
from polygrad.rules.nondiff import UNIQUE_OUTPUTS

from . import config

xps = make_strategies_namespace(np)

MAX_SIDE = 3
MAX_DIMS = 3
STEP = 1 / 32


def _grid(low: float, high: float, *common: float) -> st.SearchStrategy[float]:
    """Multiples of STEP in [low, high], half the time one of a few ``common`` values
    (so that ties and zeros turn up in a dozen examples)."""
    grid = st.integers(round(low / STEP), round(high / STEP)).map(lambda k: k * STEP)
    return st.one_of(st.sampled_from(common), grid) if common else grid


# Rule.domain names -> element strategies. A rule with a new domain needs an entry here.
DOMAINS: dict[str, st.SearchStrategy[float]] = {
    "real": _grid(-4, 4, 0.0, 1.0, -1.0, 0.5),
    "positive": _grid(0.25, 4, 1.0, 0.5, 2.0),
    "above_minus_one": _grid(-0.75, 4, 0.0, 1.0, -0.5),
    "nonzero": st.one_of(_grid(0.25, 4, 1.0, 0.5), _grid(-4, -0.25, -1.0)),
    "open_unit": _grid(-0.875, 0.875, 0.0, 0.5, -0.5),  # inside (-1, 1): arcsin-like ops
    "probability": _grid(0.0625, 0.9375, 0.5, 0.25, 0.75),  # inside (0, 1): logit, ndtri
    "above_one": _grid(1.125, 4, 1.5, 2.0),  # acosh
    # For ops without a gradient only: the values they exist to classify.
    "special": st.one_of(_grid(-4, 4, 0.0, 1.0), st.sampled_from([math.nan, math.inf, -math.inf, -0.0])),
}


# Imaginary parts of complex inputs: odd multiples of STEP / 2 in (-2, 2), so never 0 (no
# input lies on a branch cut along the real axis: log, sqrt, asin, acosh...) and never
# +-1 (atan and asinh have poles at +-i). The real part comes from the rule's domain.
IMAGINARY = st.integers(-64, 63).map(lambda k: (k + 0.5) * STEP)


@dataclass(frozen=True)
class Dtype:
    """A dtype attribute by name; each target (backend, NumPy reference, JAX) makes it its own."""
    name: str


@dataclass
class Example:
    """One call of an op: its arrays (NumPy), attributes, and the layout of each array on
    the backend: "c" contiguous, "t" transposed, "s" every other element of a larger array."""
    args: tuple
    attrs: dict
    layouts: tuple = ()
    out_dtype: str | None = None  # the output's float dtype where it is not the inputs' (astype)
    constants: tuple = ()  # positions of float arrays passed without a gradient (gammainc's a)

    def __post_init__(self) -> None:
        self.layouts = self.layouts or ("c",) * len(self.args)

    def __repr__(self) -> str:
        args = ", ".join(f"{_short(a)}{'' if l == 'c' else f' [{l}]'}{' [constant]' if i in self.constants else ''}"
                         for i, (a, l) in enumerate(zip(self.args, self.layouts)))
        attrs = "".join(f", {k}={_short(v)}" for k, v in self.attrs.items())
        return f"Example({args}{attrs})"


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array({value.tolist()!r}, dtype={value.dtype}{f', shape={value.shape}' if not value.size else ''})"
    return repr(value)


# -- building blocks ----------------------------------------------------------------------

def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0) -> st.SearchStrategy[tuple]:
    return xps.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=MAX_SIDE)


def array(draw, shape: tuple, kind: str, complex_: bool = False) -> np.ndarray:
    """A float array of a domain (complex with ``complex_``: real parts from the domain,
    imaginary parts from IMAGINARY), a "complex" array (both parts on the grid of "real"), a
    "bool" array, an "int" array (small, signed) or a "shift" array (small, non-negative:
    shift counts)."""
    if kind == "bool":
        return draw(xps.arrays(np.bool_, shape))
    if kind in ("int", "shift"):
        return draw(xps.arrays(np.int64, shape, elements=st.integers(-3 if kind == "int" else 0, 3)))
    if kind == "complex":  # real and imaginary parts on the grid of "real"
        real, imag = (draw(xps.arrays(np.float64, shape, elements=DOMAINS["real"])) for _ in range(2))
        return real + 1j * imag
    real = draw(xps.arrays(np.float64, shape, elements=DOMAINS[kind]))
    return np.asarray(real + 1j * draw(xps.arrays(np.float64, shape, elements=IMAGINARY))) if complex_ else real


def example(draw, args: list, attrs: dict | None = None, **extra: Any) -> Example:
    """An Example, with a layout drawn for each float array of two or more elements."""
    layouts = []
    for a in args:
        choices = ("c",)
        if a.dtype.kind in "fc" and a.ndim:
            choices = ("c", "t", "s") if a.ndim >= 2 else ("c", "s")
        layouts.append(draw(st.sampled_from(choices)))
    return Example(tuple(args), attrs or {}, tuple(layouts), **extra)


def domains(op: str, n: int) -> tuple:
    """The rule's input domains, one per input."""
    domain = RULES[op].domain
    return (domain,) * n if isinstance(domain, str) else tuple(domain)


def axis_attr(draw, ndim: int, *, tuples: bool = True) -> Any:
    """None, an int (negative too) or, with ``tuples``, a tuple of distinct axes."""
    if ndim == 0:
        return None
    options = [st.none(), st.integers(-ndim, ndim - 1)]
    if tuples:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
            lambda axes: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axes])))
    return draw(st.one_of(options))


def indices(draw, size: int) -> np.ndarray:
    """A 1-D int64 array of valid indices into an axis of ``size`` (negative and repeated too)."""
    values = st.integers(-size, size - 1) if size else st.nothing()
    return np.asarray(draw(st.lists(values, max_size=4 if size else 0)), dtype=np.int64)


def key(draw, shape: tuple) -> tuple:
    """A basic index (ints, slices, None, Ellipsis) or, sometimes, a boolean mask of ``shape``
    where the backend indexes by masks (elsewhere, MLX, polygrad's indexing sends masks to
    take as integer positions, and the getitem and scatter rules never see one)."""
    if len(shape) and pg.backend().boolean_masks and draw(st.integers(0, 4)) == 0:
        return (array(draw, shape, "bool"),)
    found = draw(xps.indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return found if isinstance(found, tuple) else (found,)


# -- generators by family -----------------------------------------------------------------

def elementwise(arity: int = 1, kinds: tuple | None = None, min_dims: int = 0,
                complex_: str = "never") -> Callable:
    """Inputs of one shape, or mutually broadcastable shapes where the rule broadcasts.
    complex_: "sometimes" (one example in three) or "always" draws complex inputs, where
    the backend has the complex dtype of the check's precision (else real ones)."""
    @st.composite
    def generate(draw, op):
        if arity > 1 and RULES[op].broadcasts:
            found = draw(xps.mutually_broadcastable_shapes(arity, max_dims=MAX_DIMS, min_side=0, max_side=MAX_SIDE))
            in_shapes = found.input_shapes
        else:
            in_shapes = (draw(shapes(min_dims=min_dims)),) * arity
        complex_inputs = complex_ != "never" and config.complex_checked() and (
            complex_ == "always" or draw(st.integers(0, 2)) == 0)
        args = [array(draw, s, k, complex_inputs) for s, k in zip(in_shapes, kinds or domains(op, arity))]
        return example(draw, args)
    return generate


def reduction(*, nonempty: bool = False, correction: bool = False, tuples: bool = True,
              kind: str | None = None, keepdims: bool = True) -> Callable:
    """x with ``axis`` and ``keepdims``; ``nonempty``: reduced axes have elements (max, argmax)."""
    @st.composite
    def generate(draw, op):
        shape = list(draw(shapes()))
        axis = axis_attr(draw, len(shape), tuples=tuples)
        reduced = normalize_axes(axis, len(shape))
        if nonempty:
            for i in reduced:
                shape[i] = max(shape[i], 1)
        attrs = {"axis": axis}
        if keepdims:
            attrs["keepdims"] = draw(st.booleans())
        if correction:
            count = math.prod(shape[i] for i in reduced)
            attrs["correction"] = draw(st.integers(0, min(count, 1)))  # N - correction >= 0
        return example(draw, [array(draw, tuple(shape), kind or domains(op, 1)[0])], attrs)
    return generate


@st.composite
def along_axis(draw, op):
    """softmax, log_softmax: x of one or more axes and an int axis."""
    shape = draw(shapes(min_dims=1))
    return example(draw, [array(draw, shape, "real")], {"axis": draw(st.integers(-len(shape), len(shape) - 1))})


@st.composite
def class_labels(draw, op):
    """softmax_cross_entropy: logits (..., classes >= 1) and int64 labels in [0, classes) of
    shape logits.shape[:-1] (0-d labels for 1-d logits)."""
    shape = draw(shapes(min_dims=1))
    shape = shape[:-1] + (max(shape[-1], 1),)
    labels = np.asarray(draw(st.lists(st.integers(0, shape[-1] - 1), min_size=math.prod(shape[:-1]),
                                      max_size=math.prod(shape[:-1]))), dtype=np.int64).reshape(shape[:-1])
    return example(draw, [array(draw, shape, "real"), labels])


@st.composite
def clip(draw, op):
    bound = st.none() | DOMAINS["real"]
    low, high = draw(bound), draw(bound)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return example(draw, [array(draw, draw(shapes()), "real")], {"min": low, "max": high})


@st.composite
def matmul(draw, op):
    """1-D and n-D operands, batch axes that broadcast, empty inner and outer axes."""
    side = st.integers(0, MAX_SIDE)
    n, m, k = draw(side), draw(side), draw(side)
    batch_a, batch_b = draw(xps.mutually_broadcastable_shapes(2, max_dims=2, min_side=0, max_side=2)).input_shapes
    a_shape = draw(st.sampled_from([(n,), batch_a + (m, n)]))
    b_shape = draw(st.sampled_from([(n,), batch_b + (n, k)]))
    return example(draw, [array(draw, a_shape, "real"), array(draw, b_shape, "real")])


@st.composite
def tensordot(draw, op):
    """axes as an int, or as two sequences of axes in any order."""
    side = st.integers(0, MAX_SIDE)
    contracted = draw(st.lists(side, max_size=2))
    free_a, free_b = draw(st.lists(side, max_size=2)), draw(st.lists(side, max_size=2))
    if draw(st.booleans()):
        a_shape, b_shape, axes = tuple(free_a + contracted), tuple(contracted + free_b), len(contracted)
    else:
        def place(free):
            ndim = len(free) + len(contracted)
            where = draw(st.permutations(range(ndim)))[: len(contracted)]
            rest = iter(free)
            by_axis = dict(zip(where, contracted))
            return tuple(by_axis[i] if i in by_axis else next(rest) for i in range(ndim)), tuple(where)
        (a_shape, axes_a), (b_shape, axes_b) = place(free_a), place(free_b)
        axes = (axes_a, axes_b)
    return example(draw, [array(draw, a_shape, "real"), array(draw, b_shape, "real")], {"axes": axes})


@st.composite
def reshape(draw, op):
    """A new shape with the same elements, sometimes with one -1."""
    shape = draw(shapes())
    size = math.prod(shape)
    ndim = draw(st.integers(0 if size == 1 else 1, MAX_DIMS))
    if size == 0:
        target = list(draw(shapes(min_dims=max(ndim, 1), max_dims=max(ndim, 1))))
        target[draw(st.integers(0, len(target) - 1))] = 0
    else:
        target = [1] * ndim
        for factor in _prime_factors(size):
            target[draw(st.integers(0, ndim - 1))] *= factor
        if ndim and draw(st.booleans()):
            target[draw(st.integers(0, ndim - 1))] = -1
    return example(draw, [array(draw, shape, "real")], {"shape": tuple(target)})


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def permute_dims(draw, op):
    shape = draw(shapes())
    return example(draw, [array(draw, shape, "real")], {"axes": tuple(draw(st.permutations(range(len(shape)))))})


@st.composite
def expand_dims(draw, op):
    """An int axis, or a tuple of distinct axes of the result (2025.12; as JAX's)."""
    shape = draw(shapes())
    if draw(st.booleans()):
        return example(draw, [array(draw, shape, "real")], {"axis": draw(st.integers(-len(shape) - 1, len(shape)))})
    count = draw(st.integers(1, 2))
    ndim = len(shape) + count
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=count, max_size=count, unique=True))
    axis = tuple(draw(st.sampled_from([a, a - ndim])) for a in axes)
    return example(draw, [array(draw, shape, "real")], {"axis": axis})


@st.composite
def squeeze(draw, op):
    """x with some size-1 axes; axis names some of them (int or tuple)."""
    shape = list(draw(shapes(min_dims=1)))
    ones = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True))
    for i in ones:
        shape[i] = 1
    axes = tuple(draw(st.sampled_from([i, i - len(shape)])) for i in ones)
    axis = axes[0] if len(axes) == 1 and draw(st.booleans()) else axes
    return example(draw, [array(draw, tuple(shape), "real")], {"axis": axis})


@st.composite
def broadcast_to(draw, op):
    """A target shape x broadcasts to: new leading axes, size-1 axes stretched (or emptied)."""
    shape = draw(shapes())
    lead = draw(shapes(max_dims=MAX_DIMS - len(shape))) if len(shape) < MAX_DIMS else ()
    target = lead + tuple(draw(st.integers(0, MAX_SIDE)) if n == 1 else n for n in shape)
    return example(draw, [array(draw, shape, "real")], {"shape": target})


@st.composite
def concat(draw, op):
    """1 to 3 arrays that agree off the axis; axis=None flattens arrays of any shape."""
    count = draw(st.integers(1, 3))
    if draw(st.integers(0, 3)) == 0:
        return example(draw, [array(draw, draw(shapes()), "real") for _ in range(count)], {"axis": None})
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    args = []
    for _ in range(count):
        own = list(shape)
        own[axis] = draw(st.integers(0, MAX_SIDE))
        args.append(array(draw, tuple(own), "real"))
    return example(draw, args, {"axis": axis})


@st.composite
def stack(draw, op):
    shape = draw(shapes())
    args = [array(draw, shape, "real") for _ in range(draw(st.integers(1, 3)))]
    return example(draw, args, {"axis": draw(st.integers(-len(shape) - 1, len(shape)))})


@st.composite
def getitem(draw, op):
    shape = draw(shapes())
    return example(draw, [array(draw, shape, "real")], {"key": key(draw, shape)})


@st.composite
def scatter(draw, op):
    """The transpose of getitem: values of the indexed shape, written into zeros(shape)."""
    shape = draw(shapes())
    where = key(draw, shape)
    values = array(draw, np.zeros(shape)[where].shape, "real")
    return example(draw, [values], {"key": where, "shape": shape})


@st.composite
def take(draw, op):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1) | (st.none() if len(shape) == 1 else st.nothing()))
    size = shape[0] if axis is None else shape[axis]
    return example(draw, [array(draw, shape, "real"), indices(draw, size)], {"axis": axis})


@st.composite
def scatter_add(draw, op):
    """The transpose of take: values added at indices (repeats add up) into zeros(shape)."""
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(0, len(shape) - 1))  # take's vjp passes it non-negative
    where = indices(draw, shape[axis])
    values_shape = shape[:axis] + (len(where),) + shape[axis + 1:]
    return example(draw, [array(draw, values_shape, "real"), where], {"shape": shape, "axis": axis})


def write_key(draw, shape: tuple) -> tuple:
    """What Value.__setitem__ hands the setitem rule: a basic key (no None: the namespace drops
    those axes first) or, where the backend indexes by masks, a boolean mask."""
    if len(shape) and pg.backend().boolean_masks and draw(st.integers(0, 4)) == 0:
        return (array(draw, shape, "bool"),)
    found = draw(xps.indices(shape, allow_newaxis=False, allow_ellipsis=True))
    return found if isinstance(found, tuple) else (found,)


def broadcastable_to(draw, shape: tuple) -> tuple:
    """``shape``, or one that broadcasts to it (fewer leading axes, some axes of size 1)."""
    drop = draw(st.integers(0, len(shape)))
    return tuple(1 if n and draw(st.integers(0, 3)) == 0 else n for n in shape[drop:])


@st.composite
def setitem(draw, op):
    """x, and values for x[key] (or a shape broadcasting to it)."""
    shape = draw(shapes())
    where = write_key(draw, shape)
    values = array(draw, broadcastable_to(draw, np.zeros(shape)[where].shape), "real")
    return example(draw, [array(draw, shape, "real"), values], {"key": where})


@st.composite
def put(draw, op):
    """x, 1-D indices along a (non-negative) axis, repeated and negative ones too, and values
    for those slices (a repeated index: the last write wins, and alone takes a gradient)."""
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(0, len(shape) - 1))
    where = indices(draw, shape[axis])
    written = shape[:axis] + (len(where),) + shape[axis + 1:]
    values = array(draw, broadcastable_to(draw, written), "real")
    wrapped = where % shape[axis] if shape[axis] else where
    attrs = {"axis": axis, "unique_indices": bool(np.unique(wrapped).size == wrapped.size and draw(st.booleans()))}
    return example(draw, [array(draw, shape, "real"), where, values], attrs)


@st.composite
def take_along_axis(draw, op):
    """indices of x's rank; off the axis each side may have size 1 (broadcast) or both the same."""
    ndim = draw(st.integers(1, MAX_DIMS))
    axis = draw(st.integers(-ndim, ndim - 1))
    x_shape, index_shape = [], []
    for i in range(ndim):
        if i == axis % ndim:
            n = draw(st.integers(0, MAX_SIDE))
            x_shape.append(n)
            index_shape.append(draw(st.integers(0, MAX_SIDE)) if n else 0)
        else:
            n = draw(st.integers(0, MAX_SIDE))
            pair = draw(st.sampled_from([(n, n), (n, 1), (1, n)]))
            x_shape.append(pair[0])
            index_shape.append(pair[1])
    n = x_shape[axis % ndim]
    where = draw(xps.arrays(np.int64, tuple(index_shape), elements=st.integers(-n, n - 1))) if n else \
        np.zeros(tuple(index_shape), dtype=np.int64)
    return example(draw, [array(draw, tuple(x_shape), "real"), where], {"axis": axis})


@st.composite
def cumulative(draw, op):
    """cumulative_sum, cumulative_prod: an int axis (the namespace resolves None), with or
    without the leading initial value; zeros are common (the products' gradient is exact there)."""
    shape = draw(shapes(min_dims=1))
    attrs = {"axis": draw(st.integers(-len(shape), len(shape) - 1)), "include_initial": draw(st.booleans())}
    return example(draw, [array(draw, shape, "real")], attrs)


@st.composite
def triangle(draw, op):
    shape = draw(shapes(min_dims=2))
    return example(draw, [array(draw, shape, "real")], {"k": draw(st.integers(-MAX_SIDE, MAX_SIDE))})


@st.composite
def repeat(draw, op):
    """repeats an int, or an array of counts (one per element, or one for all); axis None or an int."""
    shape = draw(shapes())
    axis = draw(st.none() | st.integers(0, len(shape) - 1)) if shape else None
    n = math.prod(shape) if axis is None else shape[axis]
    counts = st.integers(0, 2)
    repeats = draw(st.one_of(counts, st.lists(counts, min_size=n, max_size=n), st.lists(counts, min_size=1, max_size=1)))
    repeats = repeats if isinstance(repeats, int) else np.asarray(repeats, dtype=np.int64)
    return example(draw, [array(draw, shape, "real")], {"repeats": repeats, "axis": axis})


@st.composite
def tile(draw, op):
    shape = draw(shapes())
    repetitions = tuple(draw(st.lists(st.integers(0, 2), max_size=MAX_DIMS)))
    return example(draw, [array(draw, shape, "real")], {"repetitions": repetitions})


@st.composite
def roll(draw, op):
    """shift and axis: ints, matching tuples, or axis None (the flattened x)."""
    shape = draw(shapes())
    shift = st.integers(-4, 4)
    choice = draw(st.integers(0, 2)) if shape else 0
    if choice == 0:
        attrs = {"shift": draw(shift), "axis": None}
    elif choice == 1:
        attrs = {"shift": draw(shift), "axis": draw(st.integers(-len(shape), len(shape) - 1))}
    else:
        axes = tuple(draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True)))
        attrs = {"shift": tuple(draw(shift) for _ in axes), "axis": axes}
    return example(draw, [array(draw, shape, "real")], attrs)


@st.composite
def unique(draw, op):
    """The set functions, each output in turn; nan among the elements (each nan is distinct)."""
    x = array(draw, draw(shapes()), "special")
    attrs = {} if op == "unique_values" else {"output": draw(st.sampled_from(UNIQUE_OUTPUTS[op]))}
    return example(draw, [x], attrs)


@st.composite
def astype(draw, op):
    """A float dtype the backend has (float32, float64)."""
    target = draw(st.sampled_from(config.backend_spec().dtypes))
    return example(draw, [array(draw, draw(shapes()), "real")], {"dtype": Dtype(target)}, out_dtype=target)


@st.composite
def sort(draw, op):
    """sort, argsort: an int axis, both directions (ties are common). argsort is stable: with
    stable=False the standard leaves the order of equal elements to the library."""
    shape = draw(shapes(min_dims=1))
    attrs = {"axis": draw(st.integers(-len(shape), len(shape) - 1)),
             "descending": draw(st.booleans()), "stable": draw(st.booleans()) if op == "sort" else True}
    return example(draw, [array(draw, shape, "real")], attrs)


@st.composite
def searchsorted(draw, op):
    sorted_side = np.sort(array(draw, draw(shapes(min_dims=1, max_dims=1)), "real"))
    values = array(draw, draw(shapes()), "real")
    return example(draw, [sorted_side, values], {"side": draw(st.sampled_from(["left", "right"]))})


def bitwise(arity: int) -> Callable:
    """Integers, or booleans (the standard's bitwise functions are logical on them)."""
    @st.composite
    def generate(draw, op):
        return draw(elementwise(arity, kinds=(draw(st.sampled_from(["int", "bool"])),) * arity)(op))
    return generate


@st.composite
def nonzero(draw, op):
    return example(draw, [array(draw, draw(shapes(min_dims=1)), "real")])


def constant_first(generate: Callable) -> Callable:
    """The generator, with the first input passed as a constant: the op has no gradient in it."""
    @st.composite
    def with_constant(draw, op):
        found = draw(generate(op))
        found.constants = (0,)
        return found
    return with_constant


@st.composite
def polygamma(draw, op):
    """x and an order n of 0 to 3 (an attribute: one Python int)."""
    return example(draw, [array(draw, draw(shapes()), "positive")], {"n": draw(st.integers(0, 3))})


@st.composite
def special_logsumexp(draw, op):
    """SciPy's logsumexp: a, sometimes weights b that broadcast with it (signed: any sign,
    log |sum|; else positive), an axis (None, int or tuple) and keepdims."""
    found = draw(reduction()(op))
    if draw(st.booleans()):
        (a,) = found.args
        signed = draw(st.booleans())
        b_shape = draw(st.sampled_from([a.shape, a.shape[1:], (1,) * a.ndim]))
        b = array(draw, b_shape, "real" if signed else "positive")
        found = example(draw, [a, b], {**found.attrs, "signed": signed})
    return found


@st.composite
def special_softmax(draw, op):
    """SciPy's softmax and log_softmax: axis None (every axis), an int or a tuple."""
    shape = draw(shapes(min_dims=1))
    return example(draw, [array(draw, shape, "real")], {"axis": axis_attr(draw, len(shape))})


def logical(arity: int) -> Callable:
    return elementwise(arity, kinds=("bool",) * arity)


class _TimesSin(Call):
    """The ``call`` op's example: x * sin(x) computed by a function object, as checkpoint
    and custom_vjp nodes compute theirs (the op only delegates to its ``fn``). The JAX
    oracle differentiates ``forward`` itself, so the hand-written ``vjp`` is checked."""

    name = "x * sin(x)"

    def forward(self, xp, x):
        return x * xp.sin(x)

    def vjp(self, xp, g, out, x):
        return (g * (xp.sin(x) + x * xp.cos(x)),)


@st.composite
def call(draw, op):
    return example(draw, [array(draw, draw(shapes()), "real")], {"fn": _TimesSin()})


# -- linalg: well-conditioned matrices -------------------------------------------------------------
# Not on the grid: decompositions are only differentiable (and finite differences only
# accurate) where the matrix is well conditioned and its eigen/singular values are apart,
# so matrices are built from a seed as Q diag(values) P^T with random orthogonal Q, P and
# values drawn one per bin of a range (adjacent ones at least a fifth of a bin apart).

def _rng(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="matrix seed"))


def _batch(draw) -> tuple:
    return draw(xps.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=2), label="batch")


def _orthogonal(rng, batch: tuple, n: int) -> np.ndarray:
    return np.linalg.qr(rng.normal(size=batch + (n, n)))[0]


def _spread(rng, batch: tuple, k: int, low: float, high: float) -> np.ndarray:
    """k values per matrix in [low, high], one in each of k equal bins, shuffled."""
    width = (high - low) / max(k, 1)
    values = low + width * (np.arange(k) + rng.uniform(0.1, 0.9, batch + (k,)))
    return rng.permuted(values, axis=-1)


def _matrix(rng, batch: tuple, m: int, n: int, low: float = 0.5, high: float = 2.5) -> np.ndarray:
    """An m x n matrix of full rank with singular values spread over [low, high]."""
    k = min(m, n)
    s = _spread(rng, batch, k, low, high)
    u, v = _orthogonal(rng, batch, m)[..., :k], _orthogonal(rng, batch, n)[..., :k]
    return (u * s[..., None, :]) @ np.swapaxes(v, -1, -2)


def _symmetric(rng, batch: tuple, n: int, low: float, high: float) -> np.ndarray:
    """A symmetric matrix with eigenvalues spread over [low, high], plus an antisymmetric
    part (the rules read the symmetric part, as JAX's do: the gradient must not see it)."""
    q = _orthogonal(rng, batch, n)
    w = _spread(rng, batch, n, low, high)
    noise = rng.normal(size=batch + (n, n)) * 0.25
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2) + noise - np.swapaxes(noise, -1, -2)


def linalg_matrix(kind: str, **attr_strategies) -> Callable:
    """One square matrix: "general" (well conditioned, either sign of det), "symmetric"
    (eigenvalues apart, in [-3, 3]) or "spd" (eigenvalues in [0.5, 3]), with attributes."""
    @st.composite
    def generate(draw, op):
        rng, batch, n = _rng(draw), _batch(draw), draw(st.integers(1, MAX_SIDE))
        if kind == "general":
            x = _matrix(rng, batch, n, n)
        else:
            x = _symmetric(rng, batch, n, *((-3.0, 3.0) if kind == "symmetric" else (0.5, 3.0)))
        attrs = {name: draw(strategy) for name, strategy in attr_strategies.items()}
        return example(draw, [x], attrs)
    return generate


@st.composite
def linalg_solve(draw, op):
    """A well-conditioned x1 and x2 of shape (M,) or (..., M, K), batch axes broadcasting."""
    rng, n = _rng(draw), draw(st.integers(1, MAX_SIDE))
    batch_a, batch_b = draw(xps.mutually_broadcastable_shapes(2, max_dims=2, min_side=1, max_side=2)).input_shapes
    a = _matrix(rng, batch_a, n, n)
    b_shape = (n,) if draw(st.booleans()) else batch_b + (n, draw(st.integers(1, MAX_SIDE)))
    return example(draw, [a, rng.normal(size=b_shape)])


def linalg_rectangular(**attr_strategies) -> Callable:
    """An m x n matrix of full rank with singular values apart (svd, svdvals, pinv)."""
    @st.composite
    def generate(draw, op):
        rng, batch = _rng(draw), _batch(draw)
        m, n = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
        attrs = {name: draw(strategy) for name, strategy in attr_strategies.items()}
        if op == "linalg.svd":  # full_matrices=True has no vector gradient unless square (as JAX)
            attrs["full_matrices"] = m == n and draw(st.booleans())
        return example(draw, [_matrix(rng, batch, m, n)], attrs)
    return generate


@st.composite
def linalg_qr(draw, op):
    """Full column rank (tall), or a well-conditioned leading square block (wide); mode
    "complete" only where it equals "reduced" (m <= n: else Q's extra columns have no gradient)."""
    rng, batch = _rng(draw), _batch(draw)
    m, n = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    if m >= n:
        x = _matrix(rng, batch, m, n)
    else:
        x = np.concatenate([_matrix(rng, batch, m, m), rng.normal(size=batch + (m, n - m))], axis=-1)
    mode = draw(st.sampled_from(["reduced", "complete"])) if m <= n else "reduced"
    return example(draw, [x], {"mode": mode})


@st.composite
def linalg_matrix_rank(draw, op):
    """A matrix of any rank r <= min(m, n) (singular values 0 or in [0.5, 2.5])."""
    rng, batch = _rng(draw), _batch(draw)
    m, n = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    rank = draw(st.integers(0, min(m, n)))
    x = _matrix(rng, batch, m, n)
    if rank < min(m, n):
        x = _matrix(rng, batch, m, rank) @ _matrix(rng, batch, rank, n) if rank else np.zeros(batch + (m, n))
    return example(draw, [x], {"rtol": draw(st.sampled_from([None, 1e-6]))})


@st.composite
def linalg_cross(draw, op):
    """3-vectors along a negative axis; the other axes broadcast."""
    tail = draw(st.sampled_from([(), (2,)]))
    batch_a, batch_b = draw(xps.mutually_broadcastable_shapes(2, max_dims=2, min_side=1, max_side=2)).input_shapes
    args = [array(draw, batch + (3,) + tail, "real") for batch in (batch_a, batch_b)]
    return example(draw, args, {"axis": -1 - len(tail)})


# -- fft ------------------------------------------------------------------------------------

_NORMS = st.sampled_from(["backward", "ortho", "forward"])
# the kind of each transform's input: complex, or real (rfft's family)
_FFT_INPUT = {"fft.rfft": "real", "fft.rfftn": "real", "fft.ihfft": "real"}
_REAL_INVERSE = {"fft.irfft", "fft.irfftn", "fft.hfft"}  # default length 2 (m - 1)


@st.composite
def fft_1d(draw, op):
    """x, an axis, a length n (None: the default; else shorter or longer: trimmed or
    zero-padded) and a norm mode."""
    shape = draw(shapes(min_dims=1, max_dims=2, min_side=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = draw(st.none() | st.integers(1, MAX_SIDE + 2))
    if n is None and op in _REAL_INVERSE and shape[axis] < 2:
        n = draw(st.integers(1, MAX_SIDE + 2))
    x = array(draw, shape, _FFT_INPUT.get(op, "complex"))
    return example(draw, [x], {"n": n, "axis": axis, "norm": draw(_NORMS)})


@st.composite
def fft_nd(draw, op):
    """x, axes (None, or distinct axes in any order, negative too) and sizes s (None, or
    one per axis: -1 for the input's, else trimmed or zero-padded)."""
    shape = draw(shapes(min_dims=1, max_dims=3, min_side=1))
    ndim = len(shape)
    axes = None
    if draw(st.booleans()):
        chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        axes = tuple(draw(st.sampled_from([a, a - ndim])) for a in chosen)
    s = None
    if axes is not None and draw(st.booleans()):
        s = tuple(draw(st.sampled_from([-1, 1, 2, 3, 4])) for _ in axes)
    last = (axes[-1] if axes else ndim - 1) % ndim
    if op in _REAL_INVERSE and shape[last] < 2 and (s is None or s[-1] == -1):
        shape = shape[:last] + (2,) + shape[last + 1:]
    x = array(draw, shape, _FFT_INPUT.get(op, "complex"))
    return example(draw, [x], {"s": s, "axes": axes, "norm": draw(_NORMS)})


@st.composite
def fft_shift(draw, op):
    shape = draw(shapes(min_dims=1))
    ndim = len(shape)
    axes = draw(st.none() | st.integers(-ndim, ndim - 1)
                | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple))
    return example(draw, [array(draw, shape, "real")], {"axes": axes})


# -- the table -------------------------------------------------------------------------------
# op -> a function of the op name -> strategy of Example. Ops with a
# gradient are checked three ways, ops without one by their forward only. Attributes
# (axis/keepdims, shapes, keys, indices, dtypes...) are drawn where the rule takes them.

UNARY = ("sigmoid", "relu", "stop_gradient", "floor", "ceil", "round", "trunc")
BINARY = ("maximum", "minimum", "atan2", "hypot", "logaddexp", "copysign", "remainder", "nextafter",
          "less", "less_equal", "greater", "greater_equal", "equal", "not_equal")
# Holomorphic functions (and abs, sign), drawn complex one example in three where the backend
# has complex numbers: their gradients follow JAX's convention, checked against jax.vjp.
COMPLEX_UNARY = ("negative", "positive", "copy", "exp", "log", "log1p", "expm1", "log2", "log10",
                 "sqrt", "reciprocal", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos",
                 "atan", "asinh", "acosh", "atanh", "abs", "sign")
COMPLEX_BINARY = ("add", "subtract", "multiply", "divide", "pow")

GENERATORS: dict[str, Callable] = {
    **{op: elementwise(1) for op in UNARY},
    **{op: elementwise(2) for op in BINARY},
    **{op: elementwise(1, complex_="sometimes") for op in COMPLEX_UNARY},
    **{op: elementwise(2, complex_="sometimes") for op in COMPLEX_BINARY},
    **{op: elementwise(1, complex_="always") for op in ("real", "imag", "conj")},
    **{op: bitwise(2) for op in ("bitwise_and", "bitwise_or", "bitwise_xor")},
    "bitwise_invert": bitwise(1),
    **{op: elementwise(2, kinds=("int", "shift")) for op in ("bitwise_left_shift", "bitwise_right_shift")},
    "floor_divide": elementwise(2, kinds=("real", "nonzero")),
    "where": elementwise(3, kinds=("bool", "real", "real")),
    "clip": clip,
    "matrix_transpose": elementwise(1, min_dims=2),
    **{op: elementwise(1, kinds=("special",)) for op in ("isnan", "isinf", "isfinite", "signbit")},
    "logical_not": logical(1),
    **{op: logical(2) for op in ("logical_and", "logical_or", "logical_xor")},
    # reductions
    **{op: reduction() for op in ("sum", "mean", "prod", "logsumexp")},
    **{op: reduction(nonempty=True) for op in ("max", "min")},
    **{op: reduction(correction=True) for op in ("var", "std")},
    **{op: reduction(nonempty=True, tuples=False) for op in ("argmax", "argmin")},
    **{op: reduction(kind="bool") for op in ("all", "any")},
    "count_nonzero": reduction(),
    "softmax": along_axis,
    "log_softmax": along_axis,
    "softmax_cross_entropy": class_labels,
    # linear algebra
    "matmul": matmul,
    "tensordot": tensordot,
    # shape
    "reshape": reshape,
    "permute_dims": permute_dims,
    "expand_dims": expand_dims,
    "squeeze": squeeze,
    "broadcast_to": broadcast_to,
    "concat": concat,
    "stack": stack,
    # indexing and its transposes
    "getitem": getitem,
    "scatter": scatter,
    "take": take,
    "scatter_add": scatter_add,
    # no gradient
    "sort": sort,
    "argsort": sort,
    "searchsorted": searchsorted,
    "nonzero": nonzero,
    "astype": astype,
    # a function run as one node (checkpoint, custom_vjp, custom_jvp)
    "call": call,


    # the linalg extension
    "linalg.cholesky": linalg_matrix("spd", upper=st.booleans()),
    "linalg.inv": linalg_matrix("general"),
    "linalg.det": linalg_matrix("general"),
    "linalg.slogdet": linalg_matrix("general"),
    "linalg.eigh": linalg_matrix("symmetric"),
    "linalg.eigvalsh": linalg_matrix("symmetric"),
    "linalg.solve": linalg_solve,
    "linalg.pinv": linalg_rectangular(),
    "linalg.svd": linalg_rectangular(),
    "linalg.svdvals": linalg_rectangular(),
    "linalg.qr": linalg_qr,
    "linalg.matrix_rank": linalg_matrix_rank,
    "linalg.cross": linalg_cross,
    # the fft extension
    **{op: fft_1d for op in ("fft.fft", "fft.ifft", "fft.rfft", "fft.irfft", "fft.hfft", "fft.ihfft")},
    **{op: fft_nd for op in ("fft.fftn", "fft.ifftn", "fft.rfftn", "fft.irfftn")},
    "fft.fftshift": fft_shift,
    "fft.ifftshift": fft_shift,
    # SciPy's special functions
    **{f"special.{name}": elementwise(1) for name in (
        "erf", "erfc", "erfinv", "erfcx", "ndtr", "log_ndtr", "ndtri", "gammaln", "gamma", "digamma",
        "i0e", "i1e", "expit", "logit", "log_expit", "softplus", "entr", "sinc", "cbrt")},
    **{f"special.{name}": elementwise(2) for name in (
        "betaln", "xlogy", "xlog1py", "rel_entr", "kl_div", "huber", "pseudo_huber", "boxcox")},
    "special.gammainc": constant_first(elementwise(2)),
    "special.gammaincc": constant_first(elementwise(2)),
    "special.polygamma": polygamma,
    "special.logsumexp": special_logsumexp,
    "special.softmax": special_softmax,
    "special.log_softmax": special_softmax,
    # the rest of the standard's non-elementwise functions
    "cumulative_sum": cumulative,
    "cumulative_prod": cumulative,
    "tril": triangle,
    "triu": triangle,
    "repeat": repeat,
    "tile": tile,
    "roll": roll,
    "take_along_axis": take_along_axis,
    "setitem": setitem,
    "put": put,
    **{op: unique for op in UNIQUE_OUTPUTS},
}

# Rules the op rows do not call directly, with where they are checked instead.
CHECKED_THROUGH_OTHERS = {
    "output": "the projection of a multi-output rule's results: every row of linalg.eigh, "
              "linalg.svd, linalg.qr and linalg.slogdet runs it, forward and backward",
}


def generator(op: str) -> st.SearchStrategy[Example]:
    """The strategy for ``op``'s inputs; a LookupError naming the op where the table has none."""
    make = GENERATORS.get(op)
    if make is None:
        raise LookupError(
            f"{op}: no input generator; add one to GENERATORS in conformance/inputs.py "
            "(every op of polygrad.rules.RULES needs one)"
        )
    return make(op)
