"""Value: the graph node. Holds data, grad, the op that made it and its parents.

A node stores (op, parents, attrs) and never a closure, so dropping the root frees
the whole graph by reference counting alone. ``apply`` is the one place nodes are
made: it lifts constants, checks backends, runs the rule's forward and names the
op and the shapes when the backend rejects the inputs.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

from . import _backend
from .errors import BackendError, DTypeError, OpError, PolygradError, ShapeError
from .rules import RULES, Rule

__all__ = ["Value", "apply", "is_grad_enabled"]

_NO_ATTRS: dict = {}


class _GradMode:
    """Whether new nodes record the graph (``pg.no_grad()`` turns it off)."""
    enabled = True


def is_grad_enabled() -> bool:
    return _GradMode.enabled


class Value:
    """A node of the computation graph, wrapping one array of one backend.

    ``Value(data)`` makes a leaf from a backend array, a NumPy array or a Python
    number (numbers and lists are cast to the default float dtype). Float leaves
    take gradients unless ``requires_grad=False``. ``Value(shape=(None, 3), name="X")``
    makes a placeholder whose data is fed later with ``root.forward(X=...)``.
    """

    __slots__ = (
        "data", "grad", "op", "parents", "attrs", "requires_grad", "backend", "name",
        "_shape", "_dtype", "_order", "_retain", "_ct", "__weakref__",
    )

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
        self._order = None
        self._retain = False
        self._ct = None
        self._shape = None
        self._dtype = None
        if data is None:
            if shape is None:
                raise ShapeError("Value: give data, or a shape (None for any size) for a placeholder")
            self.data = None
            self._shape = tuple(None if n is None else int(n) for n in shape)
            self._dtype = _backend.default_dtype(on) if dtype is None else _as_dtype(on, dtype)
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

    # NumPy arrays on the left of an operator defer to Value's reflected methods.
    __array_ufunc__ = None

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
        node._order = None
        node._retain = False
        node._ct = None
        return node

    # -- array attributes ------------------------------------------------------------
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
    def device(self) -> Any:
        return getattr(self.data, "device", self.backend.device)

    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def T(self) -> "Value":
        return apply("permute_dims", self, axes=tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> "Value":
        return apply("matrix_transpose", self)

    def __array_namespace__(self, *, api_version: str | None = None):
        from . import namespace
        return namespace

    # -- conversion ---------------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (a copy where the backend is not NumPy)."""
        return self.backend.to_numpy(self._require_data("numpy"))

    def item(self) -> float | int | bool:
        data = self._require_data("item")
        if self.size != 1:
            raise ShapeError(f"item: needs a Value with one element, got shape {self.shape}")
        return self.backend.to_numpy(data).item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.item())

    def __len__(self) -> int:
        if not self.ndim:
            raise TypeError("len() of a 0-d Value")
        return self.shape[0]

    def detach(self) -> "Value":
        """A new leaf sharing this data, outside the graph, with no gradient."""
        return Value._wrap(self._require_data("detach"), self.backend)

    def to(self, name: str) -> "Value":
        """This Value's data on another backend, as a new leaf (DLPack where possible)."""
        target = _backend.get_backend(name)
        data = self._require_data("to")
        if target is not self.backend:
            try:
                data = target.xp.from_dlpack(data)
            except Exception:  # noqa: BLE001 - fall back to a host copy
                data = target.asarray(self.numpy())
        return Value._wrap(data, target, requires_grad=self.requires_grad, name=self.name)

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

    def __repr__(self) -> str:
        parts = []
        if self.name:
            parts.append(f"name={self.name!r}")
        shape = self.shape
        parts.append(f"shape={shape}")
        try:
            parts.append(f"dtype={self.dtype}")
        except PolygradError:
            pass
        parts.append(f"backend={self.backend.name}")
        if self.op:
            parts.append(f"op={self.op}")
        if self.data is None:
            parts.append("data=<not fed>")
        else:
            flat = self.backend.to_numpy(self.data).reshape(-1)
            preview = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in flat[:6].tolist())
            parts.append(f"data=[{preview}{', ...' if flat.shape[0] > 6 else ''}]")
        return f"Value({', '.join(parts)})"

    # -- autodiff -----------------------------------------------------------------------
    def backward(self, grad: Any = None, *, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` that requires one.

        A non-scalar root is seeded with ones unless ``grad`` is given. Gradients of
        intermediate nodes are freed once used unless ``retain_grad()`` was called.
        With ``create_graph=True`` the gradients are Values with a graph of their own.
        """
        from .autodiff import backward
        backward(self, grad, create_graph=create_graph)

    def retain_grad(self) -> "Value":
        """Keep this intermediate node's gradient after backward()."""
        self._retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def forward(self, **feeds: Any) -> "Value":
        """Re-run the recorded graph with new placeholder data, without rebuilding it."""
        from .autodiff import replay
        replay(self, feeds)
        return self

    # -- operators ------------------------------------------------------------------------
    def __add__(self, other): return apply("add", self, other)
    def __radd__(self, other): return apply("add", other, self)
    def __sub__(self, other): return apply("subtract", self, other)
    def __rsub__(self, other): return apply("subtract", other, self)
    def __mul__(self, other): return apply("multiply", self, other)
    def __rmul__(self, other): return apply("multiply", other, self)
    def __truediv__(self, other): return apply("divide", self, other)
    def __rtruediv__(self, other): return apply("divide", other, self)
    def __pow__(self, other): return apply("pow", self, other)
    def __rpow__(self, other): return apply("pow", other, self)
    def __matmul__(self, other): return apply("matmul", self, other)
    def __rmatmul__(self, other): return apply("matmul", other, self)
    def __neg__(self): return apply("negative", self)
    def __pos__(self): return self
    def __abs__(self): return apply("abs", self)
    def __lt__(self, other): return apply("less", self, other)
    def __le__(self, other): return apply("less_equal", self, other)
    def __gt__(self, other): return apply("greater", self, other)
    def __ge__(self, other): return apply("greater_equal", self, other)
    def __eq__(self, other): return apply("equal", self, other)  # type: ignore[override]
    def __ne__(self, other): return apply("not_equal", self, other)  # type: ignore[override]
    def __invert__(self): return apply("logical_not", self)
    def __and__(self, other): return apply("logical_and", self, other)
    def __or__(self, other): return apply("logical_or", self, other)
    __hash__ = object.__hash__

    # Method forms of common functions, as PyTorch and micrograd users expect.
    def sum(self, axis=None, keepdims=False): return apply("sum", self, axis=_axis(axis), keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return apply("mean", self, axis=_axis(axis), keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return apply("max", self, axis=_axis(axis), keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return apply("min", self, axis=_axis(axis), keepdims=keepdims)
    def reshape(self, *shape): return apply("reshape", self, shape=tuple(shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape))
    def exp(self): return apply("exp", self)
    def log(self): return apply("log", self)
    def tanh(self): return apply("tanh", self)
    def relu(self): return apply("relu", self)
    def sigmoid(self): return apply("sigmoid", self)

    def __getitem__(self, key):
        from .indexing import getitem
        return getitem(self, key)

    def __setitem__(self, key, value):
        raise TypeError(
            "Values are immutable: build the result with pg.where, pg.concat or pg.stack instead"
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# -- making nodes -------------------------------------------------------------------------

def _as_dtype(on: _backend.Backend, dtype: Any) -> Any:
    return on.dtype(dtype) if isinstance(dtype, str) else dtype


def _leaf_array(data: Any, on: _backend.Backend, dtype: Any):
    """The array a new leaf holds; float data takes the default float dtype unless given one."""
    dtype = None if dtype is None else _as_dtype(on, dtype)
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


def _constant(obj: Any, on: _backend.Backend, like: "Value | None", op: str) -> Value:
    """A raw array or Python number met in an expression: a constant leaf."""
    if isinstance(obj, bool):
        data = on.asarray(obj, dtype=on.xp.bool)
    elif isinstance(obj, numbers.Number):
        like_dtype = None if like is None else like.dtype
        if like_dtype is not None and (on.is_float(like_dtype) or isinstance(obj, numbers.Integral)):
            dtype = like_dtype
        else:
            dtype = _backend.default_dtype(on)
        data = on.asarray(obj, dtype=dtype)
    elif on.is_array(obj) or hasattr(obj, "__array__") or hasattr(obj, "__dlpack__"):
        data = obj if on.is_array(obj) else on.asarray(obj)
        if on.is_float(data.dtype) and data.dtype != (default := _backend.default_dtype(on)):
            data = on.xp.astype(data, default)  # float constants take the default dtype, as in JAX
    else:
        raise TypeError(f"{op}: cannot use an object of type {type(obj).__name__} as an operand")
    return Value._node(data, None, (), _NO_ATTRS, False, on)


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
    arrays = []
    requires = deferred = False
    for p in parents:
        arrays.append(p.data)
        requires = requires or p.requires_grad
        deferred = deferred or p.data is None
    requires = requires and rule.vjp is not None and _GradMode.enabled
    if deferred:  # a placeholder upstream: computed at forward()
        return Value._node(None, op, parents, attrs or _NO_ATTRS, requires, on)
    out = run_forward(rule, on, arrays, attrs, parents)
    if not _GradMode.enabled:
        return Value._node(out, None, (), _NO_ATTRS, False, on)
    return Value._node(out, op, parents, attrs or _NO_ATTRS, requires and on.is_float(out.dtype), on)


def _dtype_source(inputs: tuple, on: _backend.Backend) -> "Value | None":
    """The Value whose dtype Python numbers take: the first float one, else the first."""
    first = None
    for x in inputs:
        if isinstance(x, Value) and (x.data is not None or x._dtype is not None):
            if on.is_float(x.dtype):
                return x
            first = first or x
    return first


def run_forward(rule: Rule, on: _backend.Backend, arrays: list, attrs: dict, parents: tuple):
    """rule.forward, with the backend's complaint turned into one naming the op and inputs."""
    try:
        return rule.forward(on.xp, *arrays, **attrs)
    except PolygradError:
        raise
    except Exception as exc:  # the backend's own error type varies: name the op instead
        raise describe_failure(rule.name, arrays, attrs, exc, on) from exc


def broadcast_shapes(*shapes: tuple) -> tuple | None:
    """The broadcast shape of ``shapes``, or None if they do not broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i and s[i] != 1}
        if len(sizes) > 1:
            return None
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(op: str, arrays: list, attrs: dict, exc: Exception,
                     on: _backend.Backend) -> PolygradError:
    """The error to raise when the backend rejected an op: polygrad judges the shapes and
    dtypes itself where it can, since backends word (and type) their complaints differently."""
    shapes = [tuple(a.shape) for a in arrays]
    problem = _shape_problem(op, shapes, attrs)
    if problem:
        return ShapeError(f"{op}: {problem}")
    if op == "take" and not on.xp.isdtype(arrays[1].dtype, "integral"):
        return DTypeError(f"take: indices must be integers, got dtype {arrays[1].dtype} (input shape {shapes[0]})")
    dtypes = [str(a.dtype) for a in arrays]
    where = f"{op}: input shapes {', '.join(map(str, shapes))}; dtypes {', '.join(dtypes)}"
    if attrs:
        where += "; " + ", ".join(f"{k}={_short_repr(v)}" for k, v in attrs.items())
    if isinstance(exc, (IndexError, ValueError, TypeError)) and any(
        word in str(exc).lower() for word in ("shape", "dimension", "out of bounds", "size", "axis")
    ):
        return ShapeError(f"{where}: {exc}")
    if isinstance(exc, TypeError):
        return DTypeError(f"{where}: {exc}")
    return OpError(f"{where}: {type(exc).__name__}: {exc}")


def _shape_problem(op: str, shapes: list, attrs: dict) -> str | None:
    """What is wrong with these input shapes for ``op``, if polygrad can tell."""
    if RULES[op].broadcasts and broadcast_shapes(*shapes) is None:
        return f"shapes {' and '.join(map(str, shapes))} cannot be broadcast together"
    if op == "matmul" and all(len(s) >= 1 for s in shapes):
        a, b = shapes
        inner_b = b[-2] if len(b) >= 2 else b[0]
        if a[-1] != inner_b:
            return (f"shapes {a} and {b} do not align: the last axis of the first ({a[-1]}) must equal "
                    f"the {'second-to-last' if len(b) >= 2 else 'only'} axis of the second ({inner_b})")
    if op == "reshape":
        target = tuple(attrs["shape"])
        if -1 not in target and None not in target and math.prod(target) != math.prod(shapes[0]):
            return (f"cannot reshape shape {shapes[0]} ({math.prod(shapes[0])} elements) into "
                    f"{target} ({math.prod(target)} elements)")
    if op == "broadcast_to":
        target = tuple(attrs["shape"])
        if broadcast_shapes(shapes[0], target) != target:
            return f"shape {shapes[0]} cannot be broadcast to {target}"
    if op == "concat" and len(shapes) > 1:
        axis = attrs.get("axis", 0)
        ndims = {len(s) for s in shapes}
        if len(ndims) > 1 or (axis is not None and -len(shapes[0]) <= axis < len(shapes[0]) and len({
                s[:axis % len(s)] + s[axis % len(s) + 1:] for s in shapes}) > 1):
            return f"shapes {', '.join(map(str, shapes))} differ outside the concatenation axis {axis}"
    if op == "stack" and len(set(shapes)) > 1:
        return f"shapes {', '.join(map(str, shapes))} must all be equal"
    if op == "tensordot" and len(shapes) == 2:
        axes = attrs.get("axes", 2)
        a, b = shapes
        if isinstance(axes, int):
            pairs = list(zip(a[len(a) - axes:], b[:axes])) if axes <= min(len(a), len(b)) else [(0, 1)]
        else:
            try:
                pairs = [(a[i], b[j]) for i, j in zip(*axes)]
            except IndexError:
                pairs = [(0, 1)]
        if any(m != n for m, n in pairs):
            return f"shapes {a} and {b} do not align over axes={axes!r}: contracted sizes must match"
    return None
