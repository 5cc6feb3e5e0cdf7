"""NumPy, through array_api_compat.numpy; scatter_add is np.add.at; writes copy, then assign."""
from __future__ import annotations

import importlib

from ._malloc import keep_freed_memory
from ._record import ArrayNamespace, Backend
from ._scatter import copying_put, copying_setitem, standard_scatter
from ._short_axes import broadcasting, reduction
from ._special import scipy_special


def load() -> Backend:
    keep_freed_memory()  # arrays in glibc's heap: see _malloc.py
    np = importlib.import_module("numpy")
    compat = importlib.import_module("array_api_compat.numpy")

    def scatter_add(values, indices, shape, axis):
        out = np.zeros(shape, dtype=values.dtype)
        np.add.at(out, (slice(None),) * axis + (indices,), values)
        return out

    def copy(x):
        return np.array(x, copy=True)

    # a (k,) operand over (n, k) rows and sums over leading axes, for short k: see _short_axes.py
    short_axes = {name: broadcasting(np, getattr(np, name)) for name in SHORT_AXIS_BINARY}
    xp = ArrayNamespace("numpy", compat, scatter=standard_scatter(compat), scatter_add=scatter_add,
                        special=scipy_special(np), setitem=copying_setitem(copy), put=copying_put(copy),
                        untied_mask=numpy_untied_mask(np), gradient_mask=_boolean_mask,
                        sum=reduction(np, compat.sum, np.add), max=reduction(np, compat.max, np.maximum),
                        min=reduction(np, compat.min, np.minimum), **short_axes)
    # Rules whose forward is exactly this namespace's function of the same name, a NumPy
    # ufunc: replay may compute them into an existing array (out=). Checked in
    # tests/test_trust.py against each rule's forward.
    out_kernels = {name: getattr(compat, name) for name in UFUNC_RULES
                   if isinstance(getattr(compat, name, None), np.ufunc)}
    return Backend(
        name="numpy", xp=xp, device="cpu",
        raises_on_bad_index=True,
        is_array=lambda obj: isinstance(obj, (np.ndarray, np.generic)),
        to_numpy=np.asarray, out_kernels=out_kernels,
    )


def _boolean_mask(condition, dtype):
    # g * mask with mask boolean: one pass fewer than casting first, and no full-size float
    # temporary (relu's backward on 65536x128 float32: 17 ms, 19 with the cast)
    return condition


# Elements per slice in numpy_untied_mask: 128 KiB of float32, which stays in a core's cache
# between the two comparisons.
_SLICE = 1 << 15


def numpy_untied_mask(np):
    """untied_mask in one pass over ``a``: the comparison is written slice by slice, and each
    slice is checked for ties while it is still in cache (rather than a second full pass and
    a full-size boolean array). The mask is left boolean: NumPy multiplies a float array by
    a boolean one in the float's dtype, so no float mask is ever built."""
    def untied_mask(a, b, dtype, greater):
        compare = np.greater if greater else np.less
        a, b = np.asarray(a), np.asarray(b)
        if a.size < 4 * _SLICE or not (b.size == 1 or b.shape == a.shape) \
                or not (a.flags.c_contiguous and b.flags.c_contiguous):
            return None if np.equal(a, b).any() else compare(a, b)
        flat_a, flat_b = a.reshape(-1), b.reshape(-1)
        beats = np.empty(a.shape, dtype=bool)
        flat_beats = beats.reshape(-1)
        ties = np.empty(_SLICE, dtype=bool)
        for start in range(0, flat_a.size, _SLICE):
            part = flat_a[start:start + _SLICE]
            other = flat_b if flat_b.size == 1 else flat_b[start:start + _SLICE]
            if np.equal(part, other, out=ties[:part.size]).any():
                return None
            compare(part, other, out=flat_beats[start:start + _SLICE])
        return beats
    return untied_mask


SHORT_AXIS_BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum")
UFUNC_RULES = (
    "add", "subtract", "multiply", "divide", "pow", "negative", "exp", "log", "log1p", "expm1",
    "sqrt", "sin", "cos", "tanh", "abs", "maximum", "minimum",
)
