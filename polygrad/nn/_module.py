"""Module: a parameter tree named by attribute path, and Sequential.

A module's tree is its public attributes (names not starting with ``_``), in the order
they were set, and what they hold: Values, other modules, and lists, tuples and dicts of
those. A leaf Value that requires a gradient is a parameter; a leaf Value that does not
(``requires_grad=False``) is a buffer: saved and loaded with the parameters, never
updated by an optimizer. Names join the path with dots: ``layers.0.weight``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

from .._dotted import check_state, flatten, join, to_backend
from .._graph import Value
from ..errors import DTypeError

__all__ = ["Module", "Sequential"]


class Module:
    """Base class of layers and models.

    Subclasses set their parameters and sub-modules as attributes in ``__init__`` (calling
    ``super().__init__()`` is not required) and define ``forward``; ``module(x)`` calls it.
    ``training`` is True until ``eval()``: layers such as Dropout read it.
    """

    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- the tree -------------------------------------------------------------------------
    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Any]]:
        """(dotted name, Value or Module) depth first, in attribute order; a module met
        twice (shared, or a reference back up the tree) is walked once."""
        for attribute, held in vars(self).items():
            if attribute.startswith("_"):
                continue
            for name, item in _containers(held, join(prefix, attribute)):
                if isinstance(item, Module):
                    if id(item) in seen:
                        continue
                    seen.add(id(item))
                    yield name, item
                    yield from item._walk(name, seen)
                else:
                    yield name, item

    def named_modules(self) -> list[tuple[str, "Module"]]:
        """("", self), then every sub-module with its dotted name, depth first."""
        return [("", self)] + [(n, m) for n, m in self._walk("", {id(self)}) if isinstance(m, Module)]

    def modules(self) -> list["Module"]:
        return [m for _, m in self.named_modules()]

    def named_children(self) -> list[tuple[str, "Module"]]:
        """The modules this one holds directly (in attributes, lists or dicts), with their names."""
        found, seen = [], {id(self)}
        for attribute, held in vars(self).items():
            if not attribute.startswith("_"):
                for name, item in _containers(held, attribute):
                    if isinstance(item, Module) and id(item) not in seen:
                        seen.add(id(item))
                        found.append((name, item))
        return found

    def children(self) -> list["Module"]:
        return [m for _, m in self.named_children()]

    def named_leaves(self) -> list[tuple[str, Value]]:
        """Every leaf Value of the tree (parameters and buffers), each once, under the first
        name it is met by."""
        found, seen = [], set()
        for name, item in self._walk("", {id(self)}):
            if isinstance(item, Value) and item.op is None and item.data is not None and id(item) not in seen:
                seen.add(id(item))
                found.append((name, item))
        return found

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(name, parameter) for the leaves that require a gradient, in tree order."""
        return [(n, v) for n, v in self.named_leaves() if v.requires_grad]

    def parameters(self) -> list[Value]:
        return [v for _, v in self.named_parameters()]

    # -- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{name: array}`` for every parameter and buffer: the arrays themselves, of the
        backend they live on. A snapshot: optimizers and load_state_dict replace a Value's
        array rather than write into it, so later steps leave this dict unchanged."""
        return {name: value.data for name, value in self.named_leaves()}

    def load_state_dict(self, state: dict[str, Any], *, strict: bool = True) -> tuple[list[str], list[str]]:
        """Set every parameter and buffer from ``state``: a flat ``{name: array}`` dict as
        ``state_dict()`` makes, or the nested dicts ``pg.load`` returns.

        Arrays may be of any backend (or NumPy, or Values): each is moved to its parameter's
        backend and cast to its dtype. The Values keep their identity, so an optimizer built
        on them keeps working. With ``strict`` (the default) a missing or unexpected name
        is a StateDictError listing them all; a shape mismatch always is. Returns the
        (missing, unexpected) names.
        """
        flat = flatten(state, "load_state_dict")
        leaves = dict(self.named_leaves())
        what = f"{type(self).__name__}.load_state_dict"
        missing, unexpected = check_state({n: v.shape for n, v in leaves.items()}, flat, what, strict)
        arrays = {name: _cast_like(leaves[name], flat[name], what, name) for name in leaves if name in flat}
        for name, data in arrays.items():  # every array converted before any is set
            leaves[name].data = data
        return missing, unexpected

    # -- modes and utilities ------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and every sub-module; returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode (``train(False)``): dropout off. Returns self."""
        return self.train(False)

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every sub-module, then on this one (as PyTorch); returns self."""
        for module in reversed(self.modules()):
            fn(module)
        return self

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # -- printing -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of repr(module)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = [f"({name}): {_indent(repr(child))}" for name, child in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n" + "\n".join("  " + line for line in lines) + "\n)"


def _containers(held: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(held, (Value, Module)):
        yield prefix, held
    elif isinstance(held, (list, tuple)):
        for i, item in enumerate(held):
            yield from _containers(item, join(prefix, str(i)))
    elif isinstance(held, dict):
        for key, item in held.items():
            yield from _containers(item, join(prefix, str(key)))


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _cast_like(target: Value, source: Any, what: str, name: str):
    on = target.backend
    data = to_backend(source, on, what)
    if data.dtype != target.dtype:
        if on.is_float(data.dtype) != on.is_float(target.dtype):
            raise DTypeError(f"{what}: {name} has dtype {data.dtype} in the state, {target.dtype} in the module")
        data = on.xp.astype(data, target.dtype)
    return data


class Sequential(Module):
    """Layers applied in order: ``Sequential(Linear(2, 8), pg.nn.gelu, Linear(8, 1))``.

    Any callable may be a layer (functions such as ``pg.relu`` included); parameters are
    named ``layers.<index>.<name>``. Indexing and iteration go through the layers.
    """

    def __init__(self, *layers: Callable):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index):
        return Sequential(*self.layers[index]) if isinstance(index, slice) else self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"({i}): {_indent(repr(layer) if isinstance(layer, Module) else getattr(layer, '__name__', repr(layer)))}"
                 for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join("  " + line for line in lines) + "\n)" if lines else "Sequential()"
