"""Quantile regression, the seed's demo and benchmark workload: y = sin(x) + noise whose
spread grows with |x|; an MLP 1-64-64-3 predicts the 10%, 50% and 90% quantiles of y
given x, trained with the pinball loss and Adam. On held-out data about 10%, 50% and 90%
of the points should fall below the respective predicted quantiles.

    POLYGRAD_BACKEND=mlx python examples/quantile_regression.py --steps 500
"""
from __future__ import annotations

import argparse

import numpy as np

import polygrad as pg
from polygrad.progress import Progress

QUANTILES = (0.1, 0.5, 0.9)


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-3.0, 3.0, (n, 1))
    y = np.sin(x) + (0.1 + 0.2 * np.abs(x)) * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def main(argv=None) -> tuple[float, ...]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(8192, rng)
    x_test, y_test = make_data(4096, rng)
    model = pg.nn.MLP([1, 64, 64, len(QUANTILES)], rng=rng)
    optimizer = pg.optim.Adam(model, lr=args.lr)
    quantiles = pg.Value(np.asarray(QUANTILES, dtype=np.float32), requires_grad=False)
    print(f"quantile regression: MLP 1-64-64-3, pinball loss, Adam; backend {pg.backend().name}")

    with Progress(args.steps, desc="quantile regression", quiet=args.quiet) as bar:
        for _ in range(args.steps):
            rows = rng.integers(0, len(x_train), args.batch)
            prediction = model(pg.Value(x_train[rows], requires_grad=False))
            loss = pg.nn.pinball_loss(prediction, pg.Value(y_train[rows], requires_grad=False), quantiles)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.update(loss.item())

    with pg.no_grad():
        predicted = model(pg.Value(x_test, requires_grad=False)).numpy()
    coverage = tuple(float(np.mean(y_test[:, 0] <= predicted[:, i])) for i in range(len(QUANTILES)))
    print(f"{args.steps} steps: pinball loss {loss.item():.4f}")
    for q, c in zip(QUANTILES, coverage):
        print(f"held-out points below the predicted {q:.0%} quantile: {c:.1%}")
    return coverage


if __name__ == "__main__":
    main()
