"""Linear regression on synthetic data, as mlx-examples' linear_regression.py: draw a true
weight vector w*, make y = X w* + noise, fit w by gradient descent on the squared error
with ``pg.grad``, and report the loss and the distance |w - w*|.

    POLYGRAD_BACKEND=mlx python examples/linear_regression.py --steps 100
"""
from __future__ import annotations

import argparse

import numpy as np

import polygrad as pg
from polygrad.progress import Progress


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    w_true = rng.standard_normal(args.features).astype(np.float32)
    x_host = rng.standard_normal((args.examples, args.features)).astype(np.float32)
    y_host = x_host @ w_true + 1e-2 * rng.standard_normal(args.examples).astype(np.float32)
    x = pg.Value(x_host, requires_grad=False)
    y = pg.Value(y_host, requires_grad=False)
    w = pg.Value(1e-2 * rng.standard_normal(args.features).astype(np.float32))
    print(f"linear regression: {args.examples} examples, {args.features} features; backend {pg.backend().name}")

    def loss_fn(w):
        return 0.5 * pg.mean(pg.square(x @ w - y))

    loss_and_grad = pg.value_and_grad(loss_fn)
    with Progress(args.steps, desc="linear regression", quiet=args.quiet) as bar:
        for _ in range(args.steps):
            loss, grad = loss_and_grad(w)
            w = pg.Value(w.data - args.lr * grad.data)  # plain gradient descent, as mlx-examples
            bar.update(loss.item())

    loss = loss_fn(w).item()
    error = float(np.linalg.norm(w.numpy() - w_true))
    print(f"{args.steps} steps: loss {loss:.5f}, |w - w*| = {error:.5f}")
    return loss


if __name__ == "__main__":
    main()
