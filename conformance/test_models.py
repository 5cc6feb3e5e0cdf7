"""Composite models on the active backend against JAX, each a report row: an MLP with
softmax cross-entropy, the quantile-regression model, a small attention block and a
function written only against the array API namespace. polygrad runs in the dtype of
the check; JAX in float64 on the CPU, from the same (rounded) numbers, jitted (the data
are finite, where XLA's rewrites change nothing).
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from polygrad.testing import array_api_function, attention

from . import config
from .checks import declared, errors, rounded, to_host
from .oracle import jax_modules
from .report import REPORT


def _compare(row: str, got_value, got_grads, want_value, want_grads) -> None:
    """Loss and gradients against JAX's, within the backend's tolerance."""
    tol = config.tolerance(config.dtype_name())
    r = REPORT.row(row)
    r.examples += 1
    r.jax_examples += 1
    r.record("forward", float(errors(to_host(got_value), np.asarray(want_value)).max()))
    worst = 0.0
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        g, w = to_host(g), np.asarray(w)
        assert g.shape == w.shape, f"{row}: gradient {i} has shape {g.shape}, JAX's {w.shape}"
        worst = max(worst, float(errors(g, w).max(initial=0.0)))
    r.record("jax", worst)
    assert r.worst["forward"] <= tol, f"{row}: loss {to_host(got_value)}, JAX {want_value}"
    assert worst <= tol, f"{row}: gradients differ from JAX's by {worst:.3g} > {tol:g}"


def _data(rng, *shape, scale=1.0):
    """Normal numbers, rounded to the dtype of the check, as float64."""
    return rounded(rng.normal(size=shape) * scale, config.dtype_name())


def _leaf(a):
    return pg.Value(a, dtype=config.dtype_name())


def _mlp(m, relu, params, x):
    """The forward of pg.nn.MLP, for JAX: params [W1, b1, W2, b2, ...], relu between layers."""
    for i in range(0, len(params), 2):
        x = m.matmul(x, params[i]) + params[i + 1]
        if i + 2 < len(params):
            x = relu(x)
    return x


def _check_mlp(row: str, model, x, pg_loss, jax_loss) -> None:
    """pg_loss(model(x)).backward() against JAX's gradient of jax_loss(mlp(params, x))."""
    jax, jnp = jax_modules()

    def check():
        loss = pg_loss(model(_leaf(x)))
        model.zero_grad()
        loss.backward()
        params = [jnp.asarray(to_host(p), dtype=jnp.float64) for p in model.parameters()]
        value, grads = jax.jit(jax.value_and_grad(
            lambda ps: jax_loss(_mlp(jnp, jax.nn.relu, ps, jnp.asarray(x)))))(params)
        _compare(row, loss, [p.grad for p in model.parameters()], value, grads)
    declared(row, check)


MLP = "model: mlp, softmax cross-entropy"
QUANTILE = "model: quantile regression, pinball loss"
ATTENTION = "model: attention block"
ARRAY_API = "model: array-API function"


@pytest.mark.conformance_row(MLP)
def test_mlp_softmax_cross_entropy():
    jax, jnp = jax_modules()
    rng = np.random.default_rng(0)
    model = pg.nn.MLP([4, 8, 6, 3], rng=rng)
    x, labels = _data(rng, 10, 4), rng.integers(0, 3, size=10)
    _check_mlp(MLP, model, x, lambda logits: pg.nn.softmax_cross_entropy(logits, pg.Value(labels)),
               lambda logits: -jnp.mean(jax.nn.log_softmax(logits, axis=-1)[jnp.arange(10), labels]))


@pytest.mark.conformance_row(QUANTILE)
def test_quantile_regression():
    """The demo's model, smaller: an MLP predicting three quantiles, the pinball loss
    d * (q - [d < 0]) (gradient q at d = 0: JAX's is the same for the same formula)."""
    jax, jnp = jax_modules()
    rng = np.random.default_rng(1)
    quantiles = np.array([0.1, 0.5, 0.9])
    model = pg.nn.MLP([1, 8, 3], rng=rng)
    x, y = _data(rng, 16, 1), _data(rng, 16)

    def jax_pinball(prediction):
        diff = jnp.reshape(jnp.asarray(y), (-1, 1)) - prediction
        return jnp.mean(diff * (jnp.asarray(quantiles) - (diff < 0).astype(diff.dtype)))
    _check_mlp(QUANTILE, model, x, lambda prediction: pg.nn.pinball_loss(prediction, _leaf(y), _leaf(quantiles)),
               jax_pinball)


@pytest.mark.conformance_row(ATTENTION)
def test_attention_block():
    """matmul, reshape, permute_dims and softmax: polygrad.testing.attention run by both."""
    jax, jnp = jax_modules()
    rng = np.random.default_rng(2)
    x = _data(rng, 2, 3, 4)
    weights = [_data(rng, 4, 4, scale=0.5) for _ in range(4)]
    cotangent = _data(rng, 2, 3, 4)

    def check():
        def pg_loss(x, *ws):
            return pg.sum(attention(pg, pg.softmax, x, *ws) * _leaf(cotangent))

        def jax_loss(x, *ws):
            return jnp.sum(attention(jnp, jax.nn.softmax, x, *ws) * cotangent)
        args = [_leaf(a) for a in (x, *weights)]
        value, grads = pg.value_and_grad(pg_loss, argnums=tuple(range(5)))(*args)
        want_value, want_grads = jax.jit(jax.value_and_grad(jax_loss, argnums=tuple(range(5))))(
            *(jnp.asarray(a) for a in (x, *weights)))
        _compare(ATTENTION, value, grads, want_value, want_grads)
    declared(ATTENTION, check)


@pytest.mark.conformance_row(ARRAY_API)
def test_array_api_function():
    """polygrad.testing.array_api_function uses only the namespace of its arguments: the
    very same code runs on polygrad Values and on jax.numpy arrays."""
    jax, jnp = jax_modules()
    rng = np.random.default_rng(3)
    x, w = _data(rng, 6, 4), _data(rng, 4, 3)

    def check():
        value, grads = pg.value_and_grad(array_api_function, argnums=(0, 1))(_leaf(x), _leaf(w))
        want_value, want_grads = jax.jit(jax.value_and_grad(array_api_function, argnums=(0, 1)))(jnp.asarray(x), jnp.asarray(w))
        _compare(ARRAY_API, value, grads, want_value, want_grads)
    declared(ARRAY_API, check)
