"""pg.jit of the elementwise chain (forward + backward) on jax, against jax.jit of the same
chain written in jax.numpy: per-op cost of polygrad's compiled step, and what is left of
polygrad in it.

    python -m benchmarks.jit_chain              # writes benchmarks/results/jit-chain.json
    python -m benchmarks.jit_chain --out ''     # a quick look

Rows: the chain on 64x64 (benchmarks/workloads.py's chain_step: 200 ops) and on a 1x1
array, where the arithmetic is nothing and only per-call and per-op costs remain. Each
figure is the best of ``repeats`` runs of ``number`` calls, results waited for.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import timeit
from datetime import datetime, timezone

import numpy as np

import polygrad as pg

RESULT = os.path.join(os.path.dirname(__file__), "results", "jit-chain.json")
KINDS = ("mul", "add", "tanh", "sin")


def chain(m, h, length):
    for i in range(length):
        kind = KINDS[i % 4]
        h = h * 0.9 if kind == "mul" else h + 0.1 if kind == "add" else m.tanh(h) if kind == "tanh" else m.sin(h)
    return m.sum(h)


def measure(shape, length: int, number: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp
    pg.set_backend("jax")
    pg.set_default_dtype("float32")
    host = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    x = jnp.asarray(host)
    polygrad_step = pg.jit(pg.grad(lambda h: chain(pg, h, length)))
    jax_step = jax.jit(jax.grad(lambda h: chain(jnp, h, length)))
    np.testing.assert_allclose(np.asarray(polygrad_step(x)), np.asarray(jax_step(x)), rtol=1e-4, atol=1e-6)

    def best(step):
        return min(timeit.repeat(lambda: step(x).block_until_ready(), number=number, repeat=repeats)) / number
    eager = pg.grad(lambda h: chain(pg, h, length))
    t_eager = min(timeit.repeat(lambda: eager(x).block_until_ready(), number=2, repeat=3)) / 2
    t_pg, t_jax = best(polygrad_step), best(jax_step)
    ops = length + 1
    return {"shape": list(shape), "ops": ops, "pg_jit_s": t_pg, "jax_jit_s": t_jax, "pg_eager_s": t_eager,
            "pg_jit_us_per_op": t_pg / ops * 1e6, "jax_jit_us_per_op": t_jax / ops * 1e6,
            "pg_eager_us_per_op": t_eager / ops * 1e6, "pg_jit_over_jax_jit": t_pg / t_jax}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=RESULT)
    parser.add_argument("--number", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = [measure(shape, 200, args.number, args.repeats) for shape in ((64, 64), (1, 1))]
    for r in rows:
        print(f"shape {tuple(r['shape'])}: pg.jit {r['pg_jit_us_per_op']:.3f} us/op, jax.jit {r['jax_jit_us_per_op']:.3f} us/op, "
              f"eager polygrad {r['pg_eager_us_per_op']:.1f} us/op; pg.jit / jax.jit {r['pg_jit_over_jax_jit']:.2f}")
    if args.out:
        import jax
        with open(args.out, "w") as fh:
            json.dump({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.platform(),
                       "jax": jax.__version__, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
