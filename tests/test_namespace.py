"""polygrad's array-API namespace: discovery, functions without gradients, creation, dtypes."""
from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, run_python, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

DATA = np.array([[1.25, -2.0, 0.0], [3.0, np.nan, -0.5]])
FINITE = np.array([[1.25, -2.0, 0.0], [3.0, 3.5, -0.5]])


# -- discovery -------------------------------------------------------------------------------------

def test_value_reports_polygrads_namespace():
    x = pg.Value(FINITE)
    assert x.__array_namespace__() is pg.namespace
    assert x.__array_namespace__(api_version="2023.12") is pg.namespace
    assert array_api_compat.array_namespace(x) is pg.namespace
    assert array_api_compat.array_namespace(x, pg.exp(x)) is pg.namespace
    assert pg.namespace.__array_api_version__ == pg.__array_api_version__


def test_every_exported_namespace_name_exists():
    import types
    for name in pg.namespace.__all__:
        member = getattr(pg, name)
        assert callable(member) or isinstance(member, types.ModuleType), name
        assert member is getattr(pg.namespace, name)


def test_a_generic_array_api_function_runs_on_values():
    def standardise(x):
        xp = array_api_compat.array_namespace(x)
        centred = x - xp.mean(x, axis=0, keepdims=True)
        return centred / xp.sqrt(xp.mean(centred * centred, axis=0, keepdims=True) + 1e-12)
    x = pg.Value(FINITE)
    out = standardise(x)
    assert isinstance(out, pg.Value)
    np.testing.assert_allclose(to_numpy(out), standardise(FINITE), rtol=1e-9)


# -- functions without a gradient -------------------------------------------------------------------

NONDIFF = {
    "argmax": (lambda m, x: m.argmax(x, axis=1), FINITE),
    "argmax flat": (lambda m, x: m.argmax(x), FINITE),
    "argmin": (lambda m, x: m.argmin(x, axis=0, keepdims=True), FINITE),
    "argsort": (lambda m, x: m.argsort(x, axis=1), FINITE),
    "isnan": (lambda m, x: m.isnan(x), DATA),
    "isinf": (lambda m, x: m.isinf(x / 0.5), DATA),
    "isfinite": (lambda m, x: m.isfinite(x), DATA),
    "signbit": (lambda m, x: m.signbit(x), FINITE),
    "floor": (lambda m, x: m.floor(x), FINITE),
    "ceil": (lambda m, x: m.ceil(x), FINITE),
    "round": (lambda m, x: m.round(x), FINITE),
    "trunc": (lambda m, x: m.trunc(x), FINITE),
    "floor_divide": (lambda m, x: m.floor_divide(x, 0.75), FINITE),
    "less": (lambda m, x: m.less(x, 1.0), FINITE),
    "less_equal": (lambda m, x: m.less_equal(x, 1.25), FINITE),
    "greater": (lambda m, x: m.greater(x, 1.0), FINITE),
    "greater_equal": (lambda m, x: m.greater_equal(x, 1.25), FINITE),
    "equal": (lambda m, x: m.equal(x, 3.0), FINITE),
    "not_equal": (lambda m, x: m.not_equal(x, 3.0), FINITE),
    "logical_and": (lambda m, x: m.logical_and(m.greater(x, 0.0), m.less(x, 2.0)), FINITE),
    "logical_or": (lambda m, x: m.logical_or(m.greater(x, 2.0), m.less(x, -1.0)), FINITE),
    "logical_xor": (lambda m, x: m.logical_xor(m.greater(x, 0.0), m.less(x, 2.0)), FINITE),
    "logical_not": (lambda m, x: m.logical_not(m.greater(x, 0.0)), FINITE),
    "all": (lambda m, x: m.all(m.greater(x, -3.0), axis=1), FINITE),
    "any": (lambda m, x: m.any(m.greater(x, 3.0)), FINITE),
    "count_nonzero": (lambda m, x: m.count_nonzero(x, axis=0), FINITE),
    "searchsorted": (lambda m, x: m.searchsorted(m.sort(m.reshape(x, (6,))), m.reshape(x, (6,))), FINITE),
}


@pytest.mark.parametrize("name", list(NONDIFF))
def test_functions_without_gradient_match_numpy_and_take_no_gradient(name):
    call, data = NONDIFF[name]
    x = pg.Value(data)
    assert x.requires_grad
    with np.errstate(all="ignore"):
        got = call(pg, x)
        expected = call(np, data)
    assert isinstance(got, pg.Value)
    assert not got.requires_grad
    np.testing.assert_array_equal(to_numpy(got), expected)


def test_operators_without_gradient():
    x = pg.Value(FINITE)
    for got, expected in [(x < 1.0, FINITE < 1.0), (x <= 1.25, FINITE <= 1.25), (x > 0, FINITE > 0),
                          (x >= 3.0, FINITE >= 3.0), (x == 3.0, FINITE == 3.0), (x != 3.0, FINITE != 3.0),
                          (~(x > 0), ~(FINITE > 0)), ((x > 0) & (x < 2), (FINITE > 0) & (FINITE < 2)),
                          ((x > 2) | (x < -1), (FINITE > 2) | (FINITE < -1))]:
        assert not got.requires_grad
        np.testing.assert_array_equal(to_numpy(got), expected)


def test_nonzero_returns_one_index_value_per_axis():
    x = pg.Value(FINITE)
    indices = pg.nonzero(x)
    assert isinstance(indices, tuple) and len(indices) == 2
    for got, expected in zip(indices, np.nonzero(FINITE)):
        assert isinstance(got, pg.Value) and not got.requires_grad
        np.testing.assert_array_equal(to_numpy(got), expected)
    np.testing.assert_array_equal(to_numpy(x[indices]), FINITE[np.nonzero(FINITE)])


def test_casting_to_integers_takes_no_gradient():
    x = pg.Value(FINITE)
    as_int = pg.astype(x, pg.int64)
    assert not as_int.requires_grad
    np.testing.assert_array_equal(to_numpy(as_int), FINITE.astype(np.int64))


def test_cumulative_prod_matches_numpy():
    x = pg.Value(FINITE)
    np.testing.assert_allclose(to_numpy(pg.cumulative_prod(x, axis=1)), np.cumprod(FINITE, axis=1))
    got = to_numpy(pg.cumulative_prod(x, axis=0, include_initial=True))
    np.testing.assert_allclose(got, np.concatenate([np.ones((1, 3)), np.cumprod(FINITE, axis=0)]))
    np.testing.assert_allclose(to_numpy(pg.cumulative_prod(pg.Value(np.array([2.0, 3.0])))), [2.0, 6.0])
    pg.testing.gradcheck(lambda v: pg.cumulative_prod(v, axis=1, include_initial=True), FINITE)


# -- creation -----------------------------------------------------------------------------------------

def _dtype(name):
    return pg.backend().dtype(name)


def test_creation_functions():
    # Integer defaults are the backend's own (int64 on NumPy and JAX with x64, int32 on MLX);
    # polygrad owns only the float default.
    default_int = str(pg.backend().xp.asarray(1).dtype).rsplit(".", 1)[-1]
    cases = [
        (pg.zeros((2, 3)), np.zeros((2, 3)), "float64"),
        (pg.ones((2,)), np.ones(2), "float64"),
        (pg.zeros((2,), dtype=pg.float32), np.zeros(2), "float32"),
        (pg.full((2, 2), 1.5), np.full((2, 2), 1.5), "float64"),
        (pg.full((2,), 3), np.full(2, 3), default_int),
        (pg.eye(3), np.eye(3), "float64"),
        (pg.eye(2, 3, k=1), np.eye(2, 3, k=1), "float64"),
        (pg.linspace(0.0, 1.0, 5), np.linspace(0.0, 1.0, 5), "float64"),
        (pg.arange(5), np.arange(5), default_int),
        (pg.arange(1, 7, 2), np.arange(1, 7, 2), default_int),
        (pg.arange(0.0, 1.0, 0.25), np.arange(0.0, 1.0, 0.25), "float64"),
        (pg.asarray([1, 2, 3]), np.array([1, 2, 3]), default_int),
        (pg.asarray([1.0, 2.5]), np.array([1.0, 2.5]), "float64"),
        (pg.asarray(2.5), np.array(2.5), "float64"),
        (pg.asarray([True, False]), np.array([True, False]), "bool"),
        (pg.asarray([[1, 2], [3, 4.5]]), np.array([[1, 2], [3, 4.5]]), "float64"),
    ]
    for got, expected, dtype in cases:
        assert isinstance(got, pg.Value) and not got.requires_grad and got.is_leaf
        assert got.dtype == _dtype(dtype), (got, dtype)
        np.testing.assert_array_equal(to_numpy(got), expected)
    assert pg.empty((2, 3)).shape == (2, 3)


def test_like_functions_follow_their_argument():
    x = pg.Value(FINITE)
    for got, expected in [(pg.zeros_like(x), np.zeros_like(FINITE)), (pg.ones_like(x), np.ones_like(FINITE)),
                          (pg.full_like(x, 2.0), np.full_like(FINITE, 2.0))]:
        assert got.dtype == x.dtype and not got.requires_grad
        np.testing.assert_array_equal(to_numpy(got), expected)
    assert pg.empty_like(x).shape == x.shape
    assert pg.ones_like(x, dtype=pg.int64).dtype == _dtype("int64")


def test_asarray_of_a_value_is_that_value():
    x = pg.Value(FINITE)
    assert pg.asarray(x) is x
    cast = pg.asarray(x, dtype=pg.float32)
    assert cast.dtype == _dtype("float32")


def test_creation_follows_the_default_dtype():
    pg.set_default_dtype("float32")
    assert pg.zeros(2).dtype == _dtype("float32")
    assert pg.asarray([1.0]).dtype == _dtype("float32")
    assert pg.Value([1.0, 2.0]).dtype == _dtype("float32")
    assert pg.Value(np.array([1.0])).dtype == _dtype("float32")


# -- dtypes --------------------------------------------------------------------------------------------

def test_dtype_names_resolve_to_the_active_backend():
    xp = pg.backend().xp
    for name in ("bool", "int32", "int64", "float32", "float64"):
        assert getattr(pg, name) == getattr(xp, name)
    assert pg.float64 == pg.Value(np.ones(2)).dtype
    other = "numpy" if BACKEND == "array_api_strict" else "array_api_strict"
    with pg.use_backend(other):
        assert pg.float32 == pg.backend().xp.float32
        assert pg.Value(np.ones(1), dtype=pg.float32).dtype == pg.backend().xp.float32
    assert pg.float32 == xp.float32


def test_dtype_helpers():
    assert pg.isdtype(pg.float32, "real floating")
    assert not pg.isdtype(pg.int64, "real floating")
    assert pg.finfo(pg.float32).eps == pytest.approx(np.finfo(np.float32).eps)
    assert pg.iinfo(pg.int32).max == np.iinfo(np.int32).max
    assert pg.result_type(pg.Value(np.ones(1)), pg.float32) == pg.float64
    assert pg.can_cast(pg.float32, pg.float64)
    assert pg.pi == pytest.approx(np.pi) and pg.e == pytest.approx(np.e)


def test_value_dtype_argument_accepts_names():
    x = pg.Value([1.0, 2.0], dtype="float32")
    assert x.dtype == _dtype("float32")


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'not_a_function'"):
        pg.not_a_function  # noqa: B018


# -- Value conveniences ---------------------------------------------------------------------------------

def test_value_array_attributes_and_conversions():
    x = pg.Value(FINITE)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    np.testing.assert_array_equal(to_numpy(x.T), FINITE.T)
    rows = list(x)
    assert len(rows) == 2
    np.testing.assert_array_equal(to_numpy(rows[1]), FINITE[1])
    assert float(pg.Value(2.5)) == 2.5 and int(pg.Value(3.7)) == 3 and bool(pg.Value(1.0))
    assert isinstance(x.numpy(), np.ndarray)
    d = x.detach()
    assert d.is_leaf and not d.requires_grad
    np.testing.assert_array_equal(to_numpy(d), FINITE)
    assert "shape=(2, 3)" in repr(x) and BACKEND in repr(x)
    with pytest.raises(TypeError):
        len(pg.Value(1.0))
    with pytest.raises(pg.ShapeError, match="one element"):
        x.item()


# -- empty and 0-d arrays (the conformance suite found MLX wrong on these) ---------------------------

@pytest.mark.parametrize("shape, axis", [((3, 0), None), ((3, 0), 1), ((0,), None), ((0, 2), 0),
                                         ((3, 0, 1), (0, 1)), ((3, 0, 1), (0, -2))])
@pytest.mark.parametrize("view", [False, True])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's "mean of empty slice": nan is the answer
def test_reductions_of_empty_arrays_are_their_identities(shape, axis, view):
    """sum 0, prod 1, mean/var/std nan, count 0, all True, any False, every time: for arrays
    made from empty NumPy arrays and for transposed views of them (MLX read memory it never
    wrote, and hung on var of a view)."""
    def made(data):
        x = pg.Value(np.ascontiguousarray(data.T))
        return pg.permute_dims(x, tuple(reversed(range(x.ndim)))) if view else pg.Value(data)
    for _ in range(20):
        x, flags = made(np.zeros(shape)), made(np.zeros(shape, dtype=bool))
        for got, identity in [(pg.sum(x, axis=axis), 0.0), (pg.prod(x, axis=axis), 1.0),
                              (pg.count_nonzero(x, axis=axis), 0), (pg.all(flags, axis=axis), True),
                              (pg.any(flags, axis=axis), False), (pg.mean(x, axis=axis), np.nan),
                              (pg.var(x, axis=axis), np.nan), (pg.std(x, axis=axis, correction=1), np.nan)]:
            values = to_numpy(got)
            assert values.shape == np.sum(np.zeros(shape), axis=axis).shape
            assert np.all((values == identity) | (np.isnan(values) & np.isnan(identity))), (got.op, values)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_argmax_argmin_of_a_0d_array(name, keepdims):
    got = getattr(pg, name)(pg.Value(np.float64(2.5)), keepdims=keepdims)
    assert got.shape == () and int(to_numpy(got)) == 0


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [0, -2])
def test_argmax_argmin_along_a_full_axis_of_an_empty_array(name, keepdims, axis):
    got = getattr(pg, name)(pg.Value(np.zeros((1, 0))), axis=axis, keepdims=keepdims)
    assert got.shape == ((1, 0) if keepdims else (0,))


@pytest.mark.parametrize("shape, axis", [((0,), 0), ((3,), 0), ((0, 2), 1)])
def test_take_of_no_indices_and_its_gradient(shape, axis):
    x = pg.Value(np.ones(shape))
    none = np.zeros(0, dtype=np.int64)
    taken = pg.take(x, none, axis=axis)
    assert taken.shape == tuple(0 if i == axis else n for i, n in enumerate(shape))
    pg.sum(taken).backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.zeros(shape))


# -- no backend imported eagerly ----------------------------------------------------------------------------

@pytest.mark.backend_independent
@pytest.mark.parametrize("backend, unwanted", [
    ("numpy", ("jax", "jaxlib", "mlx", "cupy", "torch", "array_api_strict")),
    ("array_api_strict", ("jax", "jaxlib", "mlx", "cupy", "torch")),
])
def test_a_backend_imports_no_other_array_library(backend, unwanted):
    result = run_python(
        "import sys\n"
        "import polygrad as pg\n"
        "pg.sum(pg.Value([1.0, 2.0]) * 2.0).backward()\n"
        f"print(pg.backend().name, sorted(m for m in {unwanted!r} if m in sys.modules))\n",
        POLYGRAD_BACKEND=backend,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{backend} []"
