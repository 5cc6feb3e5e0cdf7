"""pytest glue of the conformance suite: the report's rows follow the tests' outcomes, the
table is printed at the end of every run, and written under conformance/reports/ when
asked (--conformance-report or POLYGRAD_CONFORMANCE_REPORT=1; the nox session asks).

A test feeds a row through the marker ``conformance_row(name)``; its outcome (pass, fail,
skipped with the skip's reason) becomes the row's status.
"""
from __future__ import annotations

import pytest

import polygrad as pg

from . import config as suite
from .report import REPORT, meta, terminal_lines, write


def pytest_addoption(parser):
    group = parser.getgroup("polygrad conformance")
    group.addoption("--conformance-report", action="store_true", default=False,
                    help="write conformance/reports/<backend>.md and .json at the end of the run")


def pytest_configure(config):
    config.addinivalue_line("markers", "conformance_row(name): the conformance report row this test feeds")
    if config.getoption("conformance_report", False):
        suite.Run.write_report = True
    suite.Run.pytest_profile = config.getoption("hypothesis_profile", None)


@pytest.fixture(autouse=True, scope="package")
def _conformance_settings():
    """The suite's default float dtype (for numbers and nn weights), restored afterwards."""
    previous = pg.default_dtype()
    pg.set_default_dtype(suite.dtype_name())
    yield
    for name in ("float32", "float64"):
        if pg.backend().dtype(name) == previous:
            pg.set_default_dtype(name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    result = yield
    marker = item.get_closest_marker("conformance_row")
    if marker is None:
        return result
    row = REPORT.row(marker.args[0])
    if result.skipped:
        reason = result.longrepr[2] if isinstance(result.longrepr, tuple) else str(result.longrepr)
        row.outcome("skipped", reason.removeprefix("Skipped: "))
    elif result.failed:
        row.outcome("fail", _first_line(result))
    elif result.when == "call":
        row.outcome("pass")
    return result


def _first_line(result) -> str:
    crash = getattr(result.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(result.longrepr)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("AssertionError", "Falsifying", "E ")):
            return line[:300]
    return text.strip().splitlines()[0][:300] if text.strip() else "failed"


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest's signature
    if not REPORT.rows:
        return
    run = _meta(config)
    terminalreporter.section("polygrad conformance")
    for line in terminal_lines(run, REPORT, terminalreporter._tw.fullwidth):
        terminalreporter.write_line(line)
    if suite.Run.write_report:
        for path in write(run, REPORT, suite.REPORTS):
            terminalreporter.write_line(f"wrote {path.relative_to(suite.ROOT)}")


def _meta(config) -> dict:
    profile = suite.profile_name()
    args = " ".join(config.invocation_params.args)
    return meta(
        pg.backend(), suite.backend_spec(), profile, suite.hypothesis_settings().max_examples,
        suite.jax_examples(), suite.dtype_name(), suite.tolerance(suite.dtype_name()),
        f"POLYGRAD_BACKEND={pg.backend().name} {suite.PROFILE_VARIABLE}={profile} python -m pytest {args}".strip(),
    )
