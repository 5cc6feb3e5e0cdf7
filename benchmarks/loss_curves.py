"""Loss curves of the training workloads: polygrad eager, polygrad replayed and hand-written,
each from the same start for the same steps, on the active backend.

    python -m benchmarks.loss_curves [--backend numpy] [--steps 50] [--out benchmarks/results/loss-curves-numpy-cpu.json]

The three curves must lie on each other (same maths, same data, same SGD); the JSON keeps
each curve and the largest relative gap between polygrad's and the hand-written one.
``python -m benchmarks.plot`` draws them.
"""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

import numpy as np

import polygrad as pg

from .run import machine, write_json
from .workloads import WORKLOADS


def curves(steps: int, names: list[str] | None = None) -> dict:
    """{workload: {"description", "curves": {variant: [loss per step]}, "largest_relative_gap"}}."""
    on = pg.backend()
    found = {}
    for name in names or sorted(WORKLOADS):
        variants = {}
        for variant in ("polygrad", "replay", "handwritten"):
            workload = WORKLOADS[name]()  # a fresh start for each variant: the same weights
            if not workload.trains:
                break
            step = getattr(workload, f"{variant}_step")
            if step is not None:
                variants[variant] = [_number(on, step()) for _ in range(steps)]
        if not variants:
            continue
        reference = variants["handwritten"]
        gap = max(abs(a - b) / max(abs(b), 1e-12) for curve in variants.values() for a, b in zip(curve, reference))
        found[name] = {"description": workload.description, "curves": variants, "largest_relative_gap": gap}
    return found


def _number(on, loss) -> float:
    """A step's loss as a Python float: a backend's 0-d array, or a number (micrograd's)."""
    return float(loss) if isinstance(loss, (int, float, np.generic)) else float(on.to_numpy(loss))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default=None, help="backend name (default: POLYGRAD_BACKEND or numpy)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS), help="repeatable; default all that train")
    parser.add_argument("--out", default=None, help="write the curves as JSON here")
    args = parser.parse_args(argv)
    if args.backend:
        pg.set_backend(args.backend)
    record = {
        "backend": pg.backend().name, "dtype": "float32", "steps": args.steps,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
        "workloads": curves(args.steps, args.workload),
    }
    for name, found in record["workloads"].items():
        print(f"{name:24s} loss {found['curves']['handwritten'][0]:.4f} -> {found['curves']['handwritten'][-1]:.4f}, "
              f"largest relative gap to hand-written {found['largest_relative_gap']:.1e}", file=sys.stderr)
    if args.out:
        write_json(args.out, record)


if __name__ == "__main__":
    main()
