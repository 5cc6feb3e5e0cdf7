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
    return Backend(
        name="numpy", xp=xp, device="cpu",
        is_array=lambda obj: isinstance(obj, (np.ndarray, np.generic)),
        to_numpy=np.asarray,
    )
