"""The three checks of one op on one example, on the active backend.

1. forward: polygrad's output against the rule's forward run through NumPy in float64
   (the inputs are first rounded to the dtype of the check, so both see the same numbers),
   and, for ops with a gradient, that reference against JAX's own function;
2. fd: polygrad's vjp of a random cotangent, through ``Value.backward``, against central
   finite differences of that float64 reference, contracted with the same cotangent;
3. jax: the same vjp against ``jax.vjp`` of JAX's own function (conformance/oracle.py),
   on the CPU in float64.

Errors are ``polygrad.testing.scaled_error`` (relative above 1, absolute below), 0 where
both sides hold the same infinity or both nan. Finite differences only judge elements
where the reference is smooth (one-sided differences agree: not a kink such as relu at 0;
steps h and 2h agree: not a jump such as sign at 0) and where JAX's gradient agrees with
them (it does not where the derivative does not exist, sqrt at 0, std of a constant, or
at a tie on a flat function, clip with min == max == x). The other elements are judged by
JAX alone; the report counts them as kinks.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import array_api_compat.numpy as npx
import numpy as np
import pytest

import polygrad as pg
from polygrad._backend import ArrayNamespace
from polygrad.rules import RULES
from polygrad.testing import scaled_error
from polygrad._graph import apply

from . import config, oracle
from .inputs import Dtype, Example
from .report import REPORT, Report, Row

FD_STEP = 1e-6          # absolute (inputs are O(1), or large where only differences matter)
KINK_THRESHOLD = 1e-3   # one-sided differences further apart than this (scaled): a kink


class ConformanceError(AssertionError):
    """A backend disagrees with a reference beyond its declared tolerance."""


# -- the float64 NumPy reference -------------------------------------------------------------

def _scatter(values, key, shape):
    out = np.zeros(shape, dtype=values.dtype)
    out[key] = values
    return out


def _scatter_add(values, indices, shape, axis):
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, (slice(None),) * axis + (indices,), values)
    return out


def _setitem(x, key, values):
    out = np.array(x, copy=True)
    out[key] = values
    return out


def _put(x, indices, values, axis):
    out = np.array(x, copy=True)
    out[(slice(None),) * axis + (indices,)] = values  # a repeated index: the last write wins
    return out


# array-api-compat's NumPy plus polygrad's extensions, written here with plain NumPy.
REFERENCE = ArrayNamespace("numpy float64 reference", npx, scatter=_scatter, scatter_add=_scatter_add,
                           setitem=_setitem, put=_put)


@contextlib.contextmanager
def quiet():
    """No NumPy warnings: the suite feeds ops nan-producing inputs (var over an empty axis,
    log(0)...) on purpose, and compares the nans."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def reference_forward(op: str, args: list, attrs: dict):
    with quiet():
        return RULES[op].forward(REFERENCE, *args, **materialize(attrs, "reference"))


# -- arrays and attributes on each target ------------------------------------------------------

def materialize(obj: Any, target: str) -> Any:
    """Attributes for ``target`` ("backend", "reference", "jax"): NumPy arrays (masks) and
    Dtype names become that target's; the reference computes everything in float64."""
    if isinstance(obj, dict):
        return {k: materialize(v, target) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(materialize(v, target) for v in obj)
    if isinstance(obj, Dtype):
        if target == "backend":
            return pg.backend().dtype(obj.name)
        if target == "jax":
            return getattr(oracle.jax_modules()[1], obj.name)
        return np.float64
    if isinstance(obj, np.ndarray):
        if target == "backend":
            return pg.backend().asarray(obj)
    return obj  # the reference and JAX take NumPy arrays (JAX needs masks concrete)


def on_backend(a: np.ndarray, layout: str, dtype: str):
    """``a`` as an array of the active backend: floats in ``dtype``, laid out as asked."""
    on = pg.backend()
    if a.dtype.kind == "f":
        a = a.astype(dtype)
    if layout == "t":  # the transpose of a C-ordered array: a non-contiguous view
        reverse = tuple(reversed(range(a.ndim)))
        return on.xp.permute_dims(on.asarray(np.ascontiguousarray(np.transpose(a, reverse))), reverse)
    if layout == "s":  # every other element along axis 0; the elements between are nan
        wide = np.full((2 * a.shape[0],) + a.shape[1:], np.nan, dtype=a.dtype)
        wide[::2] = a
        return on.asarray(wide)[::2, ...]
    return on.asarray(a)


def to_host(x) -> np.ndarray:
    if isinstance(x, pg.Value):
        x = x.data
    return np.asarray(pg.backend().to_numpy(x))


def rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    """Float arrays rounded to ``dtype`` and back to float64; others unchanged."""
    return a.astype(dtype).astype(np.float64) if a.dtype.kind == "f" else a


# -- comparing ---------------------------------------------------------------------------------

def errors(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Element by element scaled_error; 0 where both are nan, inf where only one is."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    want = np.asarray(want, dtype=np.float64).reshape(-1)
    out = np.empty(got.shape)
    for i, (a, b) in enumerate(zip(got.tolist(), want.tolist())):
        if math.isnan(a) and math.isnan(b):
            out[i] = 0.0
        else:
            e = scaled_error(a, b)
            out[i] = math.inf if math.isnan(e) else e
    return out


def _worst(errs: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    if mask is not None:
        errs = np.where(mask.reshape(-1), errs, 0.0)
    if not errs.size:
        return 0.0, -1
    at = int(np.argmax(errs))
    return float(errs[at]), at


def _pair(what: str, got: np.ndarray, other: str, want: np.ndarray, flat: int, mine: str = "polygrad") -> str:
    """'<what> element (i, j): <mine> a, <other> b' for the flat index of the worst error."""
    if flat < 0:
        return f"{what} (no elements)"
    where = tuple(int(i) for i in np.unravel_index(flat, np.shape(want))) if np.ndim(want) else ()
    return (f"{what} element {where}: {mine} {np.asarray(got).reshape(-1)[flat]!r}, "
            f"{other} {np.asarray(want).reshape(-1)[flat]!r}")


# -- the checks ----------------------------------------------------------------------------------

@dataclass
class Checked:
    """What check_op saw: polygrad's output and gradients (NumPy, by input position)."""
    out: Any
    grads: dict


def check_op(op: str, ex: Example, seed: int, row: Row | None = None, *, always_jax: bool = False,
             jax_function: Callable | None = None) -> Checked:
    """Run the checks of ``op`` on ``ex``; record errors in ``row``; raise ConformanceError
    naming the op, the check, the input and the element on the first one out of tolerance.

    always_jax: run the JAX oracle whatever the profile; jax_function: JAX's function for
    this check instead of oracle.py's (an edge case judged against another JAX spelling)."""
    rule = RULES[op]
    dtype = config.dtype_name()
    out_dtype = ex.out_dtype or dtype
    tol = config.tolerance(dtype, out_dtype)
    failures: list[str] = []
    if row is not None:
        row.examples += 1

    def record(check: str, err: float, limit: float, detail: str) -> None:
        if row is not None:
            row.record(check, err)
        if not err <= limit:
            failures.append(f"{op} {check}: {detail}: error {err:.3g} > tolerance {limit:g} ({dtype} on "
                            f"{pg.backend().name}) for {ex!r}")

    ref_args = [rounded(a, dtype) for a in ex.args]
    want = reference_forward(op, ref_args, ex.attrs)

    leaves = [pg.Value(on_backend(a, layout, dtype), dtype=None if a.dtype.kind != "f" else pg.backend().dtype(dtype),
                       requires_grad=a.dtype.kind == "f" and rule.differentiable)
              for a, layout in zip(ex.args, ex.layouts)]
    with quiet():
        out = apply(op, *leaves, **materialize(ex.attrs, "backend"))
    _check_forward(op, out, want, out_dtype, tol, record)
    checked = Checked(out.data, {})
    if not rule.differentiable:
        return _raise(failures, checked)

    rng = np.random.default_rng(seed)
    cot = rng.uniform(0.5, 1.5, np.shape(want)) * rng.choice([-1.0, 1.0], np.shape(want))
    cot = rounded(np.asarray(cot), out_dtype)
    on = pg.backend()
    with quiet():
        out.backward(on.asarray(cot.astype(out_dtype)))
    got = {}
    for i, leaf in enumerate(leaves):
        if not leaf.requires_grad:
            continue
        if leaf.grad is None:
            failures.append(f"{op}: backward gave input {i} no gradient for {ex!r}")
            continue
        if tuple(leaf.grad.shape) != tuple(leaf.shape) or leaf.grad.dtype != leaf.dtype:
            failures.append(f"{op}: the gradient of input {i} has shape {tuple(leaf.grad.shape)} and dtype "
                            f"{leaf.grad.dtype}; the input {tuple(leaf.shape)} and {leaf.dtype}")
            continue
        got[i] = checked.grads[i] = to_host(leaf.grad).astype(np.float64)

    # 2. finite differences of the reference, where it is smooth
    fd_tol = max(tol, config.FD_TOLERANCE_FLOOR)
    with quiet():
        numeric = {i: finite_differences(op, ref_args, ex.attrs, i, cot) for i in got}
    unconfirmed = any(not smooth.all() or _worst(errors(got[i], fd), smooth)[0] > fd_tol
                      for i, (fd, smooth) in numeric.items())

    # 3. JAX: on every example where finite differences do not confirm every element, and
    # on the first config.jax_examples() of each op.
    jax_grads = {}
    if always_jax or unconfirmed or row is None or row.examples <= config.jax_examples():
        jax_attrs = materialize(ex.attrs, "jax")
        jax_out, jax_all = oracle.vjp(op, ref_args, jax_attrs, cot, jax_function)
        finite = all(np.isfinite(np.asarray(a, dtype=np.float64)).all()
                     for a in (want, jax_out, *ref_args, *got.values(), *(jax_all[i] for i in got)))
        if not finite or any(_worst(errors(g, jax_all[i]))[0] > tol for i, g in got.items()):
            jax_out, jax_all = oracle.vjp(op, ref_args, jax_attrs, cot, jax_function, compiled=False)
        # The rule's forward, run through NumPy, against JAX's own function: the reference
        # is only as right as the rule (a wrong rule is caught here, a wrong oracle too).
        err, at = _worst(errors(want, jax_out))
        record("forward", err, config.tolerance("float64"),
               _pair("output", want, "JAX", jax_out, at, mine="the rule's forward through NumPy")
               + " (a wrong rule, or a wrong entry in conformance/oracle.py)")
        if row is not None:
            row.jax_examples += 1
        for i, g in got.items():
            jax_grads[i] = jax_all[i]
            err, at = _worst(errors(g, jax_all[i]))
            record("jax", err, tol, _pair(f"gradient of input {i}", g, "JAX", jax_all[i], at))

    for i, g in got.items():
        fd, smooth = numeric[i]
        if i in jax_grads:
            # Where JAX's own gradient is not the finite differences' (nan or inf where the
            # derivative does not exist, a tie on a flat function such as clip with
            # min == max == x), a convention decides, not calculus: JAX alone judges it.
            smooth &= (errors(jax_grads[i], fd) <= config.FD_TOLERANCE_FLOOR).reshape(fd.shape)
        if row is not None:
            row.kinks += int(smooth.size - np.count_nonzero(smooth))
        err, at = _worst(errors(g, fd), smooth)
        record("fd", err, fd_tol, _pair(f"gradient of input {i}", g, "finite differences", fd, at))
    return _raise(failures, checked)


def _raise(failures: list[str], checked: Checked) -> Checked:
    if failures:
        raise ConformanceError("\n".join(failures))
    return checked


def declared(row_name: str, check: Callable[[], Any], report: Report = REPORT) -> Any:
    """Run ``check`` for a report row, honouring the backend's declared deviations: a row
    declared in backends/<name>.py is skipped with the declared reason where it fails,
    and noted where it passes (the declaration may be stale)."""
    reason = config.deviation(row_name)
    if reason is None:
        return check()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - any failure of a declared deviation
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        pytest.skip(f"declared deviation: {reason} (here: {type(exc).__name__}: {first})")
    report.row(row_name).note = f"declared deviation not observed: {reason}"
    return result


def _check_forward(op: str, out: pg.Value, want: Any, out_dtype: str, tol: float, record: Callable) -> None:
    got_parts = out.data if isinstance(out.data, tuple) else (out.data,)
    want_parts = want if isinstance(want, tuple) else (want,)
    if len(got_parts) != len(want_parts):
        raise ConformanceError(f"{op}: {len(got_parts)} outputs, the reference has {len(want_parts)}")
    on = pg.backend()
    for part, (g, w) in enumerate(zip(got_parts, want_parts)):
        w = np.asarray(w)
        g_host = np.asarray(on.to_numpy(g))
        if g_host.shape != w.shape:
            raise ConformanceError(f"{op}: output shape {g_host.shape}, the reference's {w.shape}")
        if w.dtype.kind == "f":
            if g.dtype != on.dtype(out_dtype):
                raise ConformanceError(f"{op}: output dtype {g.dtype}, expected {out_dtype}")
            err, at = _worst(errors(g_host, w))
            record("forward", err, tol, _pair(f"output {part}", g_host, "reference", w, at))
        else:
            if g_host.dtype.kind != w.dtype.kind and {g_host.dtype.kind, w.dtype.kind} != {"i", "u"}:
                raise ConformanceError(f"{op}: output dtype {g.dtype}, the reference's {w.dtype}")
            mismatch = np.flatnonzero(g_host.reshape(-1) != w.reshape(-1))
            record("forward", math.inf if mismatch.size else 0.0, 0.0,
                   _pair(f"output {part}", g_host, "reference", w, int(mismatch[0]) if mismatch.size else -1))


def finite_differences(op: str, args: list, attrs: dict, i: int, cot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d/d args[i] of sum(cot * reference(args)) by central differences, and a mask of
    the elements where the reference is smooth: finite, with one-sided differences that
    agree (not a kink such as |x| at 0) and central differences with steps h and 2h that
    agree (not a jump such as sign at 0, where both one-sided differences are 1/h)."""
    def projected(values):
        full = list(args)
        full[i] = values
        return float(np.sum(cot * np.asarray(reference_forward(op, full, attrs), dtype=np.float64)))

    x = args[i]
    base = projected(x)
    numeric = np.zeros(x.shape)
    smooth = np.zeros(x.shape, dtype=bool)
    for j in np.ndindex(*x.shape):
        shifted = x.copy()
        points, values = [], []
        for step in (FD_STEP, -FD_STEP, 2 * FD_STEP, -2 * FD_STEP):
            shifted[j] = x[j] + step
            points.append(shifted[j] - x[j])  # the step as rounded: exact at any magnitude
            values.append(projected(shifted))
        (h, mh, h2, mh2), (plus, minus, plus2, minus2) = points, values
        numeric[j] = (plus - minus) / (h - mh)
        smooth[j] = (all(math.isfinite(v) for v in (base, *values))
                     and scaled_error((plus - base) / h, (base - minus) / -mh) <= KINK_THRESHOLD
                     and scaled_error(numeric[j], (plus2 - minus2) / (h2 - mh2)) <= KINK_THRESHOLD)
    return numeric, smooth
