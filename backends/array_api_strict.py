"""array-api-strict: the standard and nothing else. Running the suite on it proves that
polygrad calls only standard functions (it is slow: a reference, not for work)."""
from . import BackendSpec, import_probe

# pg.special functions that need erf, gamma or Bessel primitives (polygrad/_backend/_special.py)
_NO_SPECIAL_PRIMITIVES = (
    "the standard has no erf, gamma or Bessel functions, and this backend must call nothing else "
    "(no SciPy round trip): an OpError. pg.special functions built from standard functions run"
)
SPECIAL_ON_PRIMITIVES = (
    "erf", "erfc", "erfinv", "erfcx", "ndtr", "log_ndtr", "ndtri", "gammaln", "gamma", "digamma",
    "polygamma", "betaln", "gammainc", "gammaincc", "i0e", "i1e",
)

SPEC = BackendSpec(
    name="array_api_strict",
    requirements={"any": ["array-api-strict>=2.3"]},
    probe=import_probe("array_api_strict"),
    float32_tolerance=1e-5,
    deviations={
        "scatter_add": "no scatter in the standard: a one-hot matrix product, O(n * len(indices))",
        "special functions on primitives": _NO_SPECIAL_PRIMITIVES,
    },
    conformance_deviations={f"special.{name}": _NO_SPECIAL_PRIMITIVES for name in SPECIAL_ON_PRIMITIVES},
)
