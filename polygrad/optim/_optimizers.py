"""SGD, Adam, AdamW, RMSprop, Adagrad, Lion: each its state and its update, equations in
the docstring (w the parameter, g its gradient, eta the learning rate of the step, t the
step number from 1). The conventions are PyTorch's (Lion: the paper's and optax's)."""
from __future__ import annotations

import math

from ._base import Optimizer

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Lion"]


def _check(name: str, value: float, low: float = 0.0, high: float = math.inf, *, open_high: bool = False) -> float:
    if not (low <= value < high if open_high else low <= value <= high):
        raise ValueError(f"{name} must lie in [{low}, {high}{')' if open_high else ']'}, got {value}")
    return value


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and L2
    weight decay:

        g <- g + weight_decay * w
        b <- momentum * b + g                    (b starts at 0, so b = g at the first step)
        g <- g + momentum * b if nesterov else b (when momentum > 0)
        w <- w - eta * g
    """

    def __init__(self, params, lr=0.01, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        self.momentum = _check("SGD: momentum", momentum, 0.0, 1.0, open_high=True)
        self.weight_decay = _check("SGD: weight_decay", weight_decay)
        if nesterov and not momentum:
            raise ValueError("SGD: nesterov needs a momentum > 0")
        self.nesterov = nesterov
        super().__init__(params, lr)

    def init_single(self, data, xp):
        return {"momentum": xp.zeros_like(data)} if self.momentum else {}

    def apply_single(self, grad, data, state, lr, xp):
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        if self.momentum:
            buffer = self.momentum * state["momentum"] + grad
            state = {"momentum": buffer}
            grad = grad + self.momentum * buffer if self.nesterov else buffer
        return data - lr * grad, state


class Adam(Optimizer):
    """Adam (Kingma & Ba), bias-corrected, with optional L2 weight decay (added to g, as
    PyTorch's Adam; for decoupled decay use AdamW):

        g <- g + weight_decay * w
        m <- b1 m + (1 - b1) g
        v <- b2 v + (1 - b2) g^2
        w <- w - eta m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t)
    """

    def __init__(self, params, lr=1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.betas = (_check("Adam: beta1", betas[0], 0.0, 1.0, open_high=True),
                      _check("Adam: beta2", betas[1], 0.0, 1.0, open_high=True))
        self.eps = _check("Adam: eps", eps)
        self.weight_decay = _check("Adam: weight_decay", weight_decay)
        super().__init__(params, lr)

    def init_single(self, data, xp):
        return {"m": xp.zeros_like(data), "v": xp.zeros_like(data)}

    def _adam(self, grad, data, state, lr, xp):
        b1, b2 = self.betas
        m = b1 * state["m"] + (1.0 - b1) * grad
        v = b2 * state["v"] + (1.0 - b2) * (grad * grad)
        t = self.step_count
        # PyTorch's arrangement: the bias corrections fold into two scalars.
        denominator = xp.sqrt(v) / math.sqrt(1.0 - b2 ** t) + self.eps
        return data - (lr / (1.0 - b1 ** t)) * (m / denominator), {"m": m, "v": v}

    def apply_single(self, grad, data, state, lr, xp):
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        return self._adam(grad, data, state, lr, xp)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as PyTorch's AdamW:

        w <- w (1 - eta * weight_decay)
        then Adam's update of w with g (no decay added to g)
    """

    def __init__(self, params, lr=1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, 0.0)
        self.weight_decay = _check("AdamW: weight_decay", weight_decay)

    def apply_single(self, grad, data, state, lr, xp):
        if self.weight_decay:
            data = data * (1.0 - lr * self.weight_decay)
        return self._adam(grad, data, state, lr, xp)


class RMSprop(Optimizer):
    """RMSprop (Hinton), as PyTorch's, optionally centered and with momentum:

        g <- g + weight_decay * w
        v <- alpha v + (1 - alpha) g^2
        a <- alpha a + (1 - alpha) g;  d = sqrt(v - a^2) + eps     (centered)
        d = sqrt(v) + eps                                          (otherwise)
        b <- momentum b + g / d;  w <- w - eta b                    (momentum > 0)
        w <- w - eta g / d                                         (otherwise)
    """

    def __init__(self, params, lr=0.01, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False):
        self.alpha = _check("RMSprop: alpha", alpha, 0.0, 1.0)
        self.eps = _check("RMSprop: eps", eps)
        self.weight_decay = _check("RMSprop: weight_decay", weight_decay)
        self.momentum = _check("RMSprop: momentum", momentum, 0.0, 1.0, open_high=True)
        self.centered = centered
        super().__init__(params, lr)

    def init_single(self, data, xp):
        state = {"v": xp.zeros_like(data)}
        if self.centered:
            state["a"] = xp.zeros_like(data)
        if self.momentum:
            state["momentum"] = xp.zeros_like(data)
        return state

    def apply_single(self, grad, data, state, lr, xp):
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        alpha = self.alpha
        new = {"v": alpha * state["v"] + (1.0 - alpha) * (grad * grad)}
        if self.centered:
            new["a"] = alpha * state["a"] + (1.0 - alpha) * grad
            denominator = xp.sqrt(new["v"] - new["a"] * new["a"]) + self.eps
        else:
            denominator = xp.sqrt(new["v"]) + self.eps
        if self.momentum:
            new["momentum"] = self.momentum * state["momentum"] + grad / denominator
            return data - lr * new["momentum"], new
        return data - lr * (grad / denominator), new


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), as PyTorch's (decay the rate with a schedule):

        g <- g + weight_decay * w
        s <- s + g^2                      (s starts at initial_accumulator_value)
        w <- w - eta g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=0.01, eps: float = 1e-10, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0):
        self.eps = _check("Adagrad: eps", eps)
        self.weight_decay = _check("Adagrad: weight_decay", weight_decay)
        self.initial_accumulator_value = _check("Adagrad: initial_accumulator_value", initial_accumulator_value)
        super().__init__(params, lr)

    def init_single(self, data, xp):
        return {"sum": xp.full_like(data, self.initial_accumulator_value)}

    def apply_single(self, grad, data, state, lr, xp):
        if self.weight_decay:
            grad = grad + self.weight_decay * data
        total = state["sum"] + grad * grad
        return data - lr * (grad / (xp.sqrt(total) + self.eps)), {"sum": total}


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as optax.lion:

        c = b1 m + (1 - b1) g
        w <- w - eta (sign(c) + weight_decay * w)
        m <- b2 m + (1 - b2) g
    Its updates are +-eta per element: use a learning rate 3-10x smaller than AdamW's.
    """

    def __init__(self, params, lr=1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
        self.betas = (_check("Lion: beta1", betas[0], 0.0, 1.0), _check("Lion: beta2", betas[1], 0.0, 1.0))
        self.weight_decay = _check("Lion: weight_decay", weight_decay)
        super().__init__(params, lr)

    def init_single(self, data, xp):
        return {"m": xp.zeros_like(data)}

    def apply_single(self, grad, data, state, lr, xp):
        b1, b2 = self.betas
        update = xp.sign(b1 * state["m"] + (1.0 - b1) * grad)
        if self.weight_decay:
            update = update + self.weight_decay * data
        return data - lr * update, {"m": b2 * state["m"] + (1.0 - b2) * grad}
