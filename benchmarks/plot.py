"""Pictures of the benchmark results: ``python -m benchmarks.plot`` (``pip install -e ".[plots]"``).

Reads benchmarks/results/*.json and writes next to them:
  <backend>.png      polygrad / hand-written time per workload, one file per backend result
  ratios.png         the same ratios, every backend side by side
  transformer-loss.png   the char transformer's loss curve per backend (transformer-steps.json)
  loss-curves-<backend>-<device>.png   each training workload's loss, polygrad eager, replayed and
                     hand-written (loss-curves-*.json, from python -m benchmarks.loss_curves)
  dask-out-of-core.png   the dask backend: in-memory epochs against numpy; out-of-core epoch
                         time and worker peak RSS as the data grows (dask-out-of-core.json)
Files without ratios (e.g. checkpoint-memory.json) are left alone.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _ratio_files(folder: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text())
        if path.stem.startswith("loss-curves-"):
            continue
        if isinstance(record, dict) and any("ratio" in row for row in record.get("results", [])):
            found[path.stem] = record
    return found


def _bars(ax, names: list[str], ratios: list[float], title: str) -> None:
    bars = ax.barh(names, ratios, color=["tab:green" if r <= 1.1 else "tab:orange" if r <= 2 else "tab:red"
                                         for r in ratios])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.bar_label(bars, labels=[f"{r:.2f}x" for r in ratios], padding=3, fontsize=8)
    ax.set_xlabel("polygrad time / hand-written time (1 = as fast)")
    ax.set_title(title, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, max(ratios) * 1.2)


def plot(folder: Path = RESULTS) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    written = []
    records = _ratio_files(folder)
    for stem, record in records.items():
        rows = [row for row in record["results"] if "ratio" in row]
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.4))
        _bars(ax, [row["workload"] for row in rows], [row["ratio"] for row in rows],
              f"{record.get('backend', stem)} on {record.get('device', '?')}, {record.get('dtype', '')}, "
              f"{str(record.get('date', ''))[:10]}")
        fig.tight_layout()
        fig.savefig(folder / f"{stem}.png", dpi=110)
        plt.close(fig)
        written.append(folder / f"{stem}.png")
    if len(records) > 1:
        workloads = list(dict.fromkeys(row["workload"] for r in records.values() for row in r["results"] if "ratio" in row))
        fig, ax = plt.subplots(figsize=(8, 0.5 * len(workloads) * len(records) / 2 + 1.6))
        height = 0.8 / len(records)
        for i, (stem, record) in enumerate(records.items()):
            ratio = {row["workload"]: row["ratio"] for row in record["results"] if "ratio" in row}
            ys = [w + i * height for w in range(len(workloads))]
            ax.barh(ys, [ratio.get(w, 0.0) for w in workloads], height=height, label=stem)
        ax.set_yticks([w + 0.4 - height / 2 for w in range(len(workloads))], workloads)
        ax.axvline(1.0, color="black", linewidth=1)
        ax.invert_yaxis()
        ax.set_xlabel("polygrad time / hand-written time (1 = as fast)")
        ax.legend(fontsize=8)
        ax.set_title("polygrad's overhead per backend", fontsize=10)
        fig.tight_layout()
        fig.savefig(folder / "ratios.png", dpi=110)
        plt.close(fig)
        written.append(folder / "ratios.png")
    steps_file = folder / "transformer-steps.json"
    if steps_file.exists():
        record = json.loads(steps_file.read_text())
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for backend, run in record["backends"].items():
            if run.get("losses"):
                ax.plot(range(1, len(run["losses"]) + 1), run["losses"],
                        label=f"{backend} ({run['median_step_ms']:.0f} ms/step)")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats/char)")
        ax.set_title("examples/char_transformer.py", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "transformer-loss.png", dpi=110)
        plt.close(fig)
        written.append(folder / "transformer-loss.png")
    for path in sorted(folder.glob("loss-curves-*.json")):
        written.append(_loss_curves(plt, path))
    dask_file = folder / "dask-out-of-core.json"
    if dask_file.exists():
        written.append(_dask_out_of_core(plt, json.loads(dask_file.read_text()), folder / "dask-out-of-core.png"))
    return written


def _loss_curves(plt, path: Path) -> Path:
    record = json.loads(path.read_text())
    workloads = record["workloads"]
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 3.4), squeeze=False)
    styles = {"handwritten": dict(color="black", linewidth=3, alpha=0.35), "polygrad": dict(color="tab:blue"),
              "replay": dict(color="tab:orange", linestyle="--")}
    for ax, (name, found) in zip(axes[0], workloads.items()):
        for variant, losses in found["curves"].items():
            ax.plot(range(1, len(losses) + 1), losses, label=variant, **styles.get(variant, {}))
        ax.set_title(f"{name}\nlargest gap to hand-written {found['largest_relative_gap']:.0e}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
    fig.suptitle(f"loss curves, {record.get('backend', '?')}, {record.get('dtype', '')}, "
                 f"{str(record.get('date', ''))[:10]}", fontsize=10)
    fig.tight_layout()
    out = path.with_suffix(".png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _dask_out_of_core(plt, record: dict, path: Path) -> Path:
    """Left: (a) epoch times, numpy backend vs dask on a LocalCluster, data in memory.
    Right: (b) median epoch time and the largest worker peak RSS per data size."""
    import statistics
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    a = record.get("in_memory")
    if a:
        for label, times in (("numpy backend", a["numpy_epoch_s"]), ("dask, LocalCluster", a["dask"]["epoch_s"])):
            left.plot(range(1, len(times) + 1), times, marker="o", label=f"{label} (median {statistics.median(times):.1f} s)")
        left.set_xlabel("epoch")
        left.set_ylabel("epoch time (s)")
        left.set_ylim(bottom=0)
        left.set_title(f"(a) {a['x_bytes'] / 2**20:.0f} MiB in memory: ratio {a['dask']['ratio_of_medians']:.2f}",
                       fontsize=10)
        left.legend(fontsize=8)
    rows = record.get("out_of_core", [])
    if rows:
        gib = [row["data_bytes"] / 2**30 for row in rows]
        right.plot(gib, [statistics.median(row["epoch_s"]) for row in rows], marker="o", color="tab:blue")
        right.set_xlabel("data on disk (GiB); labels: x the workers' total memory")
        right.set_ylabel("epoch time (s)", color="tab:blue")
        for g, row in zip(gib, rows):
            right.annotate(f"{row['times_memory']:g}x", (g, statistics.median(row["epoch_s"])), fontsize=8,
                           textcoords="offset points", xytext=(4, -10))
        memory = right.twinx()
        memory.plot(gib, [max(row["worker_peak_rss"]) / 2**20 for row in rows], marker="s", color="tab:red")
        memory.axhline(rows[0]["worker_memory_limit"] / 2**20, color="tab:red", linestyle="--", linewidth=1)
        memory.set_ylabel("largest worker peak RSS (MiB); dashed: limit", color="tab:red")
        memory.set_ylim(bottom=0)
        right.set_ylim(bottom=0)
        right.set_title("(b) out of core, 2 workers x 1 thread", fontsize=10)
    fig.suptitle(f"dask backend, quantile MLP, full-batch epochs ({str(record.get('date', ''))[:10]})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=str(RESULTS), help="the folder of result JSON files")
    args = parser.parse_args(argv)
    for path in plot(Path(args.results)):
        print("wrote", path)


if __name__ == "__main__":
    main()
