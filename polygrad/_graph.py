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
from typing import Any

from . import _backend, _state
from .errors import BackendError, DTypeError, IndexingError, OpError, PolygradError, ShapeError
from .rules import RULES, Rule

__all__ = [
    "Value", "apply", "run_forward", "describe_failure", "as_dtype", "RULES",
    "rebind", "rebind_count", "current_parents", "version_at",
]

_NO_ATTRS: dict = {}
_grad_enabled = _state._grad_enabled.get  # read on every apply: a ContextVar lookup
_creation = itertools.count()  # creation order: the backward walk's ordering key


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
        if data is None:
            if shape is None:
                raise ShapeError("Value: give data, or a shape (None for any size) for a placeholder")
            self.data = None
            self._shape = tuple(None if n is None else int(n) for n in shape)
            self._dtype = _backend.default_dtype(on) if dtype is None else as_dtype(on, dtype)
        else:
            self.data = _leaf_array(data, on, dtype)
            if shape is not None and tuple(shape) != tuple(self.data.shape):
                raise ShapeError(f"Value: data has shape {tuple(self.data.shape)}, not {tuple(shape)}")
        is_float = on.is_float(self.dtype)
        if requires_grad and not is_float:
            raise DTypeError(
                f"Value: a leaf of dtype {self.dtype} cannot require a gradient; "
                "only floating-point leaves can (cast it with pg.astype first)"
            )
        self.requires_grad = is_float and data is not None if requires_grad is None else bool(requires_grad)

    @classmethod
    def _wrap(cls, data, on, *, requires_grad: bool = False, name: str | None = None) -> "Value":
        """A leaf around an array of backend ``on``, dtype untouched."""
        leaf = cls._node(data, None, (), _NO_ATTRS, requires_grad and on.is_float(data.dtype), on)
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
        """The shape; for a placeholder its declared shape, None before a feed for nodes."""
        return tuple(self.data.shape) if self.data is not None else self._shape

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
            return self.data.dtype
        if self._dtype is not None:
            return self._dtype
        raise PolygradError(f"the dtype of {self.op} is unknown until its placeholders are fed")

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    def _require_data(self, what: str):
        if self.data is None:
            raise PolygradError(
                f"{what}: {self._describe()} has no data yet; feed its placeholders with "
                "root.forward(name=array) first"
            )
        return self.data

    def _describe(self) -> str:
        if self.op is None:
            return f"placeholder {self.name!r}" if self.name else "leaf"
        return f"the output of {self.op}"


# -- making leaves and constants -------------------------------------------------------------

def as_dtype(on: _backend.Backend, dtype: Any) -> Any:
    """A dtype given by name or object, as the backend's dtype object."""
    return on.dtype(dtype) if isinstance(dtype, str) else dtype


def _leaf_array(data: Any, on: _backend.Backend, dtype: Any):
    """The array a new leaf holds; float data takes the default float dtype unless given one."""
    dtype = None if dtype is None else as_dtype(on, dtype)
    if isinstance(data, Value):
        data = data._require_data("Value")
    if isinstance(data, (numbers.Number, list, tuple)):
        return on.asarray(data, dtype=dtype or _backend.default_dtype(on))
    if not on.is_array(data):
        data = on.asarray(data)
    if dtype is None and on.is_float(data.dtype):
        dtype = _backend.default_dtype(on)
    if dtype is not None and data.dtype != dtype:
        data = on.xp.astype(data, dtype)
    return data


# (backend, dtype, type, value[, sign of zero]) -> constant leaf. Python numbers in
# expressions are lifted once: array-api-compat's asarray costs 3 us on NumPy, ~460 us on JAX.
_constants: dict = {}
_CONSTANTS_KEPT = 4096


def _number_constant(obj: Any, dtype: Any, on: _backend.Backend) -> Value:
    key = (on, dtype, type(obj), obj, math.copysign(1.0, obj) if obj == 0 else 0.0)
    found = _constants.get(key)
    if found is None:
        data = on.asarray(obj, dtype=dtype)
        flags = getattr(data, "flags", None)
        if flags is not None and hasattr(flags, "writeable"):
            flags.writeable = False  # shared by every graph that uses this number
        found = Value._node(data, None, (), _NO_ATTRS, False, on)
        if obj == obj:  # nan never equals itself: it would never be found again
            if len(_constants) >= _CONSTANTS_KEPT:
                _constants.clear()
            _constants[key] = found
    return found


def _constant(obj: Any, on: _backend.Backend, like: "Value | None", op: str) -> Value:
    """A raw array or Python number met in an expression: a constant leaf."""
    if isinstance(obj, bool):
        return _number_constant(obj, on.xp.bool, on)
    if isinstance(obj, numbers.Number):
        like_dtype = None if like is None else like.dtype
        if like_dtype is not None and (on.is_float(like_dtype) or isinstance(obj, numbers.Integral)):
            dtype = like_dtype
        else:
            dtype = _backend.default_dtype(on)
        return _number_constant(obj, dtype, on)
    if on.is_array(obj) or hasattr(obj, "__array__") or hasattr(obj, "__dlpack__"):
        data = obj if on.is_array(obj) else on.asarray(obj)
        if on.is_float(data.dtype) and data.dtype != (default := _backend.default_dtype(on)):
            data = on.xp.astype(data, default)  # float constants take the default dtype, as in JAX
        return Value._node(data, None, (), _NO_ATTRS, False, on)
    raise TypeError(f"{op}: cannot use an object of type {type(obj).__name__} as an operand")


def _dtype_source(inputs: tuple, on: _backend.Backend) -> "Value | None":
    """The Value whose dtype Python numbers take: the first float one, else the first."""
    first = None
    for x in inputs:
        if isinstance(x, Value) and (x.data is not None or x._dtype is not None):
            if on.is_float(x.dtype):
                return x
            first = first or x
    return first


# -- apply ---------------------------------------------------------------------------------

def apply(op: str, *inputs: Any, **attrs: Any) -> Value:
    """Run rule ``op`` on ``inputs`` (Values, arrays or numbers) and record the node."""
    rule = RULES[op]
    on = None
    all_values = True
    for x in inputs:
        if isinstance(x, Value):
            if on is None:
                on = x.backend
            elif x.backend is not on:
                raise BackendError(
                    f"{op}: cannot mix a {on.name} Value and a {x.backend.name} Value in one "
                    f"expression; move one with .to({on.name!r}) or .to({x.backend.name!r})"
                )
        else:
            all_values = False
    if on is None:
        on = _backend.backend()
    if all_values:
        parents = inputs
    else:
        like = _dtype_source(inputs, on)
        parents = tuple(x if isinstance(x, Value) else _constant(x, on, like, op) for x in inputs)
    recording = _grad_enabled()
    requires = False
    if recording and rule.vjp is not None:
        for p in parents:
            if p.requires_grad:
                requires = True
                break
    for p in parents:
        if p.data is None:  # a placeholder upstream: computed at forward()
            return Value._node(None, op, parents, attrs or _NO_ATTRS, requires, on)
    out = run_forward(rule, on, [p.data for p in parents], attrs, parents)
    if not recording:
        return Value._node(out, None, (), _NO_ATTRS, False, on)
    return Value._node(out, op, parents, attrs or _NO_ATTRS, requires and on.is_float(out.dtype), on)


def run_forward(rule: Rule, on: _backend.Backend, arrays: list, attrs: dict, parents: tuple):
    """rule.forward, with the backend's complaint turned into one naming the op and inputs."""
    try:
        return rule.forward(on.xp, *arrays, **attrs)
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
    dtypes = [str(a.dtype) for a in arrays]
    where = f"{op}: input shapes {', '.join(map(str, shapes))}; dtypes {', '.join(dtypes)}"
    if attrs:
        where += "; " + ", ".join(f"{k}={_short_repr(v)}" for k, v in attrs.items())
    if isinstance(exc, IndexError) and str(exc).startswith("index ") and "out of bounds" in str(exc):
        return IndexingError(f"{where}: {exc}")  # NumPy's "index 3 is out of bounds for axis 1 with size 3"
    if isinstance(exc, (IndexError, ValueError, TypeError)) and any(
        word in str(exc).lower() for word in ("shape", "dimension", "out of bounds", "size", "axis")
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


def rebind_count() -> int:
    """How many times a Value has been written into in this process (0: no walk repairs)."""
    return _rebinds


def rebind(handle: Value, node: Value) -> None:
    """Make ``handle`` the (just made) ``node``; what it held lives on in ``handle._before``."""
    global _rebinds
    old = Value.__new__(Value)
    for slot in _STATE_SLOTS:
        setattr(old, slot, getattr(handle, slot))
    before = getattr(handle, "_before", None)
    if before is not None:
        old._before = before
    for slot in _STATE_SLOTS:
        setattr(handle, slot, getattr(node, slot))
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
