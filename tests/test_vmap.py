"""vmap (polygrad/transforms/vmap.py, batching rules in polygrad/rules/batching.py).

JAX is the oracle: each function is written once against a namespace ``m`` and vmapped by
polygrad (m = pg) on the active backend and by jax.vmap (m = jax.numpy), in float64.
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import requires_jax, to_numpy
from polygrad.errors import OpError, ShapeError

pytestmark = pytest.mark.usefixtures("float64")


def mixed_ops(m, x, w):
    """Elementwise with broadcasting, matmul of a vector, reductions, softmax, shape ops, getitem."""
    h = m.tanh(x @ w + 1.0)                                   # (3,) @ (3, 4) -> (4,)
    s = m.sum(m.exp(h[None, :] - m.reshape(h, (4, 1))), axis=0)  # (4,)
    t = m.concat([s, m.maximum(h, 0.0)[::-1]], axis=0)        # (8,)
    u = m.permute_dims(m.stack([t, t * 2.0], axis=1), (1, 0))  # (2, 8)
    return m.where(u > 1.0, u, m.sqrt(m.abs(u) + 1.0)).mean(axis=-1) + m.max(u)


def matmul_shapes(m, a, b):
    return m.sum(a @ b, axis=-1)


def softmax_logsumexp(m, x):
    import jax
    if m is pg:
        return pg.softmax(x, axis=0) * pg.logsumexp(x)
    return jax.nn.softmax(x, axis=0) * jax.scipy.special.logsumexp(x)


def test_vmap_matches_jax_vmap_on_mixed_ops(rng):
    jax = requires_jax()
    import jax.numpy as jnp
    x, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    got = pg.vmap(lambda x, w: mixed_ops(pg, x, w), in_axes=(0, None))(x, w)
    expected = jax.vmap(lambda x, w: mixed_ops(jnp, x, w), in_axes=(0, None))(jnp.asarray(x), jnp.asarray(w))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)


@pytest.mark.parametrize("a_shape, b_shape, in_axes", [
    ((4, 2, 3), (3,), (0, None)), ((2, 3), (4, 3), (None, 0)), ((4, 3), (4, 3, 2), (0, 0)),
    ((4, 2, 2, 3), (3, 5), (0, None)), ((2, 2, 3), (3, 4, 5), (None, 1)),
])
def test_vmap_of_matmul_matches_jax(rng, a_shape, b_shape, in_axes):
    jax = requires_jax()
    import jax.numpy as jnp
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    got = pg.vmap(lambda a, b: matmul_shapes(pg, a, b), in_axes=in_axes)(a, b)
    expected = jax.vmap(lambda a, b: matmul_shapes(jnp, a, b), in_axes=in_axes)(jnp.asarray(a), jnp.asarray(b))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)


def test_vmap_in_and_out_axes_and_pytrees(rng):
    jax = requires_jax()
    import jax.numpy as jnp
    x, y = rng.standard_normal((3, 6)), rng.standard_normal((3,))

    def f(m, tree):
        return {"sum": m.sum(tree["x"] * tree["y"]), "outer": tree["x"][:, None] * tree["y"][None, :]}
    tree = {"x": x, "y": y}
    axes = ({"x": 1, "y": None},)
    got = pg.vmap(lambda t: f(pg, t), in_axes=axes, out_axes={"sum": 0, "outer": 2})(tree)
    expected = jax.vmap(lambda t: f(jnp, t), in_axes=axes, out_axes={"sum": 0, "outer": 2})(
        pg.tree.map(jnp.asarray, tree))
    for key in ("sum", "outer"):
        np.testing.assert_allclose(to_numpy(got[key]), np.asarray(expected[key]), rtol=1e-10)
    assert to_numpy(got["outer"]).shape == (3, 3, 6)


def test_vmap_softmax_and_logsumexp_shift_their_axis(rng):
    jax = requires_jax()
    import jax.numpy as jnp
    x = rng.standard_normal((2, 3, 4))
    got = pg.vmap(lambda x: softmax_logsumexp(pg, x), in_axes=2)(x)
    expected = jax.vmap(lambda x: softmax_logsumexp(jnp, x), in_axes=2)(jnp.asarray(x))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)


def cross_entropy(m, logits, labels):
    import jax
    if m is pg:
        return pg.nn.cross_entropy(logits, labels, reduction="none")
    return -jnp_take_label(jax.nn.log_softmax(logits, axis=-1), labels)


def jnp_take_label(log_probs, labels):
    import jax.numpy as jnp
    return jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]


@pytest.mark.parametrize("in_axes", [(0, 0), (0, None), (None, 0), (1, 1)])
def test_vmap_of_grad_of_cross_entropy_matches_jax(rng, in_axes):
    """The fused softmax_cross_entropy op: logits, labels or both batched (its batching rule),
    and the gradient of each example's loss."""
    jax = requires_jax()
    import jax.numpy as jnp
    logits = rng.standard_normal((3, 2, 4))
    labels = rng.integers(0, 4, (3, 2))
    if in_axes[0] is None:
        logits = logits[0]
    if in_axes[1] is None:
        labels = labels[0]

    def loss(m, x, y):
        return m.sum(cross_entropy(m, x, y) ** 2)
    got = pg.vmap(lambda x, y: loss(pg, x, y), in_axes=in_axes)(logits, labels)
    expected = jax.vmap(lambda x, y: loss(jnp, x, y), in_axes=in_axes)(jnp.asarray(logits), jnp.asarray(labels))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)
    if in_axes[0] is not None:
        got = pg.vmap(pg.grad(lambda x, y: loss(pg, x, y)), in_axes=in_axes)(logits, labels)
        expected = jax.vmap(jax.grad(lambda x, y: loss(jnp, x, y)), in_axes=in_axes)(jnp.asarray(logits), jnp.asarray(labels))
        np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)


def mlp_loss(params, x, y):
    hidden = pg.tanh(x @ params["w1"] + params["b1"])
    return pg.mean((hidden @ params["w2"] + params["b2"] - y) ** 2)


def test_vmap_of_grad_gives_per_example_gradients_equal_to_a_loop(rng):
    params = {"w1": rng.standard_normal((3, 5)), "b1": rng.standard_normal(5),
              "w2": rng.standard_normal((5, 2)), "b2": np.zeros(2)}
    x, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    per_example = pg.vmap(pg.grad(mlp_loss), in_axes=(None, 0, 0))(params, x, y)
    loop = [pg.grad(mlp_loss)(params, x[i], y[i]) for i in range(3)]
    for name in params:
        expected = np.stack([to_numpy(g[name]) for g in loop])
        assert to_numpy(per_example[name]).shape == (3, *params[name].shape)
        np.testing.assert_allclose(to_numpy(per_example[name]), expected, rtol=1e-10, atol=1e-12)


def test_vmap_of_grad_matches_jax(rng):
    jax = requires_jax()
    import jax.numpy as jnp
    w, x = rng.standard_normal((3, 2)), rng.standard_normal((4, 3))

    def loss(m, w, x):
        return m.sum(m.sin(x @ w) ** 2)
    got = pg.vmap(pg.grad(lambda w, x: loss(pg, w, x)), in_axes=(None, 0))(w, x)
    expected = jax.vmap(jax.grad(lambda w, x: loss(jnp, w, x)), in_axes=(None, 0))(jnp.asarray(w), jnp.asarray(x))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)


def test_vmap_values_in_give_values_and_unbatched_outputs_broadcast(rng):
    x = pg.Value(rng.standard_normal((4, 2)))
    out, const = pg.vmap(lambda x: (x * 2.0, pg.ones(3)))(x)
    assert isinstance(out, pg.Value) and out.shape == (4, 2)
    np.testing.assert_allclose(to_numpy(const), np.ones((4, 3)))


def test_vmap_errors_name_the_problem(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(OpError, match="vmap: tensordot has no batching rule"):
        pg.vmap(lambda x: pg.tensordot(x, x, axes=1))(x)
    with pytest.raises(ShapeError, match="different sizes"):
        pg.vmap(lambda a, b: a + b)(x, rng.standard_normal((5, 3)))
    with pytest.raises(ShapeError, match="maps no argument"):
        pg.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(pg.PolygradError, match="data-dependent"):
        pg.vmap(lambda a: a if pg.sum(a) > 0 else -a)(x)


def test_vmap_of_grad_of_grad_records_the_inner_backward_pass(rng):
    """vmap(grad(f)) computes its backward pass without recording it (nothing differentiates
    it); a grad inside vmap that another grad differentiates must still record it."""
    jax = requires_jax()
    import jax.numpy as jnp
    x = rng.standard_normal(5)

    def f(m):
        return lambda x: m.sin(x) ** 3 * m.exp(x)
    got = pg.vmap(pg.grad(pg.grad(f(pg))))(x)
    expected = jax.vmap(jax.grad(jax.grad(f(jnp))))(jnp.asarray(x))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-10)
