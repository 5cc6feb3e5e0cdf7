"""Gradient checking: polygrad's gradients against central differences in float64."""
from __future__ import annotations

import random
from typing import Any, Callable, Sequence

import array_api_compat

from . import _backend
from ._state import no_grad
from .engine import toposort
from .transforms import grad
from .errors import PolygradError
from .value import Value

__all__ = ["gradcheck", "GradcheckError", "scaled_error", "planted_error", "attention", "array_api_function"]


class GradcheckError(PolygradError, AssertionError):
    """polygrad's gradient and finite differences disagree."""


def scaled_error(analytic: float, numeric: float) -> float:
    """|a - n| / max(1, |a|, |n|): relative for large gradients, absolute for small ones."""
    if analytic == numeric:  # also equal infinities
        return 0.0
    return abs(analytic - numeric) / max(1.0, abs(analytic), abs(numeric))


def _float64(arg: Any, on: _backend.Backend):
    data = arg.data if isinstance(arg, Value) else arg
    host = on.to_numpy(data) if on.is_array(data) else data
    return on.asarray(host, dtype=on.xp.float64)


def gradcheck(f: Callable, *args: Any, wrt: Sequence[int] | None = None, eps: float = 1e-6,
              tol: float = 1e-6, seed: int = 0) -> float:
    """Check d f / d args[wrt] against central differences in float64; return the worst error.

    Float arguments are converted to float64 on the active backend (others pass
    unchanged). A non-scalar output is reduced with a fixed random cotangent, so
    every output element is checked. The error of each element is
    ``scaled_error(analytic, numeric)``; above ``tol`` a GradcheckError names the
    ops of the graph, the argument and the element.
    """
    on = _backend.backend()
    arrays = list(args)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if _is_float(a, on)]
    for i in wrt:
        arrays[i] = Value(_float64(args[i], on), dtype=on.xp.float64, requires_grad=False)
    probe = f(*arrays)
    if not isinstance(probe, Value):
        raise GradcheckError(f"gradcheck: {_name(f)} did not return a Value")
    rng = random.Random(seed)
    cotangent = on.asarray([rng.uniform(0.5, 1.5) for _ in range(probe.size or 0)], dtype=probe.dtype)
    cotangent = on.xp.reshape(cotangent, probe.shape)
    ops = sorted({n.op for n in toposort(probe) if n.op})

    def projected(*a):
        out = f(*a)
        return (out * cotangent).sum() if out.ndim else out * cotangent

    analytic = grad(projected, argnums=tuple(wrt))(*arrays)
    worst = 0.0
    for position, i in enumerate(wrt):
        base = on.to_numpy(arrays[i].data).astype("float64")
        got = analytic[position]
        got = on.to_numpy(got.data if isinstance(got, Value) else got).reshape(-1)
        flat = base.reshape(-1)
        for j in range(flat.shape[0]):
            values = []
            for step in (eps, -eps):
                shifted = flat.copy()
                shifted[j] += step
                arrays_shifted = list(arrays)
                arrays_shifted[i] = Value(on.asarray(shifted.reshape(base.shape), dtype=on.xp.float64),
                                          dtype=on.xp.float64, requires_grad=False)
                with no_grad():
                    values.append(float(projected(*arrays_shifted).item()))
            numeric = (values[0] - values[1]) / (2 * eps)
            error = scaled_error(float(got[j]), numeric)
            if not error <= tol:  # also catches nan
                index = _unravel(j, base.shape)
                raise GradcheckError(
                    f"gradcheck: {_name(f)} (ops: {', '.join(ops)}): argument {i}, element {index}: "
                    f"polygrad {float(got[j]):.8g}, finite differences {numeric:.8g}, error {error:.2e} > {tol:g}"
                )
            worst = max(worst, error)
    return worst


def planted_error(vjp: Callable, factor: float, which: int = -1) -> Callable:
    """A copy of the rule vjp ``vjp`` whose cotangent for input ``which`` is multiplied by
    ``factor``: plant it (``monkeypatch.setattr(rule, "vjp", ...)``) to prove that a
    gradient check fails on a wrong rule (autograd's test_tests.py)."""
    def wrong(xp, *args, **kwargs):
        cts = list(vjp(xp, *args, **kwargs))
        ct = cts[which]
        cts[which] = (ct() if callable(ct) else ct) * factor
        return tuple(cts)
    return wrong


def _is_float(arg: Any, on: _backend.Backend) -> bool:
    if isinstance(arg, float):
        return True
    if isinstance(arg, Value):
        return arg.backend.is_float(arg.dtype)
    if on.is_array(arg):
        return on.is_float(arg.dtype)
    return getattr(getattr(arg, "dtype", None), "kind", None) == "f"  # a NumPy array


def _name(f: Callable) -> str:
    return getattr(f, "__qualname__", None) or repr(f)


def _unravel(flat_index: int, shape: tuple) -> tuple:
    index = []
    for n in reversed(shape):
        index.append(flat_index % n)
        flat_index //= n
    return tuple(reversed(index))


# -- reference models: one Python function run by polygrad and by JAX (tests and conformance) --

def attention(m, softmax, x, wq, wk, wv, wo, heads=2):
    """Multi-head self-attention: x (batch, seq, dim), weights (dim, dim) -> (batch, seq, dim).

    ``m`` is the namespace (polygrad, or jax.numpy), ``softmax`` its softmax: matmul,
    reshape, permute_dims and softmax, the ops of a transformer block.
    """
    batch, seq, dim = x.shape
    d = dim // heads

    def split(t):  # (batch, seq, dim) -> (batch, heads, seq, d)
        return m.permute_dims(m.reshape(t, (batch, seq, heads, d)), (0, 2, 1, 3))
    q, k, v = split(m.matmul(x, wq)), split(m.matmul(x, wk)), split(m.matmul(x, wv))
    scores = m.matmul(q, m.permute_dims(k, (0, 1, 3, 2))) / float(d) ** 0.5
    mixed = m.matmul(softmax(scores, axis=-1), v)
    merged = m.reshape(m.permute_dims(mixed, (0, 2, 1, 3)), (batch, seq, dim))
    return m.matmul(merged, wo)


def array_api_function(x, w):
    """x (n, 4), w (4, 3) -> a scalar, through only the array API namespace of its arguments:
    the same code runs on polygrad Values (differentiable) and on JAX or NumPy arrays."""
    xp = array_api_compat.array_namespace(x, w)
    h = xp.matmul(x, w)                                        # (n, k)
    gate = xp.where(h > 0.0, h, xp.exp(h) - 1.0)               # ELU
    scale = xp.sqrt(xp.mean(gate * gate, axis=0, keepdims=True) + 1e-3)
    normed = gate / scale
    shifted = normed - xp.max(normed, axis=-1, keepdims=True)
    log_probs = shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))
    stacked = xp.concat([log_probs, xp.tanh(h)], axis=1)
    flipped = xp.permute_dims(xp.reshape(stacked, (stacked.shape[0], 2, -1)), (1, 0, 2))
    return -xp.mean(flipped[0, :, :] * 0.7 + flipped[1, ...] * 0.3) + xp.sum(xp.abs(w)) * 0.01 + xp.prod(w[:2, :1])
