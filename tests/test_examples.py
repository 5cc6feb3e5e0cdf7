"""Every script in examples/ runs to the end for a few steps on the active backend, as a
subprocess (as a user runs it), quiet, within a time limit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import polygrad as pg

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


def test_examples_are_present_and_short():
    assert {"two_moons.py", "linear_regression.py", "mlp.py", "quantile_regression.py",
            "char_transformer.py"} <= set(EXAMPLES)
    for name in EXAMPLES:
        lines = (ROOT / "examples" / name).read_text().count("\n")
        assert lines <= 150, f"examples/{name} has {lines} lines; keep examples within 150"


# Not a few-steps script on the active backend: it starts a Dask cluster and writes a data
# set larger than the workers' memory; tests/test_dask.py runs its training at a small size.
OWN_TESTS = {"quantile_out_of_core.py": "tests/test_dask.py runs its training on a LocalCluster at small size"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name):
    if name in OWN_TESTS:
        pytest.skip(OWN_TESTS[name])
    env = {**os.environ, "POLYGRAD_BACKEND": pg.backend().name,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--steps", "2", "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"examples/{name} failed:\n{done.stdout}\n{done.stderr}"
    assert f"backend {pg.backend().name}" in done.stdout
    assert "2 steps" in done.stdout
    assert "\r" not in done.stdout  # --quiet: no progress bar
