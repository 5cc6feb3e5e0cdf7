"""An MLP classifier on synthetic data, as mlx-examples' mlp/main.py but without the MNIST
download: ten classes, each a Gaussian blob around its own centre in 32 dimensions; an MLP
32-64-64-10 with relu, cross-entropy, Adam, minibatches of 64; test accuracy at the end.

    POLYGRAD_BACKEND=jax python examples/mlp.py --steps 300
"""
from __future__ import annotations

import argparse

import numpy as np

import polygrad as pg
from polygrad.progress import Progress

CLASSES, FEATURES = 10, 32


def make_blobs(n: int, centres: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, len(centres), n)
    x = centres[labels] + rng.standard_normal((n, centres.shape[1]))
    return x.astype(np.float32), labels.astype(np.int32)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    centres = 0.6 * rng.standard_normal((CLASSES, FEATURES))
    x_train, y_train = make_blobs(4096, centres, rng)
    x_test, y_test = make_blobs(1024, centres, rng)
    on = pg.backend()
    model = pg.nn.MLP([FEATURES, 64, 64, CLASSES], rng=rng)
    optimizer = pg.optim.Adam(model, lr=args.lr)
    print(f"mlp: {FEATURES}-64-64-{CLASSES} on {CLASSES} Gaussian blobs, Adam; backend {on.name}")

    with Progress(args.steps, desc="mlp", quiet=args.quiet) as bar:
        for _ in range(args.steps):
            rows = rng.integers(0, len(x_train), args.batch)
            logits = model(pg.Value(x_train[rows], requires_grad=False))
            loss = pg.nn.cross_entropy(logits, on.asarray(y_train[rows]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.update(loss.item())

    with pg.no_grad():
        predicted = np.argmax(model(pg.Value(x_test, requires_grad=False)).numpy(), axis=1)
    accuracy = float(np.mean(predicted == y_test))
    print(f"{args.steps} steps: loss {loss.item():.4f}, test accuracy {accuracy:.1%}")
    return accuracy


if __name__ == "__main__":
    main()
