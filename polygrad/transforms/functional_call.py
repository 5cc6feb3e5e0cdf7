"""functional_call, as torch.func.functional_call: a module run with other parameters, so
that transforms compose with modules::

    params = dict(pg.nn.named_parameters(model))       # {"layers.0.weight": Value, ...}
    grads = pg.grad(lambda p: loss(pg.nn.functional_call(model, p, x)))(params)

Parameters are named by attribute path, as Module.named_parameters() names them
(``layers.0.weight``): public attributes (not starting with ``_``) in the order they were
set, lists and tuples by index, dicts by key.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping, Sequence

from .. import namespace as pn
from .._graph import Value
from ..errors import PolygradError

__all__ = ["functional_call", "named_parameters"]


def _module_type() -> type:
    from ..nn import Module  # nn re-exports functional_call from here: import it when called
    return Module


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk(held: Any, prefix: str, modules_seen: set, Module: type) -> Iterator[tuple[str, Value]]:
    if isinstance(held, Value):
        if held.op is None and held.data is not None:
            yield prefix, held
    elif isinstance(held, Module):
        if id(held) in modules_seen:
            return
        modules_seen.add(id(held))
        for attribute, item in vars(held).items():
            if not attribute.startswith("_"):
                yield from _walk(item, _join(prefix, attribute), modules_seen, Module)
    elif isinstance(held, (list, tuple)):
        for i, item in enumerate(held):
            yield from _walk(item, _join(prefix, str(i)), modules_seen, Module)
    elif isinstance(held, dict):
        for key, item in held.items():
            yield from _walk(item, _join(prefix, str(key)), modules_seen, Module)


def _named_leaves(module: Any) -> list[tuple[str, Value]]:
    """Every leaf Value of the module tree (parameters and buffers), each once, first name first."""
    method = getattr(module, "named_leaves", None)
    if callable(method):
        return list(method())
    found, seen = [], set()
    for name, value in _walk(module, "", set(), _module_type()):
        if id(value) not in seen:
            seen.add(id(value))
            found.append((name, value))
    return found


def named_parameters(module: Any) -> list[tuple[str, Value]]:
    """(dotted name, parameter) for each leaf Value of ``module`` that requires a gradient,
    each once, in tree order: ``module.named_parameters()`` where the module has it."""
    method = getattr(module, "named_parameters", None)
    if callable(method):
        return list(method())
    return [(name, value) for name, value in _named_leaves(module) if value.requires_grad]


def functional_call(module: Any, params: Mapping[str, Any] | Sequence[Mapping[str, Any]], *args: Any,
                    **kwargs: Any) -> Any:
    """``module(*args, **kwargs)`` with the parameters (or buffers) named in ``params``
    replaced by the given arrays or Values, as torch.func.functional_call.

    ``params``: a dict {dotted name: array or Value} (or a sequence of dicts, merged), as
    ``dict(named_parameters(module))`` gives; names left out keep the module's own values,
    an unknown name is an error. A parameter held in several places (tied weights) is
    replaced everywhere. The module is changed only while the call runs (so, as in
    PyTorch, not from two threads at once). Unlike PyTorch, the call's arguments follow
    ``params`` directly: ``functional_call(model, params, x)``, not ``(x,)``.
    """
    if not isinstance(params, Mapping):
        merged: dict = {}
        for part in params:
            merged.update(part)
        params = merged
    known = dict(_named_leaves(module))
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise PolygradError(
            f"functional_call: {type(module).__name__} has no parameter or buffer named "
            f"{', '.join(map(repr, unknown))}; its names are: {', '.join(known) or 'none'}"
        )
    replacement = {id(known[name]): (value if isinstance(value, Value) else pn.asarray(value))
                   for name, value in params.items()}
    swapped: list = []
    try:
        _swap(module, replacement, swapped, set(), _module_type())
        return module(*args, **kwargs)
    finally:
        for owner, attribute, previous in reversed(swapped):
            setattr(owner, attribute, previous)


def _swap(module: Any, replacement: dict, swapped: list, modules_seen: set, Module: type) -> None:
    """Set the module's attributes to copies holding the replacements (sub-modules are
    changed in place), noting each original in ``swapped``."""
    modules_seen.add(id(module))
    for attribute, held in list(vars(module).items()):
        if attribute.startswith("_"):
            continue
        new = _replaced(held, replacement, swapped, modules_seen, Module)
        if new is not held:
            swapped.append((module, attribute, held))
            setattr(module, attribute, new)


def _replaced(held: Any, replacement: dict, swapped: list, modules_seen: set, Module: type) -> Any:
    if isinstance(held, Value):
        return replacement.get(id(held), held)
    if isinstance(held, Module):
        if id(held) not in modules_seen:
            _swap(held, replacement, swapped, modules_seen, Module)
        return held
    if isinstance(held, (list, tuple)):
        items = [_replaced(x, replacement, swapped, modules_seen, Module) for x in held]
        if all(a is b for a, b in zip(items, held)):
            return held
        if isinstance(held, list):
            return items
        return type(held)(*items) if hasattr(held, "_fields") else type(held)(items)
    if isinstance(held, dict):
        items = {k: _replaced(v, replacement, swapped, modules_seen, Module) for k, v in held.items()}
        return held if all(items[k] is held[k] for k in held) else items
    return held
