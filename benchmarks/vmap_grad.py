"""Per-example gradients by vmap(grad(loss)) against the plain batched gradient, on numpy.

    python -m benchmarks.vmap_grad              # writes benchmarks/results/vmap-grad.json
    python -m benchmarks.vmap_grad --out ''     # a quick look, nothing written

The model: a 2-layer MLP tanh(x @ W1 + b1) @ W2 + b2, squared error. ``batched``: one
grad of the mean loss over the batch (what a training step computes). ``per_example``:
vmap(grad(loss), in_axes=(None, 0, 0)) — the gradient of every example separately, from
one batched computation. The ratio is per_example / batched; the issue's target is <= 1.5.
``numpy_per_example``: the same per-example gradients hand-written in NumPy (einsum outer
products): per-example gradients write batch x the parameters, which a batched gradient
never does, so this is the floor for any vmap; ``overhead`` is per_example / that.
BLAS runs on one thread (set before NumPy loads) so shared machines time the same.
Best of ``repeats`` runs of ``number`` calls each.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import timeit
from datetime import datetime, timezone

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import polygrad as pg  # noqa: E402

RESULT = os.path.join(os.path.dirname(__file__), "results", "vmap-grad.json")


def loss(params, x, y):
    hidden = pg.tanh(x @ params["w1"] + params["b1"])
    return pg.mean((hidden @ params["w2"] + params["b2"] - y) ** 2)


def measure(batch: int, width: int, number: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    f32 = np.float32
    params = {"w1": rng.standard_normal((width, width)).astype(f32), "b1": np.zeros(width, f32),
              "w2": rng.standard_normal((width, 10)).astype(f32), "b2": np.zeros(10, f32)}
    x = rng.standard_normal((batch, width)).astype(f32)
    y = rng.standard_normal((batch, 10)).astype(f32)
    batched = pg.grad(loss)
    per_example = pg.vmap(pg.grad(loss), in_axes=(None, 0, 0))
    t_batched = min(timeit.repeat(lambda: batched(params, x, y), number=number, repeat=repeats)) / number
    t_per = min(timeit.repeat(lambda: per_example(params, x, y), number=number, repeat=repeats)) / number

    def numpy_per_example():
        hidden = np.tanh(x @ params["w1"] + params["b1"])
        g_out = (hidden @ params["w2"] + params["b2"] - y) * f32(2.0 / y.shape[1])
        g_hidden = (g_out @ params["w2"].T) * (1 - hidden ** 2)
        return {"w1": np.einsum("bi,bj->bij", x, g_hidden), "b1": g_hidden,
                "w2": np.einsum("bi,bj->bij", hidden, g_out), "b2": g_out}
    reference = numpy_per_example()
    got = per_example(params, x, y)
    for name in params:
        np.testing.assert_allclose(got[name], reference[name], rtol=1e-4, atol=1e-5)
    t_numpy = min(timeit.repeat(numpy_per_example, number=number, repeat=repeats)) / number
    return {"batch": batch, "width": width, "batched_gradient_s": t_batched,
            "vmap_grad_s": t_per, "numpy_per_example_s": t_numpy,
            "ratio": t_per / t_batched, "overhead": t_per / t_numpy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=RESULT)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pg.set_backend("numpy")
    pg.set_default_dtype("float32")
    rows = [measure(batch, width, args.number, args.repeats) for batch, width in ((256, 16), (64, 32), (256, 64), (128, 256))]
    for row in rows:
        print(f"batch {row['batch']:4d} width {row['width']:4d}: batched {row['batched_gradient_s'] * 1e6:8.1f} us, "
              f"vmap(grad) {row['vmap_grad_s'] * 1e6:8.1f} us, numpy per-example {row['numpy_per_example_s'] * 1e6:8.1f} us; "
              f"ratio {row['ratio']:.2f}, over numpy per-example {row['overhead']:.2f}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "machine": platform.platform(), "numpy": np.__version__, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
