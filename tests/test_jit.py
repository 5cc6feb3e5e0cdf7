"""jit (polygrad/transforms/jit.py): traced once per signature, replayed (root.forward on
numpy/array_api_strict, jax.jit on jax, mx.compile on mlx). JAX's jax.jit is the oracle."""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import requires_jax, to_numpy


def small(m, x, y):
    return m.sum(m.tanh(m.matmul(x, y)) * 2.0, axis=0) + m.exp(-y[0])


def test_jit_matches_jax_jit_and_retraces_on_a_new_signature(rng):
    jax = requires_jax()
    import jax.numpy as jnp
    jitted = pg.jit(lambda x, y: small(pg, x, y))
    oracle = jax.jit(lambda x, y: small(jnp, x, y))
    on = pg.backend()
    for shape in ((4, 3), (4, 3), (5, 3), (4, 3)):
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.standard_normal((3, 2)).astype(np.float32)
        got = jitted(on.asarray(x), on.asarray(y))
        np.testing.assert_allclose(to_numpy(got), np.asarray(oracle(x, y)), rtol=2e-5, atol=1e-6)
    assert jitted.trace_count == 2  # (4, 3) and (5, 3)
    jitted(on.asarray(np.ones((4, 3), np.float64)), on.asarray(np.ones((3, 2), np.float32)))
    assert jitted.trace_count == 3  # a new dtype


def mlp_loss(params, x, y):
    hidden = pg.tanh(pg.matmul(x, params["w1"]) + params["b1"])
    return pg.mean((pg.matmul(hidden, params["w2"]) - y) ** 2)


def sgd_step(params, x, y):
    loss, grads = pg.value_and_grad(mlp_loss)(params, x, y)
    return loss, pg.tree.map(lambda p, g: p - 0.1 * g, params, grads)


def test_jit_of_a_training_step_gives_the_eager_loss_curve(rng):
    on = pg.backend()
    f32 = np.float32
    params = {"w1": on.asarray(rng.standard_normal((3, 8)).astype(f32) * 0.5), "b1": on.asarray(np.zeros(8, f32)),
              "w2": on.asarray(rng.standard_normal((8, 2)).astype(f32) * 0.5)}
    x, y = on.asarray(rng.standard_normal((16, 3)).astype(f32)), on.asarray(rng.standard_normal((16, 2)).astype(f32))
    step = pg.jit(sgd_step)
    eager, jitted = params, params
    eager_curve, jit_curve = [], []
    for _ in range(20):
        loss, eager = sgd_step(eager, x, y)
        eager_curve.append(float(to_numpy(loss)))
        loss, jitted = step(jitted, x, y)
        jit_curve.append(float(to_numpy(loss)))
    assert step.trace_count == 1
    assert jit_curve[-1] < jit_curve[0]
    np.testing.assert_allclose(jit_curve, eager_curve, rtol=1e-5)
    for name in params:
        np.testing.assert_allclose(to_numpy(jitted[name]), to_numpy(eager[name]), rtol=1e-4, atol=1e-6)


def test_jit_pytrees_static_numbers_and_values(rng):
    on = pg.backend()
    jitted = pg.jit(lambda tree, scale: {"out": tree["a"] * scale + tree["b"], "n": 3})
    a, b = on.asarray(np.ones(3, np.float32)), on.asarray(np.arange(3, dtype=np.float32))
    first = jitted({"a": a, "b": b}, 2.0)
    np.testing.assert_allclose(to_numpy(first["out"]), [2.0, 3.0, 4.0])
    assert first["n"] == 3
    np.testing.assert_allclose(to_numpy(jitted({"a": a, "b": b}, 3.0)["out"]), [3.0, 4.0, 5.0])
    assert jitted.trace_count == 2  # numbers are static
    out = jitted({"a": pg.Value(a), "b": b}, 3.0)["out"]
    assert isinstance(out, pg.Value)


def test_jit_refuses_data_dependent_control_flow(rng):
    x = pg.backend().asarray(np.ones(3, np.float32))
    with pytest.raises(pg.TracerError, match="jit"):
        pg.jit(lambda x: x if pg.sum(x) > 0 else -x)(x)
    with pytest.raises(pg.TracerError, match="jit"):
        pg.jit(lambda x: x * float(pg.max(x)))(x)
