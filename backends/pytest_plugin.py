"""pytest plugin shared by tests/ and conformance/ (loaded by pyproject's addopts: -p backends.pytest_plugin).

When POLYGRAD_BACKEND names a backend that cannot run on this machine (CuPy without a
GPU, MLX not installed), nothing is collected but tests/test_backend_available.py,
which is skipped with the probe's reason: the run passes, and says why it checked nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

from backends import selected_backend_problem

UNAVAILABLE = selected_backend_problem()

# XLA compiles a program for every new (op, shapes, dtypes): ~40-60 ms each on a small CPU,
# most of a test run on the jax backend, and the JAX oracle compiles the same programs in
# every backend's run. JAX's persistent compilation cache keeps them on disk (keyed by the
# program, the flags and the JAX version), so each is compiled once across the README's
# per-backend runs and later runs. Set before JAX is imported; a user's own setting wins.
_JAX_CACHE = Path(__file__).resolve().parent.parent / ".jax_cache"
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_JAX_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def pytest_ignore_collect(collection_path, config):
    if UNAVAILABLE and collection_path.suffix == ".py" and collection_path.name.startswith("test_") \
            and collection_path.name != "test_backend_available.py":
        return True
    return None


def pytest_report_header(config):
    from backends import selected_backend_name
    return f"polygrad backend: {selected_backend_name()}" + (f" (cannot run: {UNAVAILABLE})" if UNAVAILABLE else "")
