"""Special functions for each backend's namespace (``xp.special``): the array API standard has none.

``PRIMITIVES`` are the functions the rules of ``polygrad/rules/special.py`` cannot build from
standard functions to full precision: the error function family, the gamma family, the
incomplete gamma functions and the exponentially scaled Bessel functions. Every other
function of ``pg.special`` (expit, logit, xlogy, entr, huber, softplus, logsumexp...) is
written in the rules with standard functions only, so it runs on every backend.

Each loader gives its namespace a provider of these primitives as ``xp.special``:

  numpy             scipy.special (imported on first use: ``import polygrad`` never imports SciPy)
  jax               jax.scipy.special (lazy arrays stay on the device)
  cupy              cupyx.scipy.special
  dask              scipy.special on each block (da.map_blocks: lazy, chunks kept)
  mlx               mx.erf and mx.erfinv in float32; the rest, and float64 (whose MLX kernels
                    are float32-accurate), through SciPy on the host (forces evaluation)
  array_api_strict  none: the standard has no special functions, and a round trip through
                    SciPy would defeat the backend's purpose (proving polygrad calls only
                    standard functions); asking for one is an OpError naming the alternatives

Signatures are SciPy's, except ``polygamma(n, x)``, whose order ``n`` is a Python int. A
result has the float dtype of the arguments (SciPy's Python-level functions, such as
``polygamma``, compute in float64 whatever they are given).
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from ..errors import OpError

__all__ = ["PRIMITIVES", "SpecialFunctions", "scipy_special", "dask_special", "no_special", "mlx_special"]

PRIMITIVES = (
    "erf", "erfc", "erfinv", "erfcx", "ndtri",
    "gammaln", "gamma", "digamma", "polygamma", "gammainc", "gammaincc",
    "i0e", "i1e",
)


class SpecialFunctions:
    """A backend's primitives, each resolved on first use by ``resolve(name)`` and then cached."""

    def __init__(self, backend_name: str, resolve: Callable[[str], Callable]):
        self._backend_name = backend_name
        self._resolve = resolve

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("_") or name not in PRIMITIVES:
            raise AttributeError(f"{self._backend_name}'s special functions have no {name!r}")
        function = self._resolve(name)
        setattr(self, name, function)
        return function

    def __repr__(self) -> str:
        return f"<special functions of the {self._backend_name} backend>"


def _import_scipy_special(backend_name: str) -> Any:
    try:
        return importlib.import_module("scipy.special")
    except ImportError as exc:
        raise OpError(
            f"pg.special on the {backend_name} backend computes erf, gamma and their kin with SciPy, "
            f'which is not installed ({exc}): pip install -e ".[special]" from polygrad\'s checkout'
        ) from exc


def _float_dtype(np: Any, arrays: tuple) -> Any:
    floats = [a.dtype for a in arrays if getattr(getattr(a, "dtype", None), "kind", "") == "f"]
    return np.result_type(*floats) if floats else np.float64


def scipy_special(np: Any, backend_name: str = "numpy") -> SpecialFunctions:
    """scipy.special on NumPy arrays, results as arrays (not scalars) of the inputs' float dtype."""
    def resolve(name: str) -> Callable:
        function = getattr(_import_scipy_special(backend_name), name)

        def call(*args):
            return np.asarray(function(*args), dtype=_float_dtype(np, args))
        call.__name__ = name
        return call
    return SpecialFunctions(backend_name, resolve)


def dask_special(da: Any, np: Any) -> SpecialFunctions:
    """scipy.special block by block: every primitive is elementwise, so a lazy Dask array
    stays lazy and keeps its chunks (the arguments are broadcast to one chunking first)."""
    def resolve(name: str) -> Callable:
        function = getattr(_import_scipy_special("dask"), name)

        def call(*args):
            dtype = _float_dtype(np, args)
            arrays = [a for a in args if isinstance(a, da.Array)]
            if not arrays:
                return da.from_array(np.asarray(function(*args), dtype=dtype), chunks=-1)

            # one shape first: Dask's map_blocks mis-sizes a size-1 axis against an empty one
            broadcast = iter(da.broadcast_arrays(*arrays))
            args = [next(broadcast) if isinstance(a, da.Array) else a for a in args]

            def block(*blocks):
                return np.asarray(function(*blocks), dtype=dtype)
            block.__name__ = name  # the name Dask's graph and dashboard show
            return da.map_blocks(block, *args, dtype=dtype)
        call.__name__ = name
        return call
    return SpecialFunctions("dask", resolve)


def library_special(module_name: str, backend_name: str) -> SpecialFunctions:
    """A library's own SciPy-like special module (jax.scipy.special, cupyx.scipy.special),
    results cast to the arguments' float dtype (both libraries' dtypes are NumPy's)."""
    np = importlib.import_module("numpy")

    def resolve(name: str) -> Callable:
        function = getattr(importlib.import_module(module_name), name)

        def call(*args):
            out = function(*args)
            if any(getattr(getattr(a, "dtype", None), "kind", "") == "f" for a in args):
                dtype = _float_dtype(np, args)
                if out.dtype != dtype:
                    out = out.astype(dtype)
            return out
        call.__name__ = name
        return call
    return SpecialFunctions(backend_name, resolve)


def no_special(backend_name: str, why: str) -> SpecialFunctions:
    """A provider whose every primitive is an OpError saying why there is none."""
    def resolve(name: str) -> Callable:
        def missing(*args):
            raise OpError(
                f"special: {name} is not available on the {backend_name} backend: {why}. Those of "
                "pg.special built from standard functions (expit, logit, xlogy, entr, huber, "
                "softplus, logsumexp...) work here; for the others use numpy, jax, mlx or cupy"
            )
        missing.__name__ = name
        return missing
    return SpecialFunctions(backend_name, resolve)


def mlx_special(mx: Any, np: Any) -> SpecialFunctions:
    """MLX's own erf and erfinv in float32; everything else through SciPy on the host."""
    def to_mlx(out, dtype):
        return mx.array(np.asarray(out), dtype=dtype)

    def resolve(name: str) -> Callable:
        native = getattr(mx, {"erfinv": "erfinv", "erf": "erf"}.get(name, ""), None)

        def call(*args):
            dtypes = {a.dtype for a in args if isinstance(a, mx.array)}
            dtype = mx.float64 if mx.float64 in dtypes else mx.float32
            if native is not None and dtype == mx.float32:
                return native(*args)
            function = getattr(_import_scipy_special("mlx"), name)
            host = [np.asarray(a) if isinstance(a, mx.array) else a for a in args]  # evaluates
            return to_mlx(function(*host), dtype)
        call.__name__ = name
        return call
    return SpecialFunctions("mlx", resolve)
