"""The benchmark workloads: each as a polygrad training step and as hand-written code.

The hand-written steps are what a careful researcher would write with the backend's own
array-API namespace ``xp``: forward and backward by hand, no graph, same maths,
same parameters, same SGD update. The relu backward is a multiply by the 0/1 mask
in both (NumPy's ``where`` is about 4x slower on large arrays). Both start from the same NumPy-drawn weights.
On a lazy backend (MLX) both end a step by evaluating the new parameters (``mx.eval``),
as polygrad's optimizer does, so MLX fuses each step's graph in both.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import polygrad as pg


@dataclass
class Workload:
    name: str
    description: str
    polygrad_step: Callable[[], float]
    handwritten_step: Callable[[], float]


def _init(rng: np.random.Generator, sizes: list[int]) -> list[np.ndarray]:
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    return params


def mlp_classifier(batch: int = 256, sizes=(784, 256, 256, 10), lr: float = 0.01, seed: int = 0) -> Workload:
    """One SGD step of a relu MLP with softmax cross-entropy on integer labels."""
    rng = np.random.default_rng(seed)
    on = pg.backend()
    xp = on.xp
    host_params = _init(rng, list(sizes))
    X = on.asarray(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    labels_host = rng.integers(0, sizes[-1], batch)
    labels = on.asarray(labels_host)

    params = [pg.Value(on.asarray(p)) for p in host_params]
    optimizer = pg.optim.SGD(params, lr=lr)
    X_constant = pg.Value(X, requires_grad=False)  # MLX arrays reject a Value on their right

    def polygrad_step() -> Any:
        h = X_constant
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = pg.relu(h)
        loss = pg.nn.softmax_cross_entropy(h, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data

    raw = [on.asarray(p) for p in host_params]

    def handwritten_step() -> Any:
        W1, b1, W2, b2, W3, b3 = raw
        onehot = xp.astype(labels[:, None] == xp.arange(sizes[-1]), xp.float32)
        z1 = X @ W1 + b1
        h1 = xp.maximum(z1, 0.0)
        z2 = h1 @ W2 + b2
        h2 = xp.maximum(z2, 0.0)
        logits = h2 @ W3 + b3
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = xp.sum(e, axis=1, keepdims=True)
        loss = -xp.mean(xp.sum((shifted - xp.log(total)) * onehot, axis=1))
        dlogits = (e / total - onehot) / batch
        dW3, db3 = h2.T @ dlogits, xp.sum(dlogits, axis=0)
        dz2 = (dlogits @ W3.T) * xp.astype(z2 > 0, z2.dtype)
        dW2, db2 = h1.T @ dz2, xp.sum(dz2, axis=0)
        dz1 = (dz2 @ W2.T) * xp.astype(z1 > 0, z1.dtype)
        dW1, db1 = X.T @ dz1, xp.sum(dz1, axis=0)
        grads = (dW1, db1, dW2, db2, dW3, db3)
        raw[:] = [p - lr * g for p, g in zip(raw, grads)]
        on.evaluate(*raw)
        return loss

    return Workload(
        "mlp_step", f"MLP {'-'.join(map(str, sizes))}, batch {batch}, relu, softmax CE, SGD",
        polygrad_step, handwritten_step,
    )


def quantile_regression(batch: int = 65536, sizes=(64, 128, 3), quantiles=(0.1, 0.5, 0.9),
                        lr: float = 0.01, seed: int = 0) -> Workload:
    """One SGD step of a relu MLP predicting three quantiles under the pinball loss."""
    rng = np.random.default_rng(seed)
    on = pg.backend()
    xp = on.xp
    host_params = _init(rng, list(sizes))
    X = on.asarray(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = on.asarray(rng.standard_normal((batch, 1)).astype(np.float32))
    q = on.asarray(np.asarray(quantiles, dtype=np.float32))

    params = [pg.Value(on.asarray(p)) for p in host_params]
    optimizer = pg.optim.SGD(params, lr=lr)
    X_constant = pg.Value(X, requires_grad=False)  # MLX arrays reject a Value on their right

    def polygrad_step() -> Any:
        W1, b1, W2, b2 = params
        prediction = pg.relu(X_constant @ W1 + b1) @ W2 + b2
        loss = pg.nn.pinball_loss(prediction, y, q)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data

    raw = [on.asarray(p) for p in host_params]
    count = batch * sizes[-1]

    def handwritten_step() -> Any:
        W1, b1, W2, b2 = raw
        z1 = X @ W1 + b1
        h = xp.maximum(z1, 0.0)
        prediction = h @ W2 + b2
        diff = y - prediction
        loss = xp.mean(xp.maximum(q * diff, (q - 1.0) * diff))
        dprediction = xp.where(diff > 0, -q, 1.0 - q) / count
        dW2, db2 = h.T @ dprediction, xp.sum(dprediction, axis=0)
        dz1 = (dprediction @ W2.T) * xp.astype(z1 > 0, z1.dtype)
        dW1, db1 = X.T @ dz1, xp.sum(dz1, axis=0)
        raw[:] = [p - lr * g for p, g in zip(raw, (dW1, db1, dW2, db2))]
        on.evaluate(*raw)
        return loss

    return Workload(
        "quantile_step", f"quantile MLP {'-'.join(map(str, sizes))}, batch {batch}, pinball loss, SGD",
        polygrad_step, handwritten_step,
    )


WORKLOADS = {"mlp_step": mlp_classifier, "quantile_step": quantile_regression}
