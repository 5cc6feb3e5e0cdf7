"""JAX's own autodiff as an independent oracle for composite functions, in float64.

polygrad computes on the active backend; JAX runs on the CPU with 64-bit floats. The
last test calls the very same Python function, written only against the array API,
with polygrad Values and with jax.numpy arrays.

JAX's side runs under jax.jit: one XLA compilation per test instead of one per primitive
and shape when run eagerly (12 s -> 1.5 s for the second derivative on a 2-core CPU, in
every backend's run). The data are finite (assert_grads_match checks JAX's answers are),
where XLA's simplifications (0 * inf -> 0) change nothing.
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import to_numpy
from polygrad.testing import array_api_function, attention

jax = pytest.importorskip("jax", reason="jax is not installed: the JAX oracle tests need it")
jax.config.update("jax_enable_x64", True)
jnp = pytest.importorskip("jax.numpy")

pytestmark = pytest.mark.usefixtures("float64")

RTOL, ATOL = 1e-6, 1e-12


def assert_grads_match(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        g = to_numpy(g)
        assert g.shape == e.shape
        assert np.all(np.isfinite(e))
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


# -- MLP with softmax cross-entropy -----------------------------------------------------------------

def test_mlp_softmax_cross_entropy_matches_jax():
    rng = np.random.default_rng(0)
    model = pg.nn.MLP([4, 8, 6, 3], rng=rng)
    params = model.parameters()
    assert len(params) == 6
    x = rng.normal(size=(10, 4))
    labels = rng.integers(0, 3, size=10)

    loss = pg.nn.softmax_cross_entropy(model(pg.Value(x)), pg.Value(labels))
    loss.backward()

    def jax_loss(flat):
        h = jnp.asarray(x)
        for i in range(0, len(flat), 2):
            h = h @ flat[i] + flat[i + 1]
            if i < len(flat) - 2:
                h = jax.nn.relu(h)
        log_probs = jax.nn.log_softmax(h, axis=-1)
        return -jnp.mean(log_probs[jnp.arange(10), labels])
    initial = [jnp.asarray(p.numpy()) for p in params]
    expected_value, expected = jax.jit(jax.value_and_grad(jax_loss))(initial)
    np.testing.assert_allclose(float(loss.item()), float(expected_value), rtol=1e-12)
    assert_grads_match([p.grad for p in params], expected)


# -- pinball (quantile) loss ---------------------------------------------------------------------------

@pytest.mark.parametrize("target_shape", [(12,), (12, 1)])
def test_pinball_loss_matches_jax(target_shape):
    rng = np.random.default_rng(1)
    quantiles = np.array([0.1, 0.5, 0.9])
    x = rng.normal(size=(12, 2))
    w = rng.normal(size=(2, 3))
    target = rng.normal(size=target_shape)

    def pg_loss(w):
        return pg.nn.pinball_loss(pg.matmul(pg.Value(x), w), pg.Value(target), pg.Value(quantiles))

    def jax_loss(w):
        diff = jnp.reshape(jnp.asarray(target), (-1, 1)) - jnp.asarray(x) @ w
        return jnp.mean(jnp.maximum(quantiles * diff, (quantiles - 1.0) * diff))
    value, grad = pg.value_and_grad(pg_loss)(pg.Value(w))
    expected_value, expected = jax.jit(jax.value_and_grad(jax_loss))(jnp.asarray(w))
    np.testing.assert_allclose(float(value.item()), float(expected_value), rtol=1e-12)
    assert_grads_match([grad], [expected])


# -- a small attention block ------------------------------------------------------------------------------

def test_attention_block_matches_jax():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4))
    weights = [rng.normal(size=(4, 4)) * 0.5 for _ in range(4)]
    cotangent = rng.normal(size=(2, 3, 4))

    def pg_loss(x, *ws):
        return pg.sum(attention(pg, pg.softmax, x, *ws) * cotangent)

    def jax_loss(x, *ws):
        return jnp.sum(attention(jnp, jax.nn.softmax, x, *ws) * cotangent)
    argnums = tuple(range(5))
    got = pg.grad(pg_loss, argnums=argnums)(x, *weights)
    expected = jax.jit(jax.grad(jax_loss, argnums=argnums))(jnp.asarray(x), *map(jnp.asarray, weights))
    assert_grads_match(got, expected)


# -- one function, written only against the array API, run by both ---------------------------------------

def test_array_api_function_matches_jax():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 4))
    w = rng.normal(size=(4, 3))
    got_value, got = pg.value_and_grad(array_api_function, argnums=(0, 1))(x, w)
    expected_value, expected = jax.jit(jax.value_and_grad(array_api_function, argnums=(0, 1)))(
        jnp.asarray(x), jnp.asarray(w))
    np.testing.assert_allclose(float(to_numpy(got_value)), float(expected_value), rtol=1e-12)
    assert_grads_match(got, expected)


def test_array_api_function_second_derivative_matches_jax():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 4))
    w = rng.normal(size=(4, 3))
    v = rng.normal(size=(4, 3))

    def directional(m, grad):
        data = pg.Value(x, requires_grad=False) if m is pg else m.asarray(x)
        return grad(lambda u: m.sum(grad(lambda t: array_api_function(data, t))(u) * m.asarray(v)))
    got = directional(pg, pg.grad)(w)
    expected = jax.jit(directional(jnp, jax.grad))(jnp.asarray(w))
    assert_grads_match([got], [expected])
