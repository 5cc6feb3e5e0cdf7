"""Other libraries' array-API code run on Values: the same gradient as JAX's, or a clear error,
never a silent zero.

SciPy (with SCIPY_ARRAY_API=1, which must be set before SciPy is imported: hence a
subprocess) looks up ``xp.special.<name>`` on the namespace of its arguments, so
``scipy.special.erf(value)`` lands in ``pg.special`` and scipy.stats functions built on
those differentiate too. array-api-extra's functions are written against the standard.
scoringrules has its own backend table, not array-API dispatch: through a small adapter
onto polygrad's namespace its CRPS differentiates; given Values on its NumPy backend it
must fail loudly.

Each case runs the same call with JAX arrays (SciPy and array-api-extra dispatch to JAX
too) under ``jax.grad`` as the reference, contracting the output with fixed weights.
A case that fails for want of a feature another branch of issue 10 delivers (item
assignment, ``__array_namespace_info__``) is skipped naming it; it passes once that is in.

Run by hand: ``SCIPY_ARRAY_API=1 python tests/test_third_party.py`` prints the JSON table.
"""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

NEEDS_ITEM_ASSIGNMENT = "item assignment on Values (issue 10 item 6, branch h10b)"
NEEDS_INSPECTION = "__array_namespace_info__ (issue 10 item 2, branch h10a)"
PRIMITIVES = "erf, gamma or Bessel primitives (the array_api_strict backend has none: declared deviation)"


@dataclass
class Case:
    name: str
    call: Callable  # call(lib, *args, on=...) -> output; ``on`` is "polygrad" or "jax"
    inputs: tuple
    needs: str = ""  # a feature of another branch that the case needs, if it fails today
    clear_error: str = ""  # why this call cannot work on Values: it must raise, not return
    primitives: bool = False  # built on special primitives (none on array_api_strict)
    reference: Callable | None = None  # JAX's own function, where the same call cannot run on JAX
    everywhere: bool = False  # run on every backend (the others: on numpy only; see ONLY_ON_NUMPY)


# SciPy's and array-api-extra's dispatch sees polygrad's namespace whatever array library the
# Values hold, and the conformance suite checks pg.special on every backend against JAX: on the
# other backends a few cases show the plumbing, the rest run on numpy (JAX compiles each one).
ONLY_ON_NUMPY = ("checked on the numpy backend: the dispatch does not depend on the backend, and the "
                 "conformance suite checks every pg.special function on this one")


def _libs():
    import array_api_extra as xpx
    import scipy.special as special
    import scipy.stats as stats
    return special, stats, xpx


V = np.array([0.3, -1.2, 2.0, 0.7])
PROB = np.array([0.1, 0.45, 0.8, 0.95])
POS = np.array([0.5, 1.5, 2.25, 4.0])
M = np.array([[0.3, -1.2, 2.0, 0.7], [1.1, 0.4, -0.6, 2.5], [0.0, 1.0, 0.5, -2.0]])


def _special(name: str, *inputs, primitives: bool = True, **kw) -> Case:
    """SciPy's elementwise function; the reference is JAX's of that name (the conformance
    oracle's: SciPy runs the ones JAX lacks, huber or boxcox, through NumPy)."""
    def reference(*arrays):
        from conformance import oracle
        return oracle.function(f"special.{'digamma' if name == 'psi' else name}")(*arrays)
    return Case(f"scipy.special.{name}", lambda lib, *a, on: getattr(lib[0], name)(*a), inputs,
                primitives=primitives, reference=reference, **kw)


def _constant(a: np.ndarray, on: str):
    """A constant argument: a Value that takes no gradient, or a JAX array."""
    if on == "jax":
        return __import__("jax.numpy").numpy.asarray(a)
    import polygrad as pg
    return pg.asarray(a)


def _scoringrules_backend():
    """scoringrules' CRPS formulas on polygrad's namespace: its backends are a table of
    objects with NumPy-like method names (asarray, sqrt, erf, pi...), so a dozen lines suffice."""
    import polygrad as pg

    class PolygradBackend:
        name = "polygrad"
        pi = math.pi

        def asarray(self, obj, /, *, dtype=None):
            return obj if isinstance(obj, pg.Value) else pg.asarray(np.asarray(obj, dtype=np.float64))

        def __getattr__(self, name):
            return getattr(pg.special, name) if name in ("erf", "gamma", "gammainc") else getattr(pg, name)
    return PolygradBackend()


def _crps_normal(lib, mu, sigma, *, on):
    import scoringrules as sr
    if on == "polygrad" and "polygrad" not in sr.backends:
        sr.backends["polygrad"] = _scoringrules_backend()
    return sr.crps_normal(np.array([0.3, -1.0, 2.0]), mu, sigma, backend="polygrad" if on == "polygrad" else "jax")


def _crps_normal_numpy(lib, mu, sigma, *, on):
    import scoringrules as sr
    return sr.crps_normal(np.array([0.3, -1.0, 2.0]), mu, sigma, backend="numpy" if on == "polygrad" else "jax")


CASES = [
    # scipy.special: dispatched to xp.special.<name> (a few of each kind: the conformance suite
    # checks every pg.special function against JAX; these check that SciPy's calls land there)
    _special("erf", V, everywhere=True), _special("ndtr", V), _special("gammaln", POS), _special("psi", POS),
    Case("scipy.special.gammainc (gradient in x)", lambda lib, x, *, on: lib[0].gammainc(_constant(POS, on), x),
         (POS[::-1],), primitives=True, reference=lambda x: __import__("jax").scipy.special.gammainc(POS, x)),
    _special("gammainc", POS, POS[::-1],
             clear_error="gammainc has a gradient in x only: asking for one in a is a GradientError"),
    *(_special(name, V, primitives=False) for name in ("expit", "entr")),
    *(_special(name, POS, POS[::-1], primitives=False) for name in ("xlogy", "rel_entr", "huber", "boxcox")),
    # scipy.special functions SciPy does not dispatch: NumPy ufuncs, which Values refuse
    _special("softplus", V, primitives=False,
             clear_error="SciPy does not dispatch softplus: a NumPy ufunc (use pg.special.softplus)"),
    _special("log_expit", V, primitives=False,
             clear_error="SciPy does not dispatch log_expit: a NumPy ufunc (use pg.special.log_expit)"),
    # scipy.special written with array-API calls
    Case("scipy.special.softmax", lambda lib, x, *, on: lib[0].softmax(x), (V,), everywhere=True),
    Case("scipy.special.logsumexp", lambda lib, x, *, on: lib[0].logsumexp(x), (V,), needs=NEEDS_ITEM_ASSIGNMENT,
         everywhere=True),
    Case("scipy.special.logsumexp(b=)", lambda lib, x, b, *, on: lib[0].logsumexp(x, b=b), (V, POS),
         needs=NEEDS_ITEM_ASSIGNMENT),
    Case("scipy.special.log_softmax", lambda lib, x, *, on: lib[0].log_softmax(x), (V,), needs=NEEDS_ITEM_ASSIGNMENT),
    # scipy.stats, on those
    Case("scipy.stats.entropy", lambda lib, p, q, *, on: lib[1].entropy(p, q), (POS, POS[::-1])),
    Case("scipy.stats.gmean", lambda lib, x, *, on: lib[1].gmean(x), (POS,)),
    Case("scipy.stats.skew", lambda lib, x, *, on: lib[1].skew(x), (V,)),
    Case("scipy.stats.zscore", lambda lib, x, *, on: lib[1].zscore(x), (V,), needs=NEEDS_ITEM_ASSIGNMENT),
    Case("scipy.stats.variation", lambda lib, x, *, on: lib[1].variation(x), (POS,), needs=NEEDS_INSPECTION),
    # array-api-extra
    Case("xpx.cov", lambda lib, m, *, on: lib[2].cov(m), (M,), everywhere=True),
    Case("xpx.sinc", lambda lib, x, *, on: lib[2].sinc(x), (V,)),
    Case("xpx.kron", lambda lib, x, y, *, on: lib[2].kron(x, y), (V, POS)),
    Case("xpx.atleast_nd", lambda lib, x, *, on: lib[2].atleast_nd(x, ndim=3), (V,)),
    Case("xpx.pad", lambda lib, x, *, on: lib[2].pad(x, 2), (V,), needs=NEEDS_ITEM_ASSIGNMENT),
    Case("xpx.create_diagonal", lambda lib, x, *, on: lib[2].create_diagonal(x), (V,), needs=NEEDS_ITEM_ASSIGNMENT),
    Case("xpx.apply_where", lambda lib, x, *, on: lib[2].apply_where(x > 0, x, lambda v: v * v, fill_value=1.0),
         (V,), needs=NEEDS_INSPECTION),
    Case("xpx.at(x)[i].set", lambda lib, x, *, on: lib[2].at(x)[1].set(5.0) * x, (V,), needs=NEEDS_ITEM_ASSIGNMENT,
         everywhere=True),
    Case("xpx.at(x)[i].add", lambda lib, x, *, on: lib[2].at(x)[1:3].add(x[0] * x[:2]), (V,),
         needs=NEEDS_ITEM_ASSIGNMENT),
    # scoringrules
    Case("scoringrules.crps_normal (adapter)", _crps_normal, (V[:3], POS[:3]), primitives=True, everywhere=True),
    Case("scoringrules.crps_normal (its numpy backend)", _crps_normal_numpy, (V[:3], POS[:3]),
         clear_error="scoringrules' numpy backend calls np.asarray and scipy's ufuncs: not array-API dispatch"),
]


def _weights(shape) -> np.ndarray:
    return np.random.default_rng(7).uniform(0.5, 1.5, shape) * np.where(np.arange(math.prod(shape)) % 2, -1, 1).reshape(shape)


def _run_polygrad(case: Case, libs) -> tuple[np.ndarray, list]:
    import polygrad as pg
    leaves = [pg.Value(a) for a in case.inputs]
    out = case.call(libs, *leaves, on="polygrad")
    if not isinstance(out, pg.Value):
        raise TypeError(f"returned {type(out).__name__}, not a Value: the graph was lost")
    pg.sum(out * _weights(out.shape)).backward()
    return out.numpy(), [None if leaf.grad is None else np.asarray(pg.backend().to_numpy(leaf.grad)) for leaf in leaves]


def _run_jax(case: Case, libs) -> tuple[np.ndarray, list]:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    arrays = [jnp.asarray(a) for a in case.inputs]

    def loss(*a):
        out = case.reference(*a) if case.reference else case.call(libs, *a, on="jax")
        return jnp.sum(out * _weights(out.shape)), out
    grads, out = jax.grad(loss, argnums=tuple(range(len(arrays))), has_aux=True)(*arrays)
    return np.asarray(out), [np.asarray(g) for g in grads]


def probe(backend: str) -> dict:
    """Every case: {"status": "ok" | "wrong" | "error" | "no reference", "detail": ...}."""
    libs = _libs()
    results = {}
    for case in CASES:
        if backend != "numpy" and not case.everywhere:
            continue
        try:
            out, grads = _run_polygrad(case, libs)
        except Exception as exc:  # noqa: BLE001 - reported, judged by the test
            results[case.name] = {"status": "error", "detail": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
            continue
        try:
            want_out, want = _run_jax(case, libs)
        except Exception as exc:  # noqa: BLE001 - the test fails on it, naming the case
            results[case.name] = {"status": "no reference", "detail": f"{type(exc).__name__}: {exc}"[:300]}
            continue
        problems = []
        if not np.allclose(out, want_out, rtol=1e-9, atol=1e-12, equal_nan=True):
            problems.append(f"output {out.tolist()} vs JAX {want_out.tolist()}")
        for i, (g, w) in enumerate(zip(grads, want)):
            if g is None or not np.allclose(g, w, rtol=1e-7, atol=1e-10, equal_nan=True):
                problems.append(f"gradient {i}: {None if g is None else g.tolist()} vs JAX {w.tolist()}")
        results[case.name] = {"status": "wrong" if problems else "ok", "detail": "; ".join(problems)}
    return results


# -- the test ---------------------------------------------------------------------------------------

if __name__ != "__main__":
    import pytest

    from conftest import BACKEND, run_python

    import importlib.util
    for module in ("scipy", "array_api_extra", "jax"):  # found, not imported: the probe imports them
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[test]'", allow_module_level=True)

    @pytest.fixture(scope="module")
    def probed() -> dict:
        done = run_python(f"import runpy; runpy.run_path({__file__!r}, run_name='__main__')",
                          SCIPY_ARRAY_API="1", POLYGRAD_BACKEND=BACKEND, POLYGRAD_DTYPE="float64")
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    @pytest.mark.parametrize("name", [case.name for case in CASES])
    def test_same_gradient_as_jax_or_a_clear_error(probed, name):
        case = next(c for c in CASES if c.name == name)
        if name.startswith("scoringrules"):
            pytest.importorskip("scoringrules", reason="scoringrules is not installed")
        if BACKEND != "numpy" and not case.everywhere:
            pytest.skip(ONLY_ON_NUMPY)
        found = probed[name]
        assert found["status"] != "wrong", f"{name}: {found['detail']} (silently wrong gradients)"
        assert found["status"] != "no reference", f"{name}: JAX could not run the reference: {found['detail']}"
        if found["status"] == "ok":
            return
        if case.clear_error:  # must raise, and did
            assert found["detail"].startswith(("TypeError", "ValueError", "Polygrad", "OpError", "DTypeError",
                                               "GradientError")), found
            return
        if case.primitives and BACKEND == "array_api_strict":
            assert "not available on the array_api_strict backend" in found["detail"], found
            pytest.skip(f"needs {PRIMITIVES}")
        if case.needs:
            pytest.skip(f"needs {case.needs}; today: {found['detail']}")
        pytest.fail(f"{name} raised {found['detail']}")


if __name__ == "__main__":
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        sys.exit("set SCIPY_ARRAY_API=1 (before SciPy is imported)")
    try:
        import scoringrules  # noqa: F401
    except ImportError:
        CASES[:] = [c for c in CASES if not c.name.startswith("scoringrules")]
    print(json.dumps(probe(os.environ.get("POLYGRAD_BACKEND", "numpy"))))
