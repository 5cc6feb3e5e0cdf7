"""The glibc malloc thresholds polygrad sets (polygrad/_backend/_malloc.py), judged by page
faults, which a loaded machine does not blur as it blurs time."""
import os
import platform
import subprocess
import sys

import pytest

from polygrad._backend import _malloc

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only"),
    pytest.mark.backend_independent,  # its subprocesses run the NumPy backend, whatever the run's
]

_STEP_FAULTS = """
import resource, numpy as np, polygrad as pg
from polygrad._backend import _malloc
x = pg.Value(np.full((64, 64), 0.5, np.float32))
def step():
    h = x
    for i in range(100):
        h = pg.tanh(h) * 0.9 + 0.1
    pg.sum(h).backward()
    x.grad = None
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10, _malloc._done[0])
"""


def _faults_per_step(**env) -> tuple[float, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    environ.update(env, POLYGRAD_BACKEND="numpy")
    done = subprocess.run([sys.executable, "-c", _STEP_FAULTS], env=environ, capture_output=True, text=True, check=True)
    faults, tuned = done.stdout.split()
    return float(faults), tuned


def test_an_eager_step_reuses_the_memory_the_last_one_freed():
    # the graph holds 300 arrays of 16 KiB (4.7 MiB): glibc's defaults return it to the
    # system at the end of each step and fault every page in again on the next
    faults, tuned = _faults_per_step()
    assert tuned == "True" and faults < 50, f"{faults} page faults per step"
    untuned_faults, untuned = _faults_per_step(POLYGRAD_TUNE_MALLOC="0")
    assert untuned == "False" and untuned_faults > 10 * max(faults, 10)


@pytest.mark.parametrize("env", [{"POLYGRAD_TUNE_MALLOC": "0"}, {"MALLOC_TRIM_THRESHOLD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_the_users_own_settings_win(monkeypatch, env):
    monkeypatch.setattr(_malloc, "_done", [])  # as in a new process
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert _malloc.keep_freed_memory() is False
