"""Function transforms (polygrad/transforms/): pytrees, vjp/jvp/linearize, jacrev/jacfwd/hessian,
checkpoint, custom_vjp/custom_jvp, defop and nn.functional_call.

JAX is the oracle: each function is written once against a namespace ``m`` and run by
polygrad (m = pg) on the active backend and by JAX (m = jax.numpy) on the CPU, both in
float64, and JAX's transform of it is the expected result.
"""
from __future__ import annotations

import collections
import dataclasses
import gc
import weakref

import numpy as np
import pytest

import polygrad as pg
from conftest import requires_jax, to_numpy
from polygrad.rules import RULES
from polygrad.testing import attention, gradcheck

pytestmark = pytest.mark.usefixtures("float64")

RTOL = 1e-9
Pair = collections.namedtuple("Pair", "scale shift")


def leaves(tree):
    return [to_numpy(x) for x in pg.tree.leaves(tree)]


def assert_trees_close(got, expected, rtol=RTOL, atol=1e-12):
    """Same structure (as optree sees it), same shapes, close values."""
    expected = pg.tree.map(np.asarray, expected)
    got_numpy = pg.tree.map(lambda x: x if isinstance(x, (int, float)) else to_numpy(x), got)
    assert pg.tree.structure(got_numpy) == pg.tree.structure(expected)
    for g, e in zip(pg.tree.leaves(got_numpy), pg.tree.leaves(expected)):
        g = np.asarray(g)
        assert g.shape == e.shape
        assert np.all(np.isfinite(e))
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def jax_tree(tree):
    import jax.numpy as jnp
    return pg.tree.map(jnp.asarray, tree)


# -- pytrees -------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Layer:
    weight: object
    bias: object
    name: str = dataclasses.field(default="layer", metadata={"static": True})


@dataclasses.dataclass(frozen=True)
class Frozen:
    inner: Layer
    gain: object


def test_tree_functions_on_containers_namedtuples_and_dataclasses():
    tree = {"b": [1.0, (2.0, None)], "a": Pair(3.0, 4.0), "c": Frozen(Layer(5.0, 6.0, "first"), 7.0)}
    found, treedef = pg.tree.flatten(tree)
    assert found == [3.0, 4.0, 1.0, 2.0, 5.0, 6.0, 7.0]  # dict keys sorted, as in JAX; None is no leaf
    assert pg.tree.leaves(tree) == found and pg.tree.structure(tree) == treedef
    rebuilt = pg.tree.unflatten(treedef, [x * 10 for x in found])
    assert rebuilt["a"] == Pair(30.0, 40.0) and rebuilt["b"] == [10.0, (20.0, None)]
    assert rebuilt["c"] == Frozen(Layer(50.0, 60.0, "first"), 70.0)  # the static name is structure
    summed = pg.tree.map(lambda x, y: x + y, tree, rebuilt)
    assert pg.tree.leaves(summed) == [33.0, 44.0, 11.0, 22.0, 55.0, 66.0, 77.0]
    assert pg.tree.structure(Frozen(Layer(1, 2, "first"), 3)) != pg.tree.structure(Frozen(Layer(1, 2, "other"), 3))


def test_register_dataclass_chooses_the_fields():
    @dataclasses.dataclass
    class Config:
        value: object
        steps: int
    pg.tree.register_dataclass(Config, data_fields=["value"], meta_fields=["steps"])
    assert pg.tree.leaves(Config(1.5, 3)) == [1.5]
    with pytest.raises(ValueError, match="exactly once"):
        pg.tree.register_dataclass(Layer, data_fields=["weight"], meta_fields=[])


# -- grad over pytrees ---------------------------------------------------------------------------------

def mlp_loss(m, params, x, targets):
    h = x
    for weight, bias in params["layers"]:
        h = m.tanh(m.matmul(h, weight) + bias)
    pair = params["out"]
    return m.mean((h * pair.scale + pair.shift - targets) ** 2)


def mlp_params(rng, sizes=(3, 2, 2)):
    return {
        "layers": [(rng.normal(size=(a, b)), rng.normal(size=(b,))) for a, b in zip(sizes[:-1], sizes[1:])],
        "out": Pair(rng.normal(size=(sizes[-1],)), np.array(0.25)),
    }


def test_grad_over_a_pytree_matches_jax():
    jax = requires_jax()
    import jax.numpy as jnp
    rng = np.random.default_rng(0)
    params, x, targets = mlp_params(rng), rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    value, got = pg.value_and_grad(lambda p, x: mlp_loss(pg, p, x, targets), argnums=(0, 1))(params, x)
    expected_value, expected = jax.jit(jax.value_and_grad(lambda p, x: mlp_loss(jnp, p, x, targets), argnums=(0, 1)))(
        jax_tree(params), jnp.asarray(x))
    np.testing.assert_allclose(float(to_numpy(value)), float(expected_value), rtol=1e-12)
    assert isinstance(got, tuple) and isinstance(got[0]["out"], Pair) and isinstance(got[0]["layers"][0], tuple)
    assert_trees_close(got, expected)
    assert not isinstance(pg.tree.leaves(got)[0], pg.Value)  # arrays in, arrays out
    as_values = pg.grad(lambda p: mlp_loss(pg, p, x, targets))(pg.tree.map(pg.Value, params))
    assert all(isinstance(g, pg.Value) for g in pg.tree.leaves(as_values))
    assert_trees_close(as_values, expected[0])


def test_grad_over_a_dataclass_is_the_grad_over_its_fields():
    rng = np.random.default_rng(1)
    layer = Layer(rng.normal(size=(3, 2)), rng.normal(size=(2,)), "hidden")
    x = rng.normal(size=(2, 3))

    def loss(w, b):
        return pg.sum(pg.tanh(pg.matmul(x, w) + b) ** 2)
    got = pg.grad(lambda layer: loss(layer.weight, layer.bias))(layer)
    assert isinstance(got, Layer) and got.name == "hidden"
    expected = pg.grad(loss, argnums=(0, 1))(layer.weight, layer.bias)
    np.testing.assert_allclose(to_numpy(got.weight), to_numpy(expected[0]), rtol=1e-14)
    np.testing.assert_allclose(to_numpy(got.bias), to_numpy(expected[1]), rtol=1e-14)


def test_a_pytree_leaf_that_cannot_be_differentiated_is_named():
    with pytest.raises(pg.DTypeError, match=r"grad: argument 0\['steps'\] has dtype \S*int"):
        pg.grad(lambda p: pg.sum(p["w"]))({"w": np.ones(2), "steps": np.array([3])})


def test_nested_transforms_keep_their_derivatives_apart():
    # d/dx [d/dy (x * y)] at y = x is d/dx x = 1, not 2 (perturbation confusion).
    assert float(to_numpy(pg.grad(lambda x: pg.grad(lambda y: x * y)(x))(3.0))) == 1.0
    # an inner transform of a function closing over the outer variable (inner input raw)
    assert float(to_numpy(pg.grad(lambda x: pg.grad(lambda y: x * y * y)(2.0))(3.0))) == 4.0


# -- vjp, jvp, linearize ----------------------------------------------------------------------------

def attention_block(m, softmax, x, weights):
    out = attention(m, softmax, x, weights["q"], weights["k"], weights["v"], weights["o"])
    return {"out": out, "energy": m.sum(out * out)}, m.mean(out)


def attention_inputs(rng):
    x = rng.normal(size=(2, 3, 4))
    weights = {name: rng.normal(size=(4, 4)) * 0.5 for name in "qkvo"}
    cotangent = {"out": rng.normal(size=(2, 3, 4)), "energy": np.array(0.7)}
    return x, weights, cotangent


def test_vjp_of_an_attention_block_matches_jax():
    jax = requires_jax()
    import jax.numpy as jnp
    x, weights, cotangent = attention_inputs(np.random.default_rng(2))
    out, vjp_fn, aux = pg.vjp(lambda x, w: attention_block(pg, pg.softmax, x, w), x, weights, has_aux=True)

    @jax.jit
    def oracle(x, weights, cotangent):
        out, vjp_fn, aux = jax.vjp(lambda x, w: attention_block(jnp, jax.nn.softmax, x, w), x, weights, has_aux=True)
        return out, aux, vjp_fn(cotangent)
    expected_out, expected_aux, expected = oracle(jnp.asarray(x), jax_tree(weights), jax_tree(cotangent))
    assert_trees_close(out, expected_out)
    assert_trees_close(aux, expected_aux)
    got = vjp_fn(cotangent)
    assert isinstance(got, tuple) and len(got) == 2
    assert_trees_close(got, expected)
    doubled = vjp_fn(pg.tree.map(lambda c: 2.0 * c, cotangent))  # linear, and callable again
    assert_trees_close(doubled, pg.tree.map(lambda c: 2.0 * np.asarray(c), expected))


def broadcast_reduce(m, x, p):
    """Broadcasting ((n, 3) with (3,) and (1, 3)), reductions, a max and a logsumexp."""
    z = x * p.scale + p.shift
    centered = z - m.mean(z, axis=0, keepdims=True)
    soft = m.log(m.sum(m.exp(centered), axis=1))
    return soft * m.max(z, axis=1), m.sum(m.tanh(z) ** 2, axis=0)


def broadcast_inputs(rng):
    x = rng.normal(size=(2, 3))
    p = Pair(rng.normal(size=(3,)), rng.normal(size=(1, 3)))
    tangents = (rng.normal(size=(2, 3)), Pair(rng.normal(size=(3,)), rng.normal(size=(1, 3))))
    return x, p, tangents


def test_jvp_and_linearize_match_jax():
    jax = requires_jax()
    import jax.numpy as jnp
    x, p, tangents = broadcast_inputs(np.random.default_rng(3))
    primals = (x, p)
    out, tangent_out = pg.jvp(lambda x, p: broadcast_reduce(pg, x, p), primals, tangents)
    oracle = jax.jit(lambda primals, tangents: jax.jvp(lambda x, p: broadcast_reduce(jnp, x, p), primals, tangents))
    expected_out, expected_tangent = oracle(jax_tree(primals), jax_tree(tangents))
    assert_trees_close(out, expected_out)
    assert_trees_close(tangent_out, expected_tangent)
    out, f_jvp = pg.linearize(lambda x, p: broadcast_reduce(pg, x, p), *primals)
    assert_trees_close(out, expected_out)
    assert_trees_close(f_jvp(*tangents), expected_tangent)
    halved = f_jvp(x * 0.5, Pair(p.scale * 0.0, p.shift * 0.0))  # a second call, other tangents
    expected_half = oracle(jax_tree(primals), jax_tree((x * 0.5, Pair(p.scale * 0.0, p.shift * 0.0))))[1]
    assert_trees_close(halved, expected_half)


def test_vjp_and_jvp_check_structures_and_shapes():
    x = np.ones(3)
    out, vjp_fn = pg.vjp(lambda x: (x * 2.0, pg.sum(x)), x)
    with pytest.raises(pg.ShapeError, match="tree structure"):
        vjp_fn(np.ones(3))
    with pytest.raises(pg.ShapeError, match=r"shape \(2,\); the primal has shape \(3,\)"):
        vjp_fn((np.ones(2), 1.0))
    with pytest.raises(pg.ShapeError, match="tangent"):
        pg.jvp(lambda x: x * 2.0, (x,), (np.ones(4),))
    with pytest.raises(TypeError, match="tuples or lists"):
        pg.jvp(lambda x: x, x, x)


# -- Jacobians and Hessians -------------------------------------------------------------------------

def two_outputs(m, x, params):
    h = m.tanh(m.matmul(x, params["w1"]) + params["b1"])
    y = m.matmul(h, params["w2"])
    return {"y": y, "norm": m.sum(y * y)}, m.max(y)


@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians_of_pytrees_match_jax(name):
    jax = requires_jax()
    import jax.numpy as jnp
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3))
    params = {"w1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(2,)), "w2": rng.normal(size=(2, 2))}
    got, aux = getattr(pg, name)(lambda x, p: two_outputs(pg, x, p), argnums=(0, 1), has_aux=True)(x, params)
    expected, expected_aux = jax.jit(getattr(jax, name)(lambda x, p: two_outputs(jnp, x, p), argnums=(0, 1),
                                                        has_aux=True))(jnp.asarray(x), jax_tree(params))
    assert_trees_close(got, expected)
    assert_trees_close(aux, expected_aux)
    assert to_numpy(got["y"][1]["w1"]).shape == (2, 2, 3, 2)  # out.shape + in.shape, JAX's layout


def tanh_mlp(m, x, w1, w2):
    return m.sum(m.tanh(m.matmul(m.tanh(m.matmul(x, w1)), w2)) ** 2)


def test_hessian_of_a_two_layer_tanh_mlp_matches_jax():
    jax = requires_jax()
    import jax.numpy as jnp
    rng = np.random.default_rng(5)
    x, w1, w2 = rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2, 2))
    got = pg.hessian(lambda x, w1: tanh_mlp(pg, x, w1, w2), argnums=(0, 1))(x, w1)
    expected = jax.jit(jax.hessian(lambda x, w1: tanh_mlp(jnp, x, w1, jnp.asarray(w2)), argnums=(0, 1)))(
        jnp.asarray(x), jnp.asarray(w1))
    assert_trees_close(got, expected)
    h = to_numpy(got[1][1]).reshape(6, 6)
    np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-12)  # a Hessian is symmetric


def test_jacfwd_of_jacrev_and_jvp_of_grad_match_jax():
    jax = requires_jax()
    import jax.numpy as jnp
    rng = np.random.default_rng(6)
    x, p, _ = broadcast_inputs(rng)

    def pg_f(x):
        return broadcast_reduce(pg, x, p)[0]

    def jax_f(x):
        return broadcast_reduce(jnp, x, jax_tree(p))[0]
    assert_trees_close(pg.jacfwd(pg.jacrev(pg_f))(x), jax.jit(jax.jacfwd(jax.jacrev(jax_f)))(jnp.asarray(x)))
    v = rng.normal(size=x.shape)

    def scalar(m, f):
        return lambda x: m.sum(f(x) ** 2)
    got = pg.jvp(pg.grad(scalar(pg, pg_f)), (x,), (v,))  # forward over reverse: a Hessian-vector product
    expected = jax.jit(lambda x, v: jax.jvp(jax.grad(scalar(jnp, jax_f)), (x,), (v,)))(jnp.asarray(x), jnp.asarray(v))
    assert_trees_close(got, expected)


# -- checkpoint -----------------------------------------------------------------------------------------

def test_checkpoint_recomputes_and_gives_the_same_gradients():
    rng = np.random.default_rng(7)
    layers = [pg.nn.Linear(3, 2, rng=rng), pg.nn.Linear(2, 2, rng=rng), pg.nn.Linear(2, 2, rng=rng)]
    x = rng.normal(size=(2, 3))
    calls = []

    def block(layer):
        def run(h, scale):
            calls.append(layer)
            z = layer(h) * scale["gain"]
            return pg.tanh(z), pg.sum(z)  # a tuple: two outputs from one checkpointed call
        return run

    def loss(params, checkpointed):
        h, extra = pg.Value(x, requires_grad=False), 0.0
        for layer in layers:
            h, s = (pg.checkpoint(block(layer)) if checkpointed else block(layer))(h, {"gain": params})
            extra = extra + s
        return pg.mean(h ** 2) + 0.1 * extra

    gain = np.array(1.3)
    expected = pg.value_and_grad(loss)(gain, False)
    for layer in layers:  # the layers' weights, closed over, get gradients through backward()
        layer.zero_grad()
    loss(gain, False).backward()
    expected_weights = [to_numpy(p.grad) for layer in layers for p in layer.parameters()]
    for layer in layers:
        layer.zero_grad()
    calls.clear()
    got = pg.value_and_grad(loss)(gain, True)
    assert len(calls) == 6  # each layer run once forward and once again in backward
    np.testing.assert_allclose(to_numpy(got[1]), to_numpy(expected[1]), rtol=1e-12)
    loss(gain, True).backward()
    got_weights = [to_numpy(p.grad) for layer in layers for p in layer.parameters()]
    for g, e in zip(got_weights, expected_weights):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    # second order, through the recomputations (a chain of checkpointed calls)
    second = pg.grad(pg.grad(lambda g: loss(g, True)))(gain)
    np.testing.assert_allclose(to_numpy(second), to_numpy(pg.grad(pg.grad(lambda g: loss(g, False)))(gain)), rtol=1e-10)


def test_checkpoint_keeps_only_its_outputs():
    x = pg.Value(np.linspace(-1.0, 1.0, 6))
    inside = []

    def f(v):
        y = pg.sin(v) * v
        inside.append(weakref.ref(y))
        return pg.exp(y)
    out = pg.remat(f)(x)
    gc.collect()
    assert inside[0]() is None  # the recorded forward is gone
    assert out.op == "call" and out.parents == (x,)
    pg.sum(out).backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(pg.grad(lambda v: pg.sum(f(v)))(x)), rtol=1e-12)
    with pg.no_grad():
        assert pg.checkpoint(f)(x).op is None  # outside recording: a plain call


def test_checkpoint_with_static_argnums_and_a_closed_over_intermediate():
    w0 = pg.Value(np.array([0.5, 2.0]))
    h = pg.Value(np.array([1.0, 3.0]))
    grads = []
    for checkpointed in (False, True):
        w0.grad = h.grad = None
        w = w0 * 2.0  # not a leaf: its cotangent is in flight while the checkpoint's vjp runs

        def f(v, power):
            return pg.sum(pg.sin(v * w) ** power)
        run = pg.checkpoint(f, static_argnums=(1,)) if checkpointed else f
        (run(h, 2) + pg.sum(w * w)).backward()
        grads.append((to_numpy(w0.grad), to_numpy(h.grad)))
    for got, expected in zip(grads[1], grads[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


# -- custom_vjp, custom_jvp, defop ------------------------------------------------------------------------

def test_custom_vjp_matches_jax_custom_vjp():
    jax = requires_jax()
    import jax.numpy as jnp

    def make(m, custom):
        @custom
        def clip_gradient(lo, hi, x):
            return x * 1.0

        def fwd(lo, hi, x):
            return x * 1.0, (lo, hi)

        def bwd(res, g):
            lo, hi = res
            return None, None, m.clip(g, lo, hi)
        clip_gradient.defvjp(fwd, bwd)

        @custom
        def sin_cos(x, y):  # a smooth one, for second derivatives; pytree output
            return {"s": m.sin(x) * y, "c": m.cos(x)}

        def sc_fwd(x, y):
            return sin_cos(x, y), (x, y)

        def sc_bwd(res, g):
            x, y = res
            return g["s"] * m.cos(x) * y - g["c"] * m.sin(x), g["s"] * m.sin(x)
        sin_cos.defvjp(sc_fwd, sc_bwd)

        def loss(x):
            out = sin_cos(clip_gradient(-0.5, 0.5, x), x * x)
            return m.sum(out["s"] * 3.0 + out["c"])
        return loss
    x = np.array([0.3, -1.2, 2.0])
    pg_loss, jax_loss = make(pg, pg.custom_vjp), make(jnp, jax.custom_vjp)
    assert_trees_close(pg.grad(pg_loss)(x), jax.jit(jax.grad(jax_loss))(jnp.asarray(x)))
    # JAX's custom_vjp has no forward mode: its Hessian is reverse over reverse
    assert_trees_close(pg.hessian(pg_loss)(x), jax.jit(jax.jacrev(jax.jacrev(jax_loss)))(jnp.asarray(x)))
    assert_trees_close(pg_loss(x), jax.jit(jax_loss)(jnp.asarray(x)))  # plain call, nothing differentiated


def test_custom_vjp_nondiff_argnums_and_errors():
    @pg.custom_vjp
    def scale(k, x):
        return x * k

    def fwd(k, x):
        return x * k, None
    scale.defvjp(fwd, lambda k, res, g: (g * k * 10.0,))  # deliberately not the true gradient
    scale_nd = pg.custom_vjp(scale.fun, nondiff_argnums=(0,))
    scale_nd.defvjp(fwd, lambda k, res, g: (g * k * 10.0,))
    np.testing.assert_allclose(to_numpy(pg.grad(lambda x: pg.sum(scale_nd(2.0, x)))(np.ones(2))), [20.0, 20.0])
    wrong_count = pg.custom_vjp(lambda x: x * 2.0)
    wrong_count.defvjp(lambda x: (x * 2.0, None), lambda res, g: (g, g))
    with pytest.raises(pg.GradientError, match="one cotangent per differentiable argument"):
        pg.grad(lambda x: pg.sum(wrong_count(x)))(np.ones(2))
    wrong_shape = pg.custom_vjp(lambda x: x * 2.0)
    wrong_shape.defvjp(lambda x: (x * 2.0, None), lambda res, g: (pg.sum(g),))
    with pytest.raises(pg.ShapeError, match=r"shape \(\) for an argument of shape \(2,\)"):
        pg.grad(lambda x: pg.sum(wrong_shape(x)))(np.ones(2))
    with pytest.raises(pg.GradientError, match="defvjp"):
        pg.custom_vjp(lambda x: x)(pg.Value(np.ones(2)))


def test_custom_jvp_matches_jax_custom_jvp():
    jax = requires_jax()
    import jax.numpy as jnp

    def make(m, custom, sigmoid):
        @custom
        def log1pexp(x):
            return m.log1p(m.exp(x))

        @log1pexp.defjvp
        def log1pexp_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return log1pexp(x), t * sigmoid(x)

        @custom
        def product(x, y):
            return x * y
        product.defjvps(lambda tx, out, x, y: tx * y, lambda ty, out, x, y: ty * x)
        return lambda x: m.sum(product(log1pexp(x), x) ** 2)
    x = np.array([-2.0, 0.0, 1.5])
    pg_f, jax_f = make(pg, pg.custom_jvp, pg.sigmoid), make(jnp, jax.custom_jvp, jax.nn.sigmoid)
    assert_trees_close(pg.grad(pg_f)(x), jax.jit(jax.grad(jax_f))(jnp.asarray(x)))
    assert_trees_close(pg.hessian(pg_f)(x), jax.jit(jax.hessian(jax_f))(jnp.asarray(x)))
    expected = jax.jit(lambda x, t: jax.jvp(jax_f, (x,), (t,)))(jnp.asarray(x), jnp.ones(3))
    assert_trees_close(pg.jvp(pg_f, (x,), (np.ones(3),)), expected)


def _log1pexp_forward(xp, x):
    """log(1 + e^x), without overflow: max(x, 0) + log1p(e^-|x|)"""
    return xp.maximum(x, xp.zeros_like(x)) + xp.log1p(xp.exp(-xp.abs(x)))


def _log1pexp_vjp(xp, g, out, x):
    return (g * xp.exp(x - out),)  # sigmoid(x) = e^(x - log1pexp(x)); x - out <= 0 never overflows


@pytest.fixture
def log1pexp():
    op = pg.defop("log1pexp", _log1pexp_forward, _log1pexp_vjp)
    yield op
    del RULES["log1pexp"]  # the conformance suite requires a generator for every op of the table


def test_defop_log1pexp_is_a_first_class_op(log1pexp):
    jax = requires_jax()
    import jax.numpy as jnp
    x = np.array([-30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
    out = log1pexp(pg.Value(x))
    assert out.op == "log1pexp" and "log1pexp" in RULES
    def softplus_sum(v):
        return jnp.sum(jax.nn.softplus(v))
    oracle = jax.jit(lambda x: (jax.nn.softplus(x), jax.grad(softplus_sum)(x), jax.hessian(softplus_sum)(x)))
    expected_out, expected_grad, expected_hessian = oracle(jnp.asarray(x))
    np.testing.assert_allclose(to_numpy(out), np.asarray(expected_out), rtol=1e-14)
    assert gradcheck(lambda v: log1pexp(v) * v, x[:5]) < 1e-6  # without 800: its square would swamp the differences
    assert_trees_close(pg.grad(lambda v: pg.sum(log1pexp(v)))(x), expected_grad)
    # its vjp uses only namespace functions, so second derivatives work (create_graph)
    assert_trees_close(pg.hessian(lambda v: pg.sum(log1pexp(v)))(x), expected_hessian)
    with pytest.raises(pg.PolygradError, match="built-in op"):
        pg.defop("exp", _log1pexp_forward, _log1pexp_vjp)


# -- nn.functional_call --------------------------------------------------------------------------------

def test_functional_call_composes_modules_with_transforms():
    rng = np.random.default_rng(8)
    model = pg.nn.MLP([3, 2, 2], activation=pg.tanh, rng=rng)
    x = rng.normal(size=(2, 3))
    params = dict(pg.transforms.named_parameters(model))
    assert list(params) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    before = [p.data for p in model.parameters()]

    def loss(p):
        return pg.mean(pg.nn.functional_call(model, p, pg.Value(x, requires_grad=False)) ** 2)
    got = pg.grad(loss)(params)
    assert all(a is b for a, b in zip(before, [p.data for p in model.parameters()]))  # restored
    assert all(isinstance(g, pg.Value) for g in got.values())
    pg.mean(model(pg.Value(x, requires_grad=False)) ** 2).backward()
    for name, p in params.items():
        np.testing.assert_allclose(to_numpy(got[name]), to_numpy(p.grad), rtol=1e-12)
    # raw arrays as parameters; names left out keep the module's own
    zero_first = {"layers.0.weight": np.zeros((3, 2))}
    out = pg.nn.functional_call(model, zero_first, pg.Value(x, requires_grad=False))
    expected = model.layers[1](pg.tanh(model.layers[0].bias + 0.0 * pg.Value(x[:, :1])))
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12)
    with pytest.raises(pg.PolygradError, match="no parameter or buffer named 'layers.9.weight'"):
        pg.nn.functional_call(model, {"layers.9.weight": np.zeros(1)}, x)


def test_functional_call_replaces_a_tied_parameter_everywhere():
    class Tied(pg.nn.Module):
        def __init__(self):
            self.embed = pg.Value(np.eye(2) * 2.0)
            self.blocks = (self.embed, {"again": self.embed})

        def forward(self, x):
            return x @ self.blocks[0] @ self.blocks[1]["again"]
    model = Tied()
    assert [n for n, _ in pg.transforms.named_parameters(model)] == ["embed"]
    out = pg.nn.functional_call(model, {"embed": np.eye(2) * 3.0}, pg.Value(np.ones((1, 2))))
    np.testing.assert_allclose(to_numpy(out), [[9.0, 9.0]])
    assert model.blocks[1]["again"] is model.embed
