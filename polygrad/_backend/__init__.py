"""Backend selection: which array library polygrad computes with.

Every numeric call polygrad makes goes through ``Backend.xp``: the backend's
array-API namespace (from array-api-compat) plus the two scatter functions the
gradient rules need and the standard lacks. One module here per library, each with a
``load()`` returning its Backend record; a library is imported only when its backend is
first selected, so ``import polygrad`` imports no array library but NumPy's default.

Which backend and dtype are active is ``_state``'s business (per context, defaults from
the environment); this package turns names into loaded Backend records.
"""
from __future__ import annotations

import contextlib
import importlib
import threading
from typing import Any

from .. import _state
from ..errors import BackendError, DTypeError
from ._record import ArrayNamespace, Backend

__all__ = [
    "Backend", "ArrayNamespace", "backend", "get_backend", "set_backend", "use_backend",
    "available_backends", "default_dtype", "set_default_dtype", "use_default_dtype",
]

# Backend name -> the module (in this package) whose load() builds it.
_LOADERS = ("numpy", "array_api_strict", "jax", "mlx", "cupy", "dask")
_loaded: dict[str, Backend] = {}
_loading = threading.Lock()


def available_backends() -> tuple[str, ...]:
    """Names set_backend() accepts (whether the package is installed is checked on use)."""
    return _LOADERS


def get_backend(name: str) -> Backend:
    """The Backend record for ``name``, loading its package on first use."""
    loaded = _loaded.get(name)
    if loaded is not None:
        return loaded
    if name not in _LOADERS:
        raise BackendError(
            f"unknown backend {name!r}; available backends: {', '.join(available_backends())}"
        )
    with _loading:  # one thread loads; others wait and then find it in _loaded
        if name not in _loaded:
            try:
                with _numpy_random_state_kept():
                    _loaded[name] = importlib.import_module(f"{__name__}.{name}").load()
            except ImportError as exc:
                raise BackendError(
                    f"backend {name!r} cannot be loaded: {exc}. Install it from polygrad's "
                    f'checkout with `pip install -e ".[{name}]"` or choose another backend'
                ) from exc
    return _loaded[name]


@contextlib.contextmanager
def _numpy_random_state_kept():
    """Selecting a backend must not move NumPy's global random state (importing JAX draws
    from it: a seeded script would draw other numbers on jax than on numpy)."""
    random = importlib.import_module("numpy").random
    state = random.get_state()
    try:
        yield
    finally:
        random.set_state(state)


def backend() -> Backend:
    """The active backend: its name, namespace (``.xp``) and device."""
    return get_backend(_state.backend_name())


def set_backend(name: str) -> Backend:
    """Make ``name`` the default backend for new Values (every thread); returns its record."""
    loaded = get_backend(name)
    _state.set_default_backend_name(name)
    return loaded


@contextlib.contextmanager
def use_backend(name: str):
    """``with pg.use_backend("array_api_strict"): ...`` selects a backend for a block
    (this thread or task only)."""
    loaded = get_backend(name)
    with _state.use_backend_name(name):
        yield loaded


def holds_tracer(obj: Any) -> bool:
    """Whether ``obj`` (an array, or a Value holding one) is a stand-in of a tracing transform
    (a JAX tracer under jax.jit or eval_shape) rather than data: caches of constants must not
    keep one past its trace. Asks the active backend's namespace extension ``is_traced``."""
    traced = getattr(backend().xp, "is_traced", None)
    return traced is not None and (traced(obj) or traced(getattr(obj, "data", None)))


def default_dtype(on: Backend | None = None) -> Any:
    """The default float dtype (POLYGRAD_DTYPE, float32 unless set) of a backend."""
    return (on or backend()).dtype(_check_dtype_name(_state.dtype_name()))


def set_default_dtype(name: str) -> None:
    """Set the default float dtype by name: "float32" or "float64"."""
    _state.set_default_dtype_name(_check_dtype_name(name))


@contextlib.contextmanager
def use_default_dtype(name: str):
    """``with pg.use_default_dtype("float64"): ...`` sets the default float dtype for a block
    (this thread or task only)."""
    with _state.use_dtype_name(_check_dtype_name(name)):
        yield


def _check_dtype_name(name: str) -> str:
    if name not in _state.FLOAT_DTYPE_NAMES:
        raise DTypeError(
            f"default dtype must be one of {', '.join(_state.FLOAT_DTYPE_NAMES)}, got {name!r} "
            "(check POLYGRAD_DTYPE)"
        )
    return name
