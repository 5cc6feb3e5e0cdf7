"""Time each workload in polygrad and hand-written on the active backend, same process.

    python -m benchmarks.run [--backend numpy] [--repeats 30] [--out benchmarks/results/numpy.json]

Steps alternate (polygrad, hand-written, polygrad, ...) so drift in machine speed
hits both alike; the reported figure is median(polygrad) / median(hand-written).
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
    on = pg.backend()
    workload = WORKLOADS[name]() if batch is None else WORKLOADS[name](batch=batch)
    for _ in range(warmup):
        _timed(workload.polygrad_step, on)
        _timed(workload.handwritten_step, on)
    polygrad_times, handwritten_times = [], []
    for _ in range(repeats):
        polygrad_times.append(_timed(workload.polygrad_step, on))
        handwritten_times.append(_timed(workload.handwritten_step, on))
    pg_median = statistics.median(polygrad_times)
    hw_median = statistics.median(handwritten_times)
    return {
        "workload": name,
        "description": workload.description,
        "repeats": repeats,
        "polygrad_median_s": pg_median,
        "handwritten_median_s": hw_median,
        "ratio": pg_median / hw_median,
    }


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
    results = [measure(name, args.repeats, batch=args.mlp_batch if name == "mlp_step" else None)
               for name in (args.workload or sorted(WORKLOADS))]
    report = {
        "backend": on.name,
        "device": str(on.device),
        "device_name": args.device_name,
        "dtype": "float32",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
    }
    print(f"backend {on.name} on {args.device_name or on.device}")
    print(f"{'workload':<16}{'polygrad ms':>14}{'hand-written ms':>18}{'ratio':>8}")
    for r in results:
        print(f"{r['workload']:<16}{r['polygrad_median_s'] * 1e3:>14.2f}{r['handwritten_median_s'] * 1e3:>18.2f}{r['ratio']:>8.3f}")
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
