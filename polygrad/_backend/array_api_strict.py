"""array-api-strict: the standard and nothing else; both scatters from standard functions."""
from __future__ import annotations

import importlib

from ._record import ArrayNamespace, Backend
from ._scatter import standard_scatter, standard_scatter_add
from ._special import no_special


def load() -> Backend:
    strict = importlib.import_module("array_api_strict")
    np = importlib.import_module("numpy")
    xp = ArrayNamespace(
        "array_api_strict", strict,
        scatter=standard_scatter(strict), scatter_add=standard_scatter_add(strict),
        special=no_special("array_api_strict", "the standard has none, and this backend exists to prove "
                           "polygrad calls nothing outside the standard (so no SciPy round trip)"),
    )
    array_type = type(strict.asarray(0.0))
    return Backend(
        name="array_api_strict", xp=xp, device=strict.asarray(0.0).device,
        is_array=lambda obj: isinstance(obj, array_type),
        to_numpy=lambda a: np.from_dlpack(a),
    )
