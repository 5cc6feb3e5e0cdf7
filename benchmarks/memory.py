"""Peak memory of a deep MLP's backward, with and without pg.checkpoint on each layer.

    python -m benchmarks.memory                       # numpy, writes benchmarks/results/checkpoint-memory.json
    python -m benchmarks.memory --layers 8 --out ''   # a quick look, nothing written

The model: ``layers`` blocks ``tanh(h @ W + b)`` of width ``width`` (pg.nn.Linear), a batch
of ``batch`` rows, float32, loss mean(h ** 2), gradients by ``loss.backward()``. Memory is
what Python's tracemalloc sees (NumPy reports its array buffers to it): the peak over the
forward and backward pass, above what was allocated before it (the weights and the input),
so the parameters' gradients (written during backward) are counted in both variants.
Each variant runs in a fresh subprocess, so the two never share allocator state.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

RESULT = os.path.join(os.path.dirname(__file__), "results", "checkpoint-memory.json")


def measure(layers: int, width: int, batch: int, checkpointed: bool, backend: str) -> dict:
    """One forward and backward in this process; memory in bytes."""
    import gc
    import tracemalloc

    import numpy as np

    import polygrad as pg
    pg.set_backend(backend)
    pg.set_default_dtype("float32")
    rng = np.random.default_rng(0)
    model = [pg.nn.Linear(width, width, rng=rng) for _ in range(layers)]
    x = pg.Value(rng.standard_normal((batch, width)), requires_grad=False)

    def block(layer):
        return lambda h: pg.tanh(layer(h))

    def loss_of(x):
        h = x
        for layer in model:
            h = pg.checkpoint(block(layer))(h) if checkpointed else block(layer)(h)
        return pg.mean(h * h)

    times = []
    for _ in range(3):  # untraced: the time; the first run also warms caches and constants up
        start = time.perf_counter()
        loss_of(x).backward()
        times.append(time.perf_counter() - start)
        for layer in model:
            layer.zero_grad()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    loss = loss_of(x)
    after_forward = tracemalloc.get_traced_memory()[0] - base
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    grads = sum(p.grad.nbytes for layer in model for p in layer.parameters())
    return {
        "checkpointed": checkpointed,
        "peak_bytes": peak,
        "held_after_forward_bytes": after_forward,
        "parameter_gradient_bytes": grads,
        "seconds_forward_backward": min(times),
        "loss": float(loss.item()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=40)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--out", default=RESULT, help="JSON file to write ('' for none)")
    parser.add_argument("--one", choices=("plain", "checkpointed"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # the subprocess: one variant, JSON on stdout
        print(json.dumps(measure(args.layers, args.width, args.batch, args.one == "checkpointed", args.backend)))
        return 0
    results = {}
    for variant in ("plain", "checkpointed"):
        command = [sys.executable, "-m", "benchmarks.memory", "--one", variant, "--layers", str(args.layers),
                   "--width", str(args.width), "--batch", str(args.batch), "--backend", args.backend]
        done = subprocess.run(command, capture_output=True, text=True, check=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    plain, ckpt = results["plain"], results["checkpointed"]
    reduction = 1.0 - ckpt["peak_bytes"] / plain["peak_bytes"]
    from benchmarks.run import machine
    report = {
        "what": "peak tracemalloc memory of forward + backward of a deep tanh MLP, above the weights and input",
        "backend": args.backend,
        "dtype": "float32",
        "layers": args.layers, "width": args.width, "batch": args.batch,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "plain": plain,
        "checkpointed": ckpt,
        "peak_reduction": reduction,
        "time_ratio_checkpointed_over_plain": ckpt["seconds_forward_backward"] / plain["seconds_forward_backward"],
        "note": "seconds: the best of 3 untraced forward + backward passes; memory: one more, traced",
    }
    mib = 1 / 2 ** 20
    print(f"{args.layers} layers x {args.width}, batch {args.batch}, {args.backend}, float32")
    for name, r in results.items():
        print(f"  {name:<13} peak {r['peak_bytes'] * mib:8.1f} MiB   held after forward "
              f"{r['held_after_forward_bytes'] * mib:7.1f} MiB   "
              f"(parameter gradients {r['parameter_gradient_bytes'] * mib:.1f} MiB)"
              f"   {r['seconds_forward_backward'] * 1e3:.0f} ms")
    print(f"  peak {reduction:.0%} lower with checkpointing; time x{report['time_ratio_checkpointed_over_plain']:.2f}")
    if plain["loss"] != ckpt["loss"]:
        print("  warning: the two losses differ", file=sys.stderr)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
