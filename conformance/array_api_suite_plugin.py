"""A pytest plugin for runs of the standard's suite (data-apis/array-api-tests), loaded
with ``-p conformance.array_api_suite_plugin`` by conformance/array_api_suite.py.

It does two things the suite does not:

- turns off Hypothesis shrinking (and its example database): shrinking does not change
  which tests pass, and with many failures it takes a whole-suite run from about a minute
  to more than twenty;
- records every case's outcome, and every collection error, in the JSON file named by
  ``POLYGRAD_SUITE_RESULTS``: {nodeid: [outcome, first line of the failure]}.
"""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import Phase, settings

_RESULTS: dict[str, list] = {}
_PROFILE = "polygrad-array-api-suite"


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # trylast: after the suite's conftest has registered and loaded its own profile
    # (max_examples, derandomize, deadline from the command line), which this one extends.
    settings.register_profile(
        _PROFILE, parent=settings.default,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target], database=None,
    )
    settings.load_profile(_PROFILE)


def _first_line(report) -> str:
    text = getattr(report, "longreprtext", "") or ""
    for line in text.splitlines():  # pytest marks the raising line of the error with "E "
        if line.startswith("E "):
            return line[1:].strip()[:300]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if report.when == "setup" and not report.passed:
        _RESULTS[nodeid] = ["skipped" if report.skipped else "error", _skip_reason(report) or _first_line(report)]
    elif report.when == "call":
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        else:
            outcome = report.outcome
        _RESULTS[nodeid] = [outcome, _skip_reason(report) if report.skipped else _first_line(report)]
    elif report.when == "teardown" and report.failed and nodeid in _RESULTS and _RESULTS[nodeid][0] == "passed":
        _RESULTS[nodeid] = ["error", _first_line(report)]


def _skip_reason(report) -> str:
    if report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        return str(report.longrepr[2])[:300]
    return ""


def pytest_collectreport(report):
    if report.failed:
        _RESULTS[f"{report.nodeid} (collection)"] = ["collection error", _first_line(report)]


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("POLYGRAD_SUITE_RESULTS")
    if path:
        with open(path, "w") as f:
            json.dump(_RESULTS, f, indent=0, sort_keys=True)
