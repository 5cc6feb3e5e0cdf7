"""Quantile regression on a data set larger than the Dask workers' memory (the dask backend).

The seed's quantile MLP (64-128-3, relu, pinball loss at the 10/50/90% quantiles) trains by
full-batch gradient descent on a zarr data set written chunk by chunk (never whole in
memory). Each step's gradient is a reduction over the chunks, computed at backward();
optimizer.step() materialises the new parameters, so every step's task graph is the same
size. Then minibatch SGD streams the chunks in order, one chunk a step.

    pip install -e ".[dask]"
    python examples/quantile_out_of_core.py                 # data = 2x the workers' memory
    python examples/quantile_out_of_core.py --times-memory 4 --worker-memory 512MiB

A LocalCluster (2 worker processes, 1 thread each) does the work. Checked: every worker's peak
RSS stays under its limit; the losses equal, within float32 tolerance, the NumPy backend's with
all the data in memory (its full-batch gradient accumulated over row blocks, to bound memory).
"""
from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time

import numpy as np

import polygrad as pg

FEATURES, HIDDEN, QUANTILES = 64, 128, (0.1, 0.5, 0.9)
FLOAT32_TOLERANCE = 1e-5  # relative, as backends/dask.py declares


def make_chunk(i: int, rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Chunk i, drawn from its own seed: y = sin(x . w) + noise whose spread grows with |x_0|."""
    w = np.random.default_rng(seed).standard_normal(FEATURES) / math.sqrt(FEATURES)
    rng = np.random.default_rng([seed, i])
    X = rng.standard_normal((rows, FEATURES), dtype=np.float32)
    noise = (0.2 + 0.5 * np.abs(X[:, :1])) * rng.standard_normal((rows, 1), dtype=np.float32)
    return X, (np.sin(X @ w)[:, None] + noise).astype(np.float32)


def write_dataset(path: str, chunks: int, rows: int, seed: int = 0) -> str:
    """A zarr group with X (chunks * rows, 64) and y (chunks * rows, 1), one chunk at a time."""
    import zarr
    group = zarr.open_group(path, mode="w")
    X, y = (group.create_array(name, shape=(chunks * rows, width), chunks=(rows, width),
                               dtype="float32", compressors=None)  # random floats do not compress
            for name, width in (("X", FEATURES), ("y", 1)))
    for i in range(chunks):
        X[i * rows:(i + 1) * rows], y[i * rows:(i + 1) * rows] = make_chunk(i, rows, seed)
    return path


def open_dataset(path: str):
    """X and y as Dask arrays over the zarr chunks: nothing is read until a step computes."""
    import dask.array as da
    return da.from_zarr(path, component="X"), da.from_zarr(path, component="y")


def initial_parameters(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng([seed, 1 << 30])
    params = []
    for fan_in, fan_out in ((FEATURES, HIDDEN), (HIDDEN, len(QUANTILES))):
        bound = 1.0 / math.sqrt(fan_in)
        params += [rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32),
                   rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)]
    return params


def train(steps, lr: float = 0.1, seed: int = 0) -> tuple[list[float], list[pg.Value]]:
    """Gradient descent on the active backend. ``steps`` yields, per step, the (X, y) blocks
    whose mean pinball loss that step descends; their gradients add up in the leaves' .grad.
    Returns every step's loss and the parameters."""
    params = [pg.Value(p) for p in initial_parameters(seed)]
    optimizer = pg.optim.SGD(params, lr=lr)
    quantiles = pg.Value(np.asarray(QUANTILES, dtype=np.float32), requires_grad=False)
    losses = []
    for blocks in steps:
        rows = sum(X.shape[0] for X, _ in blocks)
        optimizer.zero_grad()
        loss = 0.0
        for X, y in blocks:
            W1, b1, W2, b2 = params
            prediction = pg.relu(pg.Value(X, requires_grad=False) @ W1 + b1) @ W2 + b2
            part = pg.nn.pinball_loss(prediction, y, quantiles) * (X.shape[0] / rows)
            part.backward()  # on dask: the loss and the gradients, computed over every chunk
            loss += part.item()
        optimizer.step()  # on dask: the new parameters, materialised
        losses.append(loss)
    return losses, params


def peak_rss() -> int:
    """This process's peak resident memory in bytes (run on each worker). Linux's VmHWM: since
    the worker's exec (ru_maxrss would include the parent's memory at the fork)."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times-memory", type=float, default=2.0, help="data size / the workers' total memory")
    parser.add_argument("--worker-memory", default="256MiB", help="each worker's memory limit")
    parser.add_argument("--chunk-rows", type=int, default=16384, help="rows per chunk (4 MiB of X)")
    parser.add_argument("--steps", type=int, default=3, help="full-batch gradient steps")
    args = parser.parse_args(argv)
    from dask.utils import format_bytes, parse_bytes
    from distributed import Client, LocalCluster
    limit = parse_bytes(args.worker_memory)
    chunks = math.ceil(args.times_memory * 2 * limit / (4 * (FEATURES + 1) * args.chunk_rows))
    with tempfile.TemporaryDirectory(prefix="polygrad-quantile-") as folder:
        start = time.perf_counter()
        path = write_dataset(f"{folder}/data.zarr", chunks, args.chunk_rows)
        size = chunks * args.chunk_rows * 4 * (FEATURES + 1)
        print(f"data: {chunks} chunks of {args.chunk_rows} rows, {format_bytes(size)} on disk = "
              f"{size / (2 * limit):.2f}x the workers' {format_bytes(2 * limit)} "
              f"(written in {time.perf_counter() - start:.1f} s)")
        with LocalCluster(n_workers=2, threads_per_worker=1, memory_limit=limit, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client, pg.use_backend("dask"):
            X, y = open_dataset(path)
            start = time.perf_counter()
            losses, _ = train([[(X, y)]] * args.steps)
            epoch = (time.perf_counter() - start) / args.steps
            start = time.perf_counter()
            streamed, _ = train([(X.blocks[i], y.blocks[i])] for i in range(X.numblocks[0]))
            print(f"full batch: {epoch:.2f} s per epoch, losses {' '.join(f'{v:.5f}' for v in losses)}\n"
                  f"minibatch SGD over the {chunks} chunks in order: {time.perf_counter() - start:.2f} s, "
                  f"loss {streamed[0]:.4f} -> {np.mean(streamed[-8:]):.4f}")
            peaks = client.run(peak_rss)
        with pg.use_backend("numpy"):  # the reference: all the data in memory
            import zarr
            group = zarr.open_group(path, mode="r")
            Xn, yn, rows = group["X"][:], group["y"][:], args.chunk_rows
            blocks = [(Xn[i:i + rows], yn[i:i + rows]) for i in range(0, Xn.shape[0], rows)]
            reference, _ = train([blocks] * args.steps)
    error = max(abs(a - b) / abs(b) for a, b in zip(losses, reference))
    print(f"NumPy in memory: losses {' '.join(f'{v:.5f}' for v in reference)}; largest relative "
          f"difference {error:.1e} (float32 tolerance {FLOAT32_TOLERANCE:.0e})")
    for worker, peak in sorted(peaks.items()):
        print(f"worker {worker}: peak RSS {format_bytes(peak)} of its {format_bytes(limit)} limit")
    ok = error <= FLOAT32_TOLERANCE and all(peak < limit for peak in peaks.values())
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
