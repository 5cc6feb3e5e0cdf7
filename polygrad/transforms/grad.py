"""grad and value_and_grad, as in JAX, over pytrees."""
from __future__ import annotations

from typing import Callable, Sequence

from .._graph import Value
from ..errors import DTypeError, GradientError, ShapeError
from ._trace import Trace, _name

__all__ = ["grad", "value_and_grad"]


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """A function returning (f(*args), df/dargs[argnums]), like jax.value_and_grad.

    f must return a scalar (a 0-d Value). Each differentiated argument may be a pytree
    (dicts, lists, tuples, namedtuples, dataclasses) of float arrays, Values or numbers;
    its gradient has the same structure. An int ``argnums`` gives that argument's
    gradient, a tuple gives a tuple of them. Raw arrays in, raw arrays out; Value
    arguments give Value gradients; inside another transform gradients are Values with a
    graph, so grad(grad(f)) works.
    """
    def value_and_grad_f(*args, **kwargs):
        trace = Trace("grad", f, args, kwargs, argnums, has_aux)
        if len(trace.out_leaves) != 1 or not isinstance(trace.out_leaves[0], Value):
            got = type(trace.out_leaves[0]).__name__ if len(trace.out_leaves) == 1 else f"a {trace.out_tree}"
            raise GradientError(f"grad: {_name(f)} must return a Value, got {got}")
        out = trace.out_leaves[0]
        if out.shape != ():
            raise ShapeError(f"grad: {_name(f)} must return a scalar, got shape {out.shape}")
        if not out.backend.is_float(out.dtype) and out.backend.is_inexact(out.dtype):
            raise DTypeError(f"grad: {_name(f)} must return a real scalar, got dtype {out.dtype} "
                             "(as jax.grad; backpropagate a real function of it, or use backward(cotangent))")
        seed = out.backend.xp.ones((), dtype=out.dtype)
        if trace.nested:
            seed = Value._wrap(seed, out.backend)
        flat = trace.pullback([seed], create_graph=trace.nested)
        grads = trace.split_inputs(trace.input_results(flat, trace.nested), isinstance(argnums, int))
        value = trace.output()
        return ((value, trace.aux_output()) if has_aux else value), grads
    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued f with respect to args[argnums], like jax.grad."""
    vg = value_and_grad(f, argnums, has_aux)

    def grad_f(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f
