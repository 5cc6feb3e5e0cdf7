"""polygrad's array-API namespace over Values: what ``Value.__array_namespace__()`` returns.

Functions with a gradient rule build graph nodes; functions without one (argmax,
comparisons, isnan...) are recorded too, so replay recomputes them, but pass no
gradient. Creation functions make constant Values on the active backend. Dtype
names (``float32``...) resolve to the active backend's dtypes.
"""
from __future__ import annotations

import builtins
import math
import sys
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Sequence

from .. import _backend, _state, engine
from .._graph import Value, _number_constant, apply, as_dtype
from ..errors import GradientError, IndexingError, PolygradError, ShapeError
from ..indexing import check_indices
from ..rules import broadcast_shapes, normalize_axes, normalize_axis
from ..rules.manipulation import expanded_shape
from ..rules.nondiff import UNIQUE_OUTPUTS
from . import fft, linalg
from . import special
from .linalg import matmul, matrix_transpose, tensordot, vecdot

__array_api_version__ = "2024.12"

_DTYPE_NAMES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128",
)
_CONSTANTS = ("e", "pi", "inf", "nan", "newaxis")


def __getattr__(name: str) -> Any:
    if name in _DTYPE_NAMES or name in _CONSTANTS:
        return getattr(_backend.backend().xp, name)
    raise AttributeError(f"polygrad has no attribute {name!r}")


# -- elementwise with gradients ---------------------------------------------------------

# Binary functions take a Python scalar for either argument (at least one an array), as the
# standard allows since 2024.12: apply lifts it to a constant of the other's dtype.
def add(x1, x2, /): return apply("add", x1, x2)
def subtract(x1, x2, /): return apply("subtract", x1, x2)
def multiply(x1, x2, /): return apply("multiply", x1, x2)
def divide(x1, x2, /): return apply("divide", x1, x2)
def pow(x1, x2, /): return apply("pow", x1, x2)  # noqa: A001
def negative(x, /): return apply("negative", x)
def positive(x, /): return apply("positive", x)
def stop_gradient(x, /): return apply("stop_gradient", x)
def exp(x, /): return apply("exp", x)
def log(x, /): return apply("log", x)
def log1p(x, /): return apply("log1p", x)
def log2(x, /): return apply("log2", x)
def log10(x, /): return apply("log10", x)
def logaddexp(x1, x2, /): return apply("logaddexp", x1, x2)
def expm1(x, /): return apply("expm1", x)
def sqrt(x, /): return apply("sqrt", x)
def square(x, /): return apply("multiply", x, x)
def reciprocal(x, /): return apply("reciprocal", x)
def remainder(x1, x2, /): return apply("remainder", x1, x2)
def sin(x, /): return apply("sin", x)
def cos(x, /): return apply("cos", x)
def tan(x, /): return apply("tan", x)
def asin(x, /): return apply("asin", x)
def acos(x, /): return apply("acos", x)
def atan(x, /): return apply("atan", x)
def atan2(x1, x2, /): return apply("atan2", x1, x2)
def sinh(x, /): return apply("sinh", x)
def cosh(x, /): return apply("cosh", x)
def tanh(x, /): return apply("tanh", x)
def asinh(x, /): return apply("asinh", x)
def acosh(x, /): return apply("acosh", x)
def atanh(x, /): return apply("atanh", x)
def hypot(x1, x2, /): return apply("hypot", x1, x2)
def abs(x, /): return apply("abs", x)  # noqa: A001
def sign(x, /): return apply("sign", x)
def copysign(x1, x2, /): return apply("copysign", x1, x2)
def maximum(x1, x2, /): return apply("maximum", x1, x2)
def minimum(x1, x2, /): return apply("minimum", x1, x2)
def where(condition, x1, x2, /): return apply("where", condition, x1, x2)
def real(x, /): return apply("real", x)
def imag(x, /): return apply("imag", x)
def conj(x, /): return apply("conj", x)


def clip(x, /, min=None, max=None):  # noqa: A002
    """x limited to [min, max]; array bounds compose maximum and minimum (same gradient)."""
    if _scalar_bounds(min, max):
        return apply("clip", x, min=min, max=max)
    if min is not None:
        x = maximum(x, min)
    return x if max is None else minimum(x, max)


def _scalar_bounds(*bounds) -> bool:
    return builtins.all(b is None or isinstance(b, (int, float)) for b in bounds)


# -- neural-network functions (not in the standard; named as in JAX) ------------------------

def sigmoid(x, /): return apply("sigmoid", x)
def relu(x, /): return apply("relu", x)
def softmax(x, /, *, axis: int = -1): return apply("softmax", x, axis=axis)
def log_softmax(x, /, *, axis: int = -1): return apply("log_softmax", x, axis=axis)


def logsumexp(x, /, *, axis=None, keepdims: bool = False):
    return apply("logsumexp", x, axis=_axis_attr(axis), keepdims=keepdims)


# -- reductions -------------------------------------------------------------------------------

def _axis_attr(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def sum(x, /, *, axis=None, dtype=None, keepdims: bool = False):  # noqa: A001
    x = x if dtype is None else astype(x, dtype)
    return _in_dtype(apply("sum", x, axis=_axis_attr(axis), keepdims=keepdims), dtype)


def _in_dtype(out, dtype):
    """A sum or product asked for in ``dtype``: the backend widens small integers (NumPy sums
    int8 as int64), the standard keeps the dtype asked for."""
    if dtype is None:
        return out
    dtype = as_dtype(out.backend, dtype, "sum")
    return out if out.dtype == dtype else apply("astype", out, dtype=dtype)


def mean(x, /, *, axis=None, keepdims: bool = False):
    return apply("mean", x, axis=_axis_attr(axis), keepdims=keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims: bool = False):
    x = x if dtype is None else astype(x, dtype)
    return _in_dtype(apply("prod", x, axis=_axis_attr(axis), keepdims=keepdims), dtype)


def max(x, /, *, axis=None, keepdims: bool = False):  # noqa: A001
    return apply("max", x, axis=_axis_attr(axis), keepdims=keepdims)


def min(x, /, *, axis=None, keepdims: bool = False):  # noqa: A001
    return apply("min", x, axis=_axis_attr(axis), keepdims=keepdims)


def var(x, /, *, axis=None, correction: float = 0.0, keepdims: bool = False):
    return apply("var", x, axis=_axis_attr(axis), correction=correction, keepdims=keepdims)


def std(x, /, *, axis=None, correction: float = 0.0, keepdims: bool = False):
    return apply("std", x, axis=_axis_attr(axis), correction=correction, keepdims=keepdims)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial: bool = False):
    """Running sums along axis (required for more than one axis); include_initial: a leading 0."""
    x = x if dtype is None else astype(x, dtype)
    return _in_dtype(apply("cumulative_sum", x, axis=_running_axis("cumulative_sum", x, axis), include_initial=include_initial), dtype)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial: bool = False):
    """Running products along axis; include_initial: a leading 1. The gradient is exact where
    x holds zeros (no division by them), in O(n), as JAX's."""
    x = x if dtype is None else astype(x, dtype)
    return _in_dtype(apply("cumulative_prod", x, axis=_running_axis("cumulative_prod", x, axis), include_initial=include_initial), dtype)


def _running_axis(op, x, axis):
    ndim = _ndim(x)
    if axis is None:
        if ndim != 1:
            raise ShapeError(f"{op}: axis is required for a Value with {ndim} axes (shape {tuple(x.shape)})")
        return 0
    try:
        return normalize_axis(axis, ndim) if ndim else axis
    except IndexError as exc:
        raise IndexingError(f"{op}: {exc} (shape {tuple(x.shape)})") from None


# -- shape -------------------------------------------------------------------------------------------

def reshape(x, /, shape, *, copy=None):
    return apply("reshape", x, shape=tuple(shape))


def permute_dims(x, /, axes):
    return apply("permute_dims", x, axes=tuple(axes))


def expand_dims(x, /, axis=0):
    """x with a size-1 axis at axis; a tuple of axes (2025.12, and JAX) inserts one at each."""
    ndim = _ndim(x)
    try:
        if isinstance(axis, (tuple, list)):
            axis = tuple(axis)
            expanded_shape((0,) * ndim, axis)  # checks the axes: in range, none repeated
        else:
            normalize_axis(axis, ndim + 1)
    except (IndexError, ValueError) as exc:
        raise IndexingError(f"expand_dims: {exc} (input shape {tuple(x.shape)}, axis {axis})") from None
    return apply("expand_dims", x, axis=axis)


def squeeze(x, /, axis):
    return apply("squeeze", x, axis=_axis_attr(axis))


def broadcast_to(x, /, shape):
    return apply("broadcast_to", x, shape=tuple(shape))


def broadcast_arrays(*arrays):
    shapes = [tuple(a.shape) for a in arrays]
    shape = broadcast_shapes(*shapes)
    if shape is None:
        raise ShapeError(f"broadcast_arrays: shapes {' and '.join(map(str, shapes))} cannot be broadcast together")
    return [broadcast_to(a, shape) for a in arrays]


def concat(arrays: Sequence, /, *, axis: int | None = 0):
    return apply("concat", *arrays, axis=axis)


def stack(arrays: Sequence, /, *, axis: int = 0):
    return apply("stack", *arrays, axis=axis)


def moveaxis(x, source, destination, /):
    """x with axes ``source`` moved to positions ``destination`` (ints or equal-length tuples)."""
    ndim = _ndim(x)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
    try:
        src, dst = (tuple(normalize_axis(a, ndim) for a in axes) for axes in (src, dst))
    except IndexError as exc:
        raise IndexingError(f"moveaxis: {exc} (input shape {tuple(x.shape)})") from None
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in source {source} or destination {destination}")
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute_dims(x, order)


def flip(x, /, *, axis=None):
    ndim = _ndim(x)
    axes = normalize_axes(axis, ndim)
    key = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim))
    return apply("getitem", x, key=key)


def _ndim(x):
    return x.ndim if isinstance(x, Value) else len(x.shape)


def unstack(x, /, *, axis: int = 0):
    """x split along axis into a tuple of its slices (each differentiable)."""
    x = x if isinstance(x, Value) else asarray(x)
    ndim = _ndim(x)
    try:
        axis = normalize_axis(axis, ndim) if ndim else normalize_axis(axis, 0)
    except IndexError as exc:
        raise IndexingError(f"unstack: {exc} (input shape {tuple(x.shape)})") from None
    if not ndim:
        raise ShapeError("unstack: a 0-d Value has no axis to split")
    before = (slice(None),) * axis
    return tuple(x[before + (i, ...)] for i in range(x.shape[axis]))


def meshgrid(*arrays, indexing: str = "xy"):
    """Coordinate grids from 1-D arrays: a list, each of them broadcast over the others' axes
    ("xy": the first two axes swapped, as in plotting; "ij": matrix order)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    for a in arrays:
        if _ndim(a) != 1:
            raise ShapeError(f"meshgrid: arrays must be 1-D, got shape {tuple(a.shape)}")
    sizes = [a.shape[0] for a in arrays]
    axes = list(range(len(arrays)))
    if indexing == "xy" and len(arrays) > 1:
        axes[0], axes[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for a, at in zip(arrays, axes):
        placed = reshape(a, tuple(-1 if i == at else 1 for i in range(len(arrays))))
        grids.append(broadcast_to(placed, tuple(sizes)))
    return grids


def tril(x, /, *, k: int = 0):
    """x with the elements above diagonal k of the last two axes zeroed."""
    _need_matrix("tril", x)
    return apply("tril", x, k=k)


def triu(x, /, *, k: int = 0):
    """x with the elements below diagonal k of the last two axes zeroed."""
    _need_matrix("triu", x)
    return apply("triu", x, k=k)


def _backend_of(*objects):
    for obj in objects:
        if isinstance(obj, Value):
            return obj.backend
    return _backend.backend()


def _need_matrix(op, x):
    if _ndim(x) < 2:
        raise ShapeError(f"{op}: needs at least 2 axes, got shape {tuple(x.shape)}")


def repeat(x, repeats, /, *, axis: int | None = None):
    """Each element repeated along axis (None: of the flattened x), ``repeats`` times: an int,
    or an integer array (concrete: the result's shape depends on it)."""
    if isinstance(repeats, Value):
        repeats = repeats._require_data("repeat")
    if not isinstance(repeats, int):
        on = _backend_of(x)
        repeats = repeats if on.is_array(repeats) else on.asarray(repeats)
        if math.prod(repeats.shape) == 1:
            repeats = int(on.to_numpy(repeats).reshape(-1)[0])
    if axis is not None:
        try:
            axis = normalize_axis(axis, _ndim(x))
        except IndexError as exc:
            raise IndexingError(f"repeat: {exc} (input shape {tuple(x.shape)})") from None
    return apply("repeat", x, repeats=repeats, axis=axis)


def tile(x, repetitions, /):
    """x repeated as a whole: ``repetitions[i]`` times along axis i (aligned at the last axis)."""
    return apply("tile", x, repetitions=tuple(int(r) for r in repetitions))


def roll(x, /, shift, *, axis=None):
    """x's elements shifted by ``shift`` along axis (None: of the flattened x), wrapping around."""
    if isinstance(shift, (list, tuple)):
        shift = tuple(int(s) for s in shift)
    return apply("roll", x, shift=shift, axis=_axis_attr(axis))


def diff(x, /, *, axis: int = -1, n: int = 1, prepend=None, append=None):
    """The n-th forward difference along axis, after joining prepend and append to x there."""
    if n < 0:
        raise ValueError(f"diff: n must be >= 0, got {n}")
    x = x if isinstance(x, Value) else asarray(x)
    ndim = _ndim(x)
    try:
        axis = normalize_axis(axis, ndim)
    except IndexError as exc:
        raise IndexingError(f"diff: {exc} (input shape {tuple(x.shape)})") from None
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = concat(parts, axis=axis)
    before = (slice(None),) * axis
    for _ in range(n):
        x = x[before + (slice(1, None), ...)] - x[before + (slice(None, -1), ...)]
    return x


# -- indexing -----------------------------------------------------------------------------------

def take(x, indices, /, *, axis: int | None = None):
    """x's elements at integer indices along axis; an index out of range is an IndexingError."""
    shape = x.shape if isinstance(x, Value) else tuple(x.shape)
    on = _backend_of(x, indices)
    if not on.raises_on_bad_index and shape and None not in shape and (axis is None or -len(shape) <= axis < len(shape)):
        size = math.prod(shape) if axis is None else shape[axis]
        check_indices("take", indices, size, 0 if axis is None else axis % len(shape), shape, on)
    return apply("take", x, indices, axis=axis)


def take_along_axis(x, indices, /, *, axis: int = -1):
    """x's elements at indices (x's rank; the other axes broadcast) along axis; differentiable in x."""
    shape, ndim = x.shape if isinstance(x, Value) else tuple(x.shape), _ndim(x)
    if _ndim(indices) != ndim:
        raise ShapeError(f"take_along_axis: indices must have x's rank: shapes {shape} and {tuple(indices.shape)}")
    try:
        axis = normalize_axis(axis, ndim)
    except IndexError as exc:
        raise IndexingError(f"take_along_axis: {exc} (input shape {shape})") from None
    on = _backend_of(x, indices)
    if not on.raises_on_bad_index and shape[axis] is not None:
        check_indices("take_along_axis", indices, shape[axis], axis, shape, on)
    return apply("take_along_axis", x, indices, axis=axis)


# -- dtypes ----------------------------------------------------------------------------------------

def astype(x, dtype, /, *, copy: bool = True, device=None):
    """x cast to dtype; casting a float to a non-float gives a result with no gradient.

    ``copy=False`` returns x itself where it already has the dtype (and device)."""
    on = x.backend if isinstance(x, Value) else _backend.backend()
    dtype = as_dtype(on, dtype, "astype")
    result = x if not copy and isinstance(x, Value) and x.dtype == dtype else apply("astype", x, dtype=dtype)
    return result if device is None else _to_device(result, device)


def isdtype(dtype, kind): return _backend.backend().xp.isdtype(dtype, kind)
@dataclass(frozen=True)
class finfo_object:  # noqa: N801 - array_api_strict's name for it
    """The standard's finfo: Python floats (NumPy's and JAX's hold NumPy scalars)."""
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: Any


@dataclass(frozen=True)
class iinfo_object:  # noqa: N801
    """The standard's iinfo: Python ints."""
    bits: int
    max: int
    min: int
    dtype: Any


def finfo(type, /):  # noqa: A002 - the standard's name
    found = _backend.backend().xp.finfo(_dtype_of(type))
    return finfo_object(int(found.bits), float(found.eps), float(found.max), float(found.min),
                        float(found.smallest_normal), found.dtype)


def iinfo(type, /):  # noqa: A002
    found = _backend.backend().xp.iinfo(_dtype_of(type))
    low, high = int(found.min), int(found.max)
    bits = getattr(found, "bits", None)  # MLX's iinfo has none: from the range
    return iinfo_object(int(bits) if bits is not None else high.bit_length() + (low < 0), high, low, found.dtype)
def can_cast(from_, to, /): return _backend.backend().xp.can_cast(_dtype_of(from_), to)


def result_type(*arrays_and_dtypes):
    """The dtype the standard's promotion gives; Python scalars (bool, int, float, complex)
    take part as the standard's weak scalars: they keep the arrays' dtype where it is of
    their kind or wider, else give the default dtype of their kind (complex: of the
    arrays' precision). Backends whose own result_type rejects scalars (MLX) never see one."""
    on = _backend.backend()
    typed = [_dtype_of(a) for a in arrays_and_dtypes if not isinstance(a, (bool, int, float, complex))]
    scalars = [a for a in arrays_and_dtypes if isinstance(a, (bool, int, float, complex))]
    if not typed:
        if not scalars:
            raise TypeError("result_type: needs at least one array, dtype or scalar")
        typed = [_scalar_dtype(scalars.pop(0), on)]
    dtype = typed[0] if len(typed) == 1 else on.xp.result_type(*typed)
    for scalar in scalars:
        dtype = _promote_scalar(dtype, scalar, on)
    return dtype


def _scalar_dtype(value, on):
    """The dtype a lone Python scalar makes: bool, the default integer, float or complex."""
    if isinstance(value, bool):
        return on.xp.bool
    if isinstance(value, int):
        return __array_namespace_info__().default_dtypes()["integral"]
    default = _backend.default_dtype(on)
    return on.complex_dtype(default) if isinstance(value, complex) else default


def _promote_scalar(dtype, value, on):
    if isinstance(value, bool) or on.is_complex(dtype):
        return dtype
    if isinstance(value, complex):
        return on.complex_dtype(dtype if on.is_float(dtype) else _backend.default_dtype(on))
    if on.is_float(dtype) or (isinstance(value, int) and dtype != on.xp.bool):
        return dtype
    return _scalar_dtype(value, on)


def _dtype_of(obj):
    return obj.dtype if isinstance(obj, Value) else obj


# -- functions without a gradient ---------------------------------------------------------------

def _elementwise_nondiff(name: str):
    def function(*args, **kwargs):
        return apply(name, *args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"array API {name}; its result takes no gradient"
    return function


def less(x1, x2, /): return apply("less", x1, x2)
def less_equal(x1, x2, /): return apply("less_equal", x1, x2)
def greater(x1, x2, /): return apply("greater", x1, x2)
def greater_equal(x1, x2, /): return apply("greater_equal", x1, x2)
def equal(x1, x2, /): return apply("equal", x1, x2)
def not_equal(x1, x2, /): return apply("not_equal", x1, x2)
def logical_and(x1, x2, /): return apply("logical_and", x1, x2)
def logical_or(x1, x2, /): return apply("logical_or", x1, x2)
def logical_xor(x1, x2, /): return apply("logical_xor", x1, x2)
def logical_not(x, /): return apply("logical_not", x)
def isnan(x, /): return apply("isnan", x)
def isinf(x, /): return apply("isinf", x)
def isfinite(x, /): return apply("isfinite", x)
def signbit(x, /): return apply("signbit", x)
def floor(x, /): return apply("floor", x)
def ceil(x, /): return apply("ceil", x)
def round(x, /): return apply("round", x)  # noqa: A001
def trunc(x, /): return apply("trunc", x)
def floor_divide(x1, x2, /): return apply("floor_divide", x1, x2)
def nextafter(x1, x2, /): return apply("nextafter", x1, x2)
def bitwise_and(x1, x2, /): return apply("bitwise_and", x1, x2)
def bitwise_or(x1, x2, /): return apply("bitwise_or", x1, x2)
def bitwise_xor(x1, x2, /): return apply("bitwise_xor", x1, x2)
def bitwise_invert(x, /): return apply("bitwise_invert", x)
def bitwise_left_shift(x1, x2, /): return apply("bitwise_left_shift", x1, x2)
def bitwise_right_shift(x1, x2, /): return apply("bitwise_right_shift", x1, x2)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Where x2's elements would go in the 1-D x1 (ascending, or sorted by ``sorter``) to keep
    it sorted; integer results, no gradient."""
    if sorter is not None:
        x1 = take(x1, sorter)
    return apply("searchsorted", x1, x2, side=side)


def nonzero(x, /):
    """The indices of x's nonzero elements: a tuple of integer Values, one per axis (no gradient).

    The shape depends on the data: it runs once, eagerly, and a replay meeting it is an error."""
    if not isinstance(x, Value):
        x = asarray(x)
    return tuple(_eager_outputs("nonzero", x, range(x.ndim), x.backend.xp.nonzero(_eager_data("nonzero", x))))


def _eager_data(op, x):
    if x.data is None:
        raise PolygradError(f"{op}: the shape of its output depends on the data, so it runs eagerly, "
                            "when called, and cannot take a placeholder that has not been fed")
    return x.data


def _eager_outputs(op, x, names, arrays):
    """One node per output, recorded (so a graph shows where they came from; replay refuses)."""
    record = _state.is_grad_enabled()
    for name, array in zip(names, arrays):
        if record:
            yield Value._node(array, op, (x,), {"output": name}, False, x.backend)
        else:
            yield Value._wrap(array, x.backend)


UniqueAllResult = namedtuple("UniqueAllResult", UNIQUE_OUTPUTS["unique_all"])
UniqueCountsResult = namedtuple("UniqueCountsResult", UNIQUE_OUTPUTS["unique_counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", UNIQUE_OUTPUTS["unique_inverse"])


def _unique(name, x, result):
    if not isinstance(x, Value):
        x = asarray(x)
    found = getattr(x.backend.xp, name)(_eager_data(name, x))
    fields = UNIQUE_OUTPUTS[name]
    parts = (found,) if name == "unique_values" else tuple(getattr(found, f) for f in fields)
    outputs = tuple(_eager_outputs(name, x, fields, parts))
    return outputs[0] if result is None else result(*outputs)


def unique_all(x, /):
    """(values, indices, inverse_indices, counts) of x's distinct elements (nan: each distinct);
    no gradient; runs eagerly (the shapes depend on the data)."""
    return _unique("unique_all", x, UniqueAllResult)


def unique_counts(x, /):
    """(values, counts) of x's distinct elements; no gradient; runs eagerly."""
    return _unique("unique_counts", x, UniqueCountsResult)


def unique_inverse(x, /):
    """(values, inverse_indices) of x's distinct elements; no gradient; runs eagerly."""
    return _unique("unique_inverse", x, UniqueInverseResult)


def unique_values(x, /):
    """x's distinct elements, sorted; no gradient; runs eagerly."""
    return _unique("unique_values", x, None)


def argmax(x, /, *, axis=None, keepdims: bool = False): return apply("argmax", x, axis=axis, keepdims=keepdims)
def argmin(x, /, *, axis=None, keepdims: bool = False): return apply("argmin", x, axis=axis, keepdims=keepdims)
def all(x, /, *, axis=None, keepdims: bool = False): return apply("all", x, axis=_axis_attr(axis), keepdims=keepdims)  # noqa: A001
def any(x, /, *, axis=None, keepdims: bool = False): return apply("any", x, axis=_axis_attr(axis), keepdims=keepdims)  # noqa: A001
def count_nonzero(x, /, *, axis=None, keepdims: bool = False): return apply("count_nonzero", x, axis=_axis_attr(axis), keepdims=keepdims)
def argsort(x, /, *, axis: int = -1, descending: bool = False, stable: bool = True): return apply("argsort", x, axis=axis, descending=descending, stable=stable)


def sort(x, /, *, axis: int = -1, descending: bool = False, stable: bool = True):
    """x sorted along axis. Differentiable as JAX's: each element takes the cotangent of the
    place it was sorted to (ties in stable ascending order, reversed when descending)."""
    return apply("sort", x, axis=axis, descending=descending, stable=stable)


# -- creation: constants on the active backend -----------------------------------------------------

def _constant(data) -> Value:
    return Value._wrap(data, _backend.backend())


def _float_default(dtype):
    return _backend.default_dtype() if dtype is None else _dtype_arg(dtype, op=sys._getframe(1).f_code.co_name)


def _dtype_arg(dtype, on=None, op=None):
    """A creation function's dtype: a name or any library's dtype, as the backend's dtype."""
    if dtype is None:
        return None
    return as_dtype(on or _backend.backend(), dtype, op or sys._getframe(1).f_code.co_name)


def _placed(device) -> dict:
    """device= for a backend's creation function: only where given (None: the backend's own)."""
    return {} if device is None else {"device": device}


def _to_device(x: Value, device) -> Value:
    """x on ``device``: x itself where it is there already, else a copy the gradient flows back through."""
    return x if device is None or device == x.device else apply("copy", x, device=device)


def asarray(obj, /, *, dtype=None, device=None, copy=None, backend=None) -> Value:
    """A Value of ``obj``; Python floats (complex numbers) and lists of them get the default
    float (complex) dtype.

    A Value comes back as itself unless a copy is asked for (``copy=True``), or needed for
    ``dtype`` or ``device`` (``copy=False`` then raises ValueError): a copy is a new node,
    through which the gradient flows. A list holding Values is stacked, differentiably.
    ``backend`` (a name) makes it on that backend instead of the active one; a Value
    of another backend is moved there (as ``Value.to`` does).
    """
    on = _backend.get_backend(backend) if isinstance(backend, str) else backend
    if isinstance(obj, Value):
        copied = False
        if on is not None and on is not obj.backend:
            obj, copied = obj.to(on.name), True
        if dtype is not None and obj.dtype != (dtype := as_dtype(obj.backend, dtype, "asarray")):
            _copy_allowed(copy, f"casting {obj.dtype} to {dtype}")
            obj, copied = astype(obj, dtype), True
        if device is not None and device != obj.device:
            _copy_allowed(copy, f"moving it to device {device}")
            obj, copied = _to_device(obj, device), True
        return apply("copy", obj) if copy and not copied else obj
    if isinstance(obj, (list, tuple)) and _holds_value(obj):
        return stack([asarray(item, dtype=dtype, device=device, backend=backend) for item in obj])
    on = on or _backend.backend()
    dtype = _dtype_arg(dtype, on)
    if dtype is None and on.is_array(obj) and not copy and device is None:
        data = obj
    elif copy is None and device is None:
        data = on.asarray(obj, dtype=dtype)
    else:
        data = on.xp.asarray(obj, dtype=dtype, device=on.device if device is None else device, copy=copy)
    if dtype is None and isinstance(obj, (float, complex, list, tuple)) and on.is_inexact(data.dtype):
        default = _backend.default_dtype(on)  # lists of ints stay integers
        wanted = on.complex_dtype(default) if on.is_complex(data.dtype) else default
        data = data if data.dtype == wanted else on.xp.astype(data, wanted)
    return Value._wrap(data, on)


def _copy_allowed(copy, why: str) -> None:
    if copy is False:
        raise ValueError(f"asarray: copy=False, but {why} needs a copy")


def _holds_value(items) -> bool:
    return builtins.any(isinstance(i, Value) or isinstance(i, (list, tuple)) and _holds_value(i) for i in items)


def from_dlpack(x, /, *, device=None, copy=None) -> Value:
    """A Value sharing (or, with copy=True, copying) the memory of any DLPack exporter. A
    Value given is passed to asarray (a copy of it stays differentiable)."""
    if isinstance(x, Value):
        return asarray(x, device=device, copy=copy)
    on = _backend.backend()
    options = {**_placed(device), **({} if copy is None else {"copy": copy})}
    return Value._wrap(on.xp.from_dlpack(x, **options), on)


def zeros(shape, *, dtype=None, device=None): return _constant(_backend.backend().xp.zeros(shape, dtype=_float_default(dtype), **_placed(device)))
def ones(shape, *, dtype=None, device=None): return _constant(_backend.backend().xp.ones(shape, dtype=_float_default(dtype), **_placed(device)))
def empty(shape, *, dtype=None, device=None): return _constant(_backend.backend().xp.empty(shape, dtype=_float_default(dtype), **_placed(device)))
def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None): return _constant(_backend.backend().xp.eye(n_rows, n_cols, k=k, dtype=_float_default(dtype), **_placed(device)))
def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True): return _constant(_backend.backend().xp.linspace(start, stop, num, dtype=_float_default(dtype), endpoint=endpoint, **_placed(device)))


def full(shape, fill_value, *, dtype=None, device=None):
    if dtype is None and isinstance(fill_value, (float, complex)):
        dtype = _scalar_dtype(fill_value, _backend.backend())
    return _constant(_backend.backend().xp.full(shape, fill_value, dtype=_dtype_arg(dtype), **_placed(device)))


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if dtype is None and builtins.any(isinstance(v, float) for v in (start, stop, step)):
        dtype = _backend.default_dtype()
    return _constant(_backend.backend().xp.arange(start, stop, step, dtype=_dtype_arg(dtype), **_placed(device)))


def _like(x, make, *args, dtype, device) -> Value:
    """A constant shaped (and by default typed and placed) like x, from the backend's ``make``."""
    on = x.backend if isinstance(x, Value) else _backend.backend()
    data = x._require_data(make) if isinstance(x, Value) else x
    kind = type(x) if isinstance(x, Value) else Value  # under vmap a batched Value stays one
    return kind._wrap(getattr(on.xp, make)(data, *args, dtype=_dtype_arg(dtype, on, make), **_placed(device)), on)


def zeros_like(x, /, *, dtype=None, device=None): return _like(x, "zeros_like", dtype=dtype, device=device)
def ones_like(x, /, *, dtype=None, device=None): return _like(x, "ones_like", dtype=dtype, device=device)
def empty_like(x, /, *, dtype=None, device=None): return _like(x, "empty_like", dtype=dtype, device=device)
def full_like(x, /, fill_value, *, dtype=None, device=None): return _like(x, "full_like", fill_value, dtype=dtype, device=device)


# -- inspection -------------------------------------------------------------------------------------

class _Info:
    """What ``__array_namespace_info__()`` returns: the active backend's own inspection API,
    with polygrad's defaults where they are polygrad's (the default float dtype) and its
    capabilities (boolean masks and data-dependent shapes work on every backend: polygrad
    indexes by a mask's positions, and nonzero is computed on the host where the backend
    cannot build it)."""

    def __init__(self, on):
        self._on = on
        self._base = on.xp.__array_namespace_info__()

    def capabilities(self) -> dict:
        found = dict(self._base.capabilities())
        found.update({"boolean indexing": True, "data-dependent shapes": True})
        return found

    def default_device(self):
        return self._on.device

    def default_dtypes(self, *, device=None) -> dict:
        found = dict(self._base.default_dtypes(**_placed(device)))
        default = _backend.default_dtype(self._on)
        known = self._base.dtypes(**_placed(device))  # the backend's own dtype objects, by name
        for kind, dtype in (("real floating", default), ("complex floating", self._on.complex_dtype(default))):
            found[kind] = next((d for d in known.values() if d == dtype), dtype)
        return found

    def dtypes(self, *, device=None, kind=None) -> dict:
        return dict(self._base.dtypes(**_placed(device), kind=kind))

    def devices(self) -> list:
        return list(self._base.devices())

    def __repr__(self) -> str:
        return f"<polygrad array namespace info for backend {self._on.name!r}>"


def __array_namespace_info__() -> _Info:
    """The standard's inspection API for the active backend (capabilities, default_device,
    default_dtypes, dtypes, devices)."""
    return _Info(_backend.backend())


# -- polygrad's own extensions, used by the rules' vjps (so create_graph works) ---------------

def scatter(values, key, shape):
    return apply("scatter", values, key=key, shape=tuple(shape))


def scatter_add(values, indices, shape, axis):
    return apply("scatter_add", values, indices, shape=tuple(shape), axis=axis)


def setitem(x, key, values):
    """A copy of x with values written at a basic key or a boolean mask (x.at[key].set)."""
    return apply("setitem", x, values, key=key)


def put(x, indices, values, axis, unique_indices=False):
    """A copy of x with the slices of values along axis written at 1-D integer indices."""
    return apply("put", x, indices, values, axis=axis, unique_indices=unique_indices)


__all__ = [
    # elementwise, with gradients
    "add", "subtract", "multiply", "divide", "pow", "negative", "positive", "exp", "log",
    "log1p", "log2", "log10", "logaddexp", "expm1", "sqrt", "square", "reciprocal", "remainder",
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh",
    "acosh", "atanh", "hypot", "abs", "sign", "copysign", "maximum", "minimum", "where", "clip",
    "real", "imag", "conj",
    # neural-network functions
    "sigmoid", "relu", "softmax", "log_softmax", "logsumexp",
    # reductions
    "sum", "mean", "prod", "max", "min", "var", "std", "cumulative_prod",
    # linear algebra (also in the linalg submodule, as the standard has them)
    "matmul", "tensordot", "vecdot", "matrix_transpose", "linalg",
    # the fft extension
    "fft",
    # SciPy's special functions (xp.special, which SciPy's array-API dispatch looks up)
    "special",
    # shape and indexing
    "reshape", "permute_dims", "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays",
    "concat", "stack", "moveaxis", "flip", "take",
    # dtypes
    "astype", "isdtype", "finfo", "iinfo", "result_type", "can_cast",
    # no gradient
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "signbit",
    "floor", "ceil", "round", "trunc", "floor_divide", "nextafter", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_invert", "bitwise_left_shift", "bitwise_right_shift", "searchsorted", "nonzero", "argmax",
    "argmin", "all", "any", "count_nonzero", "argsort", "sort", "stop_gradient",
    # creation
    "asarray", "from_dlpack", "zeros", "ones", "empty", "eye", "linspace", "full", "arange",
    "zeros_like", "ones_like", "empty_like", "full_like",
    # inspection
    "__array_namespace_info__",
    # the rest of the standard's non-elementwise functions (2024.12)
    "cumulative_sum", "diff", "meshgrid", "tril", "triu", "repeat", "roll", "tile", "unstack",
    "take_along_axis", "unique_all", "unique_counts", "unique_inverse", "unique_values",
]

engine.graph_namespace(sys.modules[__name__])  # create_graph runs the vjps with this namespace
