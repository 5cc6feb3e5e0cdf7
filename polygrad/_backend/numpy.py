"""NumPy, through array_api_compat.numpy; scatter_add is np.add.at; writes copy, then assign."""
from __future__ import annotations

import importlib

from ._malloc import keep_freed_memory
from ._record import ArrayNamespace, Backend
from ._scatter import copying_put, copying_setitem, standard_scatter
from ._special import scipy_special


def load() -> Backend:
    keep_freed_memory()  # arrays in glibc's heap: see _malloc.py
    np = importlib.import_module("numpy")
    compat = importlib.import_module("array_api_compat.numpy")

    def scatter_add(values, indices, shape, axis):
        out = np.zeros(shape, dtype=values.dtype)
        np.add.at(out, (slice(None),) * axis + (indices,), values)
        return out

    def copy(x):
        return np.array(x, copy=True)

    xp = ArrayNamespace("numpy", compat, scatter=standard_scatter(compat), scatter_add=scatter_add,
                        special=scipy_special(np), setitem=copying_setitem(copy), put=copying_put(copy),
                        any_eagerly=lambda mask: bool(mask.any()))
    # Rules whose forward is exactly this namespace's function of the same name, a NumPy
    # ufunc: replay may compute them into an existing array (out=). Checked in
    # tests/test_trust.py against each rule's forward.
    out_kernels = {name: getattr(compat, name) for name in UFUNC_RULES
                   if isinstance(getattr(compat, name, None), np.ufunc)}
    return Backend(
        name="numpy", xp=xp, device="cpu",
        raises_on_bad_index=True,
        is_array=lambda obj: isinstance(obj, (np.ndarray, np.generic)),
        to_numpy=np.asarray, out_kernels=out_kernels,
    )


UFUNC_RULES = (
    "add", "subtract", "multiply", "divide", "pow", "negative", "exp", "log", "log1p", "expm1",
    "sqrt", "sin", "cos", "tanh", "abs", "maximum", "minimum",
)
