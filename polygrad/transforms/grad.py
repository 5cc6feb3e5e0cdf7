"""grad and value_and_grad, as in JAX."""
from __future__ import annotations

import contextlib
from typing import Callable, Sequence

from .. import _state
from .._graph import Value, version_at
from ..engine import vjp_graph
from ..errors import DTypeError, GradientError, ShapeError

__all__ = ["grad", "value_and_grad"]


def _argnums_tuple(argnums: int | Sequence[int], nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"grad: argnums {argnums} out of range for {nargs} positional arguments")
    return tuple(i % nargs for i in nums)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """A function returning (f(*args), df/dargs[argnums]), like jax.value_and_grad.

    f must return a scalar (a 0-d Value). Raw arrays in, raw arrays out; Value
    arguments give Value gradients (with a graph when those Values are themselves
    being differentiated, so grad(grad(f)) works).
    """
    def value_and_grad_f(*args, **kwargs):
        nums = _argnums_tuple(argnums, len(args))
        args = list(args)
        targets, raw = [], True
        for i in nums:
            arg = args[i]
            if isinstance(arg, Value):
                raw = False
                if not arg.backend.is_float(arg.dtype):
                    raise DTypeError(f"grad: argument {i} has dtype {arg.dtype}; only float arguments can be differentiated")
                target = arg if arg.requires_grad else Value._wrap(arg.data, arg.backend, requires_grad=True)
            else:
                target = Value(arg)
                if not target.backend.is_float(target.dtype):
                    raise DTypeError(f"grad: argument {i} has dtype {target.dtype}; only float arguments can be differentiated")
                target.requires_grad = True
            args[i] = target
            targets.append(target)
        # Inside an enclosing grad(), gradients must be differentiable themselves.
        create_graph = _state.transform_depth() > 0 and not raw
        made = [t._id for t in targets]
        with _state.entering_transform(targets), _state.enable_grad():
            result = f(*args, **kwargs)
        # f may have written into an argument (x[i] = v, as array-api-extra's at() does):
        # the gradient is with respect to the value it was called with.
        targets = [version_at(t, creation) for t, creation in zip(targets, made)]
        out, aux = (result if has_aux else (result, None))
        if not isinstance(out, Value):
            raise GradientError(f"grad: {getattr(f, '__name__', f)} must return a Value, got {type(out).__name__}")
        if out.shape != ():
            raise ShapeError(f"grad: {getattr(f, '__name__', f)} must return a scalar, got shape {out.shape}")
        on = out.backend
        grads = {}
        if out.requires_grad:
            seed = on.xp.ones((), dtype=out.dtype)
            if create_graph:
                seed = Value._node(seed, None, (), {}, False, on)
            with (_state.enable_grad() if create_graph else contextlib.nullcontext()):
                grads = vjp_graph(out, seed, targets, create_graph)
        results = []
        for t in targets:
            g = grads.get(id(t))
            if g is None:
                g = t.backend.xp.zeros_like(t.data)
            if raw:
                g = g.data if isinstance(g, Value) else g
            elif not isinstance(g, Value):
                g = Value._wrap(g, t.backend)
            results.append(g)
        grads_out = results[0] if isinstance(argnums, int) else tuple(results)
        value = out.data if raw else out
        return ((value, aux) if has_aux else value), grads_out
    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued f with respect to args[argnums], like jax.grad."""
    vg = value_and_grad(f, argnums, has_aux)

    def grad_f(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f
