"""NumPy over a short trailing axis (three quantiles, xyz coordinates, a few classes): an
(n, k) array with a (k,) operand broadcast over its rows, and sum, max and min over its
leading axes or over a short last axis.

Why: NumPy's loops run along the last axis, so with k = 3 a multiply of (65536, 3) by (3,)
calls its inner loop 65536 times on 3 elements: 554 us, where the multiply of two
(65536, 3) arrays takes 37 us; the sum of (65536, 3) over axis 0 takes 1.3 ms, its max
over the last axis 3.3 ms. Here the array is seen as rows of many k-blocks, (n / b, b * k),
against the operand tiled b times (100 us), reduced over those rows and then over the
blocks (62 us), or, for the last axis, transposed so that the loop runs along the rows
(0.2 ms).

Elementwise results, max and min are NumPy's own, bit for bit (the same ufunc on the same
elements, in the same order for max and min). Sums add in a different order, which is no
less accurate than NumPy's row after row. Anything else (other dtypes, layouts, long or
equal shapes, small arrays) goes to the plain function unchanged.
"""
from __future__ import annotations

import math
from typing import Any, Callable

__all__ = ["broadcasting", "reduction"]

_MOST = 64          # k up to this is "short": NumPy's inner loop is then mostly overhead
_FEWEST = 1 << 14   # elements below which the plain call is as fast
_ROW = 4096         # elements per row of the blocked view
_FEWEST_ROWS = 64   # rows below which a reduction over a short last axis is left to NumPy
_TRANSPOSED_ROWS = 1 << 15  # rows transposed at a time: the copy stays small


def _short_trailing(big: Any, small: Any) -> int:
    """k, the size of small's axes as a trailing block of big's, or 0 where the fast path
    does not apply (same dtype, inexact, both C-ordered, small broadcast along rows only)."""
    if big.size < _FEWEST:
        return 0
    dims = small.shape
    while dims and dims[0] == 1:
        dims = dims[1:]
    if not dims or len(dims) >= big.ndim or big.shape[-len(dims):] != dims:
        return 0
    k = math.prod(dims)
    if not 1 < k <= _MOST:
        return 0
    if not (big.flags.c_contiguous and small.flags.c_contiguous):
        return 0
    return k


def _blocks(size: int, k: int) -> tuple[int, int]:
    """(elements per row of the blocked view, elements in its whole rows) for a flat array of
    ``size`` elements made of k-blocks: the rest, fewer than a row, is done block by block."""
    per_row = (_ROW // k) * k
    return per_row, (size // per_row) * per_row


def broadcasting(np: Any, ufunc: Any) -> Callable:
    """The binary ``ufunc``, blocked where one operand is broadcast over the rows of the
    other along a short trailing axis. (Every elementwise op of a graph comes through here:
    the common cases, equal shapes and vectors, cost one comparison before the ufunc.)"""
    ndarray = np.ndarray

    def call(a, b, /):
        try:
            sa, sb = a.shape, b.shape
        except AttributeError:  # a Python number
            return ufunc(a, b)
        if sa == sb or not sa or not sb or (len(sa) < 2 and len(sb) < 2) or a.__class__ is not ndarray \
                or b.__class__ is not ndarray or a.dtype != b.dtype or a.dtype.kind not in "fc":
            return ufunc(a, b)
        big_first = a.ndim > b.ndim or (a.ndim == b.ndim and a.size > b.size)
        big, small = (a, b) if big_first else (b, a)
        k = _short_trailing(big, small)
        if not k:
            return ufunc(a, b)
        out = np.empty(big.shape, dtype=big.dtype)
        flat, flat_out, row = big.reshape(-1), out.reshape(-1), small.reshape(-1)
        per_row, blocked = _blocks(flat.size, k)
        pairs = []
        if blocked:
            pairs.append((flat[:blocked].reshape(-1, per_row), np.tile(row, per_row // k),
                          flat_out[:blocked].reshape(-1, per_row)))
        if blocked < flat.size:
            pairs.append((flat[blocked:].reshape(-1, k), row, flat_out[blocked:].reshape(-1, k)))
        for rows, operand, into in pairs:
            if big_first:
                ufunc(rows, operand, out=into)
            else:
                ufunc(operand, rows, out=into)
        return out
    return call


def reduction(np: Any, plain: Callable, combine: Any) -> Callable:
    """``plain(x, axis=..., ...)`` (the namespace's sum, max or min; ``combine`` its ufunc),
    blocked where the reduced axes are the leading ones and a short trailing block is left
    (a bias's gradient), or where the one reduced axis is a short last axis (a softmax over
    a few classes): there the array is transposed first, so that NumPy's loop runs along
    the rows (max over the last axis of (256, 10): 15 -> 5 us)."""
    ndarray = np.ndarray

    def reduce(x, /, *, axis=None, keepdims=False, **kwargs):
        if kwargs or x.__class__ is not ndarray:
            return plain(x, axis=axis, keepdims=keepdims, **kwargs)
        if axis is not None and x.size >= 2 * _FEWEST_ROWS and x.ndim >= 2:
            blocked = _blocked_reduction(np, combine, x, axis, keepdims)
            if blocked is not None:
                return blocked
        # what np.sum (np.max, np.min) does for an ndarray, without its ~4 us of Python
        return combine.reduce(x, axis=axis, keepdims=keepdims)
    return reduce


def _blocked_reduction(np: Any, combine: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """reduction's two blocked cases, or None where neither applies."""
    ndim = x.ndim
    # float16 is left to NumPy: its partial sums would round to half precision between blocks
    if x.dtype.kind not in "fc" or x.dtype.itemsize < 4 or not x.flags.c_contiguous:
        return None
    axes = [axis % ndim] if axis.__class__ is int else sorted(a % ndim for a in axis)
    if axes == [ndim - 1]:
        k = x.shape[-1]
        if not 1 < k <= _MOST or x.size < _FEWEST_ROWS * k:
            return None
        rows = x.reshape(-1, k)
        if rows.shape[0] <= _TRANSPOSED_ROWS:
            total = combine.reduce(np.ascontiguousarray(rows.T), axis=0)
        else:  # transposed a part at a time: the copy stays small
            total = np.empty(rows.shape[0], dtype=x.dtype)  # sum, max, min keep float dtypes
            for start in range(0, rows.shape[0], _TRANSPOSED_ROWS):
                part = rows[start:start + _TRANSPOSED_ROWS]
                combine.reduce(np.ascontiguousarray(part.T), axis=0, out=total[start:start + part.shape[0]])
        return total.reshape(x.shape[:-1] + ((1,) if keepdims else ()))
    lead = len(axes)
    if not 0 < lead < ndim or axes != list(range(lead)) or x.size < _FEWEST:
        return None
    kept = x.shape[lead:]
    k = math.prod(kept)
    if not 1 < k <= _MOST:
        return None
    flat = x.reshape(-1)
    per_row, blocked = _blocks(flat.size, k)
    total = combine.reduce(combine.reduce(flat[:blocked].reshape(-1, per_row), axis=0).reshape(-1, k), axis=0)
    if blocked < flat.size:
        total = combine(total, combine.reduce(flat[blocked:].reshape(-1, k), axis=0))
    return total.reshape(((1,) * lead if keepdims else ()) + kept)
