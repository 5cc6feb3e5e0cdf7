"""pg.special (xp.special): SciPy's names and signatures, values against scipy.special,
gradients at the edges against JAX's, higher derivatives, and the errors.

The conformance suite checks every "special.<name>" rule on random inputs three ways; these
tests pin the points where a convention decides (zeros, tails, bounds of the domain) and the
behaviour around the rules (promotion, SciPy's keywords, the backends without primitives).
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from backends import spec
from conftest import BACKEND, requires_jax, run_python, to_numpy

scipy_special = pytest.importorskip("scipy.special", reason="SciPy is not installed (pip install -e '.[special]')")

pytestmark = pytest.mark.usefixtures("float64")

# Functions computed from a backend's primitives (erf, gamma, Bessel): the strict backend has none.
ON_PRIMITIVES = {"erf", "erfc", "erfinv", "erfcx", "ndtr", "log_ndtr", "ndtri", "gammaln", "gamma",
                 "digamma", "psi", "polygamma", "betaln", "gammainc", "gammaincc", "i0e", "i1e"}
HAS_PRIMITIVES = BACKEND != "array_api_strict"
needs_primitives = pytest.mark.skipif(
    not HAS_PRIMITIVES, reason=f"declared deviation: {spec(BACKEND).deviations.get('special functions on primitives')}")

# Four elements everywhere: on jax every new (primitive, shape) is an XLA compilation.
X = np.array([-2.5, -0.5, 0.0, 3.0])
P = np.array([0.03125, 0.25, 0.5, 0.875])
POS = np.array([0.25, 1.0, 2.5, 4.0])

UNARY = {  # name -> inputs
    "erf": X, "erfc": X, "erfinv": np.array([-0.875, 0.0, 0.5, 0.75]), "erfcx": X, "ndtr": X,
    "log_ndtr": np.array([-40.0, -5.0, 3.0, 12.0]), "ndtri": P, "gammaln": POS, "gamma": POS,
    "digamma": POS, "psi": POS, "i0e": X, "i1e": X, "expit": X, "logit": P, "log_expit": X,
    "softplus": np.array([-40.0, 0.0, 1.0, 40.0]), "entr": np.array([-1.0, 0.0, 0.5, 2.0]),
    "sinc": X, "cbrt": np.array([-8.0, -0.5, 0.0, 27.0]),
}
BINARY = {
    "betaln": (POS, POS[::-1]), "gammainc": (POS, POS[::-1]), "gammaincc": (POS, POS[::-1]),
    "xlogy": (np.array([0.0, 0.0, 2.0, -1.0]), np.array([0.0, 2.0, 3.0, 0.5])),
    "xlog1py": (np.array([0.0, 1.0, 2.0, 0.0]), np.array([-1.0, 0.5, 3.0, 2.0])),
    "rel_entr": (np.array([0.0, 1.0, 2.0, -1.0]), np.array([0.0, 0.0, 0.5, 1.0])),
    "kl_div": (np.array([0.0, 1.0, 2.0, -1.0]), np.array([0.0, 0.0, 0.5, 1.0])),
    "huber": (np.array([-1.0, 0.0, 1.0, 2.0]), np.array([1.0, 2.0, 0.5, -3.0])),
    "pseudo_huber": (np.array([-1.0, 0.0, 1.0, 1.0]), np.array([1.0, 2.0, 0.0, -3.0])),
    "boxcox": (np.array([0.5, 2.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.5, -2.0])),
}


def leaf(a):
    return pg.Value(np.asarray(a, dtype=np.float64))


def skip_without_primitives(name):
    if name in ON_PRIMITIVES and not HAS_PRIMITIVES:
        pytest.skip(f"declared deviation: {spec(BACKEND).deviations['special functions on primitives']}")


def test_the_namespace_has_scipys_names():
    names = set(UNARY) | set(BINARY) | {"polygamma", "logsumexp", "softmax", "log_softmax"}
    assert pg.special is pg.namespace.special
    assert pg.Value(np.ones(2)).__array_namespace__().special is pg.special
    assert names <= set(pg.special.__all__)
    assert pg.special.psi is pg.special.digamma
    missing = [n for n in names if not hasattr(scipy_special, n)]
    assert not missing, f"not SciPy's names: {missing}"


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_match_scipy(name):
    skip_without_primitives(name)
    x = UNARY[name]
    with np.errstate(all="ignore"):
        want = getattr(scipy_special, name)(x)
    np.testing.assert_allclose(to_numpy(getattr(pg.special, name)(leaf(x))), want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_values_match_scipy(name):
    skip_without_primitives(name)
    a, b = BINARY[name]
    with np.errstate(all="ignore"):
        want = getattr(scipy_special, name)(a, b)
    np.testing.assert_allclose(to_numpy(getattr(pg.special, name)(leaf(a), leaf(b))), want, rtol=1e-12)


# -- gradients where a convention decides, against JAX ---------------------------------------------

def jax_reference(name):
    jax = requires_jax()
    import jax.numpy as jnp
    import jax.scipy.special as jsp
    from conformance import oracle
    found = oracle.function(f"special.{name}")
    return jax, jnp, found if name != "psi" else jsp.digamma


def assert_same(got, want):
    np.testing.assert_allclose(to_numpy(got), np.asarray(want, dtype=np.float64), rtol=1e-9, atol=1e-12)


# Where the conformance suite's inputs do not reach: the ends of the domains, far tails,
# y == 0 in xlogy, delta <= 0 in huber and pseudo_huber. (Zeros and negative inputs of
# entr, sinc, cbrt, i1e, rel_entr, kl_div, boxcox... are common in its inputs.)
UNARY_EDGES = {"logit": [0.0, 0.25, 0.5, 1.0], "erfinv": [-1.0, 0.0, 0.5, 1.0], "log_ndtr": UNARY["log_ndtr"]}
BINARY_EDGES = {
    "xlogy": ([0.0, 2.0, 0.0, 1.0], [0.0, 0.0, 3.0, 2.0]),
    "huber": ([-1.0, 0.0, 0.0, 1.0], [1.0, 2.0, 0.0, 1.0]),
    "pseudo_huber": ([-1.0, 0.0, 0.0, 1.0], [1.0, 2.0, 0.0, 1.0]),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(0) and 1/0 at the edges, on purpose
@pytest.mark.parametrize("name", sorted(UNARY_EDGES) + sorted(BINARY_EDGES))
def test_gradients_at_the_edges_match_jax(name):
    skip_without_primitives(name)
    jax, jnp, reference = jax_reference(name)
    args = (UNARY_EDGES[name],) if name in UNARY_EDGES else BINARY_EDGES[name]
    leaves = [leaf(a) for a in args]
    getattr(pg.special, name)(*leaves).sum().backward()
    want = jax.grad(lambda *a: reference(*a).sum(), argnums=tuple(range(len(args))))(*map(jnp.asarray, args))
    for got, expected in zip(leaves, want):
        assert_same(got.grad, expected)


def test_boxcox_gradient_in_lmbda_at_zero_is_the_limit_not_jaxs_zero():
    """JAX's boxcox gives 0 there; the derivative is log(x)**2 / 2 (central differences agree)."""
    x, h = POS, 1e-5
    value = leaf(np.zeros(4))
    pg.special.boxcox(leaf(x), value).sum().backward()
    central = (scipy_special.boxcox(x, h) - scipy_special.boxcox(x, -h)) / (2 * h)
    np.testing.assert_allclose(to_numpy(value.grad), np.log(x) ** 2 / 2, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(value.grad), central, rtol=1e-8, atol=1e-12)


@needs_primitives
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ndtri_gradient_at_zero_and_one_is_inf_not_jaxs_zero():
    """ndtri'(p) = sqrt(2 pi) exp(ndtri(p)**2 / 2) grows without bound at 0 and 1 (as erfinv's and
    logit's, where JAX agrees); JAX's ndtri gives 0 there, an artifact of its branch masks."""
    value = leaf([0.0, 0.5, 0.5, 1.0])
    pg.special.ndtri(value).sum().backward()
    np.testing.assert_allclose(to_numpy(value.grad), [np.inf, np.sqrt(2 * np.pi), np.sqrt(2 * np.pi), np.inf])


@needs_primitives
def test_gammainc_has_a_gradient_in_x_and_refuses_one_in_a():
    a, x = leaf(POS), leaf(POS[::-1])
    pg.special.gammainc(pg.stop_gradient(a), x).sum().backward()
    density = np.exp((POS - 1) * np.log(POS[::-1]) - POS[::-1]) / scipy_special.gamma(POS)
    np.testing.assert_allclose(to_numpy(x.grad), density, rtol=1e-12)
    with pytest.raises(pg.GradientError, match=r"special.gammaincc\(a, x\) has a gradient in x only"):
        pg.special.gammaincc(a, x).sum().backward()


@needs_primitives
def test_higher_derivatives_go_through_polygamma():
    x = POS
    second = pg.grad(lambda v: pg.grad(lambda w: pg.special.gammaln(w).sum())(v).sum())(leaf(x))
    np.testing.assert_allclose(to_numpy(second), scipy_special.polygamma(1, x), rtol=1e-10)
    third = pg.grad(lambda v: pg.grad(lambda w: pg.special.digamma(w).sum())(v).sum())(leaf(x))
    np.testing.assert_allclose(to_numpy(third), scipy_special.polygamma(2, x), rtol=1e-10)
    erf2 = pg.grad(lambda v: pg.grad(lambda w: pg.special.erf(w).sum())(v).sum())(leaf(x))
    np.testing.assert_allclose(to_numpy(erf2), -4 * x / np.sqrt(np.pi) * np.exp(-x * x), rtol=1e-10)


@needs_primitives
def test_polygamma_takes_one_integer_order():
    x = leaf(POS)
    for n in (2, np.int64(2), np.array(2)):
        np.testing.assert_allclose(to_numpy(pg.special.polygamma(n, x)), scipy_special.polygamma(2, POS))
    with pytest.raises(pg.OpError, match="one non-negative integer"):
        pg.special.polygamma(np.array([1, 2]), x)
    with pytest.raises(pg.OpError, match="non-negative"):
        pg.special.polygamma(-1, x)


# -- SciPy's reductions ------------------------------------------------------------------------------

def test_logsumexp_takes_scipys_weights_and_sign():
    a = np.array([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.5]])
    b = np.array([1.0, -2.0, 0.5, 0.25])
    value, weights = leaf(a), leaf(b)
    out, sign = pg.special.logsumexp(value, axis=1, b=weights, return_sign=True)
    want, want_sign = scipy_special.logsumexp(a, axis=1, b=b, return_sign=True)
    assert_same(out, want)
    assert_same(sign, want_sign)
    assert sign.requires_grad is False
    out.sum().backward()
    total = (b * np.exp(a)).sum(axis=1, keepdims=True)  # d log|total| = d total / total
    assert_same(value.grad, b * np.exp(a) / total)
    assert_same(weights.grad, (np.exp(a) / total).sum(axis=0))
    assert_same(pg.special.logsumexp(leaf(a)), scipy_special.logsumexp(a))


def test_softmax_defaults_to_every_axis_as_scipy():
    a = np.array([[0.5, -1.0, 2.0, 0.0], [1.0, 1.0, -3.0, 0.5]])
    assert_same(pg.special.softmax(leaf(a)), scipy_special.softmax(a))
    assert_same(pg.special.log_softmax(leaf(a), axis=0), scipy_special.log_softmax(a, axis=0))


# -- dtypes, imports and the backends without primitives ---------------------------------------------

def test_integer_arguments_are_promoted_to_the_default_float():
    out = pg.special.expit(pg.asarray(np.array([0, 1, 2, 3])))
    assert out.dtype == pg.default_dtype()
    assert_same(out, scipy_special.expit([0, 1, 2, 3]))


def test_strict_backend_names_what_it_lacks():
    with pg.use_backend("array_api_strict"):
        assert_same(pg.special.expit(leaf([0.0])), [0.5])  # built from standard functions: runs
        with pytest.raises(pg.OpError, match="erfc is not available on the array_api_strict backend"):
            pg.special.ndtr(leaf([0.0]))


def test_import_polygrad_imports_no_scipy():
    done = run_python("import sys, polygrad; assert 'scipy' not in sys.modules, 'scipy imported'; "
                      "polygrad.special.expit(polygrad.Value([0.0])); assert 'scipy' not in sys.modules")
    assert done.returncode == 0, done.stderr
