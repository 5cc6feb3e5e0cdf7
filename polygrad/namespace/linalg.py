"""The array API's ``linalg`` extension over Values (``xp.linalg``).

matmul, tensordot, vecdot and matrix_transpose are also in the main namespace, as the
standard has them in both.
"""
from __future__ import annotations

from .._graph import apply

__all__ = ["matmul", "tensordot", "vecdot", "matrix_transpose"]


def matmul(x1, x2, /):
    return apply("matmul", x1, x2)


def tensordot(x1, x2, /, *, axes=2):
    if not isinstance(axes, int):
        axes = (tuple(axes[0]), tuple(axes[1]))
    return apply("tensordot", x1, x2, axes=axes)


def vecdot(x1, x2, /, *, axis: int = -1):
    return apply("sum", apply("multiply", x1, x2), axis=axis, keepdims=False)


def matrix_transpose(x, /):
    return apply("matrix_transpose", x)
