"""Where the time goes: ``pg.profile()`` records every op's forward and backward time.

    with pg.profile() as prof:
        loss = model(x).sum(); loss.backward()
    print(prof.table())                       # per op: calls, forward and backward ms, bytes
    prof.export_chrome_trace("trace.json")    # open in https://ui.perfetto.dev or chrome://tracing

While a profile is open, ``apply`` (and replay's forward) time each rule's forward and the
backward walk times each vjp, including the parts a vjp defers until an input needs them.
With ``sync=True`` (the default) each op waits for its result (``mx.eval`` on MLX,
``block_until_ready`` on JAX), so the times are the op's own, not its dispatch; that stops
MLX fusing ops, so a profiled step is slower than an unprofiled one. With create_graph the
vjps run polygrad ops, which are recorded too (their forward time inside the backward).
Off, the profiler costs one global read per op and per vjp. One profile at a time per
process (a nested one takes over, then hands back); not thread-safe.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _graph

__all__ = ["profile", "Profile", "OpStats"]

_now_ns = time.perf_counter_ns


@dataclass
class OpStats:
    """The totals of one op type."""
    calls: int = 0
    forward_ns: int = 0
    backward_calls: int = 0
    backward_ns: int = 0
    output_bytes: int = 0

    @property
    def total_ns(self) -> int:
        return self.forward_ns + self.backward_ns


def _nbytes(on: Any, array: Any) -> int:
    nbytes = getattr(array, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    xp, dtype = on.xp, array.dtype
    if dtype == xp.bool:
        bits = 8
    elif xp.isdtype(dtype, ("real floating", "complex floating")):
        bits = xp.finfo(dtype).bits * (2 if xp.isdtype(dtype, "complex floating") else 1)
    else:
        bits = xp.iinfo(dtype).bits
    return math.prod(array.shape) * bits // 8


class Profile:
    """The recorder ``pg.profile()`` returns: ``stats`` maps op name -> OpStats, ``events``
    holds (name, phase, start_ns, duration_ns, shape) for the Chrome trace."""

    def __init__(self, *, sync: bool = True, max_events: int = 1_000_000):
        self.sync = sync
        self.max_events = max_events
        self.stats: dict[str, OpStats] = {}
        self.events: list[tuple[str, str, int, int, tuple]] = []
        self._origin_ns = _now_ns()
        self._previous = None

    # -- the hooks (_graph.apply / run_forward and engine.vjp_graph call these) --------------
    def _wait(self, on: Any, out: Any) -> None:
        on.evaluate(out)
        wait = getattr(out, "block_until_ready", None)
        if wait is not None:
            wait()

    def forward(self, rule: Any, on: Any, arrays: list, attrs: dict) -> Any:
        start = _now_ns()
        out = rule.forward(on.xp, *arrays, **attrs)
        if self.sync:
            self._wait(on, out)
        took = _now_ns() - start
        stats = self.stats.get(rule.name) or self.stats.setdefault(rule.name, OpStats())
        stats.calls += 1
        stats.forward_ns += took
        stats.output_bytes += _nbytes(on, out)
        self._event(rule.name, "forward", start, took, tuple(out.shape))
        return out

    def timed_vjp(self, node: Any):
        """The vjp of node's op, timed, with the cotangents it defers (callables) timed too."""
        vjp = _graph.RULES[node.op].vjp
        op, on = node.op, node.backend

        def timed(*args, **kwargs):
            start = _now_ns()
            cts = vjp(*args, **kwargs)
            cts = [self._deferred(op, on, ct) if callable(ct) else ct for ct in cts]
            for ct in cts:
                if self.sync and ct is not None and not callable(ct) and not isinstance(ct, _graph.Value):
                    self._wait(on, ct)
            self._backward(op, start, node)
            return cts
        return timed

    def _deferred(self, op: str, on: Any, compute):
        def timed():
            start = _now_ns()
            ct = compute()
            if self.sync and not isinstance(ct, _graph.Value):
                self._wait(on, ct)
            took = _now_ns() - start
            self.stats[op].backward_ns += took
            self._event(op, "backward", start, took, tuple(ct.shape))
            return ct
        return timed

    def _backward(self, op: str, start: int, node: Any) -> None:
        took = _now_ns() - start
        stats = self.stats.get(op) or self.stats.setdefault(op, OpStats())
        stats.backward_calls += 1
        stats.backward_ns += took
        self._event(op, "backward", start, took, tuple(node.shape or ()))

    def _event(self, name: str, phase: str, start: int, took: int, shape: tuple) -> None:
        if len(self.events) < self.max_events:
            self.events.append((name, phase, start, took, shape))

    # -- the context -----------------------------------------------------------------------
    def __enter__(self) -> "Profile":
        self._previous = _graph._profiler
        _graph._profiler = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _graph._profiler = self._previous
        self._previous = None

    # -- reports ---------------------------------------------------------------------------
    def table(self, sort_by: str = "total", limit: int | None = None) -> str:
        """A text table, one row per op, sorted by ``sort_by`` ("total", "forward",
        "backward", "calls" or "bytes"), largest first."""
        keys = {"total": lambda s: s.total_ns, "forward": lambda s: s.forward_ns, "backward": lambda s: s.backward_ns,
                "calls": lambda s: s.calls, "bytes": lambda s: s.output_bytes}
        if sort_by not in keys:
            raise ValueError(f"Profile.table: sort_by must be one of {sorted(keys)}, got {sort_by!r}")
        rows = sorted(self.stats.items(), key=lambda item: keys[sort_by](item[1]), reverse=True)[:limit]
        everything = sum(s.total_ns for s in self.stats.values()) or 1
        width = max([len("op"), *(len(op) for op, _ in rows)])
        lines = [f"{'op':<{width}}  {'calls':>7}  {'forward ms':>10}  {'bwd calls':>9}  {'backward ms':>11}"
                 f"  {'total %':>7}  {'out MiB':>9}"]
        for op, s in rows:
            lines.append(f"{op:<{width}}  {s.calls:>7}  {s.forward_ns / 1e6:>10.3f}  {s.backward_calls:>9}"
                         f"  {s.backward_ns / 1e6:>11.3f}  {100 * s.total_ns / everything:>6.1f}%"
                         f"  {s.output_bytes / 2**20:>9.3f}")
        total_fwd = sum(s.forward_ns for s in self.stats.values()) / 1e6
        total_bwd = sum(s.backward_ns for s in self.stats.values()) / 1e6
        lines.append(f"{'total':<{width}}  {sum(s.calls for s in self.stats.values()):>7}  {total_fwd:>10.3f}"
                     f"  {sum(s.backward_calls for s in self.stats.values()):>9}  {total_bwd:>11.3f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def chrome_trace(self) -> dict:
        """The events in the Trace Event Format ("X" complete events, microseconds)."""
        pid = os.getpid()
        events = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": "polygrad"}}]
        for name, phase, start, took, shape in self.events:
            events.append({"name": name, "cat": phase, "ph": "X", "pid": pid, "tid": 0,
                           "ts": (start - self._origin_ns) / 1e3, "dur": took / 1e3,
                           "args": {"phase": phase, "shape": list(shape)}})
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def export_chrome_trace(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.chrome_trace()))


def profile(*, sync: bool = True, max_events: int = 1_000_000) -> Profile:
    """A context that records per op type the calls, forward and backward time and the
    bytes of the outputs: ``with pg.profile() as prof: ...``; then ``prof.table()``,
    ``prof.export_chrome_trace(path)``."""
    return Profile(sync=sync, max_events=max_events)
