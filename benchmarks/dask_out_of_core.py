"""The dask backend on the quantile workload (examples/quantile_out_of_core.py): full-batch epochs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.dask_out_of_core \\
        --out benchmarks/results/dask-out-of-core.json

(a) in memory: 512 MiB of X, the NumPy backend (the data in this process) against the dask
    backend on a LocalCluster (2 worker processes, 1 thread each) holding the data in its
    workers' memory; epoch times and the loss curves.
(b) out of core: X + y on disk (zarr) at 0.5x, 1x, 2x, 4x the workers' total memory limit
    (2 x --worker-memory), a fresh LocalCluster for each size; epoch time, time per GB and
    every worker's peak RSS (getrusage on the worker).

An epoch is one full-batch gradient step: the loss and gradient over every chunk. Each
section records how busy the machine was (other processes' share of the CPUs, load average).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import polygrad as pg

from .run import cpu_times, machine, write_json

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quantile_out_of_core.py"
GiB = 2 ** 30


def _example():
    spec = importlib.util.spec_from_file_location("quantile_out_of_core", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ex = _example()


class Quietness:
    """Other processes' share of the CPUs over a section (children counted once reaped)."""

    def __enter__(self):
        self.cpu, self.own, self.load = cpu_times(), os.times(), os.getloadavg()
        return self

    def __exit__(self, *exc):
        cpu, own = cpu_times(), os.times()
        ticks = os.sysconf("SC_CLK_TCK")
        mine = sum(getattr(own, f) - getattr(self.own, f) for f in ("user", "system", "children_user", "children_system"))
        busy, total = (cpu[0] - self.cpu[0]) / ticks, (cpu[1] - self.cpu[1]) / ticks
        self.result = {"other_processes_cpu_share": round(max(busy - mine, 0.0) / total, 3) if total else None,
                       "load_average_before": [round(v, 2) for v in self.load],
                       "load_average_after": [round(v, 2) for v in os.getloadavg()]}


def epochs(blocks, count: int, stamps: list):
    """``count`` full-batch steps over ``blocks``, time-stamping the start of each and the end."""
    for _ in range(count):
        stamps.append(time.perf_counter())
        yield blocks
    stamps.append(time.perf_counter())


WORK_STEALING = False  # main() sets it from --work-stealing


def cluster(worker_memory: int):
    """2 worker processes x 1 thread. Work stealing off by default: every chunk's tasks can run
    where the chunk is, and on this 2-core machine a worker slowed by other processes had the
    other steal its tasks, moving 16 MiB data chunks and 32 MiB activations between processes
    (measured under load: transfers 22 s per epoch with stealing, 15 s without; epoch 57 s -> 33 s)."""
    import dask
    from distributed import LocalCluster
    with dask.config.set({"distributed.scheduler.work-stealing": WORK_STEALING}):
        return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=worker_memory,
                            host="127.0.0.1", dashboard_address=None)


def error(losses, reference) -> float:
    return max(abs(a - b) / abs(b) for a, b in zip(losses, reference))


def in_memory(path: str, count: int, worker_memory: int) -> dict:
    import zarr
    from distributed import Client, wait
    group = zarr.open_group(path, mode="r")
    X, y = group["X"][:], group["y"][:]
    with Quietness() as numpy_quiet, pg.use_backend("numpy"):
        stamps = []
        numpy_losses, _ = ex.train(epochs([(X, y)], count, stamps))
        numpy_epochs = np.diff(stamps).tolist()
    # float64, gradient accumulated over chunk-sized row blocks: which float32 run is nearer
    with pg.use_backend("numpy"):
        previous = np.dtype(pg.default_dtype()).name
        pg.set_default_dtype("float64")
        try:
            rows = group["X"].chunks[0]
            float64_losses, _ = ex.train([[(X[i:i + rows], y[i:i + rows]) for i in range(0, X.shape[0], rows)]] * count)
        finally:
            pg.set_default_dtype(previous)
    del X, y
    result = {"x_bytes": int(group["X"].nbytes), "chunk_rows": group["X"].chunks[0], "epochs": count,
              "worker_memory_limit": worker_memory, "numpy_epoch_s": numpy_epochs, "numpy_losses": numpy_losses,
              "float64_losses": float64_losses, "numpy_from_float64": error(numpy_losses, float64_losses),
              "numpy_quietness": numpy_quiet.result}
    with Quietness() as quiet:
        with cluster(worker_memory) as local, Client(local) as client, pg.use_backend("dask"):
            X, y = client.persist(list(ex.open_dataset(path)))  # read into the workers' memory once
            wait([X, y])
            stamps = []
            losses, _ = ex.train(epochs([(X, y)], count, stamps))
            peaks = client.run(ex.peak_rss)
    times = np.diff(stamps).tolist()
    result["dask"] = {
        "epoch_s": times, "ratio_of_medians": statistics.median(times) / statistics.median(numpy_epochs),
        "losses": losses, "relative_loss_difference_from_numpy": error(losses, numpy_losses),
        "from_float64": error(losses, float64_losses), "worker_peak_rss": sorted(peaks.values()),
        "quietness": quiet.result}
    return result


def out_of_core(path: str, factors, count: int, worker_memory: int, chunk_rows: int) -> list[dict]:
    from distributed import Client
    results = []
    for factor in factors:
        chunks = math.ceil(factor * 2 * worker_memory / (chunk_rows * 4 * (ex.FEATURES + 1)))
        rows = chunks * chunk_rows
        with Quietness() as quiet:
            with cluster(worker_memory) as local, Client(local) as client, pg.use_backend("dask"):
                X, y = ex.open_dataset(path)
                stamps = []
                losses, _ = ex.train(epochs([(X[:rows], y[:rows])], count, stamps))
                peaks = client.run(ex.peak_rss)
        times = np.diff(stamps).tolist()
        data_bytes = rows * 4 * (ex.FEATURES + 1)
        results.append({"times_memory": factor, "data_bytes": data_bytes, "chunks": chunks, "epoch_s": times,
                        "s_per_gib": statistics.median(times) / (data_bytes / GiB), "losses": losses,
                        "worker_memory_limit": worker_memory, "worker_peak_rss": sorted(peaks.values()),
                        "quietness": quiet.result})
        print(f"{factor:>4}x  {data_bytes / GiB:6.2f} GiB  epochs {' '.join(f'{t:.1f}' for t in times)} s  "
              f"{results[-1]['s_per_gib']:.1f} s/GiB  peak RSS {' '.join(f'{p / 2**20:.0f}' for p in peaks.values())} MiB "
              f"of {worker_memory / 2**20:.0f}  (others used {quiet.result['other_processes_cpu_share']:.0%} of the CPUs)",
              flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--in-memory-mib", type=float, default=512, help="(a): MiB of X")
    parser.add_argument("--in-memory-worker-memory", default="3GiB", help="(a): room for the data and more, no spilling")
    parser.add_argument("--in-memory-chunk-rows", type=int, default=65536,
                        help="(a): rows per chunk (16 MiB of X: workers with room take bigger chunks, fewer tasks)")
    parser.add_argument("--worker-memory", default="256MiB", help="(b): each worker's memory limit")
    parser.add_argument("--factors", default="0.5,1,2,4", help="(b): data / the workers' total memory")
    parser.add_argument("--chunk-rows", type=int, default=16384, help="(b): rows per chunk (4 MiB of X)")
    parser.add_argument("--epochs", type=int, default=3, help="(a): epochs on each backend")
    parser.add_argument("--out-of-core-epochs", type=int, default=2, help="(b): epochs at each size")
    parser.add_argument("--work-stealing", action="store_true", help="let Dask's scheduler steal tasks (off by default)")
    parser.add_argument("--skip", choices=("a", "b"), action="append", default=[])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    global WORK_STEALING
    WORK_STEALING = args.work_stealing
    from dask.utils import parse_bytes
    factors = [float(f) for f in args.factors.split(",")]
    limit = parse_bytes(args.worker_memory)
    row_bytes = 4 * (ex.FEATURES + 1)
    report = {"backend": "dask", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), "workload": "quantile MLP 64-128-3, pinball loss, SGD lr 0.1, full batch, float32",
              "cluster": {"workers": 2, "threads_per_worker": 1, "work_stealing": WORK_STEALING}}
    with tempfile.TemporaryDirectory(prefix="polygrad-bench-") as folder:
        if "a" not in args.skip:
            chunks = math.ceil(args.in_memory_mib * 2**20 / (args.in_memory_chunk_rows * 4 * ex.FEATURES))
            path = ex.write_dataset(f"{folder}/a.zarr", chunks, args.in_memory_chunk_rows)
            report["in_memory"] = a = in_memory(path, args.epochs, parse_bytes(args.in_memory_worker_memory))
            print(f"(a) {a['x_bytes'] / 2**20:.0f} MiB of X: numpy {statistics.median(a['numpy_epoch_s']):.2f} s per "
                  f"epoch (from float64 {a['numpy_from_float64']:.1e}, others used "
                  f"{a['numpy_quietness']['other_processes_cpu_share']:.0%} of the CPUs)", flush=True)
            d = a["dask"]
            print(f"    dask: {statistics.median(d['epoch_s']):.2f} s per epoch: ratio {d['ratio_of_medians']:.2f}; "
                  f"losses from numpy's {d['relative_loss_difference_from_numpy']:.1e}, from float64 "
                  f"{d['from_float64']:.1e} (others used {d['quietness']['other_processes_cpu_share']:.0%})", flush=True)
        if "b" not in args.skip:
            chunks = math.ceil(max(factors) * 2 * limit / (args.chunk_rows * row_bytes))
            path = ex.write_dataset(f"{folder}/b.zarr", chunks, args.chunk_rows)
            report["out_of_core"] = out_of_core(path, factors, args.out_of_core_epochs, limit, args.chunk_rows)
    if args.out:
        if os.path.exists(args.out):  # a skipped section keeps its earlier result, dated
            earlier = json.loads(Path(args.out).read_text())
            for section in ("in_memory", "out_of_core"):
                if section not in report and section in earlier:
                    report[section] = earlier[section]
                    report.setdefault("kept_from_earlier_run", {})[section] = earlier.get("date")
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
