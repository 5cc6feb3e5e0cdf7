"""NumPy, through array_api_compat.numpy; scatter_add is np.add.at."""
from __future__ import annotations

import importlib

from ._record import ArrayNamespace, Backend
from ._scatter import standard_scatter
from ._special import scipy_special


def load() -> Backend:
    np = importlib.import_module("numpy")
    compat = importlib.import_module("array_api_compat.numpy")

    def scatter_add(values, indices, shape, axis):
        out = np.zeros(shape, dtype=values.dtype)
        np.add.at(out, (slice(None),) * axis + (indices,), values)
        return out

    xp = ArrayNamespace("numpy", compat, scatter=standard_scatter(compat), scatter_add=scatter_add,
                        special=scipy_special(np))
    # Rules whose forward is exactly this namespace's function of the same name, a NumPy
    # ufunc: replay may compute them into an existing array (out=). Checked in
    # tests/test_trust.py against each rule's forward.
    out_kernels = {name: getattr(compat, name) for name in UFUNC_RULES
                   if isinstance(getattr(compat, name, None), np.ufunc)}
    return Backend(
        name="numpy", xp=xp, device="cpu",
        is_array=lambda obj: isinstance(obj, (np.ndarray, np.generic)),
        to_numpy=np.asarray, out_kernels=out_kernels,
    )


UFUNC_RULES = (
    "add", "subtract", "multiply", "divide", "pow", "negative", "exp", "log", "log1p", "expm1",
    "sqrt", "sin", "cos", "tanh", "abs", "maximum", "minimum",
)
