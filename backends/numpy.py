"""NumPy: the default backend, on any CPU (x86 and ARM)."""
from . import BackendSpec, import_probe

SPEC = BackendSpec(
    name="numpy",
    requirements={"any": []},  # numpy is a core dependency of polygrad
    probe=import_probe("numpy"),
    float32_tolerance=1e-5,
    deviations={
        "special functions": "the primitives of pg.special (erf, gamma and their kin) are SciPy's "
                             "(the special extra), imported on first use",
    },
)
