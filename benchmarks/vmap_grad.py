"""Per-example gradients by vmap(grad(loss)) against the plain batched gradient, on numpy.

    python -m benchmarks.vmap_grad              # writes benchmarks/results/vmap-grad.json
    python -m benchmarks.vmap_grad --out ''     # a quick look, nothing written

The model: a 2-layer MLP tanh(x @ W1 + b1) @ W2 + b2, squared error. ``batched``: one
grad of the mean loss over the batch (what a training step computes). ``per_example``:
vmap(grad(loss), in_axes=(None, 0, 0)) — the gradient of every example separately, from
one batched computation. ``ratio`` is per_example / batched; the issue's target is <= 1.5.

Per-example gradients write batch x the parameters (the weight gradients become batches of
outer products, (B, in, out)), which a batched gradient never does: it contracts the batch
inside one matrix product. How much of the ratio that costs is measured twice, without
polygrad: ``numpy_ratio`` is the same two gradients hand-written in NumPy (per-example by
einsum outer products / batched by matrix products), ``jax_ratio`` is
jax.jit(jax.vmap(jax.grad(loss))) / jax.jit(jax.grad(loss)) on CPU (XLA on one thread).
``overhead`` is polygrad's per_example / the hand-written NumPy per-example gradients.

Process CPU time (the machine is shared), BLAS and XLA on one thread (set before NumPy and
JAX load); the variants of a row are timed in turn, best of ``repeats`` rounds of
``number`` calls each.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

import polygrad as pg  # noqa: E402

RESULT = os.path.join(os.path.dirname(__file__), "results", "vmap-grad.json")
SIZES = ((256, 16), (64, 32), (256, 64), (128, 256))


def loss(params, x, y):
    hidden = pg.tanh(x @ params["w1"] + params["b1"])
    return pg.mean((hidden @ params["w2"] + params["b2"] - y) ** 2)


def numpy_gradients(params, x, y, per_example: bool) -> dict:
    """The gradients of ``loss`` written by hand: per example (mean over each example's
    outputs) or of the mean over the whole batch."""
    hidden = np.tanh(x @ params["w1"] + params["b1"])
    scale = 2.0 / (y.shape[1] if per_example else y.size)
    g_out = (hidden @ params["w2"] + params["b2"] - y) * np.float32(scale)
    g_hidden = (g_out @ params["w2"].T) * (1 - hidden ** 2)
    if per_example:
        return {"w1": np.einsum("bi,bj->bij", x, g_hidden), "b1": g_hidden,
                "w2": np.einsum("bi,bj->bij", hidden, g_out), "b2": g_out}
    return {"w1": x.T @ g_hidden, "b1": g_hidden.sum(0), "w2": hidden.T @ g_out, "b2": g_out.sum(0)}


def jax_variants(params, x, y):
    """(batched, per_example) jitted JAX gradients of the same loss, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None

    def jax_loss(p, x, y):
        hidden = jnp.tanh(x @ p["w1"] + p["b1"])
        return jnp.mean((hidden @ p["w2"] + p["b2"] - y) ** 2)
    batched = jax.jit(jax.grad(jax_loss))
    per_example = jax.jit(jax.vmap(jax.grad(jax_loss), in_axes=(None, 0, 0)))
    p, xj, yj = jax.tree.map(jnp.asarray, params), jnp.asarray(x), jnp.asarray(y)
    got = per_example(p, xj, yj)
    np.testing.assert_allclose(np.asarray(got["w1"]), numpy_gradients(params, x, y, True)["w1"], rtol=1e-3, atol=1e-4)
    return (lambda: jax.block_until_ready(batched(p, xj, yj)),
            lambda: jax.block_until_ready(per_example(p, xj, yj)))


def best_times(variants: dict, number: int, repeats: int) -> dict:
    """Seconds per call of each variant (process CPU time), best of ``repeats`` rounds in
    which every variant runs ``number`` calls in turn."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.process_time()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.process_time() - start) / number)
    return best


def measure(batch: int, width: int, number: int, repeats: int, with_jax: bool = True) -> dict:
    rng = np.random.default_rng(0)
    f32 = np.float32
    params = {"w1": rng.standard_normal((width, width)).astype(f32), "b1": np.zeros(width, f32),
              "w2": rng.standard_normal((width, 10)).astype(f32), "b2": np.zeros(10, f32)}
    x = rng.standard_normal((batch, width)).astype(f32)
    y = rng.standard_normal((batch, 10)).astype(f32)
    batched = pg.grad(loss)
    per_example = pg.vmap(pg.grad(loss), in_axes=(None, 0, 0))
    got = per_example(params, x, y)
    reference = numpy_gradients(params, x, y, True)
    for name in params:
        np.testing.assert_allclose(got[name], reference[name], rtol=1e-4, atol=1e-5)
    variants = {
        "batched_gradient_s": lambda: batched(params, x, y),
        "vmap_grad_s": lambda: per_example(params, x, y),
        "numpy_batched_s": lambda: numpy_gradients(params, x, y, False),
        "numpy_per_example_s": lambda: numpy_gradients(params, x, y, True),
    }
    jax_fns = jax_variants(params, x, y) if with_jax else None
    if jax_fns is not None:
        variants["jax_batched_s"], variants["jax_per_example_s"] = jax_fns
    row = {"batch": batch, "width": width, **best_times(variants, number, repeats)}
    row["ratio"] = row["vmap_grad_s"] / row["batched_gradient_s"]
    row["numpy_ratio"] = row["numpy_per_example_s"] / row["numpy_batched_s"]
    if jax_fns is not None:
        row["jax_ratio"] = row["jax_per_example_s"] / row["jax_batched_s"]
    row["overhead"] = row["vmap_grad_s"] / row["numpy_per_example_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=RESULT)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-jax", action="store_true", help="skip the JAX comparison")
    args = parser.parse_args()
    pg.set_backend("numpy")
    pg.set_default_dtype("float32")
    rows = [measure(batch, width, args.number, args.repeats, not args.no_jax) for batch, width in SIZES]
    for row in rows:
        line = (f"batch {row['batch']:4d} width {row['width']:4d}: batched {row['batched_gradient_s'] * 1e6:8.1f} us, "
                f"vmap(grad) {row['vmap_grad_s'] * 1e6:8.1f} us; ratio {row['ratio']:.2f}, "
                f"numpy per-example / batched {row['numpy_ratio']:.2f}")
        if "jax_ratio" in row:
            line += f", jax {row['jax_ratio']:.2f}"
        print(line + f"; over numpy per-example {row['overhead']:.2f}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "machine": platform.platform(), "numpy": np.__version__,
                       "timing": "process CPU time, best of rounds, variants in turn; BLAS and XLA on one thread",
                       "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
