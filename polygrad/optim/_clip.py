"""Gradient clipping, between ``backward()`` and ``step()``."""
from __future__ import annotations

import math
from typing import Any

from .._dotted import to_host
from .._graph import Value
from ._base import Optimizer, named_parameters

__all__ = ["clip_grad_norm", "clip_grad_value"]


def _with_grads(params: Any, what: str) -> list[Value]:
    values = params.parameters if isinstance(params, Optimizer) else [v for _, v in named_parameters(params, what)]
    return [p for p in values if p.grad is not None]


def _array(grad):
    return grad.data if isinstance(grad, Value) else grad


def clip_grad_norm(params: Any, max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most max_norm:

        norm = sqrt(sum over parameters of sum(g^2));  g <- g * max_norm / max(norm, max_norm)

    (optax's clip_by_global_norm). params: a Module, an Optimizer, or what optimizers take.
    Returns the norm before clipping, as a float.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be positive, got {max_norm}")
    with_grads = _with_grads(params, "clip_grad_norm")
    by_backend: dict = {}
    for p in with_grads:
        by_backend.setdefault(p.backend, []).append(p)
    squares = 0.0
    for on, group in by_backend.items():  # one device-to-host transfer per backend
        xp = on.xp
        total = sum(xp.sum(_array(p.grad) * _array(p.grad)) for p in group)
        squares += float(to_host(total))
    norm = math.sqrt(squares)
    if norm > max_norm:
        scale = max_norm / norm
        for p in with_grads:
            p.grad = _array(p.grad) * scale
    return norm


def clip_grad_value(params: Any, clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value]."""
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value: clip_value must be >= 0, got {clip_value}")
    for p in _with_grads(params, "clip_grad_value"):
        p.grad = p.backend.xp.clip(_array(p.grad), -clip_value, clip_value)
