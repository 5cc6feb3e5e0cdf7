"""NumPy: the default backend, on any CPU (x86 and ARM)."""
from . import BackendSpec, import_probe

SPEC = BackendSpec(
    name="numpy",
    requirements={"any": []},  # numpy is a core dependency of polygrad
    probe=import_probe("numpy"),
    float32_tolerance=1e-5,
    deviations={},
)
