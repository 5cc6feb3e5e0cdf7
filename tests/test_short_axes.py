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
from polygrad._backend._short_axes import _FEWEST, _ROW

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


@pytest.mark.backend_independent
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [
    ((2 * _ROW, 4), 0), ((_FEWEST // 3 + 7, 3), (0,)), ((_FEWEST // 3 + 7, 3), -2),
    ((300, 70, 2), (0, 1)), ((300, 70, 2), (1, 0)), ((3000, 4, 2), 0),
])
def test_sum_over_leading_axes_matches_numpy(xp, shape, axis, dtype):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 1.5, size=shape).astype(dtype)
    got = xp.sum(x, axis=axis)
    exact = np.sum(x.astype(np.longdouble), axis=axis)
    assert got.shape == exact.shape and got.dtype == x.dtype
    # as accurate as NumPy's own sum (row after row), within rounding of the result
    numpys = np.abs(np.sum(x, axis=axis) - exact).max()
    assert np.abs(got - exact).max() <= max(2 * numpys, 4 * np.finfo(dtype).eps * np.abs(exact).max())


@pytest.mark.backend_independent
def test_sum_of_other_axes_and_options_is_numpys(xp):
    x = np.random.default_rng(3).standard_normal((_FEWEST, 3)).astype(np.float32)
    for kwargs in ({"axis": 1}, {"axis": None}, {"axis": (0, 1)}, {"axis": 0, "keepdims": True},
                   {"axis": 0, "dtype": np.float64}):
        got, expected = xp.sum(x, **kwargs), np.sum(x, **kwargs)
        assert np.shape(got) == np.shape(expected) and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.usefixtures("float64")
def test_gradients_through_short_rows_are_exact():
    """A bias of 3 and per-column weights over 2 * 6000 rows (large enough for the blocked
    path on NumPy): the gradients are the closed-form ones, on every backend, eagerly and
    replayed."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2 * 6000, 3))
    w, b = pg.Value(rng.standard_normal(3)), pg.Value(rng.standard_normal(3))
    cot = rng.uniform(0.5, 1.5, size=x.shape)
    xv = pg.Value(x, requires_grad=False)
    loss = pg.sum((xv * w + b) / pg.asarray(cot) - pg.maximum(xv, b))
    loss.backward()
    below = x < to_numpy(b.data)
    np.testing.assert_allclose(to_numpy(w.grad), (x / cot).sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(b.grad), (1.0 / cot).sum(axis=0) - below.sum(axis=0), rtol=1e-10)
    first = (to_numpy(w.grad), to_numpy(b.grad))
    loss.forward()
    w.grad = b.grad = None
    loss.backward()
    np.testing.assert_allclose(to_numpy(w.grad), first[0], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(b.grad), first[1], rtol=1e-12)
