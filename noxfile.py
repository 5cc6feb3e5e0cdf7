"""Per-backend sessions. `nox -l` lists them.

    nox -s tests                       # every backend this machine can run
    nox -s "tests(backend='numpy')"
    nox -s "conformance(backend='numpy')"   # writes conformance/reports/numpy.md
    nox -s "bench(backend='numpy')"
    nox -s "array_api_tests(backend='numpy')"   # the standard's suite: polygrad vs the backend's namespace
    nox -s demo
"""
from __future__ import annotations

import sys

import nox

sys.path.insert(0, ".")
from backends import NAMES, spec  # noqa: E402

nox.options.sessions = ["tests", "demo"]
PLATFORM = "darwin" if sys.platform == "darwin" else "linux"


def _install(session: nox.Session, backend: str, extras: str = "test") -> None:
    missing = spec(backend).hardware()
    if missing:
        session.skip(f"{backend} cannot run here: {missing}")
    session.install("-e", f".[{extras}]", *spec(backend).requirements_for(PLATFORM))
    reason = session.run("python", "-c", f"from backends import spec; print(spec({backend!r}).probe() or '')",
                         silent=True, env={"PYTHONPATH": "."})
    if reason and reason.strip():
        session.skip(f"{backend} cannot run here: {reason.strip()}")


@nox.session
@nox.parametrize("backend", list(NAMES))
def tests(session: nox.Session, backend: str) -> None:
    """The unit tests on one backend."""
    _install(session, backend)
    session.run("python", "-m", "pytest", *session.posargs, env={"POLYGRAD_BACKEND": backend})


@nox.session
@nox.parametrize("backend", list(NAMES))
def conformance(session: nox.Session, backend: str) -> None:
    """Every op vs finite differences and JAX; writes conformance/reports/<backend>.md, .json.

    The thorough Hypothesis profile; see conformance/README.md.
    """
    _install(session, backend)
    session.run("python", "-m", "pytest", "conformance", "--conformance-report", *session.posargs,
                env={"POLYGRAD_BACKEND": backend, "POLYGRAD_CONFORMANCE": "thorough"})


@nox.session
@nox.parametrize("backend", list(NAMES))
def bench(session: nox.Session, backend: str) -> None:
    """polygrad / hand-written time ratios; JSON and PNG plots under benchmarks/results/.

    Run it with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (they slow NumPy's BLAS):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nox -s "bench(backend='numpy')"
    """
    _install(session, backend, extras="test,plots")
    where = "gpu" if backend == "cupy" else "cpu"  # benchmarks/gpu_check.sh names the GPU itself
    session.run("python", "-m", "benchmarks.run", "--out", f"benchmarks/results/{backend}-{where}.json",
                *session.posargs, env={"POLYGRAD_BACKEND": backend})
    session.run("python", "-m", "benchmarks.loss_curves", "--out", f"benchmarks/results/loss-curves-{backend}-{where}.json",
                env={"POLYGRAD_BACKEND": backend})
    if backend == "dask":  # in memory vs numpy, and out of core as the data outgrows the workers
        session.run("python", "-m", "benchmarks.dask_out_of_core", "--out", "benchmarks/results/dask-out-of-core.json")
    session.run("python", "-m", "benchmarks.plot")  # PNGs of the ratios and loss curves next to the JSON


@nox.session
@nox.parametrize("backend", list(NAMES))
def array_api_tests(session: nox.Session, backend: str) -> None:
    """data-apis/array-api-tests against polygrad.namespace and the backend's own namespace;
    writes conformance/reports/array-api-tests-<backend>.md, .json.

    The suite is not vendored: ARRAY_API_TESTS_DIR, else ../shared/array-api-tests next to the
    checkout; the session skips, saying so, where neither exists. Extra arguments go to pytest
    (after --), e.g. nox -s "array_api_tests(backend='numpy')" -- -k test_abs.
    """
    from conformance.array_api_suite import suite_dir  # the script's own lookup (imports no polygrad)

    found, reason = suite_dir()
    if found is None:
        session.skip(reason)
    _install(session, backend, extras="test,suite")
    session.run("python", "-m", "conformance.array_api_suite", "--backend", backend, "--require",
                *(["--"] + session.posargs if session.posargs else []), env={"POLYGRAD_BACKEND": backend})


@nox.session
def demo(session: nox.Session) -> None:
    """The quantile-regression demo on the default backend."""
    session.install("-e", ".")
    session.run("python", "-m", "polygrad", *session.posargs)
