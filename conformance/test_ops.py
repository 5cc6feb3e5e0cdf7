"""Every op of the rules table on the active backend: one test per op, generated from
``polygrad.rules.RULES``, with inputs from conformance/inputs.py. Ops with a gradient get
the three checks (forward, finite differences, JAX); ops without one the forward check.

A row the backend declares as a deviation (backends/<name>.py, ``conformance_deviations``)
is skipped with that reason where it fails, and passes with a note where it does not.
"""
from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

import polygrad as pg
from polygrad.rules import RULES

from . import config, inputs, oracle
from .checks import check_op, declared
from .report import REPORT

OPS = sorted(op for op in RULES if op not in inputs.CHECKED_THROUGH_OTHERS)


@pytest.mark.parametrize("op", [pytest.param(op, marks=pytest.mark.conformance_row(op)) for op in OPS])
@config.hypothesis_settings()
@given(data=st.data())
def test_op(op, data):
    strategy = inputs.generator(op)
    if RULES[op].differentiable:
        oracle.function(op)
    example = data.draw(strategy, label="inputs")
    seed = data.draw(st.integers(0, 2**32 - 1), label="cotangent seed")
    declared(op, lambda: check_op(op, example, seed, REPORT.row(op)))


def test_every_op_has_a_generator_and_an_oracle():
    """Adding an op to rules.py without an input generator (or, with a gradient, a JAX
    function) fails here, naming it."""
    assert not sorted(set(RULES) - set(inputs.GENERATORS) - set(inputs.CHECKED_THROUGH_OTHERS)), \
        "ops without an input generator in conformance/inputs.py"
    assert not sorted(set(oracle.missing()) - set(inputs.CHECKED_THROUGH_OTHERS)), \
        "ops with a gradient but no JAX function in conformance/oracle.py"
    assert not sorted(set(inputs.GENERATORS) - set(RULES)), "generators for ops the rules table does not have"
    assert len(OPS) >= 70  # the table really is being read


def test_every_rule_domain_has_an_element_strategy():
    for op, rule in RULES.items():
        for domain in ((rule.domain,) if isinstance(rule.domain, str) else rule.domain):
            assert domain in inputs.DOMAINS, f"{op}: domain {domain!r} has no strategy in conformance/inputs.py DOMAINS"


def test_declared_deviations_name_report_rows():
    """A deviation declared for a row the suite does not have would hide nothing and mean nothing."""
    known_prefixes = tuple(f"{g}: " for g in ("edge", "error", "model"))
    for row in config.backend_spec().conformance_deviations:
        assert row in RULES or row.startswith(known_prefixes), (
            f"backends/{pg.backend().name}.py declares a conformance deviation for {row!r}, which is "
            "no op of the rules table and no edge/error/model row"
        )
