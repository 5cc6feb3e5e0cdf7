"""JAX: jax.numpy follows the standard; its arrays are immutable, hence .at[] for the scatters."""
from __future__ import annotations

import importlib

from ._record import ArrayNamespace, Backend
from ._special import library_special


def load() -> Backend:
    jax = importlib.import_module("jax")
    # float64 must work when asked for (POLYGRAD_DTYPE=float64, gradient checks); polygrad
    # always passes dtypes explicitly, so its own default stays float32.
    jax.config.update("jax_enable_x64", True)
    jnp = importlib.import_module("jax.numpy")
    np = importlib.import_module("numpy")

    def scatter(values, key, shape):
        out = jnp.zeros(shape, dtype=values.dtype)
        if any(k is None for k in key):  # as standard_scatter: .at[] keys may not hold None
            key = tuple(k for k in key if k is not None)
            values = jnp.reshape(values, out[key].shape)
        return out.at[key].set(values)

    def scatter_add(values, indices, shape, axis):
        key = (slice(None),) * axis + (indices,)
        return jnp.zeros(shape, dtype=values.dtype).at[key].add(values)

    def setitem(x, key, values):
        return x.at[key].set(values)

    def put(x, indices, values, axis):
        return x.at[(slice(None),) * axis + (indices,)].set(values)

    xp = ArrayNamespace("jax", jnp, scatter=scatter, scatter_add=scatter_add, setitem=setitem, put=put,
                        special=library_special("jax.scipy.special", "jax"),
                        is_traced=lambda array: isinstance(array, jax.core.Tracer))
    device = jax.devices()[0]

    def synchronize():
        (jnp.zeros(()) + 0).block_until_ready()  # dispatch is in order: waits for earlier work

    def from_host(host, dtype):
        # jnp.asarray(numpy data, dtype=..., device=...) compiles an XLA program for every
        # new shape (a sharding constraint, and a convert where the dtype changes): ~60 ms
        # each on a small CPU, against ~0.2 ms for a transfer of data NumPy already cast.
        # ``host`` is a fresh copy nobody else holds, so JAX may alias it or copy it later.
        return jax.device_put(host, device)

    return Backend(
        name="jax", xp=xp, device=device,
        is_array=lambda obj: isinstance(obj, jax.Array),
        to_numpy=np.asarray, synchronize=synchronize, from_host=from_host,
    )
