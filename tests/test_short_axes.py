"""NumPy over a short trailing axis (polygrad/_backend/_short_axes.py): a (k,) operand
broadcast over (n, k) rows, and sums over the leading axes, computed blocked.

The namespace functions must give NumPy's own elementwise results bit for bit, sums as
accurate as NumPy's, and hand everything else to NumPy unchanged; gradients through them
(on every backend) must be the exact ones.
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import to_numpy
from polygrad._backend import get_backend
from polygrad._backend._short_axes import _FEWEST, _ROW, _TRANSPOSED_ROWS

BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum")
# (big, small): whole blocks only, a remainder of rows, two trailing axes, leading size-1
# axes on the small one, the largest short k, and a k too long for the blocked path
SHAPES = [
    ((2 * _ROW, 4), (4,)),
    ((_FEWEST // 3 + 7, 3), (1, 3)),
    ((300, 70, 2), (70, 2)[1:]),
    ((3000, 4, 2), (4, 2)),
    ((_FEWEST // 64 + 1, 64), (64,)),
    ((_FEWEST // 100 + 1, 100), (100,)),
]


@pytest.fixture
def xp():
    return get_backend("numpy").xp


def _data(rng, shape, dtype):
    data = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        data = data + 1j * rng.standard_normal(shape)
    data.reshape(-1)[::97] = np.nan  # nan propagates the same
    return data.astype(dtype)


@pytest.mark.backend_independent
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_broadcast_over_short_rows_is_numpys_result_bit_for_bit(xp, shapes, dtype):
    rng = np.random.default_rng(0)
    big, small = _data(rng, shapes[0], dtype), _data(rng, shapes[1], dtype)
    for name in BINARY:
        if np.dtype(dtype).kind == "c" and name in ("maximum", "minimum"):
            continue
        for a, b in ((big, small), (small, big)):  # the operand order is kept
            with np.errstate(all="ignore"):
                got, expected = getattr(xp, name)(a, b), getattr(np, name)(a, b)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected, err_msg=name)


@pytest.mark.backend_independent
def test_other_operands_go_to_numpy_unchanged(xp):
    """Mixed dtypes (NumPy promotes), integers, non-contiguous arrays, Python numbers and
    0-d arrays, small arrays: the plain ufunc's results, types and promotions."""
    rng = np.random.default_rng(1)
    big = rng.standard_normal((_FEWEST, 3))
    cases = [
        (big.astype(np.float32), np.array([1.0, 2.0, 3.0])),             # float32 with float64
        (rng.integers(0, 9, (_FEWEST, 3)), np.array([1, 2, 3])),         # integers
        (np.asfortranarray(big), np.array([1.0, 2.0, 3.0])),             # not C-ordered
        (big[::2], np.array([1.0, 2.0, 3.0])),                           # strided
        (big, 2.5), (2.5, big), (big, np.asarray(2.5)),                  # numbers and 0-d
        (big[:10], np.array([1.0, 2.0, 3.0])),                           # small
        (big[:, :1], np.ones((1, 3))),                                   # an outer product
    ]
    for a, b in cases:
        got, expected = xp.multiply(a, b), np.multiply(a, b)
        assert type(got) is type(expected) and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


REDUCED = [  # leading axes, with and without a remainder of rows; the last axis
    ((2 * _ROW, 4), 0), ((_FEWEST // 3 + 7, 3), (0,)), ((_FEWEST // 3 + 7, 3), -2),
    ((300, 70, 2), (0, 1)), ((300, 70, 2), (1, 0)), ((3000, 4, 2), 0),
    ((256, 10), -1), ((256, 10), 1), ((7, 50, 3), 2), ((64, 64), -1),
    ((_TRANSPOSED_ROWS * 2 + 5, 3), -1),  # transposed in parts, the last one short
]


@pytest.mark.backend_independent
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", REDUCED, ids=str)
def test_sum_over_short_blocks_matches_numpy(xp, shape, axis, dtype, keepdims):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 1.5, size=shape).astype(dtype)
    got = xp.sum(x, axis=axis, keepdims=keepdims)
    exact = np.sum(x.astype(np.longdouble), axis=axis, keepdims=keepdims)
    assert got.shape == exact.shape and got.dtype == x.dtype
    # as accurate as NumPy's own sum (row after row), within rounding of the result
    numpys = np.abs(np.sum(x, axis=axis, keepdims=keepdims) - exact).max()
    assert np.abs(got - exact).max() <= max(2 * numpys, 4 * np.finfo(dtype).eps * np.abs(exact).max())


@pytest.mark.backend_independent
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", REDUCED, ids=str)
def test_max_and_min_over_short_blocks_are_numpys(xp, shape, axis, keepdims):
    x = _data(np.random.default_rng(5), shape, np.float32)
    x.reshape(-1)[1::89] = -0.0
    x.reshape(-1)[2::89] = 0.0
    for name in ("max", "min"):
        with np.errstate(all="ignore"):
            got, expected = getattr(xp, name)(x, axis=axis, keepdims=keepdims), getattr(np, name)(x, axis=axis, keepdims=keepdims)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


@pytest.mark.backend_independent
def test_reductions_with_other_axes_and_options_are_numpys(xp):
    x = np.random.default_rng(3).standard_normal((_FEWEST, 3)).astype(np.float32)
    half = x.astype(np.float16)  # left to NumPy (half-precision partial sums would round)
    np.testing.assert_array_equal(xp.sum(half, axis=0), np.sum(half, axis=0))
    np.testing.assert_array_equal(xp.sum(half, axis=1), np.sum(half, axis=1))
    for name, kwargs in [("sum", {"axis": None}), ("sum", {"axis": (0, 1)}), ("sum", {"axis": 0, "dtype": np.float64}),
                         ("max", {"axis": None}), ("max", {"axis": 0, "initial": 5.0}),
                         ("min", {"axis": 1, "where": x > 0, "initial": 9.0})]:
        got, expected = getattr(xp, name)(x, **kwargs), getattr(np, name)(x, **kwargs)
        assert np.shape(got) == np.shape(expected) and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError):  # an empty axis keeps NumPy's error
        xp.max(np.zeros((_FEWEST, 0)), axis=1)


@pytest.mark.usefixtures("float64")
def test_gradients_through_short_rows_are_exact():
    """A bias of 3, per-column weights and a logsumexp over 3 columns, on 2 * 6000 rows (large
    enough for the blocked paths on NumPy): the gradients are the closed-form ones, on every
    backend, eagerly and replayed."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2 * 6000, 3))
    w, b = pg.Value(rng.standard_normal(3)), pg.Value(rng.standard_normal(3))
    cot = rng.uniform(0.5, 1.5, size=x.shape)
    xv = pg.Value(x, requires_grad=False)
    loss = pg.sum((xv * w + b) / pg.asarray(cot) - pg.maximum(xv, b)) + pg.sum(pg.logsumexp(xv * w, axis=-1))
    loss.backward()
    below = x < to_numpy(b.data)
    scaled = x * to_numpy(w.data)
    softmax = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    softmax /= softmax.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(to_numpy(w.grad), (x / cot).sum(axis=0) + (softmax * x).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(b.grad), (1.0 / cot).sum(axis=0) - below.sum(axis=0), rtol=1e-10)
    first = (to_numpy(w.grad), to_numpy(b.grad))
    loss.forward()
    w.grad = b.grad = None
    loss.backward()
    np.testing.assert_allclose(to_numpy(w.grad), first[0], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(b.grad), first[1], rtol=1e-12)
