"""array-api-strict: the standard and nothing else; the scatters and put from standard functions."""
from __future__ import annotations

import importlib

from ._malloc import keep_freed_memory
from ._record import ArrayNamespace, Backend, standard_untied_mask
from ._scatter import copying_setitem, standard_put, standard_scatter, standard_scatter_add
from ._special import no_special


def load() -> Backend:
    keep_freed_memory()  # arrays in glibc's heap: see _malloc.py
    strict = importlib.import_module("array_api_strict")
    np = importlib.import_module("numpy")
    xp = ArrayNamespace(
        "array_api_strict", strict,
        scatter=standard_scatter(strict), scatter_add=standard_scatter_add(strict),
        untied_mask=standard_untied_mask(strict),
        special=no_special("array_api_strict", "the standard has none, and this backend exists to prove "
                           "polygrad calls nothing outside the standard (so no SciPy round trip)"),
        setitem=copying_setitem(lambda x: strict.asarray(x, copy=True)), put=standard_put(strict),
    )
    array_type = type(strict.asarray(0.0))
    return Backend(
        name="array_api_strict", xp=xp, device=strict.asarray(0.0).device,
        raises_on_bad_index=True,
        is_array=lambda obj: isinstance(obj, array_type),
        to_numpy=lambda a: np.from_dlpack(a),
    )
