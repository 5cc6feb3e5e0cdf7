"""Custom derivatives: custom_vjp and custom_jvp as in JAX, and defop, which adds an op
with its rule to the rules table.

``custom_vjp`` and ``custom_jvp`` decorate a function of pytrees; when it is called on
Values that require a gradient it becomes one ``call`` node whose vjp is the user's rule:

- custom_vjp: ``f.defvjp(fwd, bwd)``; ``fwd(*args) -> (out, residuals)``,
  ``bwd(*nondiff_args, residuals, g) -> one cotangent per (differentiable) argument``
  (None for zero). The node's vjp is bwd; inside another transform fwd is run again
  recording, so the residuals and the cotangents carry their graph (second derivatives).
- custom_jvp: ``f.defjvp(jvp)``; ``jvp(*nondiff_args, primals, tangents) ->
  (out, tangent_out)``. polygrad differentiates in reverse: the node's vjp is the
  transpose of the jvp rule in its tangents, computed by running the rule on tangent
  Values and backpropagating the cotangent into them (exact, since a jvp rule is linear
  in its tangents, as JAX requires too).

Gradients reach the arguments only, as in JAX: a Value the function closes over is a
constant to the custom rule.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Sequence

from .. import _state
from .. import namespace as pn
from .._graph import Value, apply
from ..engine import vjp_graph
from ..errors import GradientError, PolygradError, ShapeError
from ..rules import RULES, defrule
from . import _tree
from ._call import Arguments, Call, Outputs, bind
from ._trace import grad_context

__all__ = ["custom_vjp", "custom_jvp", "defop"]


def _resolve(fun: Callable, args: tuple, kwargs: dict) -> tuple:
    """Keyword arguments bound to their positions (as JAX does for custom rules)."""
    if not kwargs:
        return args
    bound = inspect.signature(fun).bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.args) + tuple(bound.kwargs.values())


def _name(fun: Callable) -> str:
    return getattr(fun, "__qualname__", None) or getattr(fun, "__name__", None) or repr(fun)


def _differentiating(values: Sequence[Value]) -> bool:
    return _state.is_grad_enabled() and any(v.requires_grad for v in values)


def _float_leaves(leaves: Sequence, on) -> list[int]:
    """Positions of the float leaves (Values or arrays) of an output."""
    found = []
    for k, leaf in enumerate(leaves):
        data = leaf.data if isinstance(leaf, Value) else leaf
        if data is not None and (on.is_array(data) or isinstance(leaf, Value)) and on.is_float(data.dtype):
            found.append(k)
    return found


class _Custom(Call):
    """Shared by the custom_vjp and custom_jvp calls: the arguments, their backend, and the
    cotangents handed back to the engine."""

    def __init__(self, owner, arguments: Arguments, on, needs: list[bool]):
        self.owner = owner
        self.name = f"{type(owner).__name__}({_name(owner.fun)})"
        self.arguments = arguments
        self.on = on
        self.needs = needs
        self.outputs: Outputs | None = None

    def _wrap_all(self, arrays: Sequence) -> list[Value]:
        return [Value._wrap(a, self.on) for a in arrays]

    def _set_outputs(self, out: Any) -> list:
        leaves, tree = _tree.flatten(out)
        leaves = [x if isinstance(x, Value) or not self.on.is_array(x) else Value._wrap(x, self.on) for x in leaves]
        if self.outputs is None:
            self.outputs = Outputs(leaves, tree, _float_leaves(leaves, self.on), self.on)
        elif tree != self.outputs.tree:
            raise PolygradError(f"{self.name}: the output's structure changed from {self.outputs.tree} to {tree}")
        return leaves

    def _cotangent_tree(self, xp, g, create: bool) -> Any:
        """The output cotangent as a tree shaped like the output (zeros for leaves that
        take no gradient)."""
        pieces = self.outputs.unpack(xp, g)
        if not create:
            pieces = [Value._wrap(p, self.on) for p in pieces]

        def zero(leaf):
            data = leaf.data if isinstance(leaf, Value) else leaf
            return Value._wrap(self.on.xp.zeros_like(data), self.on) if self.on.is_array(data) else leaf
        return self.outputs.tree_from(pieces, zero)

    def _parent_cotangents(self, per_argument: Any, create: bool, what: str) -> tuple:
        """One cotangent per parent from a sequence with one cotangent tree per
        differentiable argument (None, or None leaves, for zero)."""
        trees = self.arguments.arg_trees
        if not isinstance(per_argument, (tuple, list)) or len(per_argument) != len(trees):
            count = len(per_argument) if isinstance(per_argument, (tuple, list)) else type(per_argument).__name__
            raise GradientError(
                f"{self.name}: {what} must return a tuple with one cotangent per differentiable argument "
                f"({len(trees)}), got {count}")
        flat = []
        for position, (treedef, ct) in enumerate(zip(trees, per_argument)):
            if ct is None:
                flat.extend([None] * treedef.num_leaves)
                continue
            try:
                flat.extend(treedef.flatten_up_to(ct))
            except (ValueError, TypeError) as exc:
                raise ShapeError(f"{self.name}: {what}'s cotangent for argument {position} does not have the "
                                 f"argument's structure {treedef}: {exc}") from None
        cts = []
        for k, need in zip(self.arguments.positions, self.needs):
            ct = flat[k]
            if ct is None or not need:
                cts.append(None)
                continue
            like = self.arguments.leaves[k]
            shape = tuple(getattr(ct, "shape", ()))
            if shape != tuple(like.shape):
                raise ShapeError(f"{self.name}: {what} returned a cotangent of shape {shape} for an argument "
                                 f"of shape {tuple(like.shape)}")
            if create:
                cts.append(ct if isinstance(ct, Value) else Value._wrap(self.on.asarray(ct), self.on))
            else:
                cts.append(ct.data if isinstance(ct, Value) else (ct if self.on.is_array(ct) else self.on.asarray(ct)))
        return tuple(cts)


def _call_node(owner, make: Callable, args: tuple, kwargs: dict) -> Any:
    """Run ``owner`` (a custom_vjp or custom_jvp) on ``args``: plainly when nothing is
    differentiated, else as one call node built by ``make(arguments, on, needs)``."""
    args = _resolve(owner.fun, args, kwargs)
    arguments = Arguments(args, {}, owner.nondiff_argnums)
    values = arguments.values()
    if not _differentiating(values):
        return owner.fun(*args)
    on = values[0].backend
    fn = make(arguments, on, [v.requires_grad for v in values])
    data = fn.forward(on.xp, *[v._require_data(fn.name) for v in values])
    if not fn.outputs.packed:
        return fn.outputs.tree_from([], lambda leaf: leaf)
    return bind(fn, values, data, fn.outputs)


# -- custom_vjp -----------------------------------------------------------------------------------

class custom_vjp:  # noqa: N801 - JAX's name
    """A function with a hand-written vjp, as jax.custom_vjp::

        @pg.custom_vjp
        def clip_gradient(lo, hi, x):
            return x

        def fwd(lo, hi, x):
            return x, None
        def bwd(lo, hi, residuals, g):
            return (pg.clip(g, lo, hi),)
        clip_gradient.defvjp(fwd, bwd)      # with nondiff_argnums=(0, 1)

    ``nondiff_argnums`` are passed to bwd first and get no cotangent.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        """fwd(*args) -> (out, residuals); bwd(*nondiff_args, residuals, g) -> tuple of cotangents."""
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None:
            raise GradientError(f"custom_vjp {_name(self.fun)}: no rule yet; define one with "
                                f"{getattr(self.fun, '__name__', 'f')}.defvjp(fwd, bwd)")
        return _call_node(self, lambda *a: _VjpCall(self, *a), args, kwargs)

    def __get__(self, instance, owner=None):  # a method: bind like a function
        return self if instance is None else functools.partial(self, instance)


class _VjpCall(_Custom):
    def forward(self, xp, *arrays):
        dynamic, _ = self.arguments.rebuild(self._wrap_all(arrays))
        with _state.no_grad():
            result = self.owner.fwd(*self.arguments.full(dynamic))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise GradientError(f"{self.name}: fwd must return a pair (output, residuals)")
        out, self.residuals = result
        leaves = self._set_outputs(out)
        return self.outputs.pack(self.on.xp, leaves)

    def vjp(self, xp, g, out, *arrays):
        create = isinstance(g, Value)
        g_tree = self._cotangent_tree(xp, g, create)
        nondiff = self.arguments.static_args()
        if create:  # residuals with their graph, so these cotangents can be differentiated again
            dynamic, _ = self.arguments.rebuild(arrays)
            with _state.enable_grad():
                _, residuals = self.owner.fwd(*self.arguments.full(dynamic))
                cts = self.owner.bwd(*nondiff, residuals, g_tree)
        else:
            with _state.no_grad():
                cts = self.owner.bwd(*nondiff, self.residuals, g_tree)
        return self._parent_cotangents(cts, create, "bwd")


# -- custom_jvp ----------------------------------------------------------------------------------

class custom_jvp:  # noqa: N801 - JAX's name
    """A function with a hand-written jvp, as jax.custom_jvp::

        @pg.custom_jvp
        def log1pexp(x):
            return pg.log1p(pg.exp(x))

        @log1pexp.defjvp
        def log1pexp_jvp(primals, tangents):
            (x,), (t,) = primals, tangents
            return log1pexp(x), t * pg.sigmoid(x)

    polygrad uses the rule in reverse mode, by transposing it in the tangents (see the
    module docstring): the rule must be linear in the tangents.
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """jvp(*nondiff_args, primals, tangents) -> (out, tangent_out). Returns ``jvp`` (a decorator)."""
        self.jvp = jvp
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One rule per argument, as jax.custom_jvp.defjvps: ``jvps[i](t_i, out, *primals)`` is
        argument i's share of the tangent (None: it has none); the shares are added."""
        if self.nondiff_argnums:
            raise TypeError("custom_jvp: defjvps cannot be used with nondiff_argnums (as in JAX)")

        def jvp(primals, tangents):
            out = self.fun(*primals)
            total = None
            for rule, tangent in zip(jvps, tangents):
                if rule is None:
                    continue
                share = rule(tangent, out, *primals)
                total = share if total is None else _tree.map(lambda a, b: a + b, total, share)
            if total is None:
                total = _tree.map(lambda leaf: leaf * 0.0, out)
            return out, total
        self.jvp = jvp

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise GradientError(f"custom_jvp {_name(self.fun)}: no rule yet; define one with "
                                f"@{getattr(self.fun, '__name__', 'f')}.defjvp")
        return _call_node(self, lambda *a: _JvpCall(self, *a), args, kwargs)

    def __get__(self, instance, owner=None):
        return self if instance is None else functools.partial(self, instance)


class _JvpCall(_Custom):
    def forward(self, xp, *arrays):
        dynamic, _ = self.arguments.rebuild(self._wrap_all(arrays))
        with _state.no_grad():
            out = self.owner.fun(*self.arguments.full(dynamic))
        leaves = self._set_outputs(out)
        return self.outputs.pack(self.on.xp, leaves)

    def vjp(self, xp, g, out, *arrays):
        create = isinstance(g, Value)
        primals = list(arrays) if create else self._wrap_all(arrays)
        tangents = []
        for a, need in zip(arrays, self.needs):
            data = a.data if isinstance(a, Value) else a
            tangents.append(Value._wrap(self.on.xp.zeros_like(data), self.on, requires_grad=need))
        primal_args, _ = self.arguments.rebuild(primals)
        tangent_args, _ = self.arguments.rebuild(tangents, others=_zero_tangent)
        with _state.enable_grad():
            result = self.owner.jvp(*self.arguments.static_args(), tuple(primal_args), tuple(tangent_args))
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise GradientError(f"{self.name}: the jvp rule must return a pair (out, tangent_out)")
            try:
                tangent_leaves = self.outputs.tree.flatten_up_to(result[1])
            except (ValueError, TypeError) as exc:
                raise ShapeError(f"{self.name}: tangent_out does not have the output's structure "
                                 f"{self.outputs.tree}: {exc}") from None
            chosen = [tangent_leaves[k] for k in self.outputs.packed]
            for leaf, shape in zip(chosen, self.outputs.shapes):
                if tuple(getattr(leaf, "shape", ())) != shape:
                    raise ShapeError(f"{self.name}: the jvp rule returned a tangent of shape "
                                     f"{tuple(getattr(leaf, 'shape', ()))} for an output of shape {shape}")
            packed = set(self.outputs.packed)
            root = self.outputs.pack(pn, [_as_value(t, self.on) if k in packed else t
                                          for k, t in enumerate(tangent_leaves)])
        targets = [t for t, need in zip(tangents, self.needs) if need]
        with grad_context(create):
            found = vjp_graph(root, g, targets, create) if root.requires_grad else {}
        return tuple(found.get(id(t)) if need else None for t, need in zip(tangents, self.needs))


def _zero_tangent(leaf: Any) -> Any:
    """The tangent of an argument leaf that is not a Value (a number, an array): zero."""
    if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
        return 0.0 * leaf
    zeros_like = getattr(getattr(leaf, "__array_namespace__", lambda: None)(), "zeros_like", None)
    return zeros_like(leaf) if zeros_like is not None else leaf


def _as_value(leaf: Any, on) -> Any:
    return leaf if isinstance(leaf, Value) else Value._wrap(on.asarray(leaf), on)


# -- defop ----------------------------------------------------------------------------------------

_user_ops: set[str] = set()


def defop(name: str, forward: Callable, vjp: Callable | None = None, *, domain: Any = "real",
          broadcasts: bool = False, checks: Callable | None = None) -> Callable:
    """Add op ``name`` to the rules table and return the function that applies it.

    ``forward(xp, *arrays, **attrs) -> array`` and ``vjp(xp, g, out, *arrays, **attrs) ->
    one cotangent per input`` (None for no gradient) follow the rules' contract (see
    ``polygrad.rules``): written against the namespace ``xp`` only, never unbroadcasting,
    so the engine, replay, ``create_graph`` and ``pg.testing.gradcheck`` use the op as
    any other. ``vjp`` None makes an op without a gradient. ``broadcasts``: the inputs
    broadcast together (shape errors are then worded by polygrad). Redefining an op made
    by ``defop`` replaces it; a built-in op's name is an error.
    """
    if name in RULES and name not in _user_ops:
        raise PolygradError(f"defop: {name!r} is a built-in op of polygrad's rules table; choose another name")
    rule = defrule(name, domain=domain, broadcasts=broadcasts)(forward)
    if vjp is not None:
        rule.defvjp(vjp)
    if checks is not None:
        rule.defchecks(checks)
    _user_ops.add(name)

    def op(*inputs: Any, **attrs: Any) -> Value:
        return apply(name, *inputs, **attrs)
    op.__name__ = op.__qualname__ = name.replace(".", "_")
    op.__doc__ = rule.doc or f"the op {name!r} (made by pg.defop)"
    op.rule = rule
    return op

