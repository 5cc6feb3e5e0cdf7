"""Numerical edge cases on the active backend, each a report row: large inputs to the
softmax family, overflow, nan propagation, ties and kinks. Every case runs the three
checks of conformance/checks.py with the JAX oracle always on, so infinities and nans
must sit where JAX puts them (inf stays inf, never nan; nan where JAX gives nan).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import polygrad as pg

from . import config
from .checks import check_op, declared, errors, on_backend, quiet, to_host
from .inputs import Example
from .oracle import jax_modules
from .report import REPORT

NAN, INF = math.nan, math.inf

LARGE = np.array([[1e4, 1e4 - 1, -1e4, 0.0], [-1e4, -1e4, -1e4 + 2, -1e4 + 0.5]])

# row -> (op, arrays, attrs, every output and gradient must be finite)
EDGES = {
    "edge: softmax 1e4": ("softmax", [LARGE], {"axis": -1}, True),
    "edge: softmax 1e4 along axis 0": ("softmax", [LARGE], {"axis": 0}, True),
    "edge: log_softmax 1e4": ("log_softmax", [LARGE], {"axis": -1}, True),
    "edge: logsumexp 1e4": ("logsumexp", [LARGE], {"axis": -1, "keepdims": False}, True),
    "edge: logsumexp 1e4 all axes": ("logsumexp", [LARGE], {"axis": None, "keepdims": True}, True),
    "edge: softmax_cross_entropy 1e4": ("softmax_cross_entropy", [LARGE, np.array([1, 3])], {}, True),
    "edge: softmax_cross_entropy, -inf off the label": (
        "softmax_cross_entropy", [np.array([[0.0, -INF, 1.0], [-INF, 2.0, -INF]]), np.array([2, 1])], {}, True),
    "edge: softmax with -inf (masked)": ("softmax", [np.array([[0.0, -INF, 1.0], [-INF, 2.0, -INF]])], {"axis": -1}, False),
    "edge: softmax over an empty axis": ("softmax", [np.zeros((2, 0))], {"axis": -1}, True),
    "edge: logsumexp over an empty axis": ("logsumexp", [np.zeros((2, 0))], {"axis": -1, "keepdims": False}, False),
    "edge: exp overflow": ("exp", [np.array([1000.0, 0.0, -1000.0])], {}, False),
    "edge: expm1 overflow": ("expm1", [np.array([1000.0, 0.0, -1000.0])], {}, False),
    "edge: sigmoid saturation": ("sigmoid", [np.array([1000.0, -1000.0, 40.0, -40.0])], {}, True),
    "edge: tanh saturation": ("tanh", [np.array([1000.0, -1000.0, 40.0])], {}, True),
    "edge: max ties": ("max", [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], {"axis": 1, "keepdims": False}, True),
    "edge: max ties, all axes": ("max", [np.array([[1.0, 3.0], [3.0, 3.0]])], {"axis": None, "keepdims": False}, True),
    "edge: min ties keepdims": ("min", [np.array([[1.0, 1.0], [0.0, 2.0]])], {"axis": 1, "keepdims": True}, True),
    "edge: maximum ties": ("maximum", [np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0])], {}, True),
    "edge: minimum ties": ("minimum", [np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 5.0])], {}, True),
    "edge: clip at its bounds": ("clip", [np.array([-1.0, 0.0, 1.0, 2.0, -2.0])], {"min": -1.0, "max": 1.0}, True),
    "edge: clip with min == max": ("clip", [np.array([-1.0, 0.0, 1.0])], {"min": 0.0, "max": 0.0}, True),
    "edge: relu at 0": ("relu", [np.array([0.0, -0.0, -1.0, 2.0])], {}, True),
    "edge: abs at 0 and -0": ("abs", [np.array([0.0, -0.0, -1.5, 2.0])], {}, True),
    "edge: sign at 0": ("sign", [np.array([0.0, -1.5, 2.0])], {}, True),
    "edge: sqrt at 0": ("sqrt", [np.array([0.0, 4.0])], {}, False),
    "edge: log at 0": ("log", [np.array([0.0, 1.0])], {}, False),
    "edge: std of a constant": ("std", [np.array([[1.0, 1.0], [0.0, 2.0]])], {"axis": 1, "keepdims": False}, False),
    "edge: var with N == correction": ("var", [np.array([[1.0], [2.0]])], {"axis": 1, "correction": 1, "keepdims": False}, False),
    "edge: prod with zeros": ("prod", [np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0]])], {"axis": 1, "keepdims": False}, True),
    "edge: x ** y at x = 0": ("pow", [np.zeros(3), np.array([2.0, 1.0, 0.5])], {}, False),
    "edge: divide by 0": ("divide", [np.array([1.0, -1.0, 0.0]), np.zeros(3)], {}, False),
}

# nan in one element of the input: it must stay in its output elements and gradients, as in JAX.
NAN_INPUT = np.array([[0.5, NAN, -1.0], [2.0, 0.0, 1.5]])
NAN_CASES = {
    "exp": [NAN_INPUT], "tanh": [NAN_INPUT], "sigmoid": [NAN_INPUT], "relu": [NAN_INPUT],
    "abs": [NAN_INPUT], "sum": [NAN_INPUT], "max": [NAN_INPUT], "softmax": [NAN_INPUT],
    "logsumexp": [NAN_INPUT], "matmul": [NAN_INPUT, np.ones((3, 2))],
    "maximum": [NAN_INPUT, np.zeros(3)], "clip": [NAN_INPUT],
}
NAN_ATTRS = {"sum": {"axis": 1, "keepdims": False}, "max": {"axis": 1, "keepdims": False},
             "softmax": {"axis": -1}, "logsumexp": {"axis": 1, "keepdims": False},
             "clip": {"min": -0.5, "max": 1.0}}
for op, arrays in NAN_CASES.items():
    EDGES[f"edge: nan through {op}"] = (op, arrays, NAN_ATTRS.get(op, {}), False)


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.conformance_row(r)) for r in EDGES])
def test_edge(row):
    op, arrays, attrs, finite = EDGES[row]

    def check():
        checked = check_op(op, Example(tuple(arrays), attrs), seed=7, row=REPORT.row(row), always_jax=True)
        if finite:
            for name, value in [("output", to_host(checked.out)), *((f"gradient {i}", g) for i, g in checked.grads.items())]:
                assert np.all(np.isfinite(value)), f"{row}: {name} is not finite: {value}"
    declared(row, check)


X_POW_0 = "edge: x ** 0 at x = 0"


@pytest.mark.conformance_row(X_POW_0)
def test_x_to_the_zero_at_zero():
    """polygrad's pow has one rule for x ** 0 and for x ** y with y an array equal to 0: d/dx
    is 0 (x ** 0 is constant), as for JAX's x ** 0 (lax.integer_pow). JAX's general
    jnp.power(x, y) gives nan at x = 0, y = 0; polygrad deliberately does not follow it."""
    jax, jnp = jax_modules()
    row = REPORT.row(X_POW_0)
    row.note = "d/dx at x = 0: polygrad 0, as JAX's x ** 0; JAX's jnp.power(x, y) with an array y == 0 gives nan"
    x = np.array([0.0, 2.0, -1.5])

    def check():
        dtype = config.dtype_name()
        base = pg.Value(on_backend(x, "c", dtype), dtype=pg.backend().dtype(dtype))
        exponent = pg.Value(on_backend(np.zeros(3), "c", dtype), dtype=pg.backend().dtype(dtype), requires_grad=False)
        with quiet():
            pg.sum(base ** exponent).backward()
        expected = np.asarray(jax.grad(lambda v: jnp.sum(v ** 0))(jnp.asarray(x)))
        row.examples += 1
        row.jax_examples += 1
        err = float(errors(to_host(base.grad), expected).max())
        row.record("jax", err)
        assert err == 0, f"{X_POW_0}: polygrad {to_host(base.grad)}, JAX's x ** 0 {expected}"
    declared(X_POW_0, check)


MASK = "edge: x[mask], through polygrad's indexing"


@pytest.mark.conformance_row(MASK)
def test_boolean_mask_indexing():
    """x[mask] as users write it: the getitem rule where the backend indexes by masks, take
    at the mask's positions where it cannot (MLX). The gradient scatters back either way."""
    jax, jnp = jax_modules()
    row = REPORT.row(MASK)
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]])
    mask = np.array([[True, False, True], [False, False, True]])
    cot = np.array([1.5, -0.5, 2.0])

    def check():
        dtype = config.dtype_name()
        leaf = pg.Value(on_backend(x, "c", dtype), dtype=pg.backend().dtype(dtype))
        picked = leaf[mask]
        with quiet():
            pg.sum(picked * pg.Value(cot, dtype=dtype)).backward()
        want_out, pullback = jax.vjp(lambda v: v[mask], jnp.asarray(x))
        (want_grad,) = pullback(jnp.asarray(cot))
        row.examples += 1
        row.jax_examples += 1
        row.record("forward", float(errors(to_host(picked), np.asarray(want_out)).max()))
        row.record("jax", float(errors(to_host(leaf.grad), np.asarray(want_grad)).max()))
        assert row.worst["forward"] == 0 and row.worst["jax"] == 0, (
            f"{MASK}: polygrad {to_host(picked)} / {to_host(leaf.grad)}, JAX {want_out} / {want_grad}")
    declared(MASK, check)
