"""polygrad's array-API namespace over Values: what ``Value.__array_namespace__()`` returns.

Functions with a gradient rule build graph nodes; functions without one (argmax,
comparisons, isnan...) are recorded too, so replay recomputes them, but pass no
gradient. Creation functions make constant Values on the active backend. Dtype
names (``float32``...) resolve to the active backend's dtypes.
"""
from __future__ import annotations

import builtins
import sys
from typing import Any, Sequence

from .. import _backend, engine
from .._graph import Value, apply, as_dtype
from ..errors import ShapeError
from ..rules import broadcast_shapes, normalize_axes
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

def add(x1, x2, /): return apply("add", x1, x2)
def subtract(x1, x2, /): return apply("subtract", x1, x2)
def multiply(x1, x2, /): return apply("multiply", x1, x2)
def divide(x1, x2, /): return apply("divide", x1, x2)
def pow(x1, x2, /): return apply("pow", x1, x2)  # noqa: A001
def negative(x, /): return apply("negative", x)
def positive(x, /): return x
def stop_gradient(x, /): return apply("stop_gradient", x)
def exp(x, /): return apply("exp", x)
def log(x, /): return apply("log", x)
def log1p(x, /): return apply("log1p", x)
def expm1(x, /): return apply("expm1", x)
def sqrt(x, /): return apply("sqrt", x)
def square(x, /): return apply("multiply", x, x)
def sin(x, /): return apply("sin", x)
def cos(x, /): return apply("cos", x)
def tanh(x, /): return apply("tanh", x)
def abs(x, /): return apply("abs", x)  # noqa: A001
def sign(x, /): return apply("sign", x)
def maximum(x1, x2, /): return apply("maximum", x1, x2)
def minimum(x1, x2, /): return apply("minimum", x1, x2)
def where(condition, x1, x2, /): return apply("where", condition, x1, x2)


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
    return apply("sum", x, axis=_axis_attr(axis), keepdims=keepdims)


def mean(x, /, *, axis=None, keepdims: bool = False):
    return apply("mean", x, axis=_axis_attr(axis), keepdims=keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims: bool = False):
    x = x if dtype is None else astype(x, dtype)
    return apply("prod", x, axis=_axis_attr(axis), keepdims=keepdims)


def max(x, /, *, axis=None, keepdims: bool = False):  # noqa: A001
    return apply("max", x, axis=_axis_attr(axis), keepdims=keepdims)


def min(x, /, *, axis=None, keepdims: bool = False):  # noqa: A001
    return apply("min", x, axis=_axis_attr(axis), keepdims=keepdims)


def var(x, /, *, axis=None, correction: float = 0.0, keepdims: bool = False):
    return apply("var", x, axis=_axis_attr(axis), correction=correction, keepdims=keepdims)


def std(x, /, *, axis=None, correction: float = 0.0, keepdims: bool = False):
    return apply("std", x, axis=_axis_attr(axis), correction=correction, keepdims=keepdims)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial: bool = False):
    """Running products along axis, as prods of growing prefixes: O(n^2), but differentiable.

    prod's vjp calls it, so this is what lets create_graph differentiate through prod.
    """
    x = x if dtype is None else astype(x, dtype)
    ndim = _ndim(x)
    if axis is None:
        if ndim != 1:
            raise ShapeError(f"cumulative_prod: axis is required for a Value with {ndim} axes")
        axis = 0
    axis = normalize_axes(axis, ndim)[0]
    before = (slice(None),) * axis
    n = x.shape[axis]
    pieces = [prod(x[before + (slice(0, k), ...)], axis=axis) for k in range(0 if include_initial else 1, n + 1)]
    return stack(pieces, axis=axis) if pieces else x


# -- shape -------------------------------------------------------------------------------------------

def reshape(x, /, shape, *, copy=None):
    return apply("reshape", x, shape=tuple(shape))


def permute_dims(x, /, axes):
    return apply("permute_dims", x, axes=tuple(axes))


def expand_dims(x, /, *, axis: int = 0):
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
    ndim = _ndim(x)
    src = normalize_axes(source, ndim) if isinstance(source, int) else tuple(s % ndim for s in source)
    dst = (destination % ndim,) if isinstance(destination, int) else tuple(d % ndim for d in destination)
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


# -- indexing -----------------------------------------------------------------------------------

def take(x, indices, /, *, axis: int | None = None):
    return apply("take", x, indices, axis=axis)


# -- dtypes ----------------------------------------------------------------------------------------

def astype(x, dtype, /, *, copy: bool = True, device=None):
    """x cast to dtype; casting a float to a non-float gives a result with no gradient."""
    on = x.backend if isinstance(x, Value) else _backend.backend()
    result = apply("astype", x, dtype=as_dtype(on, dtype, "astype"))
    return result


def isdtype(dtype, kind): return _backend.backend().xp.isdtype(dtype, kind)
def finfo(type, /): return _backend.backend().xp.finfo(_dtype_of(type))  # noqa: A002
def iinfo(type, /): return _backend.backend().xp.iinfo(_dtype_of(type))  # noqa: A002
def result_type(*arrays_and_dtypes): return _backend.backend().xp.result_type(*map(_dtype_of, arrays_and_dtypes))
def can_cast(from_, to, /): return _backend.backend().xp.can_cast(_dtype_of(from_), to)


def _dtype_of(obj):
    return obj.dtype if isinstance(obj, Value) else obj


# -- functions without a gradient ---------------------------------------------------------------

def _elementwise_nondiff(name: str):
    def function(*args, **kwargs):
        return apply(name, *args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"array API {name}; its result takes no gradient"
    return function


less = _elementwise_nondiff("less")
less_equal = _elementwise_nondiff("less_equal")
greater = _elementwise_nondiff("greater")
greater_equal = _elementwise_nondiff("greater_equal")
equal = _elementwise_nondiff("equal")
not_equal = _elementwise_nondiff("not_equal")
logical_and = _elementwise_nondiff("logical_and")
logical_or = _elementwise_nondiff("logical_or")
logical_xor = _elementwise_nondiff("logical_xor")
logical_not = _elementwise_nondiff("logical_not")
isnan = _elementwise_nondiff("isnan")
isinf = _elementwise_nondiff("isinf")
isfinite = _elementwise_nondiff("isfinite")
signbit = _elementwise_nondiff("signbit")
floor = _elementwise_nondiff("floor")
ceil = _elementwise_nondiff("ceil")
round = _elementwise_nondiff("round")  # noqa: A001
trunc = _elementwise_nondiff("trunc")
floor_divide = _elementwise_nondiff("floor_divide")
searchsorted = _elementwise_nondiff("searchsorted")


def nonzero(x, /):
    """The indices of x's nonzero elements: a tuple of integer Values, one per axis (no gradient)."""
    if not isinstance(x, Value):
        x = asarray(x)
    return tuple(Value._wrap(index, x.backend) for index in x.backend.xp.nonzero(x._require_data("nonzero")))


def argmax(x, /, *, axis=None, keepdims: bool = False): return apply("argmax", x, axis=axis, keepdims=keepdims)
def argmin(x, /, *, axis=None, keepdims: bool = False): return apply("argmin", x, axis=axis, keepdims=keepdims)
def all(x, /, *, axis=None, keepdims: bool = False): return apply("all", x, axis=_axis_attr(axis), keepdims=keepdims)  # noqa: A001
def any(x, /, *, axis=None, keepdims: bool = False): return apply("any", x, axis=_axis_attr(axis), keepdims=keepdims)  # noqa: A001
def count_nonzero(x, /, *, axis=None, keepdims: bool = False): return apply("count_nonzero", x, axis=_axis_attr(axis), keepdims=keepdims)
def argsort(x, /, *, axis: int = -1, descending: bool = False, stable: bool = True): return apply("argsort", x, axis=axis, descending=descending, stable=stable)
def sort(x, /, *, axis: int = -1, descending: bool = False, stable: bool = True): return apply("sort", x, axis=axis, descending=descending, stable=stable)


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


def asarray(obj, /, *, dtype=None, device=None, copy=None, backend=None) -> Value:
    """A constant Value; Python floats and lists of them get the default float dtype.

    ``backend`` (a name) makes it on that backend instead of the active one; a Value
    of another backend is moved there (as ``Value.to`` does).
    """
    on = _backend.get_backend(backend) if isinstance(backend, str) else backend
    if isinstance(obj, Value):
        if on is not None and on is not obj.backend:
            obj = obj.to(on.name)
        return obj if dtype is None or obj.dtype == as_dtype(obj.backend, dtype, "asarray") else astype(obj, dtype)
    on = on or _backend.backend()
    dtype = _dtype_arg(dtype, on)
    data = obj if dtype is None and on.is_array(obj) else on.asarray(obj, dtype=dtype)
    if dtype is None and isinstance(obj, (float, list, tuple)) and on.is_float(data.dtype):
        data = on.xp.astype(data, _backend.default_dtype(on))  # lists of ints stay integers
    return Value._wrap(data, on)


def zeros(shape, *, dtype=None, device=None): return _constant(_backend.backend().xp.zeros(shape, dtype=_float_default(dtype)))
def ones(shape, *, dtype=None, device=None): return _constant(_backend.backend().xp.ones(shape, dtype=_float_default(dtype)))
def empty(shape, *, dtype=None, device=None): return _constant(_backend.backend().xp.empty(shape, dtype=_float_default(dtype)))
def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None): return _constant(_backend.backend().xp.eye(n_rows, n_cols, k=k, dtype=_float_default(dtype)))
def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True): return _constant(_backend.backend().xp.linspace(start, stop, num, dtype=_float_default(dtype), endpoint=endpoint))


def full(shape, fill_value, *, dtype=None, device=None):
    if dtype is None and isinstance(fill_value, float):
        dtype = _backend.default_dtype()
    return _constant(_backend.backend().xp.full(shape, fill_value, dtype=_dtype_arg(dtype)))


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if dtype is None and builtins.any(isinstance(v, float) for v in (start, stop, step)):
        dtype = _backend.default_dtype()
    return _constant(_backend.backend().xp.arange(start, stop, step, dtype=_dtype_arg(dtype)))


def _like(name: str):
    def function(x, /, *args, dtype=None, device=None):
        on = x.backend if isinstance(x, Value) else _backend.backend()
        data = x.data if isinstance(x, Value) else x
        kind = type(x) if isinstance(x, Value) else Value  # under vmap a batched Value stays one
        return kind._wrap(getattr(on.xp, name)(data, *args, dtype=_dtype_arg(dtype, on, name)), on)
    function.__name__ = function.__qualname__ = name
    return function


zeros_like = _like("zeros_like")
ones_like = _like("ones_like")
empty_like = _like("empty_like")
full_like = _like("full_like")


# -- polygrad's own extensions, used by the rules' vjps (so create_graph works) ---------------

def scatter(values, key, shape):
    return apply("scatter", values, key=key, shape=tuple(shape))


def scatter_add(values, indices, shape, axis):
    return apply("scatter_add", values, indices, shape=tuple(shape), axis=axis)


__all__ = [
    # elementwise, with gradients
    "add", "subtract", "multiply", "divide", "pow", "negative", "positive", "exp", "log",
    "log1p", "expm1", "sqrt", "square", "sin", "cos", "tanh", "abs", "sign", "maximum",
    "minimum", "where", "clip",
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
    "floor", "ceil", "round", "trunc", "floor_divide", "searchsorted", "nonzero", "argmax",
    "argmin", "all", "any", "count_nonzero", "argsort", "sort", "stop_gradient",
    # creation
    "asarray", "zeros", "ones", "empty", "eye", "linspace", "full", "arange", "zeros_like",
    "ones_like", "empty_like", "full_like",
]

engine.graph_namespace(sys.modules[__name__])  # create_graph runs the vjps with this namespace
