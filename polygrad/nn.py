"""Small neural-network building blocks: Module, Linear, MLP, and losses.

Initial weights are drawn on the host with NumPy's Generator and then moved to the
active backend, so the same seed gives the same model on every backend.
"""
from __future__ import annotations

import importlib
import math
from typing import Any, Callable, Iterator, Sequence

from . import namespace as pn
from .transforms.functional_call import functional_call as functional_call  # noqa: F401 - pg.nn.functional_call
from .value import Value

__all__ = ["Module", "Linear", "MLP", "pinball_loss", "softmax_cross_entropy"]


def _rng(rng: Any):
    return rng if rng is not None else importlib.import_module("numpy").random.default_rng()


class Module:
    """Base class: parameters() walks attributes, lists and sub-modules, in definition order."""

    def parameters(self) -> list[Value]:
        found: list[Value] = []
        seen: set[int] = set()
        for value in _walk(vars(self).values()):
            if id(value) not in seen:
                seen.add(id(value))
                found.append(value)
        return found

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")


def _walk(items) -> Iterator[Value]:
    for item in items:
        if isinstance(item, Value):
            if item.requires_grad and item.op is None:
                yield item
        elif isinstance(item, Module):
            yield from item.parameters()
        elif isinstance(item, (list, tuple)):
            yield from _walk(item)
        elif isinstance(item, dict):
            yield from _walk(item.values())


class Linear(Module):
    """y = x @ weight + bias, weight of shape (in_features, out_features).

    Initialised as PyTorch's nn.Linear: uniform in +-1/sqrt(in_features).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, rng: Any = None):
        rng = _rng(rng)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Value(rng.uniform(-bound, bound, (in_features, out_features)), dtype=_default())
        self.bias = Value(rng.uniform(-bound, bound, (out_features,)), dtype=_default()) if bias else None

    def forward(self, x):
        y = pn.matmul(x, self.weight)
        return y if self.bias is None else y + self.bias


class MLP(Module):
    """Linear layers with an activation between them (none after the last)."""

    def __init__(self, sizes: Sequence[int], *, activation: Callable = pn.relu, rng: Any = None):
        rng = _rng(rng)
        self.layers = [Linear(a, b, rng=rng) for a, b in zip(sizes[:-1], sizes[1:])]
        self.activation = activation

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x


def _default():
    from ._backend import default_dtype
    return default_dtype()


def pinball_loss(prediction, target, quantiles) -> Value:
    """Mean quantile (pinball) loss: max(q * d, (q - 1) * d) with d = target - prediction.

    Computed as d * (q - [d < 0]), which is the same function in fewer ops (its
    gradient at d == 0 is q, where the max form would split the tie: q - 0.5).
    prediction: (batch, n_quantiles); target: (batch, 1) or (batch,); quantiles: (n_quantiles,).
    """
    if getattr(target, "ndim", 2) == 1:
        target = pn.reshape(target, (-1, 1))
    # Namespace calls, not operators: a raw MLX array on the left of `-` rejects a Value.
    diff = pn.subtract(target, prediction)
    below = pn.astype(diff < 0.0, diff.dtype)
    return pn.mean(diff * pn.subtract(quantiles, below))


def softmax_cross_entropy(logits, labels) -> Value:
    """Mean cross-entropy of integer labels (batch,) under logits (batch, classes)."""
    log_probs = pn.log_softmax(logits, axis=-1)
    # A one-hot mask rather than log_probs[arange(n), labels]: far fewer ops per step.
    classes = pn.arange(log_probs.shape[-1], dtype=_dtype_of(labels))
    onehot = pn.astype(pn.expand_dims(labels, axis=-1) == classes, log_probs.dtype)
    return -pn.mean(pn.sum(log_probs * onehot, axis=-1))


def _dtype_of(labels):
    return labels.dtype
