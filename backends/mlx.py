"""MLX: Apple silicon (Metal GPU) on macOS; the CPU through mlx[cpu] on Linux (tested in CI).

mlx.core follows the standard loosely; polygrad/_backend/mlx.py is the shim. MLX is lazy:
polygrad evaluates at item()/numpy(), the end of backward() and an optimizer step.
"""
from . import BackendSpec


def probe() -> str | None:
    try:
        import mlx.core as mx
    except ImportError as exc:
        return f"mlx is not installed ({exc}); pip install 'mlx[cpu]' on Linux, 'mlx' on macOS"
    try:
        mx.eval(mx.zeros((1,)) + 1)
    except Exception as exc:  # noqa: BLE001 - a broken install or no usable device
        return f"mlx cannot compute on {mx.default_device()}: {exc}"
    return None


def _dtypes() -> tuple[str, ...]:
    try:
        import mlx.core as mx
    except ImportError:
        return ("float32",)
    return ("float32", "float64") if mx.default_device() == mx.cpu else ("float32",)


def hardware() -> str | None:
    import platform
    if platform.system() == "Darwin" and platform.machine() == "arm64" or platform.system() == "Linux":
        return None
    return f"MLX runs on Apple silicon and on Linux (CPU), not on {platform.system()} {platform.machine()}"


_FFT_SINGLE_PRECISION = (
    "MLX has no complex128: its transforms compute in complex64 (float32 precision) whatever "
    "the input, so float64 checks cannot hold; the fft rows pass in float32 "
    "(POLYGRAD_CONFORMANCE_DTYPE=float32). hfft and ihfft are the shim's, from irfft and rfft"
)

SPEC = BackendSpec(
    name="mlx",
    hardware=hardware,
    requirements={"linux": ["mlx[cpu]>=0.25"], "darwin": ["mlx>=0.25"]},
    probe=probe,
    dtypes=_dtypes(),  # no float64 on the GPU: float64 requests there are a DTypeError
    float32_tolerance=2e-5,
    deviations={
        "float64 exp/sin/cos": "MLX's CPU kernels are float32-accurate on float64 data (relative "
                               "errors 2e-7, 8e-7, 1e-5 measured against NumPy); for float64 the shim "
                               "computes exp as power(e, x) and sin/cos from tan(x/2), which MLX "
                               "computes to 1e-16 (exp: |x| * 1e-16 relative)",
        "float32 exp/sin/cos": "MLX's fast kernels differ from NumPy's float32 by up to ~1e-6 "
                               "relative, hence the float32 tolerance 2e-5",
        "nonzero": "data-dependent shape: computed on the host (forces evaluation)",
        "special functions": "MLX has erf and erfinv (used in float32; its float64 kernels are float32-"
                             "accurate, 3e-7 measured); the other primitives of pg.special (erfc, "
                             "erfcx, ndtri, the gamma family, gammainc, i0e, i1e), and float64 erf/"
                             "erfinv, are computed by SciPy on the host (forces evaluation)",
        "sort/argsort descending": "MLX sorts ascending only: descending flips, sorts, flips back (stable)",
        "mx.array on the left of an operator": "mx.array's operators raise TypeError for a Value "
                                               "on their right instead of deferring to it: write "
                                               "pg.asarray(a) @ w, or put the Value on the left",
        "float64 on the GPU": "not supported by MLX: a DTypeError naming the fix",
        "slow BLAS on Linux": "the mlx[cpu] wheel ships a reference BLAS: judge MLX speed only "
                              "against hand-written MLX on the same machine",
        "linalg on the CPU stream": "MLX runs its linear algebra on the CPU only (also on Apple "
                                    "silicon); the shim passes stream=mx.cpu. It adds what MLX lacks: "
                                    "svdvals, matrix_rank, pinv with rtol, reduced SVD (slices of the "
                                    "full one), complete QR of tall matrices, broadcasting solve",
        "fft in complex64 only": _FFT_SINGLE_PRECISION,
        "complex128 data": "MLX has no complex128: complex NumPy data becomes complex64 (as MLX "
                           "itself does); asking for dtype complex128 is an error",
    },
    conformance_deviations={
        op: _FFT_SINGLE_PRECISION
        for op in ("fft.fft", "fft.ifft", "fft.fftn", "fft.ifftn", "fft.rfft", "fft.irfft",
                   "fft.rfftn", "fft.irfftn", "fft.hfft", "fft.ihfft")
    },
)
