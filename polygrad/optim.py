"""Optimizers. The base walks the parameters and counts steps; each subclass gives
``init_single`` (its state for one parameter) and ``apply_single`` (the update).

Updates compute new arrays instead of writing in place, so they work on backends
whose arrays are immutable (JAX).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .value import Value

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    def __init__(self, parameters: Sequence[Value]):
        self.parameters = list(parameters)
        self.state: list[Any] = [self.init_single(p) for p in self.parameters]
        self.step_count = 0

    def init_single(self, parameter: Value) -> Any:
        return None

    def apply_single(self, grad: Any, data: Any, state: Any, xp: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        self.step_count += 1
        updated: dict = {}  # backend -> new arrays
        for i, p in enumerate(self.parameters):
            if p.grad is None:
                continue
            g = p.grad.data if isinstance(p.grad, Value) else p.grad
            p.data, self.state[i] = self.apply_single(g, p.data, self.state[i], p.backend.xp)
            updated.setdefault(p.backend, []).extend((p.data, self.state[i]))
        for on, arrays in updated.items():  # lazy backends (MLX) compute the step here, in one graph
            on.evaluate(*arrays)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and weight decay.

        g <- g + weight_decay * w;  v <- momentum * v + g;  w <- w - lr * v
    """

    def __init__(self, parameters, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        super().__init__(parameters)

    def apply_single(self, grad, data, velocity, xp):
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        if self.momentum:
            velocity = grad if velocity is None else self.momentum * velocity + grad
            grad = velocity
        return data - self.lr * grad, velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected.

        m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
        w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    def __init__(self, parameters, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        super().__init__(parameters)

    def init_single(self, parameter: Value):
        xp = parameter.backend.xp
        return xp.zeros_like(parameter.data), xp.zeros_like(parameter.data)

    def apply_single(self, grad, data, state, xp):
        b1, b2 = self.betas
        m, v = state
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * (grad * grad)
        t = self.step_count
        step = self.lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return data - step * m / (xp.sqrt(v) + self.eps * math.sqrt(1 - b2 ** t)), (m, v)
