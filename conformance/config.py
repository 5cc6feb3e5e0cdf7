"""What one conformance run checks: the backend, its spec, the dtype, the tolerances and
the Hypothesis profile. Read once per use, from the environment and the active backend.

Environment:
  POLYGRAD_BACKEND                the backend under test (polygrad's own setting)
  POLYGRAD_CONFORMANCE            Hypothesis profile: "ci" (default) or "thorough"
  POLYGRAD_CONFORMANCE_DTYPE      float32 or float64; default float64 where the backend's
                                  spec lists it, else float32
  POLYGRAD_CONFORMANCE_REPORT     1: write conformance/reports/<backend>.{md,json}
                                  (the same as pytest's --conformance-report)
"""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

import polygrad as pg
from backends import BackendSpec, spec

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "conformance" / "reports"

PROFILE_VARIABLE = "POLYGRAD_CONFORMANCE"
DTYPE_VARIABLE = "POLYGRAD_CONFORMANCE_DTYPE"
REPORT_VARIABLE = "POLYGRAD_CONFORMANCE_REPORT"

# Finite differences of a float64 function with a step of 1e-6 resolve a derivative to
# about 1e-7..1e-6 (truncation h**2 f''' and rounding 1e-16 f / h); no backend can be
# checked against them more tightly than this floor.
FD_TOLERANCE_FLOOR = 1e-6

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

# ci: small, derandomized (the same examples every run), no database, no deadline: the
# suite runs inside the normal test command on every backend. thorough: many random
# examples, failures saved under .hypothesis/ (git ignores it) and replayed first.
settings.register_profile(
    "ci", max_examples=12, derandomize=True, database=None, deadline=None,
    suppress_health_check=_HEALTH, print_blob=False,
)
settings.register_profile(
    "thorough", max_examples=200, derandomize=False, deadline=None,
    database=DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "conformance")),
    suppress_health_check=_HEALTH, print_blob=True,
)
PROFILES = ("ci", "thorough")
# The JAX oracle compiles one XLA program per op, attributes and shapes (~0.1 s each on
# a small CPU). It checks every example where finite differences do not confirm every
# element (a kink, a gradient that is not finite, a disagreement), and the first
# JAX_EXAMPLES examples of each op besides: elsewhere both references agree.
JAX_EXAMPLES = {"ci": 4, "thorough": 20}
# XLA takes 1-3 s to compile the pullback of a decomposition (svd, eigh, qr...) per shape
# on this project's 2-core VM, 10x an elementwise op's: in ci the linalg rows check their
# first example against JAX (and, as every row, each example finite differences do not
# confirm); their gradients are smooth on the well-conditioned inputs drawn for them.
JAX_EXAMPLES_LINALG_CI = 1


class Run:
    """What the command line adds (conftest.py sets these): --conformance-report, and
    pytest's --hypothesis-profile, used where POLYGRAD_CONFORMANCE is not set."""
    write_report = os.environ.get(REPORT_VARIABLE, "").strip() not in ("", "0")
    pytest_profile: str | None = None


def profile_name() -> str:
    """POLYGRAD_CONFORMANCE, else pytest's --hypothesis-profile if it is one of ours, else ci."""
    chosen = os.environ.get(PROFILE_VARIABLE, "").strip()
    if chosen and chosen not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE}={chosen!r}: use one of {', '.join(PROFILES)}")
    return chosen or (Run.pytest_profile if Run.pytest_profile in PROFILES else "ci")


def hypothesis_settings() -> settings:
    """The active profile, as a decorator for the suite's @given tests (in ci, with the
    backend's conformance_ci_examples where its spec declares one)."""
    profile = settings.get_profile(profile_name())
    fewer = backend_spec().conformance_ci_examples if profile_name() == "ci" else None
    return settings(profile, max_examples=fewer) if fewer else settings(profile)


def jax_examples(op: str | None = None) -> int:
    """How many examples of each op (of ``op``) the JAX oracle checks at least."""
    if op is not None and op.startswith("linalg.") and profile_name() == "ci":
        return JAX_EXAMPLES_LINALG_CI
    return JAX_EXAMPLES[profile_name()]


def backend_spec() -> BackendSpec:
    name = pg.backend().name
    try:
        return spec(name)
    except ModuleNotFoundError as exc:
        raise LookupError(f"backend {name!r} has no spec in backends/ ({exc}): add backends/{name}.py") from exc


def dtype_name() -> str:
    """The float dtype the checks run in."""
    chosen = os.environ.get(DTYPE_VARIABLE, "").strip()
    supported = backend_spec().dtypes
    if chosen:
        if chosen not in supported:
            raise ValueError(f"{DTYPE_VARIABLE}={chosen!r}: {pg.backend().name} supports {', '.join(supported)}")
        return chosen
    return "float64" if "float64" in supported else "float32"


def tolerance(*dtype_names: str) -> float:
    """The backend's declared tolerance for the least precise of ``dtype_names``."""
    declared = backend_spec()
    return declared.float32_tolerance if "float32" in dtype_names else declared.float64_tolerance


def deviation(row: str) -> str | None:
    """The backend's declared reason why report row ``row`` may fail, or None."""
    return backend_spec().conformance_deviations.get(row)
