"""vjp, jvp, linearize, jacrev, jacfwd and hessian, with JAX's names and signatures.

polygrad records reverse mode only; forward mode is the *transpose trick* (exact, not a
finite difference). The vjp of f at x is linear in its cotangent u: g(u) = J^T u. Built as
a graph in u (``create_graph``), its own vjp with respect to u, seeded with a tangent t,
is (J^T)^T t = J t, the jvp. So ``linearize`` records f's graph, then the graph of
g(u) once; every jvp after that is one reverse pass over g's graph. It is exact because
every rule's vjp is linear in its cotangent (the rules table's contract); its cost is about
two reverse passes per jvp rather than one forward pass.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from .. import _state
from .. import namespace as pn
from .._graph import Value
from ..engine import vjp_graph
from . import _tree
from ._trace import (Trace, as_cotangent, deliver, grad_context, match_structure, pack)

__all__ = ["vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian", "hessian"]


def _all(n: int) -> tuple[int, ...]:
    return tuple(range(n))


def vjp(f: Callable, *primals: Any, has_aux: bool = False):
    """(f(*primals), vjp_fn) or, with ``has_aux``, (f(*primals), vjp_fn, aux), as jax.vjp.

    ``vjp_fn(cotangent)`` takes a cotangent with the structure, shapes and dtypes of the
    output and returns a tuple with one cotangent per primal (each shaped like it). It is
    linear in the cotangent, may be called any number of times, and is itself
    differentiable inside another transform.
    """
    trace = Trace("vjp", f, primals, {}, _all(len(primals)), has_aux)

    def vjp_fn(cotangent):
        nested = _state.transform_depth() > 0
        given = match_structure(cotangent, trace.out_tree, "vjp", "cotangent")
        cts = [None] * len(given)
        for k in trace.differentiable_outputs():
            cts[k] = as_cotangent(given[k], trace.out_leaves[k], "vjp", lambda k=k: f"cotangent leaf {k}", nested)
        flat = trace.pullback(cts, create_graph=nested)
        return trace.split_inputs(trace.input_results(flat, nested), single=False)

    out = trace.output()
    return (out, vjp_fn, trace.aux_output()) if has_aux else (out, vjp_fn)


class _Linearization:
    """The graph of g(u) = J^T u for a Trace, and jvps as reverse passes over it."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.outputs = trace.differentiable_outputs()
        cts: list = [None] * len(trace.out_leaves)
        self.u: list[Value] = []
        for k in self.outputs:
            leaf = trace.out_leaves[k]
            self.u.append(Value._wrap(leaf.backend.xp.zeros_like(leaf.data), leaf.backend, requires_grad=True))
            cts[k] = self.u[-1]
        g = trace.pullback(cts, create_graph=True) if self.u else [None] * len(trace.inputs)
        self.live = [i for i, gi in enumerate(g) if isinstance(gi, Value) and gi.requires_grad]
        self.root = None
        if self.live:
            with _state.enable_grad():
                self.root = g[self.live[0]] if len(self.live) == 1 else pack(pn, [g[i] for i in self.live])

    def __call__(self, tangents: Sequence, nested: bool) -> list:
        """J t for tangents given one per input (arrays, or Values when ``nested``): one
        tangent per output leaf, None where it is zero."""
        out: list = [None] * len(self.trace.out_leaves)
        if self.root is None:
            return out
        if len(self.live) == 1:
            seed = tangents[self.live[0]]
        else:
            xp = pn if nested else self.root.backend.xp
            with grad_context(nested):
                seed = pack(xp, [tangents[i] for i in self.live])
                if seed.dtype != self.root.dtype:
                    seed = xp.astype(seed, self.root.dtype)
        with grad_context(nested):
            found = vjp_graph(self.root, seed, self.u, nested)
        for k, u in zip(self.outputs, self.u):
            out[k] = found.get(id(u))
        return out


def _tangent_leaves(trace: Trace, tangents: Sequence, nested: bool, what: str) -> list:
    flat = []
    for position, (treedef, tangent) in enumerate(zip(trace.in_trees, tangents)):
        flat.extend(match_structure(tangent, treedef, what, f"tangent of primal {position}"))
    return [as_cotangent(t, x, what, lambda k=k: f"tangent leaf {k}", nested)
            for k, (t, x) in enumerate(zip(flat, trace.inputs))]


def _output_results(trace: Trace, flat: Sequence, nested: bool) -> Any:
    """Output tangents (None = zero) as a tree shaped like the output."""
    leaves = []
    for leaf, value in zip(trace.out_leaves, flat):
        if isinstance(leaf, Value):
            leaves.append(deliver(value, leaf, nested=nested, raw=trace.raw))
        else:  # a constant output: its tangent is zero
            on = _backend_of(trace)
            leaves.append(deliver(None, Value._wrap(on.asarray(leaf), on), nested=nested, raw=trace.raw))
    return _tree.unflatten(trace.out_tree, leaves)


def _backend_of(trace: Trace):
    return trace.inputs[0].backend if trace.inputs else pn.asarray(0.0).backend


def linearize(f: Callable, *primals: Any, has_aux: bool = False):
    """(f(*primals), f_jvp) or, with ``has_aux``, (f(*primals), f_jvp, aux), as jax.linearize:
    ``f_jvp(*tangents)`` is the jvp of f at ``primals``, one reverse pass over a recorded
    graph per call (see the module docstring)."""
    trace = Trace("linearize", f, primals, {}, _all(len(primals)), has_aux)
    linear = _Linearization(trace)

    def f_jvp(*tangents):
        if len(tangents) != len(primals):
            raise TypeError(f"linearize: f_jvp takes {len(primals)} tangents (one per primal), got {len(tangents)}")
        nested = _state.transform_depth() > 0
        return _output_results(trace, linear(_tangent_leaves(trace, tangents, nested, "linearize"), nested), nested)

    out = trace.output()
    return (out, f_jvp, trace.aux_output()) if has_aux else (out, f_jvp)


def jvp(f: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False):
    """(f(*primals), J tangents) or, with ``has_aux``, (out, tangent_out, aux), as jax.jvp.

    ``primals`` and ``tangents`` are tuples (or lists) of pytrees of the same structure,
    shapes and dtypes. Computed by the transpose trick (module docstring): exact.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists (one entry per argument of f)")
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    trace = Trace("jvp", f, primals, {}, _all(len(primals)), has_aux)
    nested = trace.nested
    linear = _Linearization(trace)
    tangent_out = _output_results(trace, linear(_tangent_leaves(trace, tangents, nested, "jvp"), nested), nested)
    out = trace.output()
    return (out, tangent_out, trace.aux_output()) if has_aux else (out, tangent_out)


# -- Jacobians ---------------------------------------------------------------------------------

def _basis(leaf: Value, index: int, nested: bool) -> Any:
    """The one-hot array of ``leaf``'s shape and dtype with a 1 at flat ``index``."""
    on = leaf.backend
    row = on.xp.reshape(on.xp.eye(1, _size(tuple(leaf.shape)), k=index, dtype=leaf.dtype), tuple(leaf.shape))
    return Value._wrap(row, on) if nested else row


def _size(shape: tuple) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _assemble(trace: Trace, blocks: list[list], out_first: bool, nested: bool, single: bool) -> Any:
    """The Jacobian as JAX lays it out: a tree shaped like the output whose leaves are trees
    shaped like the (differentiated) arguments, each leaf of shape out.shape + in.shape.

    ``blocks[k][i]``: for output leaf k and input leaf i, the list of slices: with
    ``out_first`` (jacrev) one per element of output k, each shaped like input i; else
    (jacfwd) one per element of input i, each shaped like output k.
    """
    xp = pn if nested else _backend_of(trace).xp
    out_trees = []
    for k, leaf in enumerate(trace.out_leaves):
        out_shape = tuple(leaf.shape) if isinstance(leaf, Value) else tuple(_backend_of(trace).asarray(leaf).shape)
        per_input = []
        for i, x in enumerate(trace.inputs):
            in_shape = tuple(x.shape)
            parts = blocks[k][i]
            full = out_shape + in_shape
            if not parts or _size(full) == 0:
                block = None
            else:
                stacked = xp.stack(parts, axis=0 if out_first else -1)
                block = xp.reshape(stacked, full)
            if block is None:
                block = x.backend.xp.zeros(full, dtype=x.dtype)
            per_input.append(deliver(block, x, nested=nested, raw=trace.raw))
        out_trees.append(trace.split_inputs(per_input, single))
    return _tree.unflatten(trace.out_tree, out_trees)


def _zero_like(x: Value, nested: bool) -> Any:
    zero = x.backend.xp.zeros_like(x.data)
    return Value._wrap(zero, x.backend) if nested else zero


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of f with respect to args[argnums] by reverse mode, as jax.jacrev: one
    vjp per output element. Outputs and arguments may be pytrees: the result is a tree
    shaped like the output whose leaves are trees shaped like the argument(s), leaf shapes
    out.shape + in.shape."""
    def jacrev_f(*args, **kwargs):
        trace = Trace("jacrev", f, args, kwargs, argnums, has_aux)
        nested = trace.nested
        outputs = trace.differentiable_outputs()
        blocks = [[[] for _ in trace.inputs] for _ in trace.out_leaves]
        for k in outputs:
            leaf = trace.out_leaves[k]
            for j in range(_size(tuple(leaf.shape))):
                cts: list = [None] * len(trace.out_leaves)
                cts[k] = _basis(leaf, j, nested)
                for i, ct in enumerate(trace.pullback(cts, create_graph=nested)):
                    blocks[k][i].append(ct if ct is not None else _zero_like(trace.inputs[i], nested))
        jac = _assemble(trace, blocks, True, nested, isinstance(argnums, int))
        return (jac, trace.aux_output()) if has_aux else jac
    return jacrev_f


jacobian = jacrev  # jax.jacobian is jacrev


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of f with respect to args[argnums] by forward mode (jvps by the transpose
    trick), as jax.jacfwd: one jvp per input element; the layout is jacrev's."""
    def jacfwd_f(*args, **kwargs):
        trace = Trace("jacfwd", f, args, kwargs, argnums, has_aux)
        nested = trace.nested
        linear = _Linearization(trace)
        blocks = [[[] for _ in trace.inputs] for _ in trace.out_leaves]
        zeros = [_zero_like(t, nested) for t in trace.inputs]
        for i, x in enumerate(trace.inputs):
            for j in range(_size(tuple(x.shape))):
                tangents = list(zeros)
                tangents[i] = _basis(x, j, nested)
                columns = linear(tangents, nested)
                for k, leaf in enumerate(trace.out_leaves):
                    if isinstance(leaf, Value):
                        blocks[k][i].append(columns[k] if columns[k] is not None else _zero_like(leaf, nested))
        jac = _assemble(trace, blocks, False, nested, isinstance(argnums, int))
        return (jac, trace.aux_output()) if has_aux else jac
    return jacfwd_f


def hessian(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The Hessian of scalar f, as jax.hessian: jacfwd(jacrev(f)), forward over reverse."""
    return jacfwd(jacrev(f, argnums, has_aux=has_aux), argnums, has_aux=has_aux)
