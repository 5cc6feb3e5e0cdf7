"""Value: the graph node as users meet it, with its operators and methods.

The node record itself (data, grad, op, parents, attrs) lives in ``_graph``, below the
rules and the engine; this module attaches the array interface from above, as JAX
attaches its array methods, so imports flow one way.
"""
from __future__ import annotations

from typing import Any

from . import _backend, _state, engine, indexing, namespace, replay
from ._graph import DTYPE_NAMES, Value, apply, as_dtype, dtype_name
from .errors import PolygradError, ShapeError, TracerError

__all__ = ["Value"]


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


class _ValueMethods:
    """Everything here is copied onto Value (see the end of this module)."""

    # NumPy arrays on the left of an operator defer to Value's reflected methods.
    __array_ufunc__ = None

    @property
    def device(self) -> Any:
        return getattr(self.data, "device", self.backend.device)

    @property
    def T(self) -> Value:
        return apply("permute_dims", self, axes=tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Value:
        return apply("matrix_transpose", self)

    def __array_namespace__(self, *, api_version: str | None = None):
        return namespace

    # -- conversion ---------------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (a copy where the backend is not NumPy)."""
        self._refuse_if_traced("numpy")
        return self.backend.to_numpy(self._require_data("numpy"))

    def _refuse_if_traced(self, what: str) -> None:
        """Under pg.jit, a value computed from the traced inputs has no fixed contents."""
        if _state._jit_tracing.get() and (self.op is not None or self.name is not None):
            raise TracerError(
                f"{what}: under pg.jit, {self._describe()} (shape {self.shape}) is traced: its value "
                "changes from call to call, so Python control flow on it (if, while, bool, float, "
                "item, numpy) cannot be compiled. Use pg.where, or call f without jit")

    def item(self) -> float | int | bool:
        self._refuse_if_traced("item")
        data = self._require_data("item")
        if type(self) is not Value and self.data is not None and self.data.shape[:1] != (1,) and self.data.ndim > self.ndim:
            raise PolygradError(
                "item: under vmap this Value holds one value per example; data-dependent Python "
                "control flow cannot be batched (use pg.where)")
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

    def detach(self) -> Value:
        """A new leaf sharing this data, outside the graph, with no gradient."""
        return type(self)._wrap(self._require_data("detach"), self.backend)  # batched stays batched

    def to(self, name: str) -> Value:
        """This Value's data on another backend, as a new leaf (DLPack where possible)."""
        target = _backend.get_backend(name)
        data = self._require_data("to")
        if target is not self.backend:
            try:
                data = target.xp.from_dlpack(data)
            except Exception:  # noqa: BLE001 - fall back to a host copy
                data = target.asarray(self.numpy())
        return Value._wrap(data, target, requires_grad=self.requires_grad, name=self.name)

    def __repr__(self) -> str:
        parts = []
        if self.name:
            parts.append(f"name={self.name!r}")
        parts.append(f"shape={self.shape}")
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
        engine.backward(self, grad, create_graph=create_graph)

    def retain_grad(self) -> Value:
        """Keep this intermediate node's gradient after backward()."""
        self._retain = True
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def forward(self, **feeds: Any) -> Value:
        """Re-run the recorded graph with new placeholder data, without rebuilding it."""
        replay.replay(self, feeds)
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
        return indexing.getitem(self, key)

    def __setitem__(self, key, value):
        raise TypeError(
            "Values are immutable: build the result with pg.where, pg.concat or pg.stack instead"
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # -- pickle and copy.deepcopy -----------------------------------------------------------
    def __reduce_ex__(self, protocol):
        """Data travels as NumPy arrays, the backend and dtypes by name; a node carries its
        whole graph as one flat list (so a 100,000-op chain pickles without recursion), its
        leaves as Values of their own (a parameter pickled beside the graph stays one object)."""
        if self.op is None:
            return _rebuild_leaf, (_leaf_state(self),)
        nodes = [*engine.ancestors(self), self]
        position = {id(node): i for i, node in enumerate(nodes)}
        entries = []
        for node in nodes:
            if node.op is None:
                entries.append(node)
            else:
                entries.append((
                    node.op, tuple(position[id(p)] for p in node.parents), _encode(node.attrs, node.backend),
                    node.requires_grad, node.name, _host(node.data, node.backend), node._retain,
                ))
        return _rebuild_graph, (self.backend.name, entries)


for _name, _member in vars(_ValueMethods).items():
    if _name not in ("__module__", "__qualname__", "__dict__", "__weakref__", "__doc__"):
        setattr(Value, _name, _member)
del _name, _member


# -- pickle support (module-level functions: pickle finds them by name) ------------------------

def _host(data, on):
    """An array as (NumPy array, dtype name): bfloat16 travels as float32, cast back on load."""
    if data is None:
        return None
    if isinstance(data, Value):
        data = data.data
    return on.to_numpy(data), dtype_name(data.dtype)


def _device(host, on):
    if host is None:
        return None
    array, name = host
    data = on.asarray(array)
    dtype = as_dtype(on, name, "unpickle")
    return data if data.dtype == dtype else on.xp.astype(data, dtype)


def _leaf_state(leaf) -> dict:
    on = leaf.backend
    state = {"backend": on.name, "data": _host(leaf.data, on), "requires_grad": leaf.requires_grad,
             "name": leaf.name, "grad": _host(leaf.grad, on), "retain": leaf._retain}
    if getattr(leaf, "_placeholder", False):
        state["placeholder"] = (leaf._shape, dtype_name(leaf._dtype))
    return state


def _rebuild_leaf(state: dict) -> Value:
    on = _backend.get_backend(state["backend"])
    data = _device(state["data"], on)
    if "placeholder" in state:
        shape, dtype = state["placeholder"]
        leaf = Value(shape=shape, dtype=dtype, name=state["name"], backend=on)
        leaf.data = data
    else:
        leaf = Value._wrap(data, on, requires_grad=state["requires_grad"], name=state["name"])
    leaf.requires_grad = state["requires_grad"]
    leaf.grad = _device(state["grad"], on)
    leaf._retain = state["retain"]
    return leaf


def _rebuild_graph(backend_name: str, entries: list) -> Value:
    on = _backend.get_backend(backend_name)
    nodes: list = []
    for entry in entries:
        if isinstance(entry, Value):
            nodes.append(entry)
            continue
        op, parents, attrs, requires_grad, name, data, retain = entry
        node = Value._node(_device(data, on), op, tuple(nodes[i] for i in parents),
                           _decode(attrs, on), requires_grad, on)
        node.name, node._retain = name, retain
        nodes.append(node)
    return nodes[-1]


class _Array:
    """An array inside attrs (a boolean mask in a getitem key), as NumPy data."""

    def __init__(self, host):
        self.host = host


class _DType:
    """A dtype inside attrs (astype's), by name."""

    def __init__(self, name: str):
        self.name = name


def _encode(value, on):
    if isinstance(value, dict):
        return {k: _encode(v, on) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_encode(v, on) for v in value)
    if on.is_array(value):
        return _Array(_host(value, on))
    if value is None or isinstance(value, (bool, int, float, complex, str, slice, type(Ellipsis))):
        return value
    name = dtype_name(value)
    if name in DTYPE_NAMES and getattr(on.xp, name, None) == value:
        return _DType(name)
    return value


def _decode(value, on):
    if isinstance(value, dict):
        return {k: _decode(v, on) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_decode(v, on) for v in value)
    if isinstance(value, _Array):
        return _device(value.host, on)
    if isinstance(value, _DType):
        return as_dtype(on, value.name, "unpickle")
    return value
