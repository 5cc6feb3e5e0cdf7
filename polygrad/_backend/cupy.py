"""CuPy: NVIDIA GPUs, through array_api_compat.cupy; scatter_add is cupyx.scatter_add."""
from __future__ import annotations

import importlib

from ._record import ArrayNamespace, Backend
from ._scatter import standard_scatter
from ._special import library_special


def load() -> Backend:
    cupy = importlib.import_module("cupy")
    cupyx = importlib.import_module("cupyx")
    compat = importlib.import_module("array_api_compat.cupy")
    if cupy.cuda.runtime.getDeviceCount() == 0:
        raise ImportError("cupy is installed but no CUDA device is visible")

    def scatter_add(values, indices, shape, axis):
        out = cupy.zeros(shape, dtype=values.dtype)
        cupyx.scatter_add(out, (slice(None),) * axis + (indices,), values)
        return out

    xp = ArrayNamespace("cupy", compat, scatter=standard_scatter(compat), scatter_add=scatter_add,
                        special=library_special("cupyx.scipy.special", "cupy"))
    return Backend(
        name="cupy", xp=xp, device=cupy.cuda.Device(),
        is_array=lambda obj: isinstance(obj, cupy.ndarray),
        to_numpy=cupy.asnumpy,
        synchronize=lambda: cupy.cuda.get_current_stream().synchronize(),
    )
