"""The graph as a picture: ``pg.viz.graph(value)``, micrograd's ``draw_dot`` for tensors.

    dot = pg.viz.graph(loss)                 # a graphviz.Digraph (shows inline in Jupyter)
    pg.viz.graph(loss, "loss.svg")           # also written to loss.svg (or .png: format="png")

Each op is a box with its name, output shape and dtype; leaves are ellipses, filled when
they take a gradient (parameters), named where they have a name; placeholders are dashed.
A graph of more than ``max_nodes`` nodes keeps the ``max_nodes`` nodes nearest the output
and draws the rest as one summary node counting them by op. Needs the ``graphviz``
package (``pip install -e ".[viz]"``); rendering a file also needs Graphviz's ``dot``.
"""
from __future__ import annotations

from collections import Counter, deque
from pathlib import Path
from typing import Any

from ._graph import Value

__all__ = ["graph"]


def _dtype_name(node: Value) -> str:
    try:
        dtype = node.dtype
    except Exception:  # a node below a placeholder that was never fed
        return "?"
    return str(getattr(dtype, "name", None) or dtype).rpartition(".")[2]  # mlx.core.float32 -> float32


def _shape_text(node: Value) -> str:
    shape = node.shape
    if shape is None:
        return "(?)"
    return "(" + ", ".join("?" if n is None else str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _label(node: Value) -> str:
    detail = f"{_shape_text(node)} {_dtype_name(node)}"
    if node.op is not None:
        return f"{node.op}\\n{detail}"
    if node.data is None:
        return f"placeholder {node.name or ''}\\n{detail}".replace("  ", " ")
    if node.name:
        return f"{node.name}\\n{detail}"
    if node.size == 1:  # a scalar constant or parameter: show its number
        try:
            return f"{float(node.backend.to_numpy(node.data).reshape(())):.4g}\\n{detail}"
        except Exception:
            pass
    return ("param" if node.requires_grad else "const") + f"\\n{detail}"


def _nearest(root: Value, max_nodes: int) -> tuple[list[Value], set[int]]:
    """Up to max_nodes nodes, breadth first from the root; and the ids of every node."""
    kept: list[Value] = []
    seen = {id(root)}
    queue = deque([root])
    everything: dict[int, Value] = {id(root): root}
    while queue:
        node = queue.popleft()
        if len(kept) < max_nodes:
            kept.append(node)
        for parent in node.parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                everything[id(parent)] = parent
                queue.append(parent)
    return kept, everything


def graph(value: Value, path: str | Path | None = None, format: str = "svg", *, max_nodes: int = 200,
          rankdir: str = "LR") -> Any:
    """The graph that computed ``value`` as a ``graphviz.Digraph``; with ``path``, also
    rendered there in ``format`` (svg, png, pdf...; needs the ``dot`` binary)."""
    try:
        import graphviz
    except ImportError as exc:
        raise ImportError('pg.viz.graph needs the graphviz package: pip install -e ".[viz]"') from exc
    if not isinstance(value, Value):
        raise TypeError(f"pg.viz.graph: expected a Value, got {type(value).__name__}")
    if max_nodes < 1:
        raise ValueError(f"pg.viz.graph: max_nodes must be at least 1, got {max_nodes}")
    kept, everything = _nearest(value, max_nodes)
    kept_ids = {id(node) for node in kept}
    names = {id(node): f"n{i}" for i, node in enumerate(kept)}  # stable names: a diffable source
    dot = graphviz.Digraph("polygrad", graph_attr={"rankdir": rankdir}, node_attr={"fontsize": "10"})
    for node in kept:
        if node.op is not None:
            dot.node(names[id(node)], _label(node), shape="box", style="rounded,filled",
                     fillcolor="lightblue" if node is not value else "gold")
        elif node.data is None:
            dot.node(names[id(node)], _label(node), shape="ellipse", style="dashed")
        else:
            dot.node(names[id(node)], _label(node), shape="ellipse",
                     **({"style": "filled", "fillcolor": "palegreen"} if node.requires_grad else {}))
    left_out = [node for key, node in everything.items() if key not in kept_ids]
    if left_out:
        ops = Counter(node.op or "leaf" for node in left_out)
        top = ", ".join(f"{op} x{count}" for op, count in ops.most_common(6))
        more = "" if len(ops) <= 6 else ", ..."
        dot.node("summary", f"{len(left_out)} more nodes\\n{top}{more}", shape="note", style="filled",
                 fillcolor="lightgrey")
    summarised = set()
    for node in kept:
        for parent in node.parents:
            if id(parent) in kept_ids:
                dot.edge(names[id(parent)], names[id(node)])
            elif id(node) not in summarised:
                summarised.add(id(node))
                dot.edge("summary", names[id(node)], style="dashed")
    if path is not None:
        Path(path).write_bytes(dot.pipe(format=format))
    return dot
