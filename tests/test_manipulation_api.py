"""The standard's non-elementwise functions (2024.12): creation, manipulation, searching, sets,
sorting, statistics, utilities and indexing, on the active backend.

Differentiable ones against central differences in float64 (size-1 axes, 0-d, empty and
non-contiguous inputs where they apply) and, where a convention decides (sort's ties, the
running products' zeros), against JAX; the others against NumPy through array-api-compat.
"""
from __future__ import annotations

import array_api_compat.numpy as npx
import numpy as np
import pytest

import polygrad as pg
from polygrad.testing import gradcheck
from conftest import BACKEND, requires_jax, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

_rng = np.random.default_rng(11)


def real(*shape):
    return _rng.normal(size=shape)


def transposed(*shape):
    return real(*reversed(shape)).T


# On jax every new (op, shape) costs an XLA compile (~40 ms idle; this file took 25 s there).
# Each rule behind these functions runs on jax in the conformance suite (forward, finite
# differences, JAX's vjp); tests marked so add backend-independent logic (composition,
# namespace signatures, graph bookkeeping) and run on numpy, array_api_strict and mlx.
BACKEND_INDEPENDENT = pytest.mark.skipif(
    BACKEND == "jax", reason="backend-independent logic, checked on numpy, array_api_strict and mlx; "
                             "on jax the rules are checked by the conformance suite")

WITH_ZEROS = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 1.0, -2.0, 0.5, 1.0], [1.0, 2.0, 0.5, -1.0, 0.0]])

GRADCHECKS = {
    "cumulative_sum[axis 0, initial]": (lambda x: pg.cumulative_sum(x, axis=0, include_initial=True), transposed(3, 2)),
    "cumulative_sum[1-d, no axis]": (lambda x: pg.cumulative_sum(x), real(4)),
    "cumulative_sum[empty]": (lambda x: pg.cumulative_sum(x, axis=1, include_initial=True), real(2, 0)),
    "cumulative_prod[zeros]": (lambda x: pg.cumulative_prod(x, axis=1), WITH_ZEROS),
    "cumulative_prod[zeros, initial, axis 0]": (lambda x: pg.cumulative_prod(x, axis=0, include_initial=True), WITH_ZEROS),
    "cumulative_prod[size 1]": (lambda x: pg.cumulative_prod(x, axis=-1), real(3, 1)),
    "diff[n 2, prepend, append]": (lambda x: pg.diff(x, axis=0, n=2, prepend=x[:1] * 2.0, append=x[-1:]), real(3, 2)),
    "diff[n 0]": (lambda x: pg.diff(x, n=0), real(3)),
    "meshgrid[xy]": (lambda x: pg.stack(pg.meshgrid(x[:2], x[1:] * 3.0)), real(4)),
    "meshgrid[ij, one empty]": (lambda x: pg.meshgrid(x, x[:0], indexing="ij")[0], real(3)),
    "tril[batched]": (lambda x: pg.tril(x), real(2, 3, 3)),
    "triu[k 1, non-contiguous]": (lambda x: pg.triu(x, k=1), transposed(3, 4)),
    "repeat[int, flattened]": (lambda x: pg.repeat(x, 3), real(2, 2)),
    "repeat[counts, axis 0]": (lambda x: pg.repeat(x, np.array([0, 2, 1]), axis=0), transposed(3, 2)),
    "repeat[one count for all]": (lambda x: pg.repeat(x, pg.asarray(np.array([2])), axis=1), real(2, 2)),
    "repeat[0-d]": (lambda x: pg.repeat(x, 2), real()),
    "roll[flattened]": (lambda x: pg.roll(x, 4), real(2, 3)),
    "roll[two axes]": (lambda x: pg.roll(x, (-1, 5), axis=(1, 0)), transposed(3, 2)),
    "roll[empty]": (lambda x: pg.roll(x, 1, axis=0), real(0, 2)),
    "tile[more repetitions than axes]": (lambda x: pg.tile(x, (2, 1, 2)), real(2, 1)),
    "tile[fewer]": (lambda x: pg.tile(x, (3,)), transposed(2, 2)),
    "tile[0-d]": (lambda x: pg.tile(x, (2, 2)), real()),
    "unstack[axis 1]": (lambda x: pg.stack(pg.unstack(x, axis=1)[::-1]), real(2, 3)),
    "take_along_axis[broadcast]": (lambda x: pg.take_along_axis(x, np.array([[2, -1], [0, 0]]), axis=1), real(1, 3)),
    "take_along_axis[empty]": (lambda x: pg.take_along_axis(x, np.zeros((2, 0), dtype=np.int64), axis=1), real(2, 3)),
    "sort[axis 0, non-contiguous]": (lambda x: pg.sort(x, axis=0), transposed(3, 2)),
    "sort[descending, size 1]": (lambda x: pg.sort(x, axis=1, descending=True), real(3, 1)),
    "sort[trimmed mean]": (lambda x: pg.mean(pg.sort(x)[1:-1]), real(6)),
    "expand_dims[tuple]": (lambda x: pg.expand_dims(x, axis=(0, -1)), real(2)),
    "broadcast_arrays": (lambda x: pg.stack(pg.broadcast_arrays(x, x[:1] * 2.0)), real(2, 3)),
    "concat[axis None]": (lambda x: pg.concat([x, x[0] * 2.0], axis=None), real(2, 2)),
    "moveaxis[two]": (lambda x: pg.moveaxis(x, (0, 2), (2, 0)), real(2, 3, 1)),
    "flip[axis tuple]": (lambda x: pg.flip(x, axis=(0, 1)), real(2, 3)),
    "squeeze[tuple]": (lambda x: pg.squeeze(x, axis=(0, 2)), real(1, 3, 1)),
    "clip[array bounds]": (lambda x: pg.clip(x, min=x[:1] - 0.5, max=np.array([0.25, 0.5, 1.0])), real(2, 3)),
    "where[scalars]": (lambda x: pg.where(x > 0, x * 2.0, 0.5) + pg.where(x < 0, 1, x), real(2, 3)),
}


@BACKEND_INDEPENDENT
@pytest.mark.parametrize("name", list(GRADCHECKS))
def test_gradient_against_finite_differences(name):
    f, x = GRADCHECKS[name]
    gradcheck(f, x)


# -- conventions JAX decides: sort's ties, the running products' zeros ---------------------------------

def jax_grad(f, x):
    jax = requires_jax()
    with jax.default_device(jax.devices("cpu")[0]):
        return np.asarray(jax.jit(jax.grad(f))(x))


TIES = np.array([[1.0, 3.0, 1.0, 2.0, 3.0, 1.0], [0.5, 0.5, 0.5, -1.0, 2.0, -1.0]])
WEIGHTS = np.arange(12.0).reshape(2, 6)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_gives_tied_elements_the_gradients_jax_gives(descending):
    import jax.numpy as jnp  # noqa: F401 - requires_jax skips where it is missing
    got = to_numpy(pg.grad(lambda x: pg.sum(pg.sort(x, axis=1, descending=descending) * WEIGHTS))(TIES))
    want = jax_grad(lambda x: (jnp.sort(x, axis=1, descending=descending) * WEIGHTS).sum(), TIES)
    np.testing.assert_array_equal(got, want)


@BACKEND_INDEPENDENT
def test_order_statistics_built_on_sort_match_jax():
    """A median and a trimmed mean, with ties."""
    import jax.numpy as jnp  # noqa: F401
    x = np.concatenate([TIES[0], [2.0]])

    def stats(xp):
        return lambda x: xp.sort(x)[3] * 2.0 + xp.mean(xp.sort(x, descending=True)[1:-2])
    got = to_numpy(pg.grad(stats(pg))(x))
    np.testing.assert_allclose(got, jax_grad(stats(jnp), x), rtol=1e-12)


def test_cumulative_prod_gradient_is_exact_with_zeros():
    import jax.numpy as jnp  # noqa: F401
    weights = np.arange(15.0).reshape(3, 5) - 4.0
    got = to_numpy(pg.grad(lambda x: pg.sum(pg.cumulative_prod(x, axis=1) * weights))(WITH_ZEROS))
    want = jax_grad(lambda x: (jnp.cumprod(x, axis=1) * weights).sum(), WITH_ZEROS)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@BACKEND_INDEPENDENT
def test_cumulative_prod_second_derivative_with_zeros():
    """Through the rule's own vjp, run with polygrad's namespace (create_graph)."""
    import jax.numpy as jnp  # noqa: F401
    weights = np.arange(15.0).reshape(3, 5) - 4.0
    second = to_numpy(pg.grad(lambda x: pg.sum(pg.grad(lambda y: pg.sum(pg.cumulative_prod(y, axis=1) * weights))(x) ** 2))(WITH_ZEROS))
    jax = requires_jax()
    want2 = jax_grad(lambda x: (jax.grad(lambda y: (jnp.cumprod(y, axis=1) * weights).sum())(x) ** 2).sum(), WITH_ZEROS)
    np.testing.assert_allclose(second, want2, rtol=1e-10, atol=1e-10)


@BACKEND_INDEPENDENT
def test_argsort_takes_no_gradient_and_sorts_stably_both_ways():
    x = pg.Value(TIES)
    for descending in (False, True):
        order = pg.argsort(x, axis=1, descending=descending, stable=True)
        assert not order.requires_grad
        keys = -TIES if descending else TIES
        np.testing.assert_array_equal(to_numpy(order), np.argsort(keys, axis=1, kind="stable"))


# -- functions without a gradient, against NumPy ---------------------------------------------------------

SPECIAL = np.array([[1.0, np.nan, 2.0], [1.0, -0.0, np.nan], [0.0, 2.0, 2.0]])


@BACKEND_INDEPENDENT
@pytest.mark.parametrize("name", ["unique_all", "unique_counts", "unique_inverse", "unique_values"])
def test_set_functions_match_numpy(name):
    x = pg.Value(SPECIAL)
    got = getattr(pg, name)(x)
    want = getattr(npx, name)(SPECIAL)
    parts = (got,) if name == "unique_values" else tuple(got)
    wanted = (want,) if name == "unique_values" else tuple(want)
    if name != "unique_values":
        assert got._fields == want._fields
    for g, w in zip(parts, wanted):
        assert isinstance(g, pg.Value) and not g.requires_grad
        np.testing.assert_array_equal(to_numpy(g), w)  # nan: each one distinct


@BACKEND_INDEPENDENT
def test_data_dependent_shapes_run_eagerly_and_refuse_replay():
    p = pg.placeholder((4,), name="x")
    with pytest.raises(pg.PolygradError, match="unique_values: .*runs eagerly.*placeholder"):
        pg.unique_values(p)
    x = pg.asarray(np.array([3.0, 1.0, 3.0]))
    out = pg.sum(pg.unique_values(x)) + pg.sum(pg.astype(pg.nonzero(x)[0], x.dtype))
    np.testing.assert_allclose(to_numpy(out), 7.0)
    with pytest.raises(pg.PolygradError, match="forward: the graph holds unique_values.*cannot be replayed"):
        out.forward()


@BACKEND_INDEPENDENT
def test_searchsorted_with_side_and_sorter_indexes_on_every_backend():
    data = np.array([3.0, 1.0, 2.0, 5.0])
    sorter = np.argsort(data)
    values = np.array([[0.0, 2.0], [5.0, 9.0]])
    for side in ("left", "right"):
        got = pg.searchsorted(pg.asarray(data), pg.asarray(values), side=side, sorter=pg.asarray(sorter))
        np.testing.assert_array_equal(to_numpy(got), np.searchsorted(data, values, side=side, sorter=sorter))
    # the positions index the sorted array directly (MLX answers in uint32: polygrad casts)
    ordered = pg.sort(pg.asarray(data))
    found = pg.searchsorted(ordered, pg.asarray(np.array([2.0, 5.0])))
    np.testing.assert_array_equal(to_numpy(ordered[found]), [2.0, 5.0])


@BACKEND_INDEPENDENT
def test_count_nonzero_and_nonzero():
    x = pg.Value(WITH_ZEROS)
    np.testing.assert_array_equal(to_numpy(pg.count_nonzero(x, axis=(0, 1), keepdims=True)), [[11]])
    for got, want in zip(pg.nonzero(x), np.nonzero(WITH_ZEROS)):
        np.testing.assert_array_equal(to_numpy(got), want)


def test_from_dlpack_takes_another_librarys_array_and_keeps_a_gradient():
    x = pg.from_dlpack(np.arange(3.0))
    assert isinstance(x, pg.Value) and not x.requires_grad
    np.testing.assert_array_equal(to_numpy(x), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(to_numpy(pg.from_dlpack(pg.asarray(np.ones(2)))), [1.0, 1.0])
    # polygrad's own from_dlpack of a Value that records gradients stays in the graph (no
    # DLPack exchange happens), so nothing is lost silently; Value.__dlpack__ itself refuses
    # (tests/test_array_object.py)
    leaf = pg.Value(np.ones(2))
    pg.sum(pg.from_dlpack(leaf, copy=True) * 3.0).backward()
    np.testing.assert_array_equal(to_numpy(leaf.grad), [3.0, 3.0])


def test_where_with_python_scalars_takes_the_dtype_of_the_array_beside_them():
    x = pg.asarray(np.array([1, -2, 3], dtype=np.int32 if BACKEND == "mlx" else np.int64))
    assert pg.where(x > 0, x, 0).dtype == x.dtype
    assert pg.where(x > 0, 1.5, 0.5).dtype == pg.default_dtype()
    assert pg.where(x > 0, True, False).dtype == pg.bool
    np.testing.assert_array_equal(to_numpy(pg.where(x > 0, x, -1)), [1, -1, 3])


@BACKEND_INDEPENDENT
def test_signatures_follow_the_standard():
    x = pg.asarray(real(2, 3))
    assert pg.expand_dims(x, 1).shape == (2, 1, 3)  # axis positional, as in 2024.12
    assert pg.expand_dims(x, axis=(0, 3)).shape == (1, 2, 3, 1)
    assert pg.sort(x, axis=0, descending=True, stable=False).shape == (2, 3)
    assert pg.cumulative_sum(x, axis=1, dtype=pg.float64).dtype == pg.float64
    assert [tuple(g.shape) for g in pg.meshgrid(x[0], x[1, :2])] == [(2, 3), (2, 3)]
    assert [tuple(g.shape) for g in pg.meshgrid(x[0], x[1, :2], indexing="ij")] == [(3, 2), (3, 2)]
    np.testing.assert_allclose(to_numpy(pg.diff(x, axis=0)), np.diff(to_numpy(x), axis=0))


# -- indices out of range --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, op", [
    (lambda x: x[2], "getitem"),
    (lambda x: x[:, [0, 3]], "getitem"),
    (lambda x: x[pg.asarray(np.array([-3]))], "getitem"),
    (lambda x: pg.take(x, np.array([3]), axis=1), "take"),
    (lambda x: pg.take(x[0], np.array([-4])), "take"),
    (lambda x: pg.take_along_axis(x, np.array([[0, 1, -4]]), axis=1), "take_along_axis"),
])
def test_indices_out_of_range_are_indexing_errors(call, op):
    x = pg.asarray(real(2, 3))
    with pytest.raises(pg.IndexingError, match=rf"^{op}: .*(?=.*\((2, )?3,?\)).*out of bounds"):
        call(x)
    assert issubclass(pg.IndexingError, IndexError)


def test_expand_dims_and_cumulative_axes_out_of_range():
    x = pg.asarray(real(2, 3))
    with pytest.raises(pg.IndexingError, match="expand_dims"):
        pg.expand_dims(x, axis=3)
    with pytest.raises(pg.IndexingError, match="expand_dims"):
        pg.expand_dims(x, axis=(0, 0))
    with pytest.raises(pg.ShapeError, match="cumulative_sum: axis is required"):
        pg.cumulative_sum(x)
