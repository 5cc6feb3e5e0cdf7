"""JAX, the independent oracle: for every op with a gradient, the same function in JAX.

Where JAX has its own canonical function (jax.nn.relu, jax.nn.softmax,
jax.scipy.special.logsumexp, jnp.abs, jnp.max, jnp.clip...) the oracle is that function,
so kinks are judged by JAX's conventions, not by polygrad's rule run through jax.numpy.
Each entry takes the op's arrays and attributes exactly as polygrad's rule does (the
keyword names must match: a mismatch is a TypeError, never a silent default).

JAX runs on the CPU in float64, whatever the backend under test.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from polygrad.rules import RULES

_jax = None


def jax_modules():
    """(jax, jax.numpy) with 64-bit floats enabled; pytest.skip where JAX is missing."""
    global _jax
    if _jax is None:
        try:
            import jax
            import jax.numpy as jnp
            import jax.scipy.special  # noqa: F401 - logsumexp
        except ImportError as exc:  # pragma: no cover - jax is a test dependency
            import pytest
            pytest.skip(f"jax is not installed ({exc}): the oracle check needs it (pip install jax)")
        jax.config.update("jax_enable_x64", True)
        _jax = (jax, jnp)
    return _jax


def _table() -> dict[str, Callable]:
    jax, jnp = jax_modules()

    def scatter_add(values, indices, *, shape, axis):
        return jnp.zeros(shape, values.dtype).at[(slice(None),) * axis + (indices,)].add(values)

    return {
        # arithmetic and elementwise functions
        "add": jnp.add,
        "subtract": jnp.subtract,
        "multiply": jnp.multiply,
        "divide": jnp.divide,
        "negative": jnp.negative,
        "pow": jnp.power,
        "exp": jnp.exp,
        "log": jnp.log,
        "log1p": jnp.log1p,
        "expm1": jnp.expm1,
        "sqrt": jnp.sqrt,
        "sin": jnp.sin,
        "cos": jnp.cos,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "relu": jax.nn.relu,
        "abs": jnp.abs,
        "sign": jnp.sign,
        "maximum": jnp.maximum,
        "minimum": jnp.minimum,
        "where": jnp.where,
        "clip": lambda x, *, min=None, max=None: jnp.clip(x, min=min, max=max),  # noqa: A002
        # reductions and nn
        "sum": lambda x, *, axis=None, keepdims=False: jnp.sum(x, axis=axis, keepdims=keepdims),
        "mean": lambda x, *, axis=None, keepdims=False: jnp.mean(x, axis=axis, keepdims=keepdims),
        "prod": lambda x, *, axis=None, keepdims=False: jnp.prod(x, axis=axis, keepdims=keepdims),
        "max": lambda x, *, axis=None, keepdims=False: jnp.max(x, axis=axis, keepdims=keepdims),
        "min": lambda x, *, axis=None, keepdims=False: jnp.min(x, axis=axis, keepdims=keepdims),
        "var": lambda x, *, axis=None, correction=0.0, keepdims=False:
            jnp.var(x, axis=axis, ddof=correction, keepdims=keepdims),
        "std": lambda x, *, axis=None, correction=0.0, keepdims=False:
            jnp.std(x, axis=axis, ddof=correction, keepdims=keepdims),
        "logsumexp": lambda x, *, axis=None, keepdims=False:
            jax.scipy.special.logsumexp(x, axis=axis, keepdims=keepdims),
        "softmax": lambda x, *, axis=-1: jax.nn.softmax(x, axis=axis),
        "log_softmax": lambda x, *, axis=-1: jax.nn.log_softmax(x, axis=axis),
        "softmax_cross_entropy": lambda logits, labels:
            -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), labels[..., None], axis=-1)[..., 0],
        # linear algebra
        "matmul": jnp.matmul,
        "tensordot": lambda a, b, *, axes=2: jnp.tensordot(a, b, axes=axes),
        "matrix_transpose": jnp.matrix_transpose,
        # shape
        "reshape": lambda x, *, shape: jnp.reshape(x, shape),
        "permute_dims": lambda x, *, axes: jnp.transpose(x, axes),
        "expand_dims": lambda x, *, axis: jnp.expand_dims(x, axis),
        "squeeze": lambda x, *, axis: jnp.squeeze(x, axis),
        "broadcast_to": lambda x, *, shape: jnp.broadcast_to(x, shape),
        "concat": lambda *arrays, axis=0: jnp.concatenate(arrays, axis=axis),
        "stack": lambda *arrays, axis=0: jnp.stack(arrays, axis=axis),
        "tile": lambda x, *, repetitions: jnp.tile(x, repetitions),
        # jnp.sort assigns ties by a stable sort whatever `stable` says; so does polygrad
        "sort": lambda x, *, axis=-1, descending=False, stable=True:
            jnp.sort(x, axis=axis, descending=descending, stable=True),
        # indexing and its transposes
        "getitem": lambda x, *, key: x[key],
        "scatter": lambda values, *, key, shape: jnp.zeros(shape, values.dtype).at[key].set(values),
        "take": lambda x, indices, *, axis=None: jnp.take(x, indices, axis=axis),
        "scatter_add": scatter_add,
        "setitem": lambda x, values, *, key: x.at[key].set(values),
        "put": lambda x, indices, values, *, axis, unique_indices=False:
            x.at[(slice(None),) * axis + (indices,)].set(values, unique_indices=unique_indices),
        # dtype
        "astype": lambda x, *, dtype: x.astype(dtype),
        # a function as one node: JAX differentiates the function's own forward
        "call": lambda *arrays, fn: fn.forward(jnp, *arrays),
        # special functions: JAX's under another name or signature, or built from jnp where
        # JAX has none (jax.scipy.special.<name> is the default)
        "special.log_expit": jax.nn.log_sigmoid,
        "special.softplus": jax.nn.softplus,
        "special.sinc": jnp.sinc,
        "special.cbrt": jnp.cbrt,
        "special.polygamma": lambda x, *, n: jax.scipy.special.polygamma(n, x),
        "special.logsumexp": _logsumexp(jax),
        "special.huber": _huber(jnp),
        "special.pseudo_huber": _pseudo_huber(jnp),
        "special.boxcox": _boxcox(jnp),
    }


# SciPy functions JAX lacks (huber, pseudo_huber), or gets wrong (boxcox's gradient in lmbda
# at lmbda == 0 is 0 in JAX; its limit is log(x)**2 / 2), written in jax.numpy from their
# definitions (scipy.special's documentation), independently of polygrad's rules.

def _logsumexp(jax):
    def logsumexp(a, *b, axis=None, keepdims=False, signed=False):
        out = jax.scipy.special.logsumexp(a, axis=axis, b=b[0] if b else None, keepdims=keepdims,
                                          return_sign=signed)
        return out[0] if signed else out  # polygrad's rule: log |sum|; the sign is a separate node
    return logsumexp


def _huber(jnp):
    def huber(delta, r):
        inside = jnp.abs(r) <= delta
        value = jnp.where(inside, r ** 2 / 2, delta * (jnp.abs(r) - delta / 2))
        return jnp.where(delta < 0, jnp.inf, value)
    return huber


def _pseudo_huber(jnp):
    def pseudo_huber(delta, r):
        positive = delta > 0
        safe = jnp.where(positive, delta, 1.0)
        value = safe ** 2 * (jnp.sqrt(1 + (r / safe) ** 2) - 1)
        return jnp.where(delta < 0, jnp.inf, jnp.where(positive, value, 0.0))
    return pseudo_huber


def _boxcox(jnp):
    def boxcox(x, lmbda):
        log_x = jnp.log(x)
        at_zero = lmbda == 0
        safe = jnp.where(at_zero, 1.0, lmbda)
        # log(x) + lmbda log(x)**2 / 2 is log(x) at lmbda == 0, with the limit's derivative there
        return jnp.where(at_zero, log_x + lmbda * log_x ** 2 / 2, jnp.expm1(safe * log_x) / safe)
    return boxcox


_TABLE: dict[str, Callable] | None = None


# Where the table has no entry, JAX's function of the op's name: "tan" -> jnp.tan,
# "linalg.solve" -> jnp.linalg.solve, "fft.rfft" -> jnp.fft.rfft, "special.erf" ->
# jax.scipy.special.erf. An entry in the table is needed only where the names or the
# signatures differ.
def _by_name(op: str) -> Callable | None:
    jax, jnp = jax_modules()
    import jax.scipy.special
    family, _, name = op.rpartition(".")
    module = {"": jnp, "linalg": jnp.linalg, "fft": jnp.fft, "special": jax.scipy.special}.get(family)
    return getattr(module, name, None) if module is not None else None


def function(op: str) -> Callable:
    """JAX's function for ``op``; a LookupError naming the op where there is none."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _table()
    found = _TABLE.get(op) or _by_name(op)
    if found is None:
        raise LookupError(
            f"{op}: no JAX oracle; add JAX's function for it to conformance/oracle.py "
            "(every op with a gradient needs one)"
        )
    return found


def missing() -> list[str]:
    """Ops with a gradient but no JAX function: must be empty."""
    function("add")
    return sorted(op for op, rule in RULES.items()
                  if rule.differentiable and op not in _TABLE and _by_name(op) is None)


_COMPILED: dict = {}


def vjp(op: str, args: list, attrs: dict, cotangent: np.ndarray, fn: Callable | None = None,
        *, compiled: bool = True, cache_as: str | None = None) -> tuple[np.ndarray, list]:
    """JAX's output and cotangents of every float (or complex) argument (None for the others).
    A multi-output op's ``fn`` returns a tuple and takes a tuple ``cotangent``.

    args: NumPy arrays (float64 floats, complex128 complex numbers); attrs: already JAX's (see checks.materialize);
    fn: JAX's function to use instead of the table's.

    JAX run eagerly, primitive by primitive (as jax.grad runs outside jit), is the oracle.
    ``compiled`` runs the forward and the pullback as one jitted program instead: one XLA
    compilation per op, attributes and shapes rather than one per primitive, twice as
    fast, but XLA's simplifier may rewrite g * mask as select(mask, g, 0), which turns
    0 * inf and 0 * nan into 0. Callers confirm eagerly where anything is not finite.

    cache_as: a name that identifies ``fn`` (or the table's function) across processes: the
    answer is then kept in the result cache (``ResultCache``) and read from it next time.
    """
    key = RESULTS.key(cache_as, compiled, args, attrs, cotangent) if cache_as else None
    kept = RESULTS.load(key)
    if kept is not None:
        return kept
    answer = _vjp(op, args, attrs, cotangent, fn, compiled=compiled)
    RESULTS.store(key, answer)
    return answer


def _vjp(op, args, attrs, cotangent, fn, *, compiled):
    jax, jnp = jax_modules()
    floats = tuple(i for i, a in enumerate(args) if a.dtype.kind in "fc")
    key = (op, floats, repr(attrs), fn)
    run = _COMPILED.get(key) if compiled else None
    if run is None:
        fn = fn or function(op)

        def run(arrays, cot):
            def on_floats(*values):
                full = list(arrays)
                for i, v in zip(floats, values):
                    full[i] = v
                return fn(*full, **attrs)
            out, pullback = jax.vjp(on_floats, *[arrays[i] for i in floats])
            if isinstance(out, tuple):  # a multi-output op: one cotangent per output
                return out, pullback(tuple(c.astype(o.dtype) for c, o in zip(cot, out)))
            return out, pullback(cot.astype(out.dtype))
        if compiled:
            run = _COMPILED[key] = jax.jit(run)
    with jax.default_device(jax.devices("cpu")[0]):
        cot = tuple(map(jnp.asarray, cotangent)) if isinstance(cotangent, tuple) else jnp.asarray(cotangent)
        out, cts = run([jnp.asarray(a) for a in args], cot)
    grads: list = [None] * len(args)
    for i, ct in zip(floats, cts):
        ct = np.asarray(ct)
        grads[i] = ct.astype(np.complex128 if ct.dtype.kind == "c" else np.float64)
    return (tuple(map(np.asarray, out)) if isinstance(out, tuple) else np.asarray(out)), grads


# -- the result cache -----------------------------------------------------------------------

CACHE_VARIABLE = "POLYGRAD_ORACLE_CACHE"
_HERE = Path(__file__).resolve().parent


class ResultCache:
    """JAX's answers on disk, keyed by everything they depend on, so each is computed once
    across the README's per-backend runs (and the xdist workers of each).

    The suite's examples are derandomized: every float64 backend draws the same inputs. The
    oracle's answer depends on nothing but them, the op and its attributes, the cotangent,
    how JAX ran (compiled or eagerly), this file and checks.py (which hold JAX's functions),
    and the versions of JAX and NumPy; the key hashes all of these, so a changed input or
    oracle is a new key, never a stale answer. Tracing and lowering ``jax.vjp`` for one
    example costs 10-100 ms even with XLA's compilation cache warm (seconds eagerly);
    reading the answer back ~0.1 ms. The folder is ``.oracle_cache/`` in the checkout (git
    ignores it), or the one POLYGRAD_ORACLE_CACHE names; POLYGRAD_ORACLE_CACHE=0 turns the
    cache off. Entries are NumPy .npz files (no pickle), written under a temporary name and
    renamed into place, so concurrent workers never read half a file."""

    def __init__(self) -> None:
        chosen = os.environ.get(CACHE_VARIABLE, "").strip()
        self.directory = None if chosen == "0" else Path(chosen) if chosen else _HERE.parent / ".oracle_cache"
        self._stamp: bytes | None = None

    def stamp(self) -> bytes:
        """What every answer depends on besides its inputs: the oracle's code and versions."""
        if self._stamp is None:
            jax = jax_modules()[0]
            import jaxlib
            digest = hashlib.sha256()
            for name in ("oracle.py", "checks.py"):
                digest.update((_HERE / name).read_bytes())
            digest.update(f"jax {jax.__version__} jaxlib {jaxlib.__version__} numpy {np.__version__}".encode())
            self._stamp = digest.digest()
        return self._stamp

    def key(self, name: str, compiled: bool, args, attrs, cotangent) -> str | None:
        """The entry's file name, or None where an input has no stable fingerprint."""
        if self.directory is None:
            return None
        digest = hashlib.sha256(self.stamp())
        try:
            _fingerprint(digest, (name, compiled, tuple(args), attrs, cotangent))
        except TypeError:
            return None
        return digest.hexdigest()

    def load(self, key: str | None):
        """The kept (output, gradients), or None."""
        if key is None:
            return None
        try:
            with np.load(self.directory / f"{key}.npz", allow_pickle=False) as kept:
                found = {name: kept[name] for name in kept.files}
        except (OSError, ValueError, EOFError):
            return None  # absent or unreadable: computed again and rewritten
        outs = [found[f"out{i}"] for i in range(int(found["outputs"]))]
        grads = [found.get(f"grad{i}") for i in range(int(found["arguments"]))]
        return (tuple(outs) if bool(found["multi"]) else outs[0]), grads

    def store(self, key: str | None, answer) -> None:
        if key is None:
            return
        out, grads = answer
        outs = out if isinstance(out, tuple) else (out,)
        arrays = {f"out{i}": np.asarray(o) for i, o in enumerate(outs)}
        arrays.update({f"grad{i}": g for i, g in enumerate(grads) if g is not None})
        arrays.update(outputs=np.asarray(len(outs)), arguments=np.asarray(len(grads)),
                      multi=np.asarray(isinstance(out, tuple)))
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp", delete=False) as file:
                np.savez(file, **arrays)
            os.replace(file.name, self.directory / f"{key}.npz")
        except OSError:
            pass  # a read-only checkout: the oracle still answers, uncached


def _fingerprint(digest, obj: Any) -> None:
    """Feed ``obj`` into ``digest`` unambiguously: arrays by dtype, shape and bytes; containers
    by type and items; numbers, strings, slices and None by type and repr. Anything else (a
    function, an object whose repr names its address) raises TypeError: not cacheable."""
    if isinstance(obj, (tuple, list)):
        digest.update(f"{type(obj).__name__}{len(obj)}(".encode())
        for item in obj:
            _fingerprint(digest, item)
        digest.update(b")")
    elif isinstance(obj, dict):
        digest.update(f"dict{len(obj)}(".encode())
        for name in sorted(obj):
            digest.update(f"{name!r}:".encode())
            _fingerprint(digest, obj[name])
        digest.update(b")")
    elif obj is None or isinstance(obj, (bool, int, float, complex, str, slice, np.generic)):
        digest.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif hasattr(obj, "__array__") and hasattr(obj, "dtype") and hasattr(obj, "shape"):
        host = np.ascontiguousarray(np.asarray(obj))
        digest.update(f"array {host.dtype.str} {host.shape}:".encode())
        digest.update(host.tobytes())
    else:
        raise TypeError(f"no stable fingerprint for {type(obj).__name__}")


RESULTS = ResultCache()
