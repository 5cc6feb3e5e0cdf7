"""The char-transformer example's step time per backend, recorded in
benchmarks/results/transformer-steps.json.

    python -m benchmarks.transformer_steps --steps 60 --backends numpy jax mlx

Each backend runs examples/char_transformer.py as a subprocess (POLYGRAD_BACKEND set), with
the example's own settings; the median step time skips the first fifth of the steps (JAX
compiles each new shape on first use).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(backend: str, steps: int) -> dict:
    env = {**os.environ, "POLYGRAD_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        record = Path(folder) / "run.json"
        subprocess.run([sys.executable, str(ROOT / "examples" / "char_transformer.py"), "--steps", str(steps),
                        "--quiet", "--record", str(record)], env=env, check=True, stdout=subprocess.DEVNULL)
        run = json.loads(record.read_text())
    run.pop("backend")
    return run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--backends", nargs="+", default=["numpy", "jax", "mlx"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "transformer-steps.json"))
    args = parser.parse_args(argv)
    results = {}
    for backend in args.backends:
        results[backend] = measure(backend, args.steps)
        print(backend, {k: v for k, v in results[backend].items() if k != "losses"}, flush=True)
    record = {"workload": "examples/char_transformer.py (defaults: 1 block, dim 64, 4 heads, context 32, batch 16)",
              "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs (shared)",
              "load_average_1min": os.getloadavg()[0],  # a loaded machine slows every backend
              "python": platform.python_version(), "backends": results}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
