"""CuPy: NVIDIA GPUs (CUDA 12 or 13), through array_api_compat.cupy."""
import os

from . import BackendSpec


def probe() -> str | None:
    try:
        import cupy
    except ImportError as exc:
        return f"cupy is not installed ({exc}); pip install cupy-cuda12x (or cupy-cuda13x) on a CUDA machine"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - no driver, no device
        return f"cupy is installed but CUDA is not usable here: {exc}"
    if count == 0:
        return "cupy is installed but no CUDA device is visible"
    return None


def hardware() -> str | None:
    import shutil
    if shutil.which("nvidia-smi") is None and not os.path.exists("/proc/driver/nvidia"):
        return "no NVIDIA driver on this machine (nvidia-smi not found)"
    return None


SPEC = BackendSpec(
    name="cupy",
    hardware=hardware,
    requirements={"linux": ["cupy-cuda12x>=13"]},  # cupy-cuda13x for CUDA 13 drivers
    probe=probe,
    float32_tolerance=1e-5,
    deviations={
        "scatter_add": "cupyx.scatter_add (atomic adds: float32 sums of repeated indices may "
                       "differ in the last bits from run to run)",
        "special functions": "the primitives of pg.special are cupyx.scipy.special's (not yet run on a GPU)",
        "float32 matmul": "cuBLAS may use TF32 on Ampere and newer GPUs only if "
                          "CUPY_TF32=1; polygrad leaves it off",
    },
)
