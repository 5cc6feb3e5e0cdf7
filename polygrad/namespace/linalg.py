"""The array API's ``linalg`` extension over Values (``xp.linalg``, ``pg.linalg``).

Every function takes stacks of matrices (leading batch axes) where the standard does,
with the standard's signatures (2024.12). Decompositions, inverses and solves are rules
("linalg.<name>" in rules/linalg.py, with their conventions); diagonal, trace, outer,
vecdot, matrix_power, vector_norm and matrix_norm are composed from differentiable rules,
as JAX composes them, so they share those rules' gradients and conventions. eigh, qr,
slogdet and svd return named tuples of Values, as the standard's do.

matmul, tensordot, vecdot and matrix_transpose are also in the main namespace, as the
standard has them in both.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from .._graph import Value, apply
from ..errors import ShapeError

__all__ = [
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve",
    "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
    "EighResult", "QRResult", "SlogdetResult", "SVDResult",
]


class EighResult(NamedTuple):
    eigenvalues: Value
    eigenvectors: Value


class QRResult(NamedTuple):
    Q: Value
    R: Value


class SlogdetResult(NamedTuple):
    sign: Value
    logabsdet: Value


class SVDResult(NamedTuple):
    U: Value
    S: Value
    Vh: Value


def _outputs(op: str, x, **attrs) -> tuple:
    """The results of multi-output rule ``op`` as Values (see rules/outputs.py)."""
    node = apply(op, x, **attrs)
    count = len(node.data) if node.data is not None else _COUNTS[op]
    return tuple(apply("output", node, index=i, count=count) for i in range(count))


_COUNTS = {"linalg.eigh": 2, "linalg.qr": 2, "linalg.slogdet": 2, "linalg.svd": 3}


def _tolerance(rtol):
    """rtol as a rule attribute: a number, None, or (from a Value) its array."""
    return rtol.data if isinstance(rtol, Value) else rtol


# -- rules ---------------------------------------------------------------------------------

def cholesky(x, /, *, upper: bool = False):
    return apply("linalg.cholesky", x, upper=upper)


def cross(x1, x2, /, *, axis: int = -1):
    return apply("linalg.cross", x1, x2, axis=axis)


def det(x, /):
    return apply("linalg.det", x)


def eigh(x, /) -> EighResult:
    return EighResult(*_outputs("linalg.eigh", x))


def eigvalsh(x, /):
    return apply("linalg.eigvalsh", x)


def inv(x, /):
    return apply("linalg.inv", x)


def matrix_rank(x, /, *, rtol=None):
    return apply("linalg.matrix_rank", x, rtol=_tolerance(rtol))


def pinv(x, /, *, rtol=None):
    return apply("linalg.pinv", x, rtol=_tolerance(rtol))


def qr(x, /, *, mode: str = "reduced") -> QRResult:
    if mode not in ("reduced", "complete"):
        raise ValueError(f"linalg.qr: mode must be 'reduced' or 'complete', got {mode!r}")
    return QRResult(*_outputs("linalg.qr", x, mode=mode))


def slogdet(x, /) -> SlogdetResult:
    return SlogdetResult(*_outputs("linalg.slogdet", x))


def solve(x1, x2, /):
    return apply("linalg.solve", x1, x2)


def svd(x, /, *, full_matrices: bool = True) -> SVDResult:
    return SVDResult(*_outputs("linalg.svd", x, full_matrices=full_matrices))


def svdvals(x, /):
    return apply("linalg.svdvals", x)


def matmul(x1, x2, /):
    return apply("matmul", x1, x2)


def tensordot(x1, x2, /, *, axes=2):
    if not isinstance(axes, int):
        axes = (tuple(axes[0]), tuple(axes[1]))
    return apply("tensordot", x1, x2, axes=axes)


def matrix_transpose(x, /):
    return apply("matrix_transpose", x)


# -- composed from differentiable rules ------------------------------------------------------------

def vecdot(x1, x2, /, *, axis: int = -1):
    return apply("sum", apply("multiply", x1, x2), axis=axis, keepdims=False)


def _matrix_shape(op: str, x) -> tuple:
    shape = tuple(x.shape)
    if len(shape) < 2:
        raise ShapeError(f"linalg.{op}: needs matrices (..., M, N), got shape {shape}")
    return shape


def diagonal(x, /, *, offset: int = 0):
    """The diagonal ``offset`` of each matrix: a strided slice of the flattened matrix
    (elements i * (N + 1) + offset), so its gradient is getitem's scatter."""
    shape = _matrix_shape("diagonal", x)
    rows, cols = shape[-2:]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    start = offset if offset >= 0 else -offset * cols
    flat = apply("reshape", x, shape=shape[:-2] + (rows * cols,))
    step = cols + 1
    key = (Ellipsis, slice(start, start + (length - 1) * step + 1, step) if length else slice(0, 0))
    return apply("getitem", flat, key=key)


def trace(x, /, *, offset: int = 0, dtype=None):
    from . import sum as sum_  # the namespace's sum (casts with dtype)
    return sum_(diagonal(x, offset=offset), axis=-1, dtype=dtype)


def outer(x1, x2, /):
    if x1.ndim != 1 or x2.ndim != 1:
        raise ShapeError(f"linalg.outer: needs two 1-D arrays, got shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
    left = apply("reshape", x1, shape=(x1.shape[0], 1))
    right = apply("reshape", x2, shape=(1, x2.shape[0]))
    return apply("multiply", left, right)


def matrix_power(x, n: int, /):
    """x multiplied by itself n times (binary powering: O(log n) matmuls, each with its
    vjp); n < 0 powers the inverse; n = 0 gives identity matrices (no gradient)."""
    shape = _matrix_shape("matrix_power", x)
    if shape[-1] != shape[-2]:
        raise ShapeError(f"linalg.matrix_power: needs square matrices (..., M, M), got shape {shape}")
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if n == 0:
        from . import broadcast_to, eye
        return broadcast_to(eye(shape[-1], dtype=x.dtype), shape)
    if n < 0:
        x, n = inv(x), -n
    result = None
    while n:
        if n & 1:
            result = x if result is None else apply("matmul", result, x)
        n >>= 1
        if n:
            x = apply("matmul", x, x)
    return result


def _as_value(x) -> Value:
    if isinstance(x, Value):
        return x
    from . import asarray
    return asarray(x)


def _is_complex(x: Value) -> bool:
    return bool(x.backend.xp.isdtype(x.dtype, "complex floating"))


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """The ord-norm over axis (all axes by default), composed as jnp.linalg.vector_norm is:
    sqrt(sum(x * x)) for 2, max/min(abs(x)) for +-inf, the count of nonzeros for 0 (no
    gradient), sum(abs(x) ** ord) ** (1 / ord) otherwise."""
    from . import abs as abs_, astype, max as max_, min as min_, sqrt, sum as sum_
    if isinstance(ord, str):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    x = _as_value(x)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    if ord == 2:
        magnitude = abs_(x) if _is_complex(x) else x
        return sqrt(sum_(magnitude * magnitude, axis=axis, keepdims=keepdims))
    if ord == math.inf:
        return max_(abs_(x), axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return min_(abs_(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = apply("not_equal", x, 0)
        real_dtype = abs_(x).dtype
        return sum_(astype(nonzero, real_dtype), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum_(abs_(x), axis=axis, keepdims=keepdims)
    return sum_(abs_(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """The ord-norm of each matrix, composed as jnp.linalg.matrix_norm is: "fro" from the
    elements, "nuc" and +-2 from svdvals (max/min: tied values share), +-1 and +-inf from
    column and row sums of abs(x)."""
    from . import abs as abs_, max as max_, min as min_, reshape, sqrt, sum as sum_
    x = _as_value(x)
    shape = _matrix_shape("matrix_norm", x)
    if ord == "fro":
        magnitude = abs_(x) if _is_complex(x) else x
        result = sqrt(sum_(magnitude * magnitude, axis=(-2, -1)))
    elif ord == "nuc":
        result = sum_(svdvals(x), axis=-1)
    elif ord in (2, -2):
        result = (max_ if ord == 2 else min_)(svdvals(x), axis=-1)
    elif ord in (1, -1):
        result = (max_ if ord == 1 else min_)(sum_(abs_(x), axis=-2), axis=-1)
    elif ord in (math.inf, -math.inf):
        result = (max_ if ord > 0 else min_)(sum_(abs_(x), axis=-1), axis=-1)
    else:
        raise ValueError(f"linalg.matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}")
    return reshape(result, shape[:-2] + (1, 1)) if keepdims else result
