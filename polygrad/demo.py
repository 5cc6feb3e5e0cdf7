"""The demo: a quantile-regression MLP trained on synthetic data (``python -m polygrad``).

Data: y = sin(x) + noise whose spread grows with |x|. The model predicts the 10%,
50% and 90% quantiles of y given x and is trained with the pinball loss and Adam.
On held-out data about 10%, 50% and 90% of the points should fall below the
respective predicted quantiles: that is printed at the end as a check.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import _backend
from . import nn, optim
from .errors import BackendError
from .progress import Progress, interactive
from .value import Value

QUANTILES = (0.1, 0.5, 0.9)


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(-3.0, 3.0, (n, 1))
    y = np.sin(x) + (0.1 + 0.2 * np.abs(x)) * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


@dataclass
class TrainingRun:
    backend: str
    steps: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    coverage: tuple[float, ...] = ()


def train(*, steps: int | None = None, seconds: float | None = None, seed: int = 0,
          batch: int = 1024, hidden: int = 64, lr: float = 0.01, log_interval_s: float = 0.0,
          printer=print, on_step=None) -> TrainingRun:
    """Train on the active backend for ``steps`` steps or ``seconds`` seconds.

    The data and initial weights are drawn with NumPy from ``seed``, so every
    backend starts from the same numbers: with ``steps`` fixed the loss curves
    agree to float32 tolerance across backends. ``on_step(loss)`` is called after each
    step (the progress bar).
    """
    if steps is None and seconds is None:
        raise ValueError("train: give steps or seconds")
    rng = np.random.default_rng(seed)
    x_train, y_train = make_data(8192, rng)
    x_test, y_test = make_data(4096, rng)
    model = nn.MLP([1, hidden, hidden, len(QUANTILES)], rng=rng)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    on = _backend.backend()
    quantiles = Value(np.asarray(QUANTILES, dtype=np.float32), requires_grad=False)
    run = TrainingRun(backend=on.name)
    start = time.perf_counter()
    next_log = log_interval_s
    while True:
        if steps is not None and run.steps >= steps:
            break
        if seconds is not None and time.perf_counter() - start >= seconds:
            break
        rows = rng.integers(0, x_train.shape[0], batch)
        loss = nn.pinball_loss(model(x_train[rows]), y_train[rows], quantiles)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        run.losses.append(loss.item())  # item() also waits for lazy/async backends
        run.steps += 1
        if on_step is not None:
            on_step(run.losses[-1])
        elapsed = time.perf_counter() - start
        if log_interval_s and elapsed >= next_log:
            next_log += log_interval_s
            printer(f"step {run.steps:5d}  pinball loss {run.losses[-1]:.4f}  ({elapsed:.1f} s)")
    run.seconds = time.perf_counter() - start
    predicted = model(x_test).numpy()
    run.coverage = tuple(float(np.mean(y_test[:, 0] <= predicted[:, i])) for i in range(len(QUANTILES)))
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polygrad", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="training time (default 5)")
    parser.add_argument("--steps", type=int, default=None, help="train a fixed number of steps instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bar or step lines")
    args = parser.parse_args(argv)
    try:
        on = _backend.backend()
    except BackendError as exc:  # an unknown or uninstalled POLYGRAD_BACKEND: say so, no traceback
        print(f"python -m polygrad: {exc}", file=sys.stderr)
        return 2
    print("polygrad demo: quantile regression MLP 1-64-64-3, pinball loss, Adam")
    dtype = _backend.default_dtype(on)
    print(f"backend {on.name}  device {on.device}  dtype {getattr(dtype, '__name__', dtype)}")
    # On a terminal a progress bar replaces the step lines; a log or pipe keeps the lines.
    bar = Progress(args.steps, desc="demo", mode="off" if args.quiet or not interactive() else None)
    with bar:
        run = train(steps=args.steps, seconds=None if args.steps else args.seconds, seed=args.seed,
                    log_interval_s=0.0 if args.quiet or bar.mode != "off" else 0.5, on_step=bar.update)
    first, last = run.losses[0], sum(run.losses[-20:]) / len(run.losses[-20:])
    print(f"{run.steps} steps in {run.seconds:.2f} s ({run.seconds / run.steps * 1e3:.2f} ms/step); "
          f"loss {first:.4f} -> {last:.4f}")
    for q, c in zip(QUANTILES, run.coverage):
        print(f"held-out points below the predicted {q:.0%} quantile: {c:.1%}")
    return 0 if last < first else 1
