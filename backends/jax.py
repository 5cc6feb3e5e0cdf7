"""JAX: jax.numpy is array-API compliant; arrays are immutable. CPU in CI, GPU where installed."""
from . import BackendSpec, import_probe

SPEC = BackendSpec(
    name="jax",
    requirements={"any": ["jax>=0.4.30"]},  # CUDA: pip install "jax[cuda12]" instead
    probe=import_probe("jax"),
    float32_tolerance=1e-5,
    deviations={
        "jax_enable_x64": "selecting the backend turns on jax_enable_x64 so float64 works when "
                          "asked for; polygrad passes dtypes explicitly, so its default stays float32",
        "scatter": "arrays are immutable: the indexing vjps scatter with .at[].set / .at[].add",
        "out-of-bounds indices": "JAX clamps them; polygrad checks integer and host index arrays "
                                 "itself, so x[5] on a size-2 axis is still a ShapeError",
        "special functions": "the primitives of pg.special are jax.scipy.special's",
        "eager dispatch": "each op is dispatched eagerly (no jit): ~100 us per op measured on a 2-core "
                          "CPU, and each new (op, shape, dtype) is compiled once by XLA (~40 ms)",
    },
    # Eager dispatch compiles each primitive for each new shape (~30 ms on a small CPU):
    # 12 examples per op would take the conformance suite to 150 s in CI.
    conformance_ci_examples=4,
)
