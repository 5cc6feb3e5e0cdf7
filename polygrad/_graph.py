"""The graph's bottom layer: the node record and ``apply``, the one place nodes are made.

A node stores (op, parents, attrs) and never a closure, so dropping the root frees the
whole graph by reference counting alone. ``apply`` lifts constants (Python numbers are
lifted once per backend, value and dtype, then reused), checks that the inputs share a
backend, runs the rule's forward and, when the backend rejects the inputs, names the op
and the shapes. The Value's operators and methods are attached from above (value.py).
"""
from __future__ import annotations

import itertools
import math
import numbers
import re
from typing import Any

from . import _anomaly, _backend, _state
from .errors import AxisError, BackendError, DTypeError, IndexingError, OpError, PolygradError, ShapeError, TracerError
from .rules import RULES, Rule

__all__ = [
    "Value", "BatchedValue", "apply", "run_forward", "describe_failure", "as_dtype", "dtype_name", "RULES",
    "rebind", "rebind_count", "current_parents", "version_at",
]

_NO_ATTRS: dict = {}
_grad_enabled = _state._grad_enabled.get  # read on every apply: a ContextVar lookup
_vmapping = _state._vmapping.get
# Creation order: the backward walk's ordering key. Shared by all threads, which is safe:
# next() on itertools.count is one C call, atomic under the GIL, so ids are unique; the
# walk needs only that a node's id exceeds its parents' (a node is made after them).
_creation = itertools.count()
_anomaly_watch = _state.anomaly_watch  # non-zero while anomaly mode is on somewhere
_profiler = None  # set by pg.profile(): when None, profiling costs one global read per op


class Value:
    """A node of the computation graph, wrapping one array of one backend.

    ``Value(data)`` makes a leaf from a backend array, a NumPy array or a Python
    number (numbers and lists are cast to the default float dtype). Float leaves
    take gradients unless ``requires_grad=False``. ``Value(shape=(None, 3), name="X")``
    makes a placeholder whose data is fed later with ``root.forward(X=...)``.
    """

    __slots__ = (
        "data", "grad", "op", "parents", "attrs", "requires_grad", "backend", "name",
        "_shape", "_dtype", "_order", "_walk", "_retain", "_ct", "_id", "_before", "__weakref__",
        # set only where needed (read with getattr and a default): a placeholder's flag,
        # the replay plan cached on a root, the user's source line in anomaly mode
        "_placeholder", "_plan", "_origin",
    )
    # _before is set only on a Value that was written into (x[key] = v, see rebind): the
    # node it held before. Never set otherwise, so making a node costs nothing for it.

    def __init__(self, data: Any = None, *, shape: tuple | None = None, dtype: Any = None,
                 name: str | None = None, requires_grad: bool | None = None,
                 backend: str | _backend.Backend | None = None):
        if isinstance(backend, str):
            backend = _backend.get_backend(backend)
        on = backend or (data.backend if isinstance(data, Value) else _backend.backend())
        self.grad = None
        self.op = None
        self.parents = ()
        self.attrs = _NO_ATTRS
        self.backend = on
        self.name = name
        self._order = self._walk = None
        self._retain = False
        self._ct = None
        self._shape = None
        self._dtype = None
        self._id = next(_creation)
        self._placeholder = data is None
        if data is None:
            if shape is None:
                raise ShapeError("Value: give data, or a shape (None for any size) for a placeholder")
            self.data = None
            self._shape = tuple(None if n is None else int(n) for n in shape)
            self._dtype = _backend.default_dtype(on) if dtype is None else as_dtype(on, dtype, "placeholder")
        else:
            self.data = _leaf_array(data, on, dtype)
            if shape is not None and tuple(shape) != tuple(self.data.shape):
                raise ShapeError(f"Value: data has shape {tuple(self.data.shape)}, not {tuple(shape)}")
        inexact = on.is_inexact(self.dtype)  # real or complex floating
        if requires_grad and not inexact:
            raise DTypeError(
                f"Value: a leaf of dtype {self.dtype} cannot require a gradient; "
                "only floating-point (real or complex) leaves can (cast it with pg.astype first)"
            )
        self.requires_grad = inexact and data is not None if requires_grad is None else bool(requires_grad)

    @classmethod
    def _wrap(cls, data, on, *, requires_grad: bool = False, name: str | None = None) -> "Value":
        """A leaf around an array of backend ``on``, dtype untouched."""
        leaf = cls._node(data, None, (), _NO_ATTRS, requires_grad and on.is_inexact(data.dtype), on)
        leaf.name = name
        return leaf

    @classmethod
    def _node(cls, data, op, parents, attrs, requires_grad, on):
        node = cls.__new__(cls)
        node.data = data
        node.grad = None
        node.op = op
        node.parents = parents
        node.attrs = attrs
        node.requires_grad = requires_grad
        node.backend = on
        node.name = None
        node._shape = None
        node._dtype = None
        node._order = node._walk = None
        node._retain = False
        node._ct = None
        node._id = next(_creation)
        return node

    # -- array attributes (the rest of Value's interface is attached in value.py) --------
    @property
    def shape(self) -> tuple | None:
        """The shape; for a placeholder its declared shape, None before a feed for nodes.
        (The internal node of a multi-output rule, whose data is a tuple: its shapes.)"""
        data = self.data
        if data is None:
            return self._shape
        if isinstance(data, tuple):
            return tuple(tuple(a.shape) for a in data)
        return tuple(data.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int | None:
        shape = self.shape
        return None if shape is None or None in shape else math.prod(shape)

    @property
    def dtype(self) -> Any:
        if self.data is not None:
            if isinstance(self.data, tuple):  # a multi-output rule's node: its dtypes
                return tuple(a.dtype for a in self.data)
            return self.data.dtype
        if self._dtype is not None:
            return self._dtype
        raise PolygradError(f"the dtype of {self.op} is unknown until its placeholders are fed")

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def _require_data(self, what: str):
        if self.data is None:
            if _state._jit_tracing.get():
                raise TracerError(
                    f"{what}: under pg.jit, {self._describe()} is traced, its value unknown until the "
                    "compiled function runs; Python control flow on it (if, while, bool, float, item) "
                    "cannot be compiled. Use pg.where, or pass the value as a static Python number "
                    "(jit(f, static_argnums=...)), or call f without jit"
                )
            raise PolygradError(
                f"{what}: {self._describe()} has no data yet; feed its placeholders with "
                "root.forward(name=array) first"
            )
        return self.data

    def _describe(self) -> str:
        if self.op is None:
            return f"placeholder {self.name!r}" if self.name else "leaf"
        return f"the output of {self.op}"


class BatchedValue(Value):
    """A Value under vmap: its data carry the batch axis in front, everything else (shape,
    ndim, the attrs recorded on its node) describes one example. Ops see examples; apply
    runs each op once on the whole batch through the op's batching rule."""

    __slots__ = ()

    @property
    def shape(self) -> tuple | None:
        return tuple(self.data.shape)[1:]


# -- making leaves and constants -------------------------------------------------------------

# Every dtype name polygrad accepts; a backend may lack some (bfloat16 on NumPy).
DTYPE_NAMES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
)


def dtype_name(dtype: Any) -> str:
    """A dtype object of any library (or a NumPy type) as its plain name: 'float32'."""
    name = dtype.__name__ if isinstance(dtype, type) else getattr(dtype, "name", None)
    if not isinstance(name, str):
        name = str(dtype).rsplit(".", 1)[-1]
    return "bool" if name == "bool_" else name


def as_dtype(on: _backend.Backend, dtype: Any, op: str = "dtype") -> Any:
    """A dtype given by name, or as any library's dtype object, as the backend's dtype object
    (``"float32"`` and ``numpy.float32`` both work on every backend)."""
    name = dtype if isinstance(dtype, str) else dtype_name(dtype)
    if name in DTYPE_NAMES:
        found = getattr(on.xp, name, None)
        if found is not None:
            return found
        raise DTypeError(
            f"{op}: dtype {name!r} is not supported by the {on.name} backend; it has "
            f"{', '.join(n for n in DTYPE_NAMES if getattr(on.xp, n, None) is not None)}"
        )
    if isinstance(dtype, str):
        raise DTypeError(f"{op}: unknown dtype name {dtype!r}; dtype names are {', '.join(DTYPE_NAMES)}")
    return dtype  # not a name polygrad knows: let the backend judge it


def _leaf_array(data: Any, on: _backend.Backend, dtype: Any):
    """The array a new leaf holds: always its own copy (a caller's array mutated later
    never changes it); float data takes the default float dtype unless given one (complex
    data the complex dtype of that precision)."""
    dtype = None if dtype is None else as_dtype(on, dtype, "Value")
    if isinstance(data, Value):
        data = data._require_data("Value")
    if isinstance(data, (str, bytes)):
        raise DTypeError(f"Value: cannot make a numeric array from {type(data).__name__} {_short_repr(data)}")
    if isinstance(data, (numbers.Number, list, tuple)):
        if dtype is None:
            dtype = _default_inexact(on, complex_=_holds_complex(data))
        return _numeric(on, _converted(on, data, dtype), data)
    given = data
    copied = not on.is_array(data)
    if copied:
        kind = getattr(getattr(data, "dtype", None), "kind", None)  # a NumPy array's
        if dtype is None and kind in ("f", "c"):
            # cast in the conversion, on the host: a cast on the device afterwards costs JAX
            # an XLA compile per new shape
            dtype = _default_inexact(on, complex_=kind == "c")
        data = _converted(on, data, dtype, copy=True)
    _numeric(on, data, given)
    if dtype is None and on.is_inexact(data.dtype):
        dtype = _default_inexact(on, complex_=on.is_complex(data.dtype))
    if dtype is not None and data.dtype != dtype:
        return on.xp.astype(data, dtype)  # a new array
    return data if copied else on.xp.asarray(data, copy=True)


def _default_inexact(on: _backend.Backend, *, complex_: bool):
    """The dtype new float data takes: the default float, or the complex dtype of its precision."""
    dtype = _backend.default_dtype(on)
    return on.complex_dtype(dtype) if complex_ else dtype


def _converted(on: _backend.Backend, obj: Any, dtype: Any, copy: bool | None = None):
    try:
        return on.asarray(obj, dtype=dtype, copy=copy)
    except DTypeError as exc:
        text = str(exc)
        if any(word in text for word in ("shape", "sequence", "inhomogeneous", "non-uniform", "ragged")):
            raise ShapeError(f"Value: the nested lists of {_short_repr(obj)} are ragged: {text}") from exc
        raise DTypeError(f"Value: {text}") from exc


def _numeric(on: _backend.Backend, data: Any, given: Any):
    """``data``, checked to hold numbers (NumPy makes arrays of strings and objects too)."""
    try:
        numeric = on.xp.isdtype(data.dtype, ("bool", "numeric"))
    except Exception:  # noqa: BLE001 - a dtype the namespace does not know is not numeric
        numeric = False
    if not numeric:
        raise DTypeError(f"Value: cannot make a numeric array from {_short_repr(given)} (dtype {data.dtype})")
    return data


def _holds_complex(data: Any) -> bool:
    """Whether a Python number or nested list holds a complex number."""
    if isinstance(data, (list, tuple)):
        return any(_holds_complex(item) for item in data)
    return isinstance(data, complex)


# (backend, dtype, type, value[, sign of zero]) -> constant leaf. Python numbers in
# expressions are lifted once: array-api-compat's asarray costs 3 us on NumPy, ~460 us on JAX.
# Shared by all threads, which is safe: a key always maps to an equal, read-only constant,
# whichever thread made it, and dict get/set/clear are atomic under the GIL.
_constants: dict = {}
_CONSTANTS_KEPT = 4096


def _zero_signs(obj: Any) -> tuple:
    """-0.0 equals 0.0 but is another constant: the signs of zero parts tell them apart."""
    return (math.copysign(1.0, obj.real), math.copysign(1.0, obj.imag))


def _number_constant(obj: Any, dtype: Any, on: _backend.Backend) -> Value:
    key = (on, dtype, type(obj), obj, _zero_signs(obj) if obj == 0 else 0.0)
    found = _constants.get(key)
    if found is None:
        data = on.asarray(obj, dtype=dtype)
        flags = getattr(data, "flags", None)
        if flags is not None and hasattr(flags, "writeable"):
            flags.writeable = False  # shared by every graph that uses this number
        found = Value._node(data, None, (), _NO_ATTRS, False, on)
        # nan never equals itself: it would never be found again; an array made under a
        # JAX trace is a tracer, which must not outlive the trace
        if obj == obj and not _backend.holds_tracer(data):
            if len(_constants) >= _CONSTANTS_KEPT:
                _constants.clear()
            _constants[key] = found
    return found


# Dtype kinds in promotion order: a Python number of a later kind than the Values beside it
# lifts them (bool + 1 is an integer, int + 1.0 a float), as the standard and NumPy promote.
_KINDS = ("bool", "int", "float", "complex")
# Ops whose operands must stay bool: Python numbers beside a bool become bool constants.
_LOGICAL_OPS = frozenset(("logical_and", "logical_or", "logical_xor", "logical_not"))
_default_ints: dict = {}  # backend -> its default integer dtype (int64; int32 on MLX)


def _kind(dtype: Any, on: _backend.Backend) -> str:
    if on.is_float(dtype):
        return "float"
    xp = on.xp
    if dtype == xp.bool:
        return "bool"
    return "complex" if xp.isdtype(dtype, "complex floating") else "int"


def _number_kind(obj: Any) -> str:
    if isinstance(obj, bool):
        return "bool"
    if isinstance(obj, numbers.Integral):
        return "int"
    return "float" if isinstance(obj, numbers.Real) else "complex"


def _kind_dtype(kind: str, on: _backend.Backend, like_dtype: Any) -> Any:
    """The dtype of ``kind`` at the precision of ``like_dtype`` (a float or complex one) or the
    backend's default."""
    if kind == "int":
        found = _default_ints.get(on)
        if found is None:
            found = _default_ints[on] = on.xp.asarray(0).dtype
        return found
    if kind == "bool":
        return on.xp.bool
    wide = like_dtype is not None and dtype_name(like_dtype) in ("float64", "complex128")
    if kind == "float":
        return on.xp.float64 if wide else _backend.default_dtype(on)
    wide = wide or dtype_name(_backend.default_dtype(on)) == "float64"
    return on.complex_dtype(on.xp.float64 if wide else on.xp.float32)  # complex64 alone on MLX


def _lift(inputs: tuple, on: _backend.Backend, op: str) -> tuple:
    """The parents of a node whose inputs include raw arrays or Python numbers.

    Arrays become constant leaves (floats in the default float dtype, as JAX's weak types).
    Python numbers take the dtype of the Values beside them (the first float one, else the
    first; where's condition does not count) unless the number is of a later kind (bool <
    int < float < complex): then the number takes the default dtype of its kind and the
    bool or integer Values are cast to it, as the standard and NumPy promote. Logical ops
    keep their operands bool."""
    if len(inputs) == 2:  # the hot case, a Value and a Python float or int: x * 0.9, 1.0 - x
        a, b = inputs
        value, number = (a, b) if a.__class__ is Value else (b, a)
        cls = number.__class__
        if value.__class__ is Value and (cls is float or cls is int):
            data = value.data
            if data is not None and data.__class__ is not tuple and on.is_float(data.dtype):
                constant = _number_constant(number, data.dtype, on)
                return (value, constant) if value is a else (constant, value)
    like = None
    found_float = False
    condition = op == "where"  # where's first input does not decide the dtype
    for x in inputs:
        if condition:
            condition = False
        elif isinstance(x, Value) and (x.data is not None or x._dtype is not None):
            if on.is_float(x.dtype):
                like = x
                found_float = True
                break
            like = like or x
    if found_float:  # the common case: a float Value and real numbers take its dtype
        dtype = like.dtype
        parents = []
        for x in inputs:
            if isinstance(x, Value):
                parents.append(x)
            elif x.__class__ is float or x.__class__ is int:
                parents.append(_number_constant(x, dtype, on))
            else:
                break
        else:
            return tuple(parents)
    like_dtype = None if like is None else like.dtype
    like_kind = None if like is None else _kind(like_dtype, on)
    strongest = like_kind
    for x in inputs:
        if isinstance(x, numbers.Number) and not isinstance(x, Value):
            kind = _number_kind(x)
            if strongest is None or _KINDS.index(kind) > _KINDS.index(strongest):
                strongest = kind
    logical = op in _LOGICAL_OPS
    promote = (not logical and like_kind is not None and strongest != like_kind
               and _KINDS.index(strongest) > _KINDS.index(like_kind))
    if promote:
        target = _kind_dtype(strongest, on, like_dtype if like_kind == "float" else None)
    elif like is not None:
        target = like_dtype
    elif strongest is None or strongest == "float" or (strongest == "int" and op != "where"):
        target = _backend.default_dtype(on)  # numbers alone: the default float (exp(1) is a float)
    else:
        target = _kind_dtype(strongest, on, None)
    parents = []
    for i, x in enumerate(inputs):
        if isinstance(x, Value):
            if promote and (op != "where" or i) and x.data is not None \
                    and _KINDS.index(_kind(x.dtype, on)) < _KINDS.index(strongest):
                x = apply("astype", x, dtype=target)
            parents.append(x)
        elif isinstance(x, numbers.Number):
            parents.append(_number_constant(x, target, on))
        elif on.is_array(x) or hasattr(x, "__array__") or hasattr(x, "__dlpack__"):
            data = x if on.is_array(x) else on.asarray(x)
            if on.is_float(data.dtype) and data.dtype != (default := _backend.default_dtype(on)):
                data = on.xp.astype(data, default)  # float constants take the default dtype, as in JAX
            parents.append(Value._node(data, None, (), _NO_ATTRS, False, on))
        else:
            raise DTypeError(f"{op}: cannot use an object of type {type(x).__name__} as an operand")
    return tuple(parents)


def _constant(obj: Any, on: _backend.Backend, like: "Value | None", op: str) -> Value:
    """A raw array or Python number that is not an op's input (setitem's values) as a
    constant leaf: a number takes ``like``'s dtype where it is of that kind or a narrower
    one, else the default dtype of its kind, as _lift promotes."""
    if isinstance(obj, numbers.Number) and not isinstance(obj, Value):
        known = like is not None and (like.data is not None or like._dtype is not None)
        like_kind = _kind(like.dtype, on) if known else None
        kind = _number_kind(obj)
        if like_kind is not None and _KINDS.index(kind) <= _KINDS.index(like_kind):
            return _number_constant(obj, like.dtype, on)
        return _number_constant(obj, _kind_dtype(kind, on, like.dtype if like_kind == "float" else None), on)
    return _lift((obj,), on, op)[0]


def _mixed_backends(op: str, first: _backend.Backend, second: _backend.Backend) -> BackendError:
    return BackendError(
        f"{op}: cannot mix a {first.name} Value and a {second.name} Value in one "
        f"expression; move one with .to({first.name!r}) or .to({second.name!r})"
    )


# -- apply ---------------------------------------------------------------------------------

def apply(op: str, *inputs: Any, **attrs: Any) -> Value:
    """Run rule ``op`` on ``inputs`` (Values, arrays or numbers) and record the node.

    The hot path of eager polygrad: one pass over the inputs for the backend, one for
    data and gradients; no work for gradients when recording is off or the rule has none.
    """
    rule = RULES[op]
    if _vmapping():
        for x in inputs:
            if x.__class__ is BatchedValue:
                return _apply_batched(rule, op, inputs, attrs)
    on = None
    lift = False
    for x in inputs:
        if isinstance(x, Value):
            if on is None:
                on = x.backend
            elif x.backend is not on:
                raise _mixed_backends(op, on, x.backend)
        else:
            lift = True
    if on is None:
        on = _backend.backend()
    parents = _lift(inputs, on, op) if lift else inputs
    recording = _grad_enabled()
    requires = False
    arrays = []
    for p in parents:
        data = p.data
        if data is None:  # a placeholder upstream: computed at forward()
            requires = recording and rule.vjp is not None and any(q.requires_grad for q in parents)
            node = Value._node(None, op, parents, attrs or _NO_ATTRS, requires, on)
            return node if not _anomaly_watch[0] else _anomaly.watch(node, parents)
        arrays.append(data)
        if p.requires_grad:
            requires = True
    try:
        out = rule.forward(on.xp, *arrays, **attrs) if _profiler is None else _profiler.forward(rule, on, arrays, attrs)
    except PolygradError:
        raise
    except Exception as exc:  # the backend's own error type varies: name the op instead
        raise describe_failure(rule, arrays, attrs, exc, on) from exc
    if not recording:
        node = Value._node(out, None, (), _NO_ATTRS, False, on)
    else:
        # complex results carry gradients too (JAX's convention): never dropped silently
        requires = requires and rule.vjp is not None and (
            on.is_inexact(out.dtype) if out.__class__ is not tuple else _carries_gradient(on, out))
        node = Value._node(out, op, parents, attrs or _NO_ATTRS, requires, on)
    return node if not _anomaly_watch[0] else _anomaly.watch(node, parents)


def _carries_gradient(on: _backend.Backend, out: Any) -> bool:
    """Real and complex floating outputs carry gradients; a multi-output rule's node
    (data: a tuple of arrays, see rules/outputs.py) carries one if any output does."""
    if isinstance(out, tuple):
        return any(on.is_inexact(a.dtype) for a in out)
    return on.is_inexact(out.dtype)


def _apply_batched(rule: Rule, op: str, inputs: tuple, attrs: dict) -> Value:
    """apply under vmap, some inputs batched: the op's batching rule runs it once on the
    whole batch; the node records the example-level attrs (its vjp works on examples).
    Lean like apply: vmap(grad(f)) sends every op of its backward pass through here."""
    on = None
    lift = False
    for x in inputs:
        if isinstance(x, Value):
            if on is None:
                on = x.backend
            elif x.backend is not on:
                raise _mixed_backends(op, on, x.backend)
        else:
            lift = True
    parents = _lift(inputs, on, op) if lift else inputs
    batch = rule.batch
    if batch is None:
        raise OpError(f"vmap: {op} has no batching rule (polygrad.rules.batching lists the ops that have one)")
    arrays = []
    batched = []
    requires = False
    for p in parents:
        data = p.data
        if data is None:
            p._require_data(op)  # raises, naming the placeholder
        arrays.append(data)
        batched.append(p.__class__ is BatchedValue)
        if p.requires_grad:
            requires = True
    batched = tuple(batched)
    try:
        out = batch(on.xp, arrays, batched, attrs)
    except PolygradError:
        raise
    except Exception as exc:
        raise describe_failure(rule, arrays, attrs, exc, on) from exc
    if out is None:
        raise OpError(f"vmap: {op} cannot be batched with these arguments ({', '.join(f'{k}={_short_repr(v)}' for k, v in attrs.items())}; "
                      f"batched inputs: {[i for i, b in enumerate(batched) if b]})")
    if not _grad_enabled():
        return BatchedValue._node(out, None, (), _NO_ATTRS, False, on)
    requires = requires and rule.vjp is not None and on.is_float(out.dtype)
    return BatchedValue._node(out, op, parents, attrs or _NO_ATTRS, requires, on)


def run_forward(rule: Rule, on: _backend.Backend, arrays: list, attrs: dict, parents: tuple):
    """rule.forward, with the backend's complaint turned into one naming the op and inputs."""
    try:
        return rule.forward(on.xp, *arrays, **attrs) if _profiler is None else _profiler.forward(rule, on, arrays, attrs)
    except PolygradError:
        raise
    except Exception as exc:  # the backend's own error type varies: name the op instead
        raise describe_failure(rule, arrays, attrs, exc, on) from exc


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(rule: Rule, arrays: list, attrs: dict, exc: Exception,
                     on: _backend.Backend) -> PolygradError:
    """The error to raise when the backend rejected an op: polygrad judges the shapes and
    dtypes itself where it can (the rule's checks), since backends word (and type) their
    complaints differently."""
    op = rule.name
    shapes = [tuple(a.shape) for a in arrays]
    problem = rule.problem(shapes, attrs)
    if problem:
        return ShapeError(f"{op}: {problem}")
    if op == "take" and not on.xp.isdtype(arrays[1].dtype, "integral"):
        return DTypeError(f"take: indices must be integers, got dtype {arrays[1].dtype} (input shape {shapes[0]})")
    dtypes = [dtype_name(a.dtype) for a in arrays]
    where = f"{op}: input shapes {', '.join(map(str, shapes))}; dtypes {', '.join(dtypes)}"
    if attrs:
        where += "; " + ", ".join(f"{k}={_short_repr(v)}" for k, v in attrs.items())
    text = str(exc).lower()
    if isinstance(exc, IndexError) and str(exc).startswith("index ") and "out of bounds" in str(exc):
        return IndexingError(f"{where}: {exc}")  # NumPy's "index 3 is out of bounds for axis 1 with size 3"
    if op == "getitem" and isinstance(exc, (IndexError, ValueError, TypeError)):
        return IndexingError(f"{where}: {exc}")  # the key is what the backend rejects
    if isinstance(exc, (IndexError, ValueError, TypeError)) and re.search(r"\b(axis|axes)\b", text):
        return AxisError(f"{where}: {exc}")
    if isinstance(exc, IndexError) and op == "take":
        return IndexingError(f"{where}: {exc}")
    if isinstance(exc, (IndexError, ValueError, TypeError)) and any(
        word in text for word in ("shape", "dimension", "out of bounds", "size")
    ):
        return ShapeError(f"{where}: {exc}")
    if isinstance(exc, TypeError):
        return DTypeError(f"{where}: {exc}")
    return OpError(f"{where}: {type(exc).__name__}: {exc}")


# -- rebinding: x[key] = v (copy-on-write) -----------------------------------------------------------
#
# The user's Value object is the handle; nodes built from it earlier hold that same object in
# their parents. Writing into it makes a new node (x.at[key].set(v)) and moves it into the
# handle, while what the handle held moves to a fresh object, ``handle._before``. Earlier
# nodes are not searched for (nodes keep no links to their children): a node is always made
# after its parents, so a parent with a larger creation number than its child was rebound
# since, and ``current_parents`` swaps in the version the child was made from, the first
# time a walk meets it. Walks cached before a rebinding are stale (``rebind_count``).

_STATE_SLOTS = tuple(s for s in Value.__slots__ if s not in ("__weakref__", "_before"))
_rebinds = 0


def _move_state(source: Value, target: Value) -> None:
    """Copy every state slot of ``source`` onto ``target``; a slot set only where needed
    (``_placeholder``, ``_plan``, ``_origin``) and unset on ``source`` is cleared on ``target``."""
    for slot in _STATE_SLOTS:
        try:
            setattr(target, slot, getattr(source, slot))
        except AttributeError:
            try:
                delattr(target, slot)
            except AttributeError:
                pass


def rebind_count() -> int:
    """How many times a Value has been written into in this process (0: no walk repairs)."""
    return _rebinds


def rebind(handle: Value, node: Value) -> None:
    """Make ``handle`` the (just made) ``node``; what it held lives on in ``handle._before``."""
    global _rebinds
    old = type(handle).__new__(type(handle))
    _move_state(handle, old)
    before = getattr(handle, "_before", None)
    if before is not None:
        old._before = before
    _move_state(node, handle)
    handle.parents = tuple(old if p is handle else p for p in node.parents)
    handle.name = old.name
    handle._retain = old._retain
    handle._before = old
    _rebinds += 1
    # Nodes made since the version just replaced that lead into the new node and still point
    # at the handle (x[i] += v reads x first) would make a reference cycle through it: repair
    # them now, so dropping the graph frees it by reference counting alone.
    seen = {id(handle)}
    stack = [handle]
    while stack:
        for parent in current_parents(stack.pop()):
            if parent._id > old._id and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)


def _made_before(x: Value, child_id: int) -> Value:
    """The version of handle ``x`` a node with creation number ``child_id`` was made from."""
    while x._id > child_id:
        x = x._before
    return x


def current_parents(node: Value) -> tuple:
    """node.parents, any parent rebound since node was made replaced (for good) by the
    version node was made from."""
    parents = node.parents
    made = node._id
    for p in parents:
        if p._id > made:
            parents = node.parents = tuple(_made_before(q, made) for q in parents)
            break
    return parents


def version_at(x: Value, creation: int) -> Value:
    """The version of handle ``x`` whose creation number is ``creation`` (x itself if it was
    never written into since)."""
    while x._id != creation:
        before = getattr(x, "_before", None)
        if before is None:
            break
        x = before
    return x
