"""micrograd's two-moons classifier, with tensors: an MLP 2-16-16-1 trained with a max-margin
(hinge) loss plus L2 regularisation and SGD with a decaying learning rate, as in micrograd's
demo.ipynb, but on the whole batch at once.

    POLYGRAD_BACKEND=jax python examples/two_moons.py --steps 100
"""
from __future__ import annotations

import argparse

import numpy as np

import polygrad as pg
from polygrad.progress import Progress


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's make_moons), labels -1 and +1."""
    half = n // 2
    angle_out, angle_in = np.linspace(0, np.pi, half), np.linspace(0, np.pi, n - half)
    outer = np.stack([np.cos(angle_out), np.sin(angle_out)], axis=1)
    inner = np.stack([1 - np.cos(angle_in), 1 - np.sin(angle_in) - 0.5], axis=1)
    x = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([-np.ones(half), np.ones(n - half)])
    return x.astype(np.float32), y.astype(np.float32)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x_host, y_host = make_moons(100, 0.1, rng)
    x = pg.Value(x_host, requires_grad=False)
    y = pg.Value(y_host[:, None], requires_grad=False)
    model = pg.nn.MLP([2, 16, 16, 1], rng=rng)
    optimizer = pg.optim.SGD(model, lr=lambda t: 1.0 - 0.9 * t / args.steps)  # micrograd's decay
    print(f"two moons: MLP 2-16-16-1, hinge loss, SGD; backend {pg.backend().name}")

    with Progress(args.steps, desc="two moons", quiet=args.quiet) as bar:
        for _ in range(args.steps):
            scores = model(x)
            data_loss = pg.mean(pg.relu(1.0 - y * scores))  # the max-margin loss
            reg_loss = 1e-4 * sum(pg.sum(p * p) for p in model.parameters())
            loss = data_loss + reg_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            bar.update(loss.item())

    with pg.no_grad():
        scores = model(x).numpy()[:, 0]
    accuracy = float(np.mean((scores > 0) == (y_host > 0)))
    print(f"{args.steps} steps: loss {loss.item():.4f}, accuracy {accuracy:.0%}")
    return accuracy


if __name__ == "__main__":
    main()
