"""Gradients through vmap (polygrad/transforms/vmap.py): grad(vmap(f)), grad(vmap(grad(f))),
hessians, .backward() and jit through a vmapped call, and vmap(hessian(f)).

JAX is the oracle: each function is written once against a namespace ``m`` (pg or
jax.numpy) and transformed by polygrad and by JAX, in float64.
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import requires_jax, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

W = np.array([0.3, -0.2])
XS = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.1]])


def per_example(m):
    return lambda w, x: m.sin(m.sum(w * x)) ** 2


def both(build):
    """``build(m, vmap, transforms)`` for polygrad and for JAX, as a pair of functions."""
    jax = requires_jax()
    import jax.numpy as jnp
    return build(pg, pg.vmap, pg), build(jnp, jax.vmap, jax)


def check(got, expected, rtol=1e-9):
    for g, e in zip(pg.tree.leaves(got), pg.tree.leaves(expected)):
        np.testing.assert_allclose(to_numpy(g), np.asarray(e), rtol=rtol, atol=1e-12)


def test_grad_of_vmap_reaches_an_unbatched_argument():
    """The old vmap handed back fresh leaves: this gradient was silently zero."""
    def build(m, vmap, t):
        return t.grad(lambda w: m.sum(vmap(per_example(m), in_axes=(None, 0))(w, XS)))
    ours, jaxs = both(build)
    got = ours(pg.asarray(W))
    assert np.abs(to_numpy(got)).max() > 0.1
    check(got, jaxs(W))
    check(ours(W), jaxs(W))  # raw arrays in


def test_grad_of_vmap_with_pytree_in_axes_and_out_axes(rng):
    """Batched and unbatched leaves of one pytree argument, a mapped axis that is not the
    first, an out_axes pytree with a nonzero axis and an unbatched (None) output."""
    params = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)}
    x = rng.standard_normal((2, 4))  # mapped over axis 1

    def build(m, vmap, t):
        def f(p, x):
            h = m.tanh(x @ p["a"] + p["b"])                  # (3,) per example
            return {"h": h[:, None] * h[None, :], "s": m.sum(p["b"] ** 2)}  # "s" is unbatched

        def loss(p, x):
            out = vmap(f, in_axes=({"a": None, "b": None}, 1), out_axes={"h": 2, "s": None})(p, x)
            return m.sum(m.cos(out["h"])) + 3.0 * out["s"]
        return t.grad(loss, argnums=(0, 1))
    ours, jaxs = both(build)
    check(ours(params, x), jaxs(params, x))


def test_grad_of_vmap_with_a_batched_pytree_argument(rng):
    tree = {"u": rng.standard_normal((3, 2)), "v": rng.standard_normal((2, 3))}

    def build(m, vmap, t):
        def f(tree):
            return m.exp(tree["u"]) * m.sum(tree["v"] ** 2), tree["u"]  # a tuple; an argument returned as is

        def loss(tree):
            a, u = vmap(f, in_axes=({"u": 0, "v": 1},), out_axes=(1, 0))(tree)
            return m.sum(m.sin(a)) + m.sum(u ** 3)
        return t.grad(loss)
    ours, jaxs = both(build)
    check(ours(tree), jaxs(tree))


def test_grad_of_vmap_of_grad():
    def build(m, vmap, t):
        per_example_grads = vmap(t.grad(per_example(m)), in_axes=(None, 0))
        by_argument = t.grad(lambda w: m.sum(per_example_grads(w, XS) ** 2))
        closing_over = t.grad(lambda w: m.sum(vmap(t.grad(lambda x: per_example(m)(w, x)))(XS) ** 2))
        return by_argument, closing_over
    (ours, ours_closed), (jaxs, jaxs_closed) = both(build)
    check(ours(W), jaxs(W))
    check(ours_closed(W), jaxs_closed(W))


def test_hessian_through_vmap_and_vmap_of_hessian():
    def build(m, vmap, t):
        through = t.hessian(lambda w: m.sum(vmap(per_example(m), in_axes=(None, 0))(w, XS)))
        of = vmap(t.hessian(per_example(m)), in_axes=(None, 0))
        return through, of
    (ours, ours_of), (jaxs, jaxs_of) = both(build)
    check(ours(W), jaxs(W))
    check(ours_of(W, XS), jaxs_of(W, XS))


def test_backward_through_vmap_reaches_leaves_and_closed_over_values():
    jax = requires_jax()
    import jax.numpy as jnp
    f = per_example(pg)
    w = pg.Value(W, requires_grad=True)
    xs = pg.Value(XS, requires_grad=True)
    pg.sum(pg.vmap(f, in_axes=(None, 0))(w, xs)).backward()
    expected_w, expected_xs = jax.grad(lambda w, xs: jnp.sum(jax.vmap(per_example(jnp), in_axes=(None, 0))(w, xs)),
                                       argnums=(0, 1))(W, XS)
    check([w.grad, xs.grad], [expected_w, expected_xs])
    closed = pg.Value(W, requires_grad=True)
    pg.sum(pg.vmap(lambda x: f(closed, x))(XS)).backward()
    check(closed.grad, expected_w)


def test_jit_of_grad_of_vmap_replays_on_new_data():
    def build(m, vmap, t):
        return t.grad(lambda w, xs: m.sum(vmap(per_example(m), in_axes=(None, 0))(w, xs)))
    ours, jaxs = both(build)
    jitted = pg.jit(ours)
    check(jitted(W, XS), jaxs(W, XS))
    check(jitted(2.0 * W, XS[::-1] + 1.0), jaxs(2.0 * W, XS[::-1] + 1.0))  # replayed, not retraced
    assert jitted.trace_count == 1


def test_mean_of_vmapped_per_example_loss_equals_the_batched_loss(rng):
    params = {"w1": rng.standard_normal((3, 5)), "b1": rng.standard_normal(5),
              "w2": rng.standard_normal((5, 2)), "b2": rng.standard_normal(2)}
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))

    def loss(p, x, y):  # one example, or a batch: the same code
        hidden = pg.tanh(x @ p["w1"] + p["b1"])
        return pg.sum((hidden @ p["w2"] + p["b2"] - y) ** 2, axis=-1)

    per_example_mean = pg.grad(lambda p: pg.mean(pg.vmap(loss, in_axes=(None, 0, 0))(p, x, y)))(params)
    batched = pg.grad(lambda p: pg.mean(loss(p, x, y)))(params)
    check(per_example_mean, batched, rtol=1e-10)
