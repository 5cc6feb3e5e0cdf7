"""Dask: chunked, lazy arrays on the CPU, on Dask's local threaded scheduler or a cluster
(POLYGRAD_DASK_SCHEDULER=tcp://host:port, or a dask.distributed.Client the user made).

polygrad/_backend/dask.py is the loader. Dask is lazy: polygrad computes at
item()/numpy(), the end of backward() and an optimizer step, which materialises the new
parameters so the task graph does not grow from step to step.
"""
from . import BackendSpec


def probe() -> str | None:
    try:
        import array_api_compat.dask.array  # noqa: F401
        import dask.array as da
    except ImportError as exc:
        return f"dask is not installed ({exc}); pip install -e \".[dask]\" from polygrad's checkout"
    try:
        (da.zeros((2,), chunks=1) + 1).sum().compute(scheduler="sync")
    except Exception as exc:  # noqa: BLE001 - a broken install
        return f"dask cannot compute: {exc}"
    return None


SPEC = BackendSpec(
    name="dask",
    requirements={"any": ["dask[array,distributed]", "zarr>=3"]},
    probe=probe,
    float32_tolerance=1e-5,
    deviations={
        "chain of 100k ops": "Dask copies its inputs' table of graph layers into every new array, so a "
                             "chain of n ops costs O(n^2) memory and time in Dask itself (measured: 1,000 "
                             "ops 125 MB, 4,000 ops 570 MB); polygrad's own walk is iterative and "
                             "unaffected. Real models have hundreds of ops per step, and each optimizer "
                             "step starts a fresh graph",
        "per-op cost": "each op builds a Dask graph layer (tokenizing, a blockwise layer, its meta "
                       "computed on empty arrays): ~0.5 ms an op, ~100x NumPy's on small arrays; "
                       "worth it when chunks are large",
        "boolean masks": "Dask does not know the size of x[mask]: polygrad indexes with the mask's "
                         "nonzero() positions, computed when the op runs (as MLX), so every shape is known",
        "nonzero, unique_*": "data-dependent shapes: computed when the op runs, results are one chunk",
        "arrays of unknown shape": "a Dask array with nan in its shape (a user's own boolean masking) is "
                                   "a ShapeError: call .compute_chunk_sizes() first",
        "empty arrays": "Dask reduces empty blocks with NumPy functions that have no identity; reductions "
                        "of an empty array are computed by NumPy on an empty array of the same shape",
        "eye with n_cols": "dask.array.eye(n, M) loses a block (2026.8): eye is built in NumPy, one chunk",
        "scatter with a descending slice": "Dask's setitem fails on some descending slices (x[0, ::-1] on "
                                           "a (1, 1) array): the slice is written ascending, the values flipped",
        "searchsorted": "Dask fails on a 0-d x2 and gets empty inputs' shapes wrong: those cases go through "
                        "a 1-d x2, or NumPy on empty arrays",
        "linalg": "dask.array.linalg works on 2-D arrays only (no batches) and lacks det, slogdet, "
                  "eigh, eigvalsh, pinv, matrix_power, cross: every linalg function but the products "
                  "and norms runs NumPy's on the whole arrays in one lazy task (result one chunk); "
                  "fine for model-sized matrices, not for a data-sized one",
        "fft": "Dask transforms an axis only where it is one chunk: the transformed axes are "
               "rechunked to one chunk first",
        "reshape across chunks": "Dask reshapes only chunkings it can map block to block: others "
                                 "are rechunked to one chunk first",
        "special functions": "scipy.special block by block (map_blocks), lazily; needs SciPy as on numpy",
        "gradients of data": "a Dask array given as Value(X) is a float leaf that requires a gradient: "
                             "backward() would bring a data-sized gradient to the client. Give data as "
                             "Value(X, requires_grad=False) or mix the raw Dask array into the expression",
    },
    conformance_deviations={},
    # Every op builds a Dask graph and computes it on a scheduler: ~0.5 ms per op and a few ms
    # per compute, so the CI profile's 12 examples per op take minutes; 3 keep the README's
    # dask run short (the thorough profile, nox's conformance session, is not affected).
    conformance_ci_examples=3,
)
