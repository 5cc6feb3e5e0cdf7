"""The Backend record and the namespace wrapper every loader fills in."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import DTypeError

__all__ = ["ArrayNamespace", "Backend"]


class ArrayNamespace:
    """An array-API namespace plus polygrad's extensions.

    Attribute lookups fall through to the wrapped namespace and are cached on
    first use, so a rule calling ``xp.exp`` costs one dictionary lookup.

    Extensions (not in the standard, needed to transpose indexing):
      scatter(values, key, shape) -> zeros(shape) with ``values`` written at the basic index ``key``
      scatter_add(values, indices, shape, axis) -> zeros(shape) with the slices of
          ``values`` along ``axis`` added at the 1-D integer ``indices`` (repeats add up)
      special: erf, gamma and their kin, which the standard lacks (see _special.py)
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
      out_kernels: rule name -> a function computing that rule's forward into a given
          array (``kernel(*arrays, out=buffer)``), where the backend can write into an
          existing array (NumPy's ufuncs); replay reuses buffers through it.
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

    def asarray(self, obj: Any, dtype: Any = None, copy: bool | None = None) -> Any:
        """An array of this backend from a Python number, a NumPy array or a nested list."""
        try:
            if copy is not None:
                return self.xp.asarray(obj, dtype=dtype, device=self.device, copy=copy)
            return self.xp.asarray(obj, dtype=dtype, device=self.device)
        except (TypeError, ValueError) as exc:  # data that is not numeric, or ragged
            raise DTypeError(
                f"cannot make a {self.name} array from {type(obj).__name__}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"
