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
    """A step three ways: polygrad eager (the graph built anew each step), polygrad replayed
    (the graph recorded once, then ``root.forward()`` + ``backward()``; None where the
    workload does not replay), and hand-written. ``ops`` counts polygrad's ops per step,
    for the per-op cost."""
    name: str
    description: str
    polygrad_step: Callable[[], Any]
    handwritten_step: Callable[[], Any]
    replay_step: Callable[[], Any] | None = None
    ops: int | None = None
    jit_step: Callable[[], Any] | None = None  # the step under pg.jit (traced once, compiled where it can be)


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

    def forward():
        h = X_constant
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = pg.relu(h)
        return pg.nn.softmax_cross_entropy(h, labels)

    def polygrad_step() -> Any:
        loss = forward()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data

    recorded = forward()

    def replay_step() -> Any:
        recorded.forward()
        optimizer.zero_grad()
        recorded.backward()
        optimizer.step()
        return recorded.data

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
        polygrad_step, handwritten_step, replay_step,
    )


def quantile_regression(batch: int = 65536, sizes=(64, 128, 3), quantiles=(0.1, 0.5, 0.9),
                        lr: float = 0.01, seed: int = 0, spelling: str = "library") -> Workload:
    """One SGD step of a relu MLP predicting three quantiles under the pinball loss.

    spelling "library": pg.relu and pg.nn.pinball_loss; "maximum": both written with
    pg.maximum, as from the paper."""
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

    def forward():
        W1, b1, W2, b2 = params
        if spelling == "maximum":
            prediction = pg.maximum(X_constant @ W1 + b1, 0.0) @ W2 + b2
            r = y - prediction
            return pg.mean(pg.maximum(q * r, (q - 1.0) * r))
        prediction = pg.relu(X_constant @ W1 + b1) @ W2 + b2
        return pg.nn.pinball_loss(prediction, y, q)

    def polygrad_step() -> Any:
        loss = forward()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data

    recorded = forward()

    def replay_step() -> Any:
        recorded.forward()
        optimizer.zero_grad()
        recorded.backward()
        optimizer.step()
        return recorded.data

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

    name = "quantile_step" if spelling == "library" else f"quantile_{spelling}_step"
    return Workload(
        name, f"quantile MLP {'-'.join(map(str, sizes))}, batch {batch}, pinball loss "
              f"({'pg.relu, pg.nn.pinball_loss' if spelling == 'library' else 'written with pg.maximum'}), SGD",
        polygrad_step, handwritten_step, replay_step,
    )


def quantile_regression_maximum(batch: int = 65536, **kwargs) -> Workload:
    """The quantile step as a user writes it from the paper: relu as ``maximum(h, 0.0)``,
    the pinball loss as ``maximum(tau * r, (tau - 1) * r)``."""
    return quantile_regression(batch, spelling="maximum", **kwargs)


def elementwise_chain(length: int = 200, shape=(64, 64), seed: int = 0) -> Workload:
    """Forward and backward through a long chain of small elementwise ops on one parameter:
    where polygrad's per-op overhead shows (a NumPy op on 4096 floats costs ~2 us)."""
    rng = np.random.default_rng(seed)
    on = pg.backend()
    xp = on.xp
    host = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    x = pg.Value(on.asarray(host))
    kinds = ("mul", "add", "tanh", "sin")

    def chain(h):
        for i in range(length):
            kind = kinds[i % 4]
            h = h * 0.9 if kind == "mul" else h + 0.1 if kind == "add" else pg.tanh(h) if kind == "tanh" else pg.sin(h)
        return pg.sum(h)

    def polygrad_step() -> Any:
        x.grad = None
        loss = chain(x)
        loss.backward()
        return x.grad

    recorded = chain(x)

    def replay_step() -> Any:
        x.grad = None
        recorded.forward()
        recorded.backward()
        return x.grad

    raw = on.asarray(host)
    c_mul = xp.asarray(0.9, dtype=raw.dtype)
    c_add = xp.asarray(0.1, dtype=raw.dtype)

    def handwritten_step() -> Any:
        h = raw
        saved = []
        for i in range(length):
            kind = kinds[i % 4]
            if kind == "mul":
                h = h * c_mul
            elif kind == "add":
                h = h + c_add
            elif kind == "tanh":
                h = xp.tanh(h)
                saved.append(h)
            else:
                saved.append(h)
                h = xp.sin(h)
        xp.sum(h)
        g = xp.ones_like(h)
        for i in reversed(range(length)):
            kind = kinds[i % 4]
            if kind == "mul":
                g = g * c_mul
            elif kind == "tanh":
                out = saved.pop()
                g = g * (1.0 - out * out)
            elif kind == "sin":
                g = g * xp.cos(saved.pop())
        on.evaluate(g)
        return g

    jitted_grad = pg.jit(pg.grad(chain))

    def jit_step() -> Any:
        g = jitted_grad(raw)
        on.evaluate(g)
        ready = getattr(g, "block_until_ready", None)  # jax dispatches asynchronously
        return ready() if ready else g

    return Workload(
        "chain_step", f"{length} elementwise ops (*, +, tanh, sin) on {shape[0]}x{shape[1]}, forward + backward",
        polygrad_step, handwritten_step, replay_step, ops=length + 1, jit_step=jit_step,
    )


def micrograd_moons(n: int = 100, seed: int = 0) -> Workload:
    """micrograd's own demo: a 2-16-16-1 MLP on two moons, on scalar Values (0-d arrays), SVM
    loss, one SGD step. Compared with the same step on Python floats with hand-written
    derivatives; the figure that matters is polygrad's cost per op."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, np.pi, n)
    upper = rng.integers(0, 2, n)
    X = np.stack([np.cos(angles) + (1 - upper), np.sin(angles) * (2 * upper - 1) + 0.5 * (1 - upper)], 1)
    y = 2.0 * upper - 1.0
    sizes = (2, 16, 16, 1)
    layers = [[(rng.uniform(-1, 1, fan_in).tolist(), 0.0) for _ in range(fan_out)]
              for fan_in, fan_out in zip(sizes[:-1], sizes[1:])]
    values = [[([pg.Value(w) for w in ws], pg.Value(b)) for ws, b in layer] for layer in layers]
    parameters = [p for layer in values for ws, b in layer for p in (*ws, b)]
    batch = 8  # a minibatch keeps a step short; ops are counted exactly below
    counter = {"ops": 0}

    def polygrad_step() -> Any:
        loss = 0.0
        for k in range(batch):
            h = [float(X[k, 0]), float(X[k, 1])]
            for depth, layer in enumerate(values):
                out = []
                for ws, b in layer:
                    act = b
                    for w, xi in zip(ws, h):
                        act = act + w * xi
                    out.append(pg.relu(act) if depth < len(values) - 1 else act)
                h = out
            loss = pg.relu(1.0 - y[k] * h[0]) + loss
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data = p.data - 0.01 * p.grad
        return loss.data

    def handwritten_step() -> Any:
        # The same step on Python floats, reverse mode written out by hand.
        loss = 0.0
        grads = [[([0.0] * len(ws), 0.0) for ws, _ in layer] for layer in layers]
        for k in range(batch):
            h = [float(X[k, 0]), float(X[k, 1])]
            acts = [h]
            pre = []
            for depth, layer in enumerate(layers):
                z = [b + sum(w * xi for w, xi in zip(ws, h)) for ws, b in layer]
                pre.append(z)
                h = [max(v, 0.0) for v in z] if depth < len(layers) - 1 else z
                acts.append(h)
            margin = 1.0 - y[k] * h[0]
            loss += max(margin, 0.0)
            g = [-y[k] if margin > 0 else 0.0]
            for depth in reversed(range(len(layers))):
                if depth < len(layers) - 1:
                    g = [gi if zi > 0 else 0.0 for gi, zi in zip(g, pre[depth])]
                inputs = acts[depth]
                back = [0.0] * len(inputs)
                for j, ((ws, b), gj) in enumerate(zip(layers[depth], g)):
                    gw, gb = grads[depth][j]
                    grads[depth][j] = ([a + gj * xi for a, xi in zip(gw, inputs)], gb + gj)
                    for i, w in enumerate(ws):
                        back[i] += gj * w
                g = back
        for layer, layer_grads in zip(layers, grads):
            for j, ((ws, b), (gw, gb)) in enumerate(zip(layer, layer_grads)):
                layer[j] = ([w - 0.01 * d for w, d in zip(ws, gw)], b - 0.01 * gb)
        return loss

    # ops per step: per example and neuron, fan_in multiplies and adds, one relu (hidden);
    # per example, the loss's subtract, multiply, relu and add.
    per_example = sum(fan_out * (2 * fan_in) for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))
    per_example += sum(sizes[1:-1]) + 4
    counter["ops"] = batch * per_example + len(parameters) * 2  # the SGD update
    return Workload(
        "micrograd_step", f"micrograd's two-moons MLP {'-'.join(map(str, sizes))} on scalar Values, "
                          f"{batch} examples, SVM loss, SGD",
        polygrad_step, handwritten_step, ops=counter["ops"],
    )


WORKLOADS = {
    "mlp_step": mlp_classifier,
    "quantile_step": quantile_regression,
    "quantile_maximum_step": quantile_regression_maximum,
    "chain_step": elementwise_chain,
    "micrograd_step": micrograd_moons,
}
