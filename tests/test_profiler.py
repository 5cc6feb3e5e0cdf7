"""pg.profile(): per-op counts, forward and backward times, bytes, the table, the Chrome trace."""
from __future__ import annotations

import json

import numpy as np
import pytest

import polygrad as pg
from polygrad import _graph


def _step():
    w = pg.Value(np.ones((3, 2), dtype=np.float32))
    x = pg.Value(np.ones((4, 3), dtype=np.float32), requires_grad=False)
    h = pg.tanh(x @ w)
    loss = pg.sum(pg.tanh(h) * h)
    loss.backward()
    return loss


def test_counts_times_and_bytes_per_op():
    with pg.profile() as prof:
        _step()
    assert _graph._profiler is None  # off again after the context
    stats = prof.stats
    assert set(stats) == {"matmul", "tanh", "multiply", "sum"}
    assert (stats["tanh"].calls, stats["tanh"].backward_calls) == (2, 2)
    assert (stats["matmul"].calls, stats["matmul"].backward_calls) == (1, 1)
    assert stats["multiply"].calls == 1 and stats["sum"].calls == 1
    assert stats["tanh"].output_bytes == 2 * 4 * 2 * 4  # two (4, 2) float32 outputs
    assert all(s.forward_ns > 0 and s.backward_ns > 0 for s in stats.values())
    table = prof.table()
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["op", "calls"] and lines[-1].startswith("total")
    ops = [line.split()[0] for line in lines[1:-1]]
    assert sorted(ops) == sorted(stats)
    totals = [stats[op].total_ns for op in ops]
    assert totals == sorted(totals, reverse=True)
    with pytest.raises(ValueError, match="sort_by"):
        prof.table(sort_by="speed")


def test_nothing_is_recorded_outside_the_context():
    with pg.profile() as prof:
        pass
    _step()
    assert prof.stats == {} and prof.events == []


def test_chrome_trace_is_trace_event_json(tmp_path):
    with pg.profile() as prof:
        _step()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert sum(e["cat"] == "forward" for e in complete) == 5
    # five vjps, plus the cotangents a vjp defers until an input needs them, each its own event
    assert sum(e["cat"] == "backward" for e in complete) >= 5
    for event in complete:
        assert {"name", "cat", "ph", "ts", "dur", "pid", "tid"} <= set(event)
        assert event["cat"] in ("forward", "backward") and event["dur"] >= 0 and event["ts"] >= 0
    forward = [e for e in complete if e["cat"] == "forward"]
    assert [e["name"] for e in forward] == ["matmul", "tanh", "tanh", "multiply", "sum"]
    assert [e["ts"] for e in forward] == sorted(e["ts"] for e in forward)
    assert forward[0]["args"]["shape"] == [4, 2]


def test_create_graph_backward_is_recorded():
    x = pg.Value(np.asarray([0.5, 1.0], dtype=np.float32))
    with pg.profile() as prof:
        y = pg.sum(pg.sin(x))
        y.backward(create_graph=True)
    assert prof.stats["sin"].backward_calls == 1
    assert prof.stats["cos"].calls >= 1  # the vjp's own ops, run as polygrad ops
