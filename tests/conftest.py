"""Shared fixtures for polygrad's unit tests.

The suite runs on whichever backend POLYGRAD_BACKEND selects (numpy by default;
array_api_strict proves standard compliance; jax, mlx, cupy where they can run). Tests feed NumPy inputs to
polygrad (``pg.Value`` converts them) and read results back with ``to_numpy``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import polygrad as pg
from backends import selected_backend_name
from backends.pytest_plugin import UNAVAILABLE  # probed once, by the plugin

ROOT = Path(__file__).resolve().parent.parent
FLOAT_NAMES = ("float32", "float64")


def default_dtype_name() -> str:
    """The name of the default float dtype now in force."""
    current = pg.default_dtype()
    for name in FLOAT_NAMES:
        if current == pg.backend().dtype(name):
            return name
    raise AssertionError(f"unexpected default dtype {current!r}")


@pytest.fixture(autouse=True)
def _restore_settings():
    """Whatever a test does to the backend, dtype or grad mode, the next one starts clean."""
    if UNAVAILABLE:
        yield  # the backend cannot load: the one test collected only skips
        return
    backend_name = pg.backend().name
    dtype_name = default_dtype_name()
    grad_mode = pg.is_grad_enabled()
    yield
    pg.set_backend(backend_name)
    pg.set_default_dtype(dtype_name)
    pg._state._grad_enabled.set(grad_mode)


@pytest.fixture
def float64():
    """Default float dtype float64 for the test, restored afterwards."""
    previous = default_dtype_name()
    pg.set_default_dtype("float64")
    yield
    pg.set_default_dtype(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def to_numpy(x) -> np.ndarray:
    """A polygrad Value or an array of the active backend as a NumPy array."""
    if isinstance(x, pg.Value):
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(pg.backend().to_numpy(x))


def requires_jax():
    """jax with 64-bit floats, or skip the calling test with a reason."""
    jax = pytest.importorskip("jax", reason="jax is not installed: the JAX oracle checks need it")
    jax.config.update("jax_enable_x64", True)
    return jax


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with polygrad importable and only the given POLYGRAD_* vars."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("POLYGRAD_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120,
    )


BACKEND = selected_backend_name()


def skip_if_declared(deviation: str) -> None:
    """Skip the calling test, with the reason, where the selected backend declares
    ``deviation`` in backends/<name>.py (``deviations``)."""
    from backends import NAMES, spec
    reason = spec(BACKEND).deviations.get(deviation) if BACKEND in NAMES else None
    if reason:
        pytest.skip(f"declared deviation of {BACKEND} ({deviation}): {reason}")
