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
        "array-api-tests: complex tanh(+inf + iy)": "NumPy (C99's ctanh) gives 1 - 0j where sin(2y) < 0; "
                             "the standard's special case says 1 + 0j. polygrad's tanh is NumPy's, so "
                             "the case fails wherever the suite draws such a y; its draws differ by "
                             "namespace, and the baseline's run did not meet one",
    },
)
