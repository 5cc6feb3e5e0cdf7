"""Time each workload in polygrad and hand-written on the active backend, same process.

    python -m benchmarks.run [--backend numpy] [--repeats 30] [--out benchmarks/results/numpy.json]

Steps alternate (polygrad, hand-written, replay, ...), in an order that rotates each repeat,
so drift in machine speed and whatever one step leaves for the next hit every variant alike;
the reported figure is median(polygrad) / median(hand-written).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

import polygrad as pg

from .workloads import WORKLOADS


def _timed(step, on) -> float:
    start = time.perf_counter()
    result = step()
    on.to_numpy(result)  # forces lazy backends; a scalar copy costs ~nothing
    on.synchronize()
    return time.perf_counter() - start


def measure(name: str, repeats: int, warmup: int = 3, batch: int | None = None) -> dict:
    """Median times of the workload's variants, run in turn (eager, replay, hand-written)."""
    on = pg.backend()
    workload = WORKLOADS[name]() if batch is None else WORKLOADS[name](batch=batch)
    steps = {"polygrad": workload.polygrad_step, "handwritten": workload.handwritten_step}
    if workload.replay_step is not None:
        steps["replay"] = workload.replay_step
    if workload.jit_step is not None:
        steps["jit"] = workload.jit_step
    for _ in range(warmup):
        for step in steps.values():
            _timed(step, on)
    times: dict[str, list[float]] = {variant: [] for variant in steps}
    order = list(steps)
    for repeat in range(repeats):
        # the order rotates each repeat: a step runs after each of the others equally often
        # (whichever follows the hand-written step pays for the arrays and BLAS threads it
        # left behind: the MLP's replay measured 1.15 after it, 1.10 after eager)
        shift = repeat % len(order)
        for variant in order[shift:] + order[:shift]:
            times[variant].append(_timed(steps[variant], on))
    medians = {variant: statistics.median(t) for variant, t in times.items()}
    result = {
        "workload": name,
        "description": workload.description,
        "repeats": repeats,
        "polygrad_median_s": medians["polygrad"],
        "handwritten_median_s": medians["handwritten"],
        "ratio": medians["polygrad"] / medians["handwritten"],
    }
    if "replay" in medians:
        result["replay_median_s"] = medians["replay"]
        result["replay_ratio"] = medians["replay"] / medians["handwritten"]
    if "jit" in medians:
        result["jit_median_s"] = medians["jit"]
        result["jit_ratio"] = medians["jit"] / medians["handwritten"]
    if workload.ops:
        result["ops_per_step"] = workload.ops
        result["polygrad_us_per_op"] = medians["polygrad"] / workload.ops * 1e6
        if "jit" in medians:
            result["jit_us_per_op"] = medians["jit"] / workload.ops * 1e6
    return result


def cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs, from /proc/stat; None where it is missing."""
    try:
        with open("/proc/stat") as f:
            fields = [float(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def write_json(path: str, record: dict) -> None:
    """A benchmark's record as JSON at ``path`` (its folder made if needed)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=2)
    print(f"wrote {path}", file=sys.stderr)


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: pool.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                        for pool in threadpool_info()]
    except ImportError:
        pass
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="backend name (default: POLYGRAD_BACKEND or numpy)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS), help="repeatable; default all")
    parser.add_argument("--mlp-batch", type=int, default=None,
                        help="batch of the MLP step (default 256; the CUDA target is set at 4096)")
    parser.add_argument("--device-name", default=None, help="accelerator name to record (e.g. the GPU's)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.backend:
        pg.set_backend(args.backend)
    on = pg.backend()
    cpu_before, own_before = cpu_times(), os.times()
    results = [measure(name, args.repeats, batch=args.mlp_batch if name == "mlp_step" else None)
               for name in (args.workload or sorted(WORKLOADS))]
    cpu_after, own_after = cpu_times(), os.times()
    quiet = None
    if cpu_before and cpu_after:
        ticks = os.sysconf("SC_CLK_TCK")
        busy = (cpu_after[0] - cpu_before[0]) / ticks
        own = (own_after.user + own_after.system) - (own_before.user + own_before.system)
        total = (cpu_after[1] - cpu_before[1]) / ticks
        quiet = {"other_processes_cpu_share": max(busy - own, 0.0) / total if total else None,
                 "note": "CPU time used by other processes over the run, as a share of all CPUs"}
    report = {
        "backend": on.name,
        "device": str(on.device),
        "device_name": args.device_name,
        "dtype": "float32",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "quietness": quiet,
        "results": results,
    }
    print(f"backend {on.name} on {args.device_name or on.device}")
    print(f"{'workload':<24}{'polygrad ms':>12}{'hand-written ms':>16}{'ratio':>8}{'replay ratio':>14}{'us/op':>8}")
    for r in results:
        replay = f"{r['replay_ratio']:.3f}" if "replay_ratio" in r else "-"
        per_op = f"{r['polygrad_us_per_op']:.1f}" if "polygrad_us_per_op" in r else "-"
        print(f"{r['workload']:<24}{r['polygrad_median_s'] * 1e3:>12.2f}{r['handwritten_median_s'] * 1e3:>16.2f}"
              f"{r['ratio']:>8.3f}{replay:>14}{per_op:>8}")
    if quiet and quiet["other_processes_cpu_share"] is not None:
        print(f"other processes used {quiet['other_processes_cpu_share']:.0%} of the CPUs during the run")
    if args.out:
        write_json(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
