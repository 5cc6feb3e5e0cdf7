"""Item assignment ``x[key] = v``: copy-on-write, differentiable, JAX's ``x.at[key].set(v)`` the oracle.

The Value object is the user's handle: writing rebinds it to a new node, the nodes built
from it before keep the value they were built from (and their gradients), and gradients
still reach what the handle held before. A naive version goes wrong in three known ways,
each tested here: ``asarray(x, copy=True)`` returning x itself, writing into an array that
already feeds other nodes, and writing into the differentiated input.
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, requires_jax, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

# On jax every new (op, shape) costs an XLA compile (this file took ~11 s there). What a
# backend adds is its setitem and put (conformance rows on every backend, JAX's vjp the
# oracle) and how it settles repeated indices (tested here everywhere); tests marked so
# check backend-independent graph bookkeeping and run on numpy, array_api_strict and mlx.
BACKEND_INDEPENDENT = pytest.mark.skipif(
    BACKEND == "jax", reason="backend-independent graph logic, checked on numpy, array_api_strict and mlx; "
                             "on jax the setitem and put rules are checked by the conformance suite")

_rng = np.random.default_rng(7)
X = _rng.normal(size=(4, 3))
MASK = X > 0
ROWS = np.array([2, 0, 2, -1])  # repeated (the last write wins) and negative
WEIGHTS = np.arange(12.0).reshape(4, 3)


def jax_grad(f, *args):
    """jax.grad of f, compiled once (eagerly, JAX compiles every primitive: seconds a test)."""
    jax = requires_jax()
    import jax.numpy as jnp
    with jax.default_device(jax.devices("cpu")[0]):
        grads = jax.jit(jax.grad(f, argnums=tuple(range(len(args)))))(*map(jnp.asarray, args))
    return [np.asarray(g) for g in grads]


def pg_grad(f, *args):
    grads = pg.grad(f, argnums=tuple(range(len(args))))(*args)
    return [to_numpy(g) for g in grads]


def assert_same_gradients(f, f_jax, *args):
    for got, want in zip(pg_grad(f, *args), jax_grad(f_jax, *args)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# -- what a write does -------------------------------------------------------------------------------

def test_a_write_rebinds_the_value_and_earlier_nodes_keep_their_data():
    x = pg.asarray(X)
    before = x * 1.0
    doubled = x * 2.0
    handle = x
    x[1, 2] = 10.0
    assert x is handle and x.op == "setitem"
    expected = X.copy()
    expected[1, 2] = 10.0
    np.testing.assert_array_equal(to_numpy(x), expected)
    np.testing.assert_array_equal(to_numpy(doubled), 2 * X)
    np.testing.assert_array_equal(to_numpy(before), X)
    np.testing.assert_array_equal(to_numpy(x * 1.0), expected)  # nodes built after see the write


@BACKEND_INDEPENDENT
def test_values_broadcast_and_take_the_arrays_dtype():
    x = pg.zeros((2, 3), dtype=pg.float32)
    x[:, 1:] = np.array([1.5, 2.5])  # float64 NumPy data, broadcast over the rows
    x[0] = 7  # a Python int
    assert x.dtype == pg.float32
    np.testing.assert_array_equal(to_numpy(x), [[7, 7, 7], [0, 1.5, 2.5]])
    counts = pg.asarray(np.array([1, 2, 3]))
    counts[1] = 2.9  # into an integer array, as NumPy: truncated
    np.testing.assert_array_equal(to_numpy(counts), [1, 2, 3])


@BACKEND_INDEPENDENT
@pytest.mark.parametrize("key", [(), Ellipsis, (None, 0)], ids=["()", "...", "None, 0"])
def test_zero_d_and_newaxis_keys(key):
    x = pg.asarray(np.array(3.0)) if key != (None, 0) else pg.asarray(np.arange(3.0))
    x[key] = 5.0
    expected = np.full(x.shape, 5.0) if key != (None, 0) else np.array([5.0, 1.0, 2.0])
    np.testing.assert_array_equal(to_numpy(x), expected)


@BACKEND_INDEPENDENT
def test_writing_nothing_changes_nothing():
    x = pg.asarray(X)
    x[2:2] = 1.0
    x[np.zeros(X.shape, dtype=bool)] = 1.0
    x[np.array([], dtype=np.int64)] = 1.0
    np.testing.assert_array_equal(to_numpy(x), X)


def test_indices_out_of_range_raise_indexing_errors():
    x = pg.zeros((4, 3))
    for key in [(4, 0), (0, -4), (np.array([1, 4]),), (slice(None), np.array([-4]))]:
        with pytest.raises(pg.IndexingError, match=r"^setitem: .*\(4, 3\)"):
            x[key] = 1.0
    np.testing.assert_array_equal(to_numpy(x), np.zeros((4, 3)))  # a failed write changes nothing


# -- the three known failure modes, against JAX ------------------------------------------------------

def test_asarray_copy_true_makes_a_new_node_so_writes_leave_the_original():
    x = pg.asarray(X)
    y = pg.asarray(x, copy=True)
    assert y is not x
    y[0] = 0.0
    np.testing.assert_array_equal(to_numpy(x), X)
    assert pg.asarray(x) is x  # no copy asked for: the same Value

    def f(x):
        y = pg.asarray(x, copy=True)
        y[0] = 0.0
        return pg.sum(y * x)

    def f_jax(x):
        return (x.at[0].set(0.0) * x).sum()
    assert_same_gradients(f, f_jax, X)


def test_writing_into_an_array_that_feeds_other_nodes():
    def f(x):
        y = pg.sin(x)
        z = pg.exp(y)  # built from y before the write: keeps the old y
        y[1:3, 0] = x[0, :2] ** 2
        return pg.sum(z) + pg.sum(y * y)

    def f_jax(x):
        import jax.numpy as jnp
        y = jnp.sin(x)
        z = jnp.exp(y)
        y = y.at[1:3, 0].set(x[0, :2] ** 2)
        return jnp.sum(z) + jnp.sum(y * y)
    assert_same_gradients(f, f_jax, X)


def test_writing_into_the_differentiated_input():
    def f(x):
        x[:, 1] = 0.5
        x[MASK] = x[MASK] * 3.0
        return pg.sum(pg.sin(x) * x)

    def f_jax(x):
        import jax.numpy as jnp
        x = x.at[:, 1].set(0.5)
        x = jnp.where(MASK & ~np.isin(np.arange(3), [1])[None], x * 3.0, x)
        return jnp.sum(jnp.sin(x) * x)
    assert_same_gradients(f, f_jax, X)


@BACKEND_INDEPENDENT
def test_array_api_extra_at_set_in_a_differentiated_function():
    """xpx.at(x)[i].set(c) writes in place into any writeable array API object: a Value."""
    xpx = pytest.importorskip("array_api_extra")

    def f(x):
        y = xpx.at(x)[1:, 2].set(1.5)
        y = xpx.at(y)[0].add(y[3])
        return pg.sum(y ** 3)

    def f_jax(x):
        y = x.at[1:, 2].set(1.5)
        y = y.at[0].add(y[3])
        return (y ** 3).sum()
    assert_same_gradients(f, f_jax, X)


@BACKEND_INDEPENDENT
def test_writing_into_a_value_passed_to_grad_differentiates_its_value_before():
    w = pg.Value(X)

    def f(w):
        w[0] = w[1] * 2.0
        return pg.sum(w ** 2)
    g = pg.grad(f)(w)

    def f_jax(w):
        return (w.at[0].set(w[1] * 2.0) ** 2).sum()
    np.testing.assert_allclose(to_numpy(g), jax_grad(f_jax, X)[0], rtol=1e-12)


# -- augmented assignment, masks, integer arrays --------------------------------------------------------

@BACKEND_INDEPENDENT
def test_augmented_assignment_reads_adds_and_writes():
    def f(x, v):
        y = x * 1.0
        y[1:3, 0] += v * y[0, 0]
        y[ROWS] *= 2.0
        return pg.sum(pg.tanh(y))

    def f_jax(x, v):
        import jax.numpy as jnp
        y = x.at[1:3, 0].add(v * x[0, 0])
        y = y.at[ROWS].set(y[ROWS] * 2.0)
        return jnp.sum(jnp.tanh(y))
    assert_same_gradients(f, f_jax, X, np.array([0.5, -1.5]))


def test_integer_array_keys_the_last_write_wins_and_alone_takes_the_gradient():
    """Where an index repeats, the backend's last write wins (NumPy, JAX on the CPU, MLX): the
    forward and the gradient ask the backend the same question, so they agree."""
    rows = np.array([2, 0, 2])

    def f(x, v):
        y = x * 1.0
        y[rows] = v * x[0]
        return pg.sum(y * y * WEIGHTS)

    def f_jax(x, v):
        return (x.at[rows].set(v * x[0]) ** 2 * WEIGHTS).sum()
    assert_same_gradients(f, f_jax, X, X[1:] * 2.0)
    y = pg.asarray(np.zeros(3))
    y[np.array([1, 1, 1])] = pg.asarray(np.array([5.0, 6.0, 7.0]))
    np.testing.assert_array_equal(to_numpy(y), [0.0, 7.0, 0.0])


@BACKEND_INDEPENDENT
def test_mixed_keys_negative_and_repeated_indices():
    def f(x, v):
        y = x * 1.0
        y[ROWS, 1] = v
        y[:, np.array([0, 0])] = v[:2] * x[:, 2:]
        return pg.sum(y * y * WEIGHTS)

    def f_jax(x, v):
        y = x.at[ROWS, 1].set(v)
        y = y.at[:, np.array([0, 0])].set(v[:2] * x[:, 2:])
        return (y * y * WEIGHTS).sum()
    assert_same_gradients(f, f_jax, X, np.array([1.0, 2.0, 3.0, 4.0]))


@BACKEND_INDEPENDENT
def test_boolean_mask_with_values_per_element_and_broadcast():
    def f(x):
        y = x + 0.0
        y[MASK] = x[MASK] ** 2
        y[~MASK] = pg.sum(x)
        return pg.sum(pg.sin(y))

    def f_jax(x):
        import jax.numpy as jnp
        y = jnp.where(MASK, x ** 2, jnp.sum(x))
        return jnp.sum(jnp.sin(y))
    assert_same_gradients(f, f_jax, X)


@BACKEND_INDEPENDENT
def test_second_derivatives_through_writes():
    def f(x):
        y = x * x
        y[ROWS[:2]] = pg.exp(x[0])
        y[1, :] = pg.sin(y[2])
        return pg.sum(y * x)

    def f_jax(x):
        import jax.numpy as jnp
        y = (x * x).at[ROWS[:2]].set(jnp.exp(x[0]))
        y = y.at[1, :].set(jnp.sin(y[2]))
        return jnp.sum(y * x)
    jax = requires_jax()
    got = to_numpy(pg.grad(lambda x: pg.sum(pg.grad(f)(x) ** 2))(X))
    want, = jax_grad(lambda x: (jax.grad(f_jax)(x) ** 2).sum(), X)
    np.testing.assert_allclose(got, want, rtol=1e-10)


# -- backward(), caches, replay ---------------------------------------------------------------------------

@BACKEND_INDEPENDENT
def test_backward_through_graphs_built_before_and_after_a_write():
    w = pg.Value(X)
    y = w * 2.0
    before = pg.sum(y * y)
    before.backward()
    first = to_numpy(w.grad)
    y[0] = 0.0  # the walk cached on `before` is stale now
    w.zero_grad()
    before.backward()
    np.testing.assert_allclose(to_numpy(w.grad), first)
    w.zero_grad()
    pg.sum(y * y).backward()
    expected = 8 * X
    expected[0] = 0.0
    np.testing.assert_allclose(to_numpy(w.grad), expected)


@BACKEND_INDEPENDENT
def test_replay_recomputes_the_write_with_new_feeds():
    p = pg.placeholder((None, 3), name="X")
    y = p * 1.0
    y[:, 0] = pg.sum(p, axis=1)
    out = pg.sum(y * y)
    for data in (X, X[:2] * 3.0):
        out.forward(X=data)
        expected = data.copy()
        expected[:, 0] = data.sum(axis=1)
        np.testing.assert_allclose(to_numpy(out), (expected ** 2).sum())


# -- parameters: leaves that require a gradient --------------------------------------------------------------

def test_a_parameter_cannot_be_written_into_while_recording():
    w = pg.Value(X)
    with pytest.raises(pg.GradientError, match="cannot write into a leaf that requires a gradient"):
        w[0] = 1.0
    assert w.is_leaf
    np.testing.assert_array_equal(to_numpy(w), X)


def test_under_no_grad_a_parameter_stays_a_parameter_and_earlier_nodes_keep_its_old_value():
    w = pg.Value(X)
    old_use = pg.sum(w * w)
    with pg.no_grad():
        w[:, 0] = 0.0  # as PyTorch's in-place initialisation
    assert w.is_leaf and w.requires_grad
    expected = X.copy()
    expected[:, 0] = 0.0
    np.testing.assert_array_equal(to_numpy(w), expected)
    pg.sum(w * 3.0).backward()
    np.testing.assert_array_equal(to_numpy(w.grad), np.full(X.shape, 3.0))
    np.testing.assert_allclose(to_numpy(old_use), (X * X).sum())


@BACKEND_INDEPENDENT
def test_dropping_a_written_value_frees_its_graph_without_the_cycle_collector():
    """x[i] += v reads x before writing it: the read must not keep the new node alive in a cycle."""
    import gc
    import weakref
    gc.collect()
    gc.disable()
    try:
        w = pg.Value(X)
        x = w * 1.0
        x[1] += x[0] * 2.0
        x[ROWS] = x[0]
        loss = pg.sum(x * x)
        read = weakref.ref(x)
        del x, loss  # no backward: no walk has repaired anything

        assert read() is None, "a written Value outlived its graph: a reference cycle"
    finally:
        gc.enable()
