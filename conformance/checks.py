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

Complex inputs and outputs are checked in JAX's convention: with a cotangent c, the vjp of
a complex input z = x + iy is d/dx - i d/dy of Re(sum(c * f)) (for a real input, d/dx of
it), which is what finite differences take along both parts; errors of complex numbers are
the worse of their real and imaginary parts'.
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
from polygrad._backend._special import scipy_special
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


# array-api-compat's NumPy plus polygrad's extensions: the scatters and writes written here
# with plain NumPy, the special functions SciPy's (as on the numpy backend).
REFERENCE = ArrayNamespace("numpy float64 reference", npx, scatter=_scatter, scatter_add=_scatter_add,
                           special=scipy_special(np), setitem=_setitem, put=_put)


@contextlib.contextmanager
def quiet():
    """No NumPy warnings: the suite feeds ops nan-producing inputs (var over an empty axis,
    log(0)...) on purpose, and compares the nans."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def reference_forward(op: str, args: list, attrs: dict):
    with quiet():
        result = RULES[op].forward(REFERENCE, *args, **materialize(attrs, "reference"))
        canonical = CANONICAL.get(op)
        return canonical(npx, *result) if canonical else result


# -- decompositions, made unique --------------------------------------------------------------
# Eigenvectors, singular vectors and QR factors are unique only up to the sign of each
# vector, which libraries choose differently. A row of such an op checks the op followed by
# a sign normalisation (each vector flipped so the sum of the cubes of its elements is
# positive), written once against any namespace ``m``: applied by polygrad's ops to
# polygrad's outputs (so the gradient flows through it), by NumPy to the reference and by
# jax.numpy to JAX's. The normalisation is locally constant, so it changes no gradient
# beyond flipping it with its vector.

def _column_signs(m, a):
    return m.sign(m.sum(a * a * a, axis=-2, keepdims=True))


def _row_signs(m, a):
    return m.sign(m.sum(a * a * a, axis=-1, keepdims=True))


CANONICAL: dict[str, Callable] = {
    "linalg.eigh": lambda m, w, v: (w, v * _column_signs(m, v)),
    "linalg.svd": lambda m, u, s, vh: (u * _column_signs(m, u), s, vh * _row_signs(m, vh)),
    "linalg.qr": lambda m, q, r: (q * _column_signs(m, q), r * _row_signs(m, r)),
}


def _polygrad_outputs(op: str, out: pg.Value) -> list:
    """polygrad's results of ``op`` as Values: the node itself, or a multi-output rule's
    results (see polygrad/rules/outputs.py), made unique as the references are."""
    if not isinstance(out.data, tuple):
        return [out]
    count = len(out.data)
    parts = [apply("output", out, index=i, count=count) for i in range(count)]
    canonical = CANONICAL.get(op)
    return list(canonical(pg, *parts)) if canonical else parts


_TUPLE_FUNCTIONS: dict = {}


def _jax_function(op: str, fn: Callable | None, multi_output: bool) -> Callable | None:
    """JAX's function for op (``fn`` if given); for a multi-output op, one returning a plain
    tuple, made unique as CANONICAL says (kept, so the oracle's compiled programs are reused)."""
    if not multi_output:
        return fn
    key = (op, fn)
    if key not in _TUPLE_FUNCTIONS:
        base = fn or oracle.function(op)
        canonical = CANONICAL.get(op)
        jnp = oracle.jax_modules()[1]

        def run(*args, **attrs):
            result = tuple(base(*args, **attrs))
            return tuple(canonical(jnp, *result)) if canonical else result
        _TUPLE_FUNCTIONS[key] = run
    return _TUPLE_FUNCTIONS[key]



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
    """``a`` as an array of the active backend: floats in ``dtype`` (complex numbers in the
    complex dtype of its precision), laid out as asked."""
    on = pg.backend()
    if a.dtype.kind in "fc":
        a = a.astype(inexact_dtype(a, dtype))
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


def inexact_dtype(a: np.ndarray, dtype: str) -> str:
    """The dtype an array of ``a``'s kind takes in a check in float ``dtype``: complex
    arrays the complex dtype of that precision."""
    return config.complex_name(dtype) if a.dtype.kind == "c" else dtype


def rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    """Float (and complex) arrays rounded to ``dtype``'s precision and back to 64 bits;
    others unchanged."""
    if a.dtype.kind == "f":
        return a.astype(dtype).astype(np.float64)
    if a.dtype.kind == "c":
        return a.astype(inexact_dtype(a, dtype)).astype(np.complex128)
    return a


def _parts(x) -> tuple:
    """An op's result as a tuple of arrays (one for single-output ops)."""
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _finite(*arrays) -> bool:
    return all(np.isfinite(np.asarray(p)).all() for a in arrays for p in _parts(a))


# -- comparing ---------------------------------------------------------------------------------

def errors(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Element by element scaled_error; 0 where both are nan, inf where only one is."""
    if np.asarray(got).dtype.kind == "c" or np.asarray(want).dtype.kind == "c":
        # complex: the worse of the real and the imaginary part's errors, element by element
        got, want = np.asarray(got).astype(np.complex128), np.asarray(want).astype(np.complex128)
        return np.maximum(errors(got.real, want.real), errors(got.imag, want.imag))
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
    wants = _parts(want)

    differentiates = [a.dtype.kind in "fc" and rule.differentiable and i not in ex.constants
                      for i, a in enumerate(ex.args)]
    leaves = [pg.Value(on_backend(a, layout, dtype),
                       dtype=pg.backend().dtype(inexact_dtype(a, dtype)) if a.dtype.kind in "fc" else None,
                       requires_grad=d)
              for a, layout, d in zip(ex.args, ex.layouts, differentiates)]
    with quiet():
        out = apply(op, *leaves, **materialize(ex.attrs, "backend"))
        outs = _polygrad_outputs(op, out)
    _check_forward(op, outs, wants, out_dtype, tol, record)
    checked = Checked(outs[0].data if len(outs) == 1 else tuple(o.data for o in outs), {})
    if not rule.differentiable:
        return _raise(failures, checked)

    # one cotangent per output; complex outputs get complex ones (JAX's convention pairs
    # them with the output as Re(sum(cot * out)))
    rng = np.random.default_rng(seed)
    cots = []
    for w in wants:
        w = np.asarray(w)
        cot = rng.uniform(0.5, 1.5, w.shape) * rng.choice([-1.0, 1.0], w.shape)
        if w.dtype.kind == "c":
            cot = cot + 1j * rng.uniform(-1.5, 1.5, w.shape)
        cots.append(rounded(np.asarray(cot), out_dtype))
    on = pg.backend()
    with quiet():
        if len(outs) == 1:
            outs[0].backward(on.asarray(cots[0].astype(inexact_dtype(cots[0], out_dtype))))
        else:  # a multi-output op (real outputs): backpropagate sum_i <cot_i, out_i>
            total = None
            for o, c in zip(outs, cots):
                term = pg.sum(o * on.asarray(c.astype(out_dtype)))
                total = term if total is None else total + term
            total.backward()
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
        host = to_host(leaf.grad)
        got[i] = checked.grads[i] = host.astype(np.complex128 if host.dtype.kind == "c" else np.float64)

    # 2. finite differences of the reference, where it is smooth
    fd_tol = max(tol, config.FD_TOLERANCE_FLOOR)
    with quiet():
        numeric = {i: finite_differences(op, ref_args, ex.attrs, i, cots) for i in got}
    unconfirmed = any(not smooth.all() or _worst(errors(got[i], fd), smooth)[0] > fd_tol
                      for i, (fd, smooth) in numeric.items())

    # 3. JAX: on every example where finite differences do not confirm every element, and
    # on the first config.jax_examples(op) of each op.
    jax_grads = {}
    if always_jax or unconfirmed or row is None or row.examples <= config.jax_examples(op):
        jax_attrs = materialize(ex.attrs, "jax")
        multi_output = isinstance(want, tuple)
        jax_fn = _jax_function(op, jax_function, multi_output)
        jax_cot = tuple(cots) if multi_output else cots[0]
        # the table's function (made a tuple for a multi-output op) is named the same in
        # every process, so its answers are cached; a test's own function is not
        cache_as = None if jax_function is not None else f"{op} {'tuple' if multi_output else 'table'}"
        jax_out, jax_all = oracle.vjp(op, ref_args, jax_attrs, jax_cot, jax_fn, cache_as=cache_as)
        finite = _finite(want, jax_out, *ref_args, *got.values(), *(jax_all[i] for i in got))
        if not finite or any(_worst(errors(g, jax_all[i]))[0] > tol for i, g in got.items()):
            jax_out, jax_all = oracle.vjp(op, ref_args, jax_attrs, jax_cot, jax_fn, compiled=False,
                                          cache_as=cache_as)
        # The rule's forward, run through NumPy, against JAX's own function: the reference
        # is only as right as the rule (a wrong rule is caught here, a wrong oracle too).
        jax_outs = _parts(jax_out)
        for part, (w, j) in enumerate(zip(wants, jax_outs)):
            err, at = _worst(errors(w, j))
            record("forward", err, config.tolerance("float64"),
                   _pair(f"output {part}" if len(wants) > 1 else "output", w, "JAX", j, at,
                         mine="the rule's forward through NumPy")
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


def _check_forward(op: str, outs: list, wants: tuple, out_dtype: str, tol: float, record: Callable) -> None:
    if len(outs) != len(wants):
        raise ConformanceError(f"{op}: {len(outs)} outputs, the reference has {len(wants)}")
    on = pg.backend()
    for part, (out, w) in enumerate(zip(outs, wants)):
        g = out.data
        w = np.asarray(w)
        g_host = np.asarray(on.to_numpy(g))
        if g_host.shape != w.shape:
            raise ConformanceError(f"{op}: output {part} has shape {g_host.shape}, the reference's {w.shape}")
        if w.dtype.kind in "fc":
            expected = inexact_dtype(w, out_dtype)
            if g.dtype != on.dtype(expected):
                raise ConformanceError(f"{op}: output {part} has dtype {g.dtype}, expected {expected}")
            err, at = _worst(errors(g_host, w))
            record("forward", err, tol, _pair(f"output {part}", g_host, "reference", w, at))
        else:
            if g_host.dtype.kind != w.dtype.kind and {g_host.dtype.kind, w.dtype.kind} != {"i", "u"}:
                raise ConformanceError(f"{op}: output {part} has dtype {g.dtype}, the reference's {w.dtype}")
            mismatch = np.flatnonzero(g_host.reshape(-1) != w.reshape(-1))
            record("forward", math.inf if mismatch.size else 0.0, 0.0,
                   _pair(f"output {part}", g_host, "reference", w, int(mismatch[0]) if mismatch.size else -1))


def finite_differences(op: str, args: list, attrs: dict, i: int, cots) -> tuple[np.ndarray, np.ndarray]:
    """d/d args[i] of sum_k Re(sum(cot_k * reference(args)_k)) by central differences, and
    a mask of the elements where the reference is smooth: finite, with one-sided
    differences that agree (not a kink such as |x| at 0) and central differences with steps
    h and 2h that agree (not a jump such as sign at 0, where both one-sided differences are
    1/h). A complex input is stepped along its real and its imaginary part; its gradient is
    d/d(real part) - i d/d(imaginary part), JAX's convention."""
    cots = _parts(cots)

    def projected(values):
        full = list(args)
        full[i] = values
        outs = _parts(reference_forward(op, full, attrs))
        return float(sum(np.real(np.sum(c * np.asarray(o))) for c, o in zip(cots, outs)))

    x = args[i]
    base = projected(x)
    directions = (1.0, 1j) if x.dtype.kind == "c" else (1.0,)
    numeric = np.zeros(x.shape, dtype=np.complex128 if x.dtype.kind == "c" else np.float64)
    smooth = np.ones(x.shape, dtype=bool)
    for j in np.ndindex(*x.shape):
        for direction in directions:
            shifted = x.copy()
            points, values = [], []
            for step in (FD_STEP, -FD_STEP, 2 * FD_STEP, -2 * FD_STEP):
                shifted[j] = x[j] + step * direction
                points.append(float(np.real((shifted[j] - x[j]) / direction)))  # the step as rounded
                values.append(projected(shifted))
            (h, mh, h2, mh2), (plus, minus, plus2, minus2) = points, values
            derivative = (plus - minus) / (h - mh)
            numeric[j] += derivative if direction == 1.0 else -1j * derivative
            smooth[j] &= (all(math.isfinite(v) for v in (base, *values))
                          and scaled_error((plus - base) / h, (base - minus) / -mh) <= KINK_THRESHOLD
                          and scaled_error(derivative, (plus2 - minus2) / (h2 - mh2)) <= KINK_THRESHOLD)
    return numeric, smooth
