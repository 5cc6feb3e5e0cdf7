#!/usr/bin/env bash
# Everything polygrad wants checked on an NVIDIA GPU, in one go, from the repository root:
#
#   bash benchmarks/gpu_check.sh                      # all steps
#   bash benchmarks/gpu_check.sh tests bench          # some of: tests conformance bench
#
# 1. nvidia-smi: the GPU, the driver and its CUDA version.
# 2. What is missing: cupy-cuda12x or cupy-cuda13x (the driver's CUDA major) unless a cupy
#    that sees the GPU is already installed; array-api-compat, array-api-strict, pytest,
#    hypothesis. JAX is optional (the JAX oracle tests skip without it). Installed into the
#    Python that runs this (PYTHON, default python3): use a venv, or a throwaway machine.
#    Offline: put the wheels in a folder and set WHEELS=that/folder (pip --no-index).
# 3. The CuPy backend must load and see a device: else the suite would only skip.
# 4. tests:       POLYGRAD_BACKEND=cupy python -m pytest -q   (unit tests, conformance CI profile)
# 5. conformance: the thorough profile; writes conformance/reports/cupy.md and .json
# 6. bench:       benchmarks.run at MLP batch 4096; writes benchmarks/results/cupy-<gpu>.json
#
# Time budget. A GPU lease can be as short as ~15 minutes in all, with a machine's start
# (1-2 min) in it, and one command may be capped at 10 minutes. The steps' limits below add
# up to 8.5 minutes (installs and probes take well under a minute with cupy present):
# tests 150 s, conformance 270 s, bench 90 s; override with TESTS_TIMEOUT, CONFORMANCE_TIMEOUT,
# BENCH_TIMEOUT (seconds). A step past its limit is interrupted (SIGINT: pytest still prints
# its summary and the conformance report of what ran), marked "timeout", and the next runs.
# Not measured yet: this project has not had a GPU. The first run's timings (printed at the
# end) are what to size the limits by.
#
# Every step runs even when an earlier one fails; the script exits 1 if any failed. When OUT
# is set, the reports, the benchmark JSON and this run's log are copied there at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
TESTS_TIMEOUT="${TESTS_TIMEOUT:-150}"
CONFORMANCE_TIMEOUT="${CONFORMANCE_TIMEOUT:-270}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-90}"
export PYTHONUNBUFFERED=1

if [ "$#" -eq 0 ]; then
    set -- tests conformance bench
fi
for want in "$@"; do
    case "$want" in
        tests | conformance | bench) ;;
        *) echo "unknown step '$want': choose from tests conformance bench" >&2; exit 2 ;;
    esac
done

if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    exec > >(tee -a "$OUT/gpu_check.log") 2>&1
fi

SUMMARY=()
FAILED=0
START=$(date +%s)

# shellcheck disable=SC2317  # called by the EXIT trap
copy_out() {
    if [ -n "${OUT:-}" ]; then
        cp -f conformance/reports/cupy.md conformance/reports/cupy.json "$OUT/" 2>/dev/null || true
        cp -f benchmarks/results/cupy-*.json "$OUT/" 2>/dev/null || true
    fi
}
trap copy_out EXIT

# step NAME LIMIT_SECONDS COMMAND...: run, time and record it; a failure does not stop the script.
step() {
    local name="$1" limit="$2" began rc=0
    shift 2
    echo
    echo "=== $name (limit ${limit}s): $*"
    began=$(date +%s)
    timeout --signal=INT --kill-after=30 "$limit" "$@" || rc=$?
    local took status="ok"
    took=$(( $(date +%s) - began ))
    if [ "$rc" -eq 124 ]; then
        status="timeout"
    elif [ "$rc" -ne 0 ]; then
        status="failed (exit $rc)"
    fi
    [ "$status" = "ok" ] || FAILED=1
    echo "=== $name: $status in ${took}s"
    SUMMARY+=("$(printf '%-13s %6ss  %s' "$name" "$took" "$status")")
}

has_module() { "$PYTHON" -c "import $1" >/dev/null 2>&1; }

pip_install() {
    if [ -n "${WHEELS:-}" ]; then
        "$PYTHON" -m pip install --no-index --find-links "$WHEELS" "$@"
    else
        "$PYTHON" -m pip install "$@"
    fi
}

# 1. The GPU.
began=$(date +%s)
if ! command -v nvidia-smi >/dev/null; then
    echo "nvidia-smi not found: this script needs an NVIDIA GPU and its driver" >&2
    exit 1
fi
nvidia-smi
GPU_NAME="$(nvidia-smi --query-gpu=name --format=csv,noheader | sed -n 1p)"  # the first GPU
CUDA_MAJOR="$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\).*/\1/p' | sed -n 1p)"
if [ -z "$CUDA_MAJOR" ]; then
    echo "could not read the driver's CUDA version from nvidia-smi" >&2
    exit 1
fi
GPU_SLUG="$(printf '%s' "$GPU_NAME" | tr '[:upper:]' '[:lower:]' | sed -E 's/^nvidia //; s/[^a-z0-9.]+/-/g; s/^-+|-+$//g')"
echo "GPU: $GPU_NAME; driver's CUDA: $CUDA_MAJOR; results under the name cupy-$GPU_SLUG"
case "$CUDA_MAJOR" in
    12 | 13) ;;
    *) echo "CuPy wheels here are cupy-cuda12x and cupy-cuda13x; this driver is CUDA $CUDA_MAJOR" >&2; exit 1 ;;
esac

# 2. What is missing.
missing=()
if ! "$PYTHON" -c "import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0" >/dev/null 2>&1; then
    missing+=("cupy-cuda${CUDA_MAJOR}x>=13")
fi
has_module array_api_compat || missing+=("array-api-compat>=1.11")
has_module array_api_strict || missing+=("array-api-strict>=2.3")
has_module pytest || missing+=("pytest>=8")
has_module hypothesis || missing+=("hypothesis>=6.100")
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    pip_install "${missing[@]}"
fi
"$PYTHON" - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "cupy", "array_api_compat", "array_api_strict", "jax", "pytest", "hypothesis"):
    try:
        print(name, importlib.import_module(name).__version__)
    except ImportError:
        print(name, "not installed")
import cupy
print("cupy's CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "driver", cupy.cuda.runtime.driverGetVersion())
EOF

# 3. The CuPy backend loads and sees a device (polygrad's own probe).
"$PYTHON" -c "
from backends import spec
reason = spec('cupy').probe()
raise SystemExit(f'cupy cannot run here: {reason}' if reason else 0)
"
"$PYTHON" -c "import polygrad as pg; pg.set_backend('cupy'); print('polygrad on', pg.backend().name, pg.backend().device)"
echo "=== setup: $(( $(date +%s) - began ))s"

# 4-6.
for want in "$@"; do
    case "$want" in
        tests)
            step "tests" "$TESTS_TIMEOUT" env POLYGRAD_BACKEND=cupy "$PYTHON" -m pytest -q ;;
        conformance)
            rm -f conformance/reports/cupy.md conformance/reports/cupy.json
            step "conformance" "$CONFORMANCE_TIMEOUT" env POLYGRAD_BACKEND=cupy POLYGRAD_CONFORMANCE=thorough \
                "$PYTHON" -m pytest conformance --conformance-report -q ;;
        bench)
            # OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow NumPy's BLAS: unset for this command alone.
            step "bench" "$BENCH_TIMEOUT" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
                "$PYTHON" -m benchmarks.run --backend cupy --mlp-batch 4096 --device-name "$GPU_NAME" \
                --out "benchmarks/results/cupy-$GPU_SLUG.json" ;;
    esac
done

echo
echo "=== summary ($GPU_NAME, $(( $(date +%s) - START ))s in all)"
printf '%s\n' "${SUMMARY[@]}"
exit "$FAILED"
