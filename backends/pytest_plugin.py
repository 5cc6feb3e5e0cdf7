"""pytest plugin shared by tests/ and conformance/ (loaded by pyproject's addopts: -p backends.pytest_plugin).

When POLYGRAD_BACKEND names a backend that cannot run on this machine (CuPy without a
GPU, MLX not installed), nothing is collected but tests/test_backend_available.py,
which is skipped with the probe's reason: the run passes, and says why it checked nothing.
"""
from __future__ import annotations

from backends import selected_backend_problem

UNAVAILABLE = selected_backend_problem()


def pytest_ignore_collect(collection_path, config):
    if UNAVAILABLE and collection_path.suffix == ".py" and collection_path.name.startswith("test_") \
            and collection_path.name != "test_backend_available.py":
        return True
    return None


def pytest_report_header(config):
    from backends import selected_backend_name
    return f"polygrad backend: {selected_backend_name()}" + (f" (cannot run: {UNAVAILABLE})" if UNAVAILABLE else "")
