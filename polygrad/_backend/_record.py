"""The Backend record and the namespace wrapper every loader fills in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import DTypeError

__all__ = ["ArrayNamespace", "Backend", "standard_untied_mask"]


class ArrayNamespace:
    """An array-API namespace plus polygrad's extensions.

    Attribute lookups fall through to the wrapped namespace and are cached on
    first use, so a rule calling ``xp.exp`` costs one dictionary lookup.

    Extensions (not in the standard, needed to transpose indexing):
      scatter(values, key, shape) -> zeros(shape) with ``values`` written at the basic index ``key``
      scatter_add(values, indices, shape, axis) -> zeros(shape) with the slices of
          ``values`` along ``axis`` added at the 1-D integer ``indices`` (repeats add up)
      special: erf, gamma and their kin, which the standard lacks (see _special.py)
      untied_mask(a, b, dtype, greater) -> the mask of a > b (a < b with greater=False) that a
          gradient of ``dtype`` is multiplied by, or None where some element of a equals b's;
          optional, on backends where asking costs no sync (arrays on the host, computed
          eagerly): maximum, minimum and clip then skip their tie term (see rules.chosen_mask)
      gradient_mask(condition, dtype) -> the boolean ``condition`` as a mask that a gradient of
          ``dtype`` is multiplied by; optional (rules cast it by default): NumPy keeps it
          boolean, as it multiplies float by bool in the float's dtype, so no float mask is built
      is_traced(array) -> bool, optional: whether ``array`` is a stand-in of a tracing
          transform (a JAX tracer under jax.jit or eval_shape): caches of constants skip it
      setitem(x, key, values) -> a copy of ``x`` with ``values`` written at a basic key or a
          boolean mask (x itself never changes: the graph shares arrays)
      put(x, indices, values, axis) -> a copy of ``x`` with the slices of ``values`` along
          ``axis`` written at the 1-D integer ``indices`` (a repeated index: the last write wins)
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
      raises_on_bad_index: whether take and take_along_axis raise IndexError for an index
          out of range (NumPy, array-api-strict); elsewhere (JAX clamps or gives nan, MLX
          reads memory it never wrote) polygrad checks the indices on the host first.
      evaluate: forces lazy arrays (MLX) to be computed; a no-op on eager backends.
          polygrad calls it where a user expects data to exist: the end of
          backward() and of an optimizer step (item() and numpy() force it anyway).
      out_kernels: rule name -> a function computing that rule's forward into a given
          array (``kernel(*arrays, out=buffer)``), where the backend can write into an
          existing array (NumPy's ufuncs); replay reuses buffers through it.
      from_host: (NumPy array, dtype or None) -> a new array of this backend on its device,
          for host data where the namespace's asarray is slow (see the JAX loader);
          asarray then converts NumPy arrays, and Python data given a dtype, on the host
          with NumPy first. None: asarray alone.
    """

    name: str
    xp: ArrayNamespace
    device: Any
    is_array: Callable[[Any], bool]
    to_numpy: Callable[[Any], Any]
    synchronize: Callable[[], None] = lambda: None
    evaluate: Callable[..., None] = lambda *arrays: None
    boolean_masks: bool = True
    out_kernels: dict = field(default_factory=dict, repr=False)
    raises_on_bad_index: bool = False
    from_host: Callable[[Any, Any], Any] | None = field(default=None, repr=False)
    _float_dtypes: dict = field(default_factory=dict, repr=False)
    _inexact_dtypes: dict = field(default_factory=dict, repr=False)

    def dtype(self, name: str) -> Any:
        return getattr(self.xp, name)

    def is_float(self, dtype: Any) -> bool:
        # A cache shared by threads: safe, since every thread computes the same answer for a
        # key and a dict item assignment is atomic under the GIL.
        known = self._float_dtypes.get(dtype)
        if known is None:
            known = self._float_dtypes[dtype] = bool(self.xp.isdtype(dtype, "real floating"))
        return known

    def is_inexact(self, dtype: Any) -> bool:
        """Real or complex floating: the dtypes gradients flow through."""
        known = self._inexact_dtypes.get(dtype)
        if known is None:
            known = self._inexact_dtypes[dtype] = bool(self.xp.isdtype(dtype, ("real floating", "complex floating")))
        return known

    def is_complex(self, dtype: Any) -> bool:
        return self.is_inexact(dtype) and not self.is_float(dtype)

    def complex_dtype(self, dtype: Any) -> Any:
        """The complex dtype of ``dtype``'s precision (complex64 for float32, complex128 for
        float64); a complex dtype is its own. MLX has no complex128: complex64 there."""
        if self.is_complex(dtype):
            return dtype
        wide = getattr(self.xp, "complex128", None) if dtype == self.xp.float64 else None
        return self.xp.complex64 if wide is None else wide

    def real_dtype(self, dtype: Any) -> Any:
        """The real floating dtype of a complex dtype's precision; others are their own."""
        if not self.is_complex(dtype):
            return dtype
        return self.xp.float64 if dtype == getattr(self.xp, "complex128", None) else self.xp.float32

    def asarray(self, obj: Any, dtype: Any = None, copy: bool | None = None) -> Any:
        """An array of this backend from a Python number, a NumPy array or a nested list."""
        try:
            if self.from_host is not None and _host_data(obj, dtype):
                return self.from_host(_numpy().array(obj, dtype=dtype, copy=True), dtype)
            if copy is not None:
                return self.xp.asarray(obj, dtype=dtype, device=self.device, copy=copy)
            return self.xp.asarray(obj, dtype=dtype, device=self.device)
        except (TypeError, ValueError) as exc:  # data that is not numeric, or ragged
            raise DTypeError(
                f"cannot make a {self.name} array from {type(obj).__name__}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"


def _numpy():
    import numpy
    return numpy


def _host_data(obj: Any, dtype: Any) -> bool:
    """Whether Backend.asarray may convert ``obj`` with NumPy: a NumPy array or scalar, or
    Python numbers given a dtype. (Without a dtype, a Python number keeps the namespace's own
    rule: JAX makes it a weakly typed array, which NumPy cannot.)"""
    numpy = _numpy()
    if isinstance(obj, (numpy.ndarray, numpy.generic)):
        return True
    return dtype is not None and isinstance(obj, (int, float, complex, bool, list, tuple))


def standard_untied_mask(xp) -> Callable:
    """untied_mask from standard functions: two full passes (the comparison, the tie check)."""
    def untied_mask(a, b, dtype, greater):
        if bool(xp.any(xp.equal(a, b))):
            return None
        return xp.astype(xp.greater(a, b) if greater else xp.less(a, b), dtype)
    return untied_mask
