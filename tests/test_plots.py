"""python -m benchmarks.plot writes a PNG per result file with ratios, and a combined one."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib", reason="matplotlib is the optional extra 'plots'")

from benchmarks import plot  # noqa: E402

pytestmark = pytest.mark.backend_independent  # PNGs drawn from JSON files: no polygrad arrays


def _result(backend: str, ratios: dict) -> dict:
    return {"backend": backend, "device": "cpu", "dtype": "float32", "date": "2026-01-01",
            "results": [{"workload": name, "ratio": r} for name, r in ratios.items()]}


def test_plots_written_next_to_the_json(tmp_path):
    (tmp_path / "numpy-cpu.json").write_text(json.dumps(_result("numpy", {"mlp_step": 1.1, "quantile_step": 1.0})))
    (tmp_path / "jax-cpu.json").write_text(json.dumps(_result("jax", {"mlp_step": 1.3})))
    (tmp_path / "memory.json").write_text(json.dumps({"what": "no ratios here"}))
    (tmp_path / "transformer-steps.json").write_text(json.dumps(
        {"backends": {"numpy": {"median_step_ms": 5.0, "losses": [3.0, 2.0, 1.5]}}}))
    (tmp_path / "loss-curves-numpy-cpu.json").write_text(json.dumps({"backend": "numpy", "workloads": {
        "mlp_step": {"curves": {"polygrad": [2.3, 2.1], "handwritten": [2.3, 2.1]}, "largest_relative_gap": 0.0}}}))
    written = plot.plot(tmp_path)
    assert sorted(p.name for p in written) == ["jax-cpu.png", "loss-curves-numpy-cpu.png", "numpy-cpu.png",
                                              "ratios.png", "transformer-loss.png"]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "memory.png").exists()


def test_the_dask_out_of_core_plot(tmp_path):
    row = {"times_memory": 1, "data_bytes": 2**29, "epoch_s": [2.0, 2.2], "worker_peak_rss": [2**27, 2**27],
           "worker_memory_limit": 2**28}
    (tmp_path / "dask-out-of-core.json").write_text(json.dumps({
        "date": "2026-01-01", "out_of_core": [row, {**row, "times_memory": 2, "data_bytes": 2**30}],
        "in_memory": {"x_bytes": 2**29, "numpy_epoch_s": [1.0, 1.1], "dask": {"epoch_s": [1.5, 1.6], "ratio_of_medians": 1.5}}}))
    assert [p.name for p in plot.plot(tmp_path)] == ["dask-out-of-core.png"]
    assert (tmp_path / "dask-out-of-core.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
