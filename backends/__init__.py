"""What nox, CI and the conformance suite need to know about each backend.

One module per backend, each defining ``SPEC``. Adding a backend: write its loader in
a loader module in polygrad/_backend/ and a module here, and list it in ``NAMES``.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class BackendSpec:
    """name: as POLYGRAD_BACKEND takes it.
    requirements: pip requirements by platform ("linux", "darwin", "any").
    probe: returns None when the backend can run here, else the reason it cannot.
    hardware: returns None when this machine has what the backend needs (a GPU, an OS),
        else why not; checked before installing anything, so a CPU box never downloads CuPy.
    dtypes: float dtypes it supports; the conformance suite checks in float64 where it is
        listed, else in float32.
    float32_tolerance: relative tolerance for float32 comparisons against float64 references.
    float64_tolerance: the same for float64 comparisons (the conformance suite's forward and
        JAX checks; finite differences cannot resolve better than 1e-6 and use that floor).
    deviations: known differences from the standard or from JAX, each with its reason.
    conformance_deviations: conformance report rows this backend is known to fail (an op
        such as "nonzero", or a row such as "edge: softmax 1e4"), each with its reason: the
        suite reports such a row as skipped (declared deviation: reason) where it fails, and
        notes it where it passes. Never a looser tolerance.
    conformance_ci_examples: examples per op in the conformance suite's ci profile, where
        its default (12) would take the backend well past a minute (the thorough profile
        is not affected); None for the default.
    """

    name: str
    requirements: dict[str, list[str]]
    probe: Callable[[], str | None]
    dtypes: tuple[str, ...] = ("float32", "float64")
    hardware: Callable[[], str | None] = lambda: None
    float32_tolerance: float = 1e-5
    float64_tolerance: float = 1e-10
    deviations: dict[str, str] = field(default_factory=dict)
    conformance_deviations: dict[str, str] = field(default_factory=dict)
    conformance_ci_examples: int | None = None

    def requirements_for(self, platform: str) -> list[str]:
        return self.requirements.get(platform, []) + self.requirements.get("any", [])


NAMES = ("numpy", "array_api_strict", "jax", "mlx", "cupy", "dask")


def spec(name: str) -> BackendSpec:
    return importlib.import_module(f"backends.{name}").SPEC


def import_probe(module: str) -> Callable[[], str | None]:
    """A probe that only checks the package imports."""
    def probe() -> str | None:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"{module} is not installed ({exc})"
        return None
    return probe


def selected_backend_name() -> str:
    """The backend POLYGRAD_BACKEND selects (as polygrad reads it), without loading it."""
    import os
    return os.environ.get("POLYGRAD_BACKEND", "numpy").strip() or "numpy"


def selected_backend_problem() -> str | None:
    """Why the selected backend cannot run here, or None. Unknown names are polygrad's to reject."""
    name = selected_backend_name()
    return spec(name).probe() if name in NAMES else None
