"""pg.viz.graph: the Digraph's source names ops, shapes, dtypes; leaves and ops differ;
big graphs are summarised. Rendering is tested only where Graphviz's `dot` exists."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import polygrad as pg

graphviz = pytest.importorskip("graphviz", reason="graphviz is the optional extra 'viz'")


def _small_graph():
    w = pg.Value(np.ones((3, 2), dtype=np.float32), name="w")
    x = pg.Value(np.ones((4, 3), dtype=np.float32), requires_grad=False)
    return pg.sum(pg.tanh(x @ w)), w


def test_source_names_ops_shapes_dtypes_and_leaves():
    loss, _ = _small_graph()
    dot = pg.viz.graph(loss)
    assert isinstance(dot, graphviz.Digraph)
    source = dot.source
    for text in ("matmul\\n(4, 2) float32", "tanh\\n(4, 2) float32", "sum\\n() float32", "w\\n(3, 2) float32",
                 "const\\n(4, 3) float32"):
        assert text in source, text
    assert source.count("shape=box") == 3 and source.count("shape=ellipse") == 2
    assert source.count("->") == 4
    assert "summary" not in source


def test_big_graph_is_capped_with_a_summary_node():
    x = pg.Value(np.ones(2, dtype=np.float32))
    y = x
    for _ in range(50):
        y = pg.sin(y) + 1.0
    dot = pg.viz.graph(y, max_nodes=10)
    source = dot.source
    assert source.count("shape=box") + source.count("shape=ellipse") == 10
    summary = [line for line in source.splitlines() if line.strip().startswith("summary [")]
    assert len(summary) == 1
    assert "more nodes" in summary[0] and "sin x" in summary[0]


def test_rejects_a_non_value():
    with pytest.raises(TypeError, match="expected a Value"):
        pg.viz.graph(np.ones(2))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot binary is not installed (apt-get install graphviz)")
def test_renders_svg(tmp_path):
    loss, _ = _small_graph()
    pg.viz.graph(loss, tmp_path / "loss.svg")
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
