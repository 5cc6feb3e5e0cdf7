"""The optimizer base: it walks the parameter tree, counts steps, evaluates the learning
rate, keeps the state by parameter name and saves it; each optimizer only gives
``init_single`` and ``apply_single`` (MLX's design).

Updates compute new arrays instead of writing in place, so they work on backends whose
arrays are immutable (JAX), and a ``state_dict()`` taken earlier stays a snapshot.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable

from .._dotted import check_state, flatten, to_backend, to_host
from .._graph import Value
from ..errors import PolygradError

__all__ = ["Optimizer", "named_parameters"]


def named_parameters(params: Any, what: str = "optimizer") -> list[tuple[str, Value]]:
    """(name, Value) pairs from a Module (its parameter names), a dict tree of Values (dotted
    names), (name, Value) pairs, or Values (named by position "0", "1"...); each Value once."""
    if hasattr(params, "named_parameters") and callable(params.named_parameters):
        pairs = list(params.named_parameters())
    elif isinstance(params, dict):
        pairs = list(flatten(params, what).items())
    else:
        items = list(params)
        if items and all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], str) for i in items):
            pairs = items
        else:
            pairs = [(str(i), item) for i, item in enumerate(items)]
    found, seen = [], set()
    for name, value in pairs:
        if not isinstance(value, Value):
            raise TypeError(f"{what}: parameter {name!r} is a {type(value).__name__}, not a Value")
        if value.op is not None:
            raise ValueError(f"{what}: parameter {name!r} is the output of {value.op}, not a leaf; "
                             "optimizers update leaf Values")
        if id(value) not in seen:
            seen.add(id(value))
            found.append((name, value))
    names = [name for name, _ in found]
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: two parameters share a name: {sorted({n for n in names if names.count(n) > 1})}")
    return found


class Optimizer:
    """Base class. ``Optimizer(params, lr)``: params as ``named_parameters`` takes them (a
    Module, a dict, a list of Values); lr a number, a schedule (a callable of the step
    count, 0 at the first step: see pg.optim's schedules) or an iterator of numbers (one
    drawn per step, brief-ds style). ``lr`` may be reassigned between steps.

    A subclass gives:
      init_single(data, xp) -> dict of state arrays for one parameter (slot name -> array)
      apply_single(grad, data, state, lr, xp) -> (new data, new state), arrays of the
          parameter's backend; ``self.step_count`` is the step being taken (1 at the first).
    """

    def __init__(self, params: Any, lr: float | Callable[[int], float] | Iterable[float]):
        named = named_parameters(params, type(self).__name__)
        self.names = [name for name, _ in named]
        self.parameters = [value for _, value in named]
        self.lr = lr
        self.last_lr: float | None = None
        self.step_count = 0
        self.state: dict[str, dict[str, Any]] = {
            name: self.init_single(p._require_data(type(self).__name__), p.backend.xp) for name, p in named}

    def init_single(self, data: Any, xp: Any) -> dict[str, Any]:
        return {}

    def apply_single(self, grad: Any, data: Any, state: dict[str, Any], lr: float, xp: Any) -> tuple[Any, dict[str, Any]]:
        raise NotImplementedError(f"{type(self).__name__} must define apply_single()")

    def learning_rate(self) -> float:
        """The learning rate for the next step (draws from an iterator: call once per step)."""
        lr = self.lr
        if isinstance(lr, numbers.Real):
            return float(lr)
        if callable(lr):
            return float(lr(self.step_count))
        if hasattr(lr, "__next__"):
            try:
                return float(next(lr))
            except StopIteration:
                raise PolygradError(f"{type(self).__name__}: the learning-rate iterator ran out after "
                                    f"{self.step_count} steps") from None
        raise TypeError(f"{type(self).__name__}: lr must be a number, a callable of the step or an iterator, "
                        f"got {type(lr).__name__}")

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient; the others, and their state, are left alone."""
        lr = self.learning_rate()
        self.last_lr = lr
        self.step_count += 1
        updated: dict = {}  # backend -> new arrays
        for name, p in zip(self.names, self.parameters):
            if p.grad is None:
                continue
            g = p.grad.data if isinstance(p.grad, Value) else p.grad
            p.data, state = self.apply_single(g, p.data, self.state[name], lr, p.backend.xp)
            self.state[name] = state
            updated.setdefault(p.backend, []).extend((p.data, *state.values()))
        for on, arrays in updated.items():  # lazy backends (MLX) compute the step here, in one graph
            on.evaluate(*arrays)

    # -- saving ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """{"step": step count, "state": {parameter name: {slot: array}}}; pg.save takes it."""
        return {"step": self.step_count, "state": {name: dict(slots) for name, slots in self.state.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the step count and every state array (nested as state_dict() gives, or
        flat dotted names); arrays of any backend move to their parameter's. A missing or
        unexpected name or a wrong shape is a StateDictError listing them all."""
        what = f"{type(self).__name__}.load_state_dict"
        flat = flatten(state, what)
        own = flatten({"step": 0, "state": self.state}, what)
        check_state({name: getattr(value, "shape", ()) for name, value in own.items()}, flat, what)
        new_state = {name: dict(slots) for name, slots in self.state.items()}
        for name, p in zip(self.names, self.parameters):
            for slot, current in self.state[name].items():
                data = to_backend(flat[f"state.{name}.{slot}"], p.backend, what)
                new_state[name][slot] = data if data.dtype == current.dtype else p.backend.xp.astype(data, current.dtype)
        self.step_count = int(to_host(flat["step"], what))
        self.state = new_state
