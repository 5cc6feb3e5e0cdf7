"""python -m benchmarks.plot writes a PNG per result file with ratios, and a combined one."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib", reason="matplotlib is the optional extra 'plots'")

from benchmarks import plot  # noqa: E402


def _result(backend: str, ratios: dict) -> dict:
    return {"backend": backend, "device": "cpu", "dtype": "float32", "date": "2026-01-01",
            "results": [{"workload": name, "ratio": r} for name, r in ratios.items()]}


def test_plots_written_next_to_the_json(tmp_path):
    (tmp_path / "numpy-cpu.json").write_text(json.dumps(_result("numpy", {"mlp_step": 1.1, "quantile_step": 1.0})))
    (tmp_path / "jax-cpu.json").write_text(json.dumps(_result("jax", {"mlp_step": 1.3})))
    (tmp_path / "memory.json").write_text(json.dumps({"what": "no ratios here"}))
    (tmp_path / "transformer-steps.json").write_text(json.dumps(
        {"backends": {"numpy": {"median_step_ms": 5.0, "losses": [3.0, 2.0, 1.5]}}}))
    written = plot.plot(tmp_path)
    assert sorted(p.name for p in written) == ["jax-cpu.png", "numpy-cpu.png", "ratios.png", "transformer-loss.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "memory.png").exists()
