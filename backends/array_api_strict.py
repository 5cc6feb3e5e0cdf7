"""array-api-strict: the standard and nothing else. Running the suite on it proves that
polygrad calls only standard functions (it is slow: a reference, not for work)."""
from . import BackendSpec, import_probe

SPEC = BackendSpec(
    name="array_api_strict",
    requirements={"any": ["array-api-strict>=2.3"]},
    probe=import_probe("array_api_strict"),
    float32_tolerance=1e-5,
    deviations={
        "scatter_add": "no scatter in the standard: a one-hot matrix product, O(n * len(indices))",
    },
)
