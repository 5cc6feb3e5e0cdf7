"""The suite can fail: rules with planted mistakes must be caught, each a report row.

A copy of a rule's vjp with a 1% error is planted in the rules table; the checks of
conformance/checks.py must reject it on a fixed example, by finite differences and by
JAX where the mistake sits at a smooth point, by JAX alone where it sits at a kink
(which finite differences cannot judge). One more row plants a mistake and runs the op
test itself, Hypothesis and generator included, to show generated inputs expose it.
"""
from __future__ import annotations

import dataclasses
import re

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import Phase, given, settings

import polygrad as pg
from polygrad.rules import RULES
from polygrad.testing import planted_error

from . import config, inputs
from .checks import ConformanceError, check_op, declared
from .inputs import Example
from .report import REPORT, Report


def _relu_kink_wrong(xp, g, out, x):
    """relu'(0) = 1: right everywhere but at the kink (JAX's relu'(0) is 0)."""
    return (g * xp.astype(x >= xp.asarray(0.0, dtype=x.dtype), g.dtype),)


_MAX_VJP = RULES["max"].vjp


def _max_ties_wrong(xp, g, out, x, *, axis=None, keepdims=False):
    """Every tied element gets the whole gradient instead of an equal share."""
    shares = _MAX_VJP(xp, g, out, x, axis=axis, keepdims=keepdims)[0]
    return (xp.astype(shares != xp.asarray(0.0, dtype=shares.dtype), shares.dtype) * xp.max(shares),)


def _exp_forward_wrong(xp, x):
    return xp.exp(x) * xp.asarray(1.01, dtype=x.dtype)


def _irfft_vjp_unweighted(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    """irfft's transpose without the Hermitian weights (2 for the frequencies that stand for
    two): the classic mistake, right at frequency 0 and n/2 only."""
    ct = xp.conj(xp.fft.rfft(g, n=n, axis=axis, norm={"backward": "forward", "forward": "backward"}.get(norm, norm)))
    return (ct,)


X = np.array([[0.5, -1.25, 2.0], [0.0, 1.5, -0.75]])
SYMMETRIC = np.array([[2.0, 0.5, -0.25], [0.5, -1.0, 0.75], [-0.25, 0.75, 0.5]])  # eigenvalues apart
SPECTRUM = np.array([1.0 + 0.5j, -0.5 + 1.0j, 0.25 - 0.75j, 2.0 + 0.0j])

# row -> (op, attribute of the rule to replace, replacement, example, checks that must fail)
PLANTED = {
    "meta: a 1% error in exp's vjp": (
        "exp", "vjp", planted_error(RULES["exp"].vjp, 1.01), Example((X,), {}), {"fd", "jax"}),
    "meta: a 1% error in multiply's vjp of a broadcast input": (
        "multiply", "vjp", planted_error(RULES["multiply"].vjp, 1.01, 0),
        Example((X[:, :1], X), {}), {"fd", "jax"}),
    "meta: a 1% error in sum's vjp over two axes": (
        "sum", "vjp", planted_error(RULES["sum"].vjp, 1.01),
        Example((X[None],), {"axis": (0, 2), "keepdims": True}), {"fd", "jax"}),
    "meta: a 1% error in matmul's vjp of a vector": (
        "matmul", "vjp", planted_error(RULES["matmul"].vjp, 1.01, 1),
        Example((X, X[0]), {}), {"fd", "jax"}),
    # The NumPy reference runs the (planted) rule too: JAX's exp tells the forward is wrong.
    "meta: a 1% error in exp's forward": (
        "exp", "forward", _exp_forward_wrong, Example((X,), {}), {"forward", "jax"}),
    "meta: relu'(0) = 1, wrong at the kink only": (
        "relu", "vjp", _relu_kink_wrong, Example((X,), {}), {"jax"}),
    # a multi-output rule (a tuple of results, signs made unique) and complex cotangents
    "meta: a 1% error in eigh's vjp": (
        "linalg.eigh", "vjp", planted_error(RULES["linalg.eigh"].vjp, 1.01), Example((SYMMETRIC,), {}), {"fd", "jax"}),
    "meta: irfft's vjp without the Hermitian weights": (
        "fft.irfft", "vjp", _irfft_vjp_unweighted, Example((SPECTRUM,), {"n": 6, "axis": -1, "norm": "ortho"}),
        {"fd", "jax"}),
    "meta: max ties not shared": (
        "max", "vjp", _max_ties_wrong, Example((np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]]),),
                                              {"axis": 1, "keepdims": False}), {"jax"}),
}


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.conformance_row(r)) for r in PLANTED])
def test_planted_mistake_is_caught(row, monkeypatch):
    op, attribute, replacement, example, must_fail = PLANTED[row]
    if (any(a.dtype.kind == "c" for a in example.args) and config.dtype_name() == "float64"
            and not hasattr(pg.backend().xp, "complex128")):
        pytest.skip(f"{pg.backend().name} has no complex128 (see its declared deviations); "
                    "this row runs with POLYGRAD_CONFORMANCE_DTYPE=float32")
    check_op(op, example, seed=5, always_jax=True)  # the real rule passes
    monkeypatch.setattr(RULES[op], attribute, replacement)
    with pytest.raises(ConformanceError) as caught:
        check_op(op, example, seed=5, always_jax=True)
    failed = set(re.findall(rf"^{op} (forward|fd|jax):", str(caught.value), flags=re.M))
    assert failed == must_fail, f"{row}: the checks that failed were {sorted(failed)}, expected {sorted(must_fail)}"
    r = REPORT.row(row)
    r.examples += 1
    r.note = f"caught by {', '.join(sorted(failed))}"


GENERATED = "meta: a 1% error in tanh's vjp, found by the generated op test"


@pytest.mark.conformance_row(GENERATED)
def test_generated_inputs_expose_a_planted_mistake(monkeypatch):
    monkeypatch.setattr(RULES["tanh"], "vjp", planted_error(RULES["tanh"].vjp, 1.01))

    # The profile's settings, without shrinking: finding the mistake is what this row checks;
    # shrinking the failing example would recompile JAX's oracle for every smaller shape tried.
    @settings(config.hypothesis_settings(), phases=tuple(p for p in Phase if p != Phase.shrink))
    @given(example=inputs.generator("tanh"), seed=st.integers(0, 2**32 - 1))
    def op_test(example, seed):
        check_op("tanh", example, seed)
    with pytest.raises(ConformanceError, match=r"^tanh (fd|jax):"):
        op_test()
    REPORT.row(GENERATED).examples += 1


DECLARED = "meta: a declared deviation skips its row with the reason"


@pytest.mark.conformance_row(DECLARED)
def test_a_declared_deviation_skips_with_its_reason(monkeypatch):
    """backends/<name>.py declaring a row makes its failure a skip naming the reason; a
    declared row that passes gets a note, so a stale declaration shows in the report."""
    spec = config.backend_spec()
    monkeypatch.setattr(config, "backend_spec", lambda: dataclasses.replace(
        spec, conformance_deviations={"exp": "planted for this test"}))
    example = PLANTED["meta: a 1% error in exp's vjp"][3]
    scratch = Report()  # not the run's report: its exp row is the real one
    declared("exp", lambda: check_op("exp", example, seed=5), scratch)  # passes: noted
    assert scratch.row("exp").note == "declared deviation not observed: planted for this test"
    monkeypatch.setattr(RULES["exp"], "vjp", planted_error(RULES["exp"].vjp, 1.01))
    with pytest.raises(pytest.skip.Exception, match=r"^declared deviation: planted for this test \(here: ConformanceError"):
        declared("exp", lambda: check_op("exp", example, seed=5), scratch)
    REPORT.row(DECLARED).examples += 1


@pytest.mark.backend_independent
def test_the_oracles_result_cache_answers_what_jax_answered_and_only_for_the_same_question(tmp_path, monkeypatch):
    from . import oracle
    monkeypatch.setattr(oracle.RESULTS, "directory", tmp_path)
    x = np.linspace(-2.0, 2.0, 6).reshape(2, 3)
    cot = np.ones((2,))
    computed = oracle.vjp("logsumexp", [x], {"axis": 1, "keepdims": False}, cot, cache_as="logsumexp table")
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("the cached answer was not used")
    monkeypatch.setattr(oracle, "_vjp", must_not_run)
    kept = oracle.vjp("logsumexp", [x], {"axis": 1, "keepdims": False}, cot, cache_as="logsumexp table")
    np.testing.assert_array_equal(kept[0], computed[0])
    np.testing.assert_array_equal(kept[1][0], computed[1][0])
    assert kept[0].dtype == computed[0].dtype == np.float64

    key = oracle.RESULTS.key
    same = key("logsumexp table", True, [x], {"axis": 1, "keepdims": False}, cot)
    nudged = x.copy()
    nudged[0, 0] = np.nextafter(nudged[0, 0], 0.0)
    assert same == key("logsumexp table", True, [x.copy()], {"keepdims": False, "axis": 1}, cot)
    assert len({same,
                key("logsumexp table", True, [nudged], {"axis": 1, "keepdims": False}, cot),
                key("logsumexp table", True, [x.astype(np.float32)], {"axis": 1, "keepdims": False}, cot),
                key("logsumexp table", True, [x], {"axis": 0, "keepdims": False}, cot),
                key("logsumexp table", True, [x], {"axis": 1, "keepdims": True}, cot),
                key("logsumexp table", False, [x], {"axis": 1, "keepdims": False}, cot),
                key("logsumexp tuple", True, [x], {"axis": 1, "keepdims": False}, cot),
                key("logsumexp table", True, [x], {"axis": 1, "keepdims": False}, 2 * cot)}) == 8
    # a function has no fingerprint that holds across processes: never cached
    assert key("logsumexp table", True, [x], {"axis": lambda: 1}, cot) is None
    monkeypatch.setenv(oracle.CACHE_VARIABLE, "0")
    assert oracle.ResultCache().directory is None
