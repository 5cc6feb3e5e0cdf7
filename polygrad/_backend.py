"""Backend selection: which array library polygrad computes with, and its shims.

Every numeric call polygrad makes goes through ``Backend.xp``: the backend's
array-API namespace (from array-api-compat) plus the two scatter functions the
gradient rules need and the standard lacks. Backend packages are imported only
when their backend is first selected, so ``import polygrad`` imports no array
library but NumPy's default.

Settings are read from the environment once, here, and can be overridden in code
with :func:`set_backend`, :func:`use_backend` and :func:`set_default_dtype`.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import BackendError, DTypeError

__all__ = [
    "Backend", "ArrayNamespace", "backend", "get_backend", "set_backend", "use_backend",
    "available_backends", "default_dtype", "set_default_dtype",
]

_FLOAT_DTYPES = ("float32", "float64")


class ArrayNamespace:
    """An array-API namespace plus polygrad's extensions.

    Attribute lookups fall through to the wrapped namespace and are cached on
    first use, so a rule calling ``xp.exp`` costs one dictionary lookup.

    Extensions (not in the standard, needed to transpose indexing):
      scatter(values, key, shape) -> zeros(shape) with ``values`` written at the basic index ``key``
      scatter_add(values, indices, shape, axis) -> zeros(shape) with the slices of
          ``values`` along ``axis`` added at the 1-D integer ``indices`` (repeats add up)
    """

    def __init__(self, name: str, base: Any, **extensions: Callable):
        self.__name__ = name
        self._base = base
        self.__dict__.update(extensions)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._base, name)
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"<polygrad array namespace {self.__name__!r}>"


@dataclass(frozen=True, eq=False)
class Backend:
    """One array library as polygrad uses it.

    Attributes:
      name: the name POLYGRAD_BACKEND and set_backend() take.
      xp: the namespace rules compute with (see ArrayNamespace).
      device: the device new arrays are placed on.
      is_array: tells whether an object is an array of this backend.
      to_numpy: copies one of its arrays into a NumPy array.
      synchronize: waits for queued device work (honest timing on GPUs).
      boolean_masks: whether x[mask] works (MLX cannot: polygrad indexes with the
          mask's nonzero() positions instead).
      evaluate: forces lazy arrays (MLX) to be computed; a no-op on eager backends.
          polygrad calls it where a user expects data to exist: the end of
          backward() and of an optimizer step (item() and numpy() force it anyway).
    """

    name: str
    xp: ArrayNamespace
    device: Any
    is_array: Callable[[Any], bool]
    to_numpy: Callable[[Any], Any]
    synchronize: Callable[[], None] = lambda: None
    evaluate: Callable[..., None] = lambda *arrays: None
    boolean_masks: bool = True
    _float_dtypes: dict = field(default_factory=dict, repr=False)

    def dtype(self, name: str) -> Any:
        return getattr(self.xp, name)

    def is_float(self, dtype: Any) -> bool:
        known = self._float_dtypes.get(dtype)
        if known is None:
            known = self._float_dtypes[dtype] = bool(self.xp.isdtype(dtype, "real floating"))
        return known

    def asarray(self, obj: Any, dtype: Any = None) -> Any:
        """An array of this backend from a Python number, a NumPy array or a nested list."""
        try:
            return self.xp.asarray(obj, dtype=dtype, device=self.device)
        except (TypeError, ValueError) as exc:
            raise BackendError(
                f"cannot make a {self.name} array from {type(obj).__name__}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"


# -- shims -------------------------------------------------------------------

def _standard_scatter(xp: Any) -> Callable:
    def scatter(values, key, shape):
        out = xp.zeros(shape, dtype=values.dtype)
        if any(k is None for k in key):  # setitem keys may not hold None: drop those axes
            key = tuple(k for k in key if k is not None)
            values = xp.reshape(values, out[key].shape)
        # A lone component unwrapped: array-api-strict 2.6 rejects out[(empty_mask,)] = values
        # (a mask with no elements), though out[empty_mask] = values works.
        out[key[0] if len(key) == 1 else key] = values
        return out
    return scatter


def _standard_scatter_add(xp: Any) -> Callable:
    """scatter_add with standard functions only: a one-hot matrix product.

    O(len(indices) * shape[axis]) work: fine for tests and the strict backend,
    which exists to prove standard compliance; fast backends override it.
    """
    def scatter_add(values, indices, shape, axis):
        n = shape[axis]
        moved = xp.moveaxis(values, axis, 0)
        rest = moved.shape[1:]
        flat = xp.reshape(moved, (moved.shape[0], math.prod(rest)))
        indices = xp.where(indices < 0, indices + n, indices)
        positions = xp.arange(n, dtype=indices.dtype)
        onehot = xp.astype(indices[:, None] == positions[None, :], values.dtype)
        summed = xp.matmul(xp.matrix_transpose(onehot), flat)
        return xp.moveaxis(xp.reshape(summed, (n, *rest)), 0, axis)
    return scatter_add


# -- loaders: one per backend --------------------------------------------------

def _load_numpy() -> Backend:
    np = importlib.import_module("numpy")
    compat = importlib.import_module("array_api_compat.numpy")

    def scatter_add(values, indices, shape, axis):
        out = np.zeros(shape, dtype=values.dtype)
        np.add.at(out, (slice(None),) * axis + (indices,), values)
        return out

    xp = ArrayNamespace("numpy", compat, scatter=_standard_scatter(compat), scatter_add=scatter_add)
    return Backend(
        name="numpy", xp=xp, device="cpu",
        is_array=lambda obj: isinstance(obj, (np.ndarray, np.generic)),
        to_numpy=np.asarray,
    )


def _load_array_api_strict() -> Backend:
    strict = importlib.import_module("array_api_strict")
    np = importlib.import_module("numpy")
    xp = ArrayNamespace(
        "array_api_strict", strict,
        scatter=_standard_scatter(strict), scatter_add=_standard_scatter_add(strict),
    )
    array_type = type(strict.asarray(0.0))
    return Backend(
        name="array_api_strict", xp=xp, device=strict.asarray(0.0).device,
        is_array=lambda obj: isinstance(obj, array_type),
        to_numpy=lambda a: np.from_dlpack(a),
    )


def _load_jax() -> Backend:
    jax = importlib.import_module("jax")
    # float64 must work when asked for (POLYGRAD_DTYPE=float64, gradient checks); polygrad
    # always passes dtypes explicitly, so its own default stays float32.
    jax.config.update("jax_enable_x64", True)
    jnp = importlib.import_module("jax.numpy")
    np = importlib.import_module("numpy")

    def scatter(values, key, shape):
        out = jnp.zeros(shape, dtype=values.dtype)
        if any(k is None for k in key):  # as _standard_scatter: .at[] keys may not hold None
            key = tuple(k for k in key if k is not None)
            values = jnp.reshape(values, out[key].shape)
        return out.at[key].set(values)

    def scatter_add(values, indices, shape, axis):
        key = (slice(None),) * axis + (indices,)
        return jnp.zeros(shape, dtype=values.dtype).at[key].add(values)

    # jax.numpy follows the standard; arrays are immutable, hence .at[] for the scatters.
    xp = ArrayNamespace("jax", jnp, scatter=scatter, scatter_add=scatter_add)
    device = jax.devices()[0]

    def synchronize():
        (jnp.zeros(()) + 0).block_until_ready()  # dispatch is in order: waits for earlier work

    return Backend(
        name="jax", xp=xp, device=device,
        is_array=lambda obj: isinstance(obj, jax.Array),
        to_numpy=np.asarray, synchronize=synchronize,
    )


def _load_mlx() -> Backend:
    mx = importlib.import_module("mlx.core")
    np = importlib.import_module("numpy")
    from ._mlx import extensions

    device = mx.default_device()
    float64_ok = device == mx.cpu
    # MLX's setitem builds a new graph node (nothing is shared), so the standard scatter works.
    xp = ArrayNamespace("mlx", mx, scatter=_standard_scatter(mx), **extensions(mx, np, float64_ok))

    def to_numpy(a):
        return np.asarray(a if a.dtype != mx.bfloat16 else a.astype(mx.float32))

    return Backend(
        name="mlx", xp=xp, device=device,
        is_array=lambda obj: isinstance(obj, mx.array),
        to_numpy=to_numpy, synchronize=mx.synchronize, evaluate=mx.eval,
        boolean_masks=False,
    )


def _load_cupy() -> Backend:
    cupy = importlib.import_module("cupy")
    cupyx = importlib.import_module("cupyx")
    compat = importlib.import_module("array_api_compat.cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        raise ImportError("cupy is installed but no CUDA device is visible")

    def scatter_add(values, indices, shape, axis):
        out = cupy.zeros(shape, dtype=values.dtype)
        cupyx.scatter_add(out, (slice(None),) * axis + (indices,), values)
        return out

    xp = ArrayNamespace("cupy", compat, scatter=_standard_scatter(compat), scatter_add=scatter_add)
    return Backend(
        name="cupy", xp=xp, device=cupy.cuda.Device(),
        is_array=lambda obj: isinstance(obj, cupy.ndarray),
        to_numpy=cupy.asnumpy,
        synchronize=lambda: cupy.cuda.get_current_stream().synchronize(),
    )


_LOADERS: dict[str, Callable[[], Backend]] = {
    "numpy": _load_numpy,
    "array_api_strict": _load_array_api_strict,
    "jax": _load_jax,
    "mlx": _load_mlx,
    "cupy": _load_cupy,
}


def available_backends() -> tuple[str, ...]:
    """Names set_backend() accepts (whether the package is installed is checked on use)."""
    return tuple(_LOADERS)


# -- settings ------------------------------------------------------------------

class _Settings:
    """The one place polygrad's settings live; read from the environment once."""

    def __init__(self) -> None:
        self.backend_name = os.environ.get("POLYGRAD_BACKEND", "numpy").strip() or "numpy"
        self.dtype_name = os.environ.get("POLYGRAD_DTYPE", "float32").strip() or "float32"
        self.loaded: dict[str, Backend] = {}


_settings = _Settings()


def get_backend(name: str) -> Backend:
    """The Backend record for ``name``, loading its package on first use."""
    loaded = _settings.loaded.get(name)
    if loaded is not None:
        return loaded
    loader = _LOADERS.get(name)
    if loader is None:
        raise BackendError(
            f"unknown backend {name!r}; available backends: {', '.join(available_backends())}"
        )
    try:
        loaded = loader()
    except ImportError as exc:
        raise BackendError(
            f"backend {name!r} cannot be loaded: {exc}. Install it with "
            f"`pip install polygrad[{name}]` or choose another backend"
        ) from exc
    _settings.loaded[name] = loaded
    return loaded


def backend() -> Backend:
    """The active backend: its name, namespace (``.xp``) and device."""
    return get_backend(_settings.backend_name)


def set_backend(name: str) -> Backend:
    """Make ``name`` the active backend for new Values; returns its record."""
    loaded = get_backend(name)
    _settings.backend_name = name
    return loaded


@contextlib.contextmanager
def use_backend(name: str):
    """``with pg.use_backend("array_api_strict"): ...`` selects a backend for a block."""
    previous = _settings.backend_name
    loaded = set_backend(name)
    try:
        yield loaded
    finally:
        _settings.backend_name = previous


def default_dtype(on: Backend | None = None) -> Any:
    """The default float dtype (POLYGRAD_DTYPE, float32 unless set) of a backend."""
    return (on or backend()).dtype(_check_dtype_name(_settings.dtype_name))


def set_default_dtype(name: str) -> None:
    """Set the default float dtype by name: "float32" or "float64"."""
    _settings.dtype_name = _check_dtype_name(name)


def _check_dtype_name(name: str) -> str:
    if name not in _FLOAT_DTYPES:
        raise DTypeError(
            f"default dtype must be one of {', '.join(_FLOAT_DTYPES)}, got {name!r} "
            "(check POLYGRAD_DTYPE)"
        )
    return name
