"""Learning-rate schedules: functions of the step count t (0 at the first step, as optax
counts), passed as ``lr``. Any callable of t works the same way, and so does any iterator
of numbers (one drawn per step); these are the usual shapes, with their formulas.
"""
from __future__ import annotations

import math
from typing import Callable

__all__ = ["constant", "step_decay", "exponential_decay", "cosine_decay", "one_cycle"]

Schedule = Callable[[int], float]


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def constant(value: float) -> Schedule:
    """lr(t) = value."""
    def schedule(t: int) -> float:
        return value
    return schedule


def step_decay(init: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """lr(t) = init * gamma ** floor(t / step_size) (PyTorch's StepLR)."""
    _positive("step_decay: step_size", step_size)

    def schedule(t: int) -> float:
        return init * gamma ** (t // step_size)
    return schedule


def exponential_decay(init: float, decay_rate: float, decay_steps: int = 1) -> Schedule:
    """lr(t) = init * decay_rate ** (t / decay_steps) (optax's; PyTorch's ExponentialLR is decay_steps=1)."""
    _positive("exponential_decay: decay_steps", decay_steps)

    def schedule(t: int) -> float:
        return init * decay_rate ** (t / decay_steps)
    return schedule


def cosine_decay(peak: float, total_steps: int, *, warmup_steps: int = 0, warmup_start: float = 0.0,
                 end: float = 0.0) -> Schedule:
    """A linear warm-up from warmup_start to peak over warmup_steps, then a half cosine from
    peak down to end at total_steps (which counts the warm-up; optax's
    warmup_cosine_decay_schedule), end afterwards:

        lr(t) = warmup_start + (peak - warmup_start) t / warmup_steps              t < warmup_steps
        lr(t) = end + (peak - end) (1 + cos(pi p)) / 2,  p = min(1, (t - warmup_steps) / (total_steps - warmup_steps))
    """
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(f"cosine_decay: need 0 <= warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
    decay = total_steps - warmup_steps

    def schedule(t: int) -> float:
        if t < warmup_steps:
            return warmup_start + (peak - warmup_start) * t / warmup_steps
        progress = min(1.0, (t - warmup_steps) / decay)
        return end + (peak - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return schedule


def one_cycle(peak: float, total_steps: int, *, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> Schedule:
    """The one-cycle policy (Smith), as PyTorch's OneCycleLR with cosine annealing: from
    peak / div_factor up to peak at step pct_start * total_steps - 1, then down to
    peak / (div_factor * final_div_factor) at step total_steps - 1 (held there afterwards):

        cos_anneal(a, b, p) = b + (a - b) (1 + cos(pi p)) / 2
        lr(t) = cos_anneal(initial, peak, t / up)                    t <= up = pct_start * total_steps - 1
        lr(t) = cos_anneal(peak, final, (t - up) / (total_steps - 1 - up))   afterwards
    """
    if not 0.0 < pct_start < 1.0:
        raise ValueError(f"one_cycle: pct_start must lie in (0, 1), got {pct_start}")
    initial = peak / div_factor
    final = initial / final_div_factor
    up = pct_start * total_steps - 1.0
    down = total_steps - 1.0 - up
    if up <= 0 or down <= 0:
        raise ValueError(f"one_cycle: total_steps {total_steps} is too few for pct_start {pct_start}")

    def anneal(start: float, stop: float, progress: float) -> float:
        return stop + (start - stop) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def schedule(t: int) -> float:
        if t <= up:
            return anneal(initial, peak, t / up)
        return anneal(peak, final, (t - up) / down)
    return schedule
