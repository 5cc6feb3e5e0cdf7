"""Batching rules for vmap, by family: how to run an op on inputs of which some carry an
extra batch axis in front, without a loop over the batch.

A batching rule is ``batch(xp, arrays, batched, attrs) -> output``: ``arrays[i]`` carries
the batch axis at position 0 where ``batched[i]``, and ``attrs`` describe the op on the
unbatched arrays (vmap records them unchanged, so the graph's vjps and shapes stay those
of one example). The rule runs the op once on the whole batch, its output's batch axis
in front. Most ops share one rule per family: elementwise ops align ranks, reductions
and axis-taking ops shift their axes by one, shape ops prepend the batch size.
"""
from __future__ import annotations

from ._core import RULES, normalize_axes, normalize_axis

__all__ = ["ELEMENTWISE", "AXIS_OPS"]


def _logical_ndim(array, is_batched: bool) -> int:
    return array.ndim - 1 if is_batched else array.ndim


def _pad_batched(xp, array, ndim: int):
    """A batched array with size-1 axes after the batch axis, up to ``ndim`` example axes."""
    missing = ndim - (array.ndim - 1)
    if missing <= 0:
        return array
    return xp.reshape(array, (array.shape[0],) + (1,) * missing + tuple(array.shape[1:]))


def _ensure_batched(xp, array, size: int):
    """An unbatched array broadcast along a new batch axis of ``size`` (for concat/stack)."""
    return xp.broadcast_to(xp.expand_dims(array, axis=0), (size,) + tuple(array.shape))


def _batch_size(arrays, batched) -> int:
    return next(a.shape[0] for a, b in zip(arrays, batched) if b)


def elementwise_batch(rule):
    """Broadcasting ops: batched operands get size-1 axes after the batch axis so that
    right-aligned broadcasting lines up the example axes; unbatched ones broadcast as they are.
    (One loop, no padding in the common case of batched operands of the widest rank: every
    op of a vmapped backward pass comes through here.)"""
    forward = rule.forward

    def batch(xp, arrays, batched, attrs):
        if len(arrays) == 1:
            return forward(xp, arrays[0], **attrs)
        ndim = 0
        for a, b in zip(arrays, batched):
            n = a.ndim - 1 if b else a.ndim
            if n > ndim:
                ndim = n
        aligned = [_pad_batched(xp, a, ndim) if b and a.ndim <= ndim else a for a, b in zip(arrays, batched)]
        return forward(xp, *aligned, **attrs)
    return batch


# Backends whose einsum writes a batch of outer products faster than broadcasting does:
# NumPy's multiply of (B, m, 1) by (B, 1, n) runs one inner loop of n per row (B * m loops),
# its einsum 1.3-1.5x faster for n <= 128 (B=256, m=64, n=10..64: the per-example gradient
# of a layer), 7% slower at n=256, where the inner loops are long. Eager JAX's einsum plans
# the contraction in Python, and XLA fuses the multiply anyway.
_EINSUM_OUTER = ("numpy", "cupy")
_EINSUM_OUTER_MAX_N = 128


def _outer(xp, a, b):
    """Batched outer products: ``a`` (B, m, 1) times ``b`` (B, 1, n), as (B, m, n)."""
    if (b.shape[2] <= _EINSUM_OUTER_MAX_N and getattr(xp, "__name__", None) in _EINSUM_OUTER
            and a.dtype == b.dtype and a.dtype.kind in "fc"):  # floats alike: multiply's own result
        return xp.einsum("bi,bj->bij", a[:, :, 0], b[:, 0, :])
    return a * b


def _is_outer(a, b) -> bool:
    return a.ndim == 3 and b.ndim == 3 and a.shape[2] == 1 and b.shape[1] == 1 and a.shape[0] == b.shape[0]


def _multiply_batch(rule):
    """multiply: the elementwise rule, with batched outer products (the vjp of a vector times
    a matrix, per example) written by ``_outer``."""
    elementwise = elementwise_batch(rule)

    def batch(xp, arrays, batched, attrs):
        if batched[0] and batched[1]:
            a, b = arrays
            if a.ndim == 3 and b.ndim == 2 and a.shape[2] == 1:  # (B, m, 1) * (B, n)
                b = xp.expand_dims(b, axis=1)
            if _is_outer(a, b):
                return _outer(xp, a, b)
        return elementwise(xp, arrays, batched, attrs)
    return batch


def _shift(axis, ndim: int):
    """Example axes as axes of the batched array (None: every example axis)."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, int):
        return normalize_axis(axis, ndim) + 1
    return tuple(a + 1 for a in normalize_axes(axis, ndim))


def axis_batch(rule, default=None, insert: bool = False):
    """One-input ops taking ``axis`` (reductions, softmax, squeeze...): the axis shifted by one.
    ``insert``: the axis names a position in the output (expand_dims), one more than the input."""
    forward = rule.forward

    def batch(xp, arrays, batched, attrs):
        (x,) = arrays
        attrs = dict(attrs)
        ndim = x.ndim - 1 + (1 if insert else 0)
        attrs["axis"] = _shift(attrs.get("axis", default), ndim)
        return forward(xp, x, **attrs)
    return batch


def _join_batch(rule, insert: bool):
    """concat/stack: every input gets the batch axis; the axis shifts by one."""
    forward = rule.forward

    def batch(xp, arrays, batched, attrs):
        size = _batch_size(arrays, batched)
        arrays = [a if b else _ensure_batched(xp, a, size) for a, b in zip(arrays, batched)]
        axis = attrs.get("axis", 0)
        if axis is None:  # concat of the flattened examples
            return forward(xp, *[xp.reshape(a, (size, -1)) for a in arrays], axis=1)
        ndim = arrays[0].ndim - 1 + (1 if insert else 0)
        return forward(xp, *arrays, axis=_shift(axis, ndim))
    return batch


def _reshape_batch(xp, arrays, batched, attrs):
    (x,) = arrays
    return xp.reshape(x, (x.shape[0],) + tuple(attrs["shape"]))


def _broadcast_to_batch(xp, arrays, batched, attrs):
    (x,) = arrays
    shape = tuple(attrs["shape"])
    return xp.broadcast_to(_pad_batched(xp, x, len(shape)), (x.shape[0],) + shape)


def _permute_batch(xp, arrays, batched, attrs):
    (x,) = arrays
    axes = attrs["axes"]
    return xp.permute_dims(x, (0,) + tuple(normalize_axis(a, x.ndim - 1) + 1 for a in axes))


def _key_batch(xp, arrays, batched, attrs):
    """getitem/scatter with a basic key: a full slice in front selects every example."""
    key = attrs["key"]
    key = (slice(None),) + (key if isinstance(key, tuple) else (key,))
    rule = RULES["getitem"]
    return rule.forward(xp, arrays[0], key=key)


def _scatter_batch(xp, arrays, batched, attrs):
    (values,) = arrays
    key = attrs["key"]
    key = (slice(None),) + (key if isinstance(key, tuple) else (key,))
    return xp.scatter(values, key, (values.shape[0],) + tuple(attrs["shape"]))


def _matmul_batch(xp, arrays, batched, attrs):
    """matmul with the batch axis leading: vectors become matrices, batched operands get
    size-1 stack axes so the stacks broadcast, and the added axes go again at the end.
    Three shapes skip the stacked product (a loop of small products on NumPy): a batch times
    one unbatched matrix is one matrix product with the batch folded into the rows, one
    unbatched matrix times a batch of vectors is one product with the transposed matrix, and
    a contraction of length 1 (outer products) is a multiply."""
    a, b = arrays
    ba, bb = batched
    ra, rb = _logical_ndim(a, ba), _logical_ndim(b, bb)
    if ba and not bb and rb == 2:
        if a.ndim == 2:  # a batch of vectors: already the rows
            return xp.matmul(a, b)
        rows = xp.reshape(a, (-1, a.shape[-1]))
        out = xp.matmul(rows, b)
        return xp.reshape(out, tuple(a.shape[:-1]) + (b.shape[-1],))
    if bb and not ba and ra == 2 and rb == 1:  # one matrix times a batch of vectors: rows of b a^T
        return xp.matmul(b, xp.matrix_transpose(a))
    if ra == 1:
        a = xp.expand_dims(a, axis=-2)
    if rb == 1:
        b = xp.expand_dims(b, axis=-1)
    ndim = max(ra, rb, 2)
    if ba:
        a = _pad_batched(xp, a, ndim)
    if bb:
        b = _pad_batched(xp, b, ndim)
    if _is_outer(a, b):
        out = _outer(xp, a, b)
    elif a.shape[-1] == 1 and b.shape[-2] == 1:
        out = a * b
    else:
        out = xp.matmul(a, b)
    if rb == 1:
        out = out[..., 0]
    if ra == 1:
        out = out[..., 0, :] if rb != 1 else out[..., 0]
    return out


def _matrix_transpose_batch(xp, arrays, batched, attrs):
    return RULES["matrix_transpose"].forward(xp, arrays[0])


def _unary_batch(rule):
    forward = rule.forward

    def batch(xp, arrays, batched, attrs):
        return forward(xp, *arrays, **attrs)
    return batch


def _take_batch(xp, arrays, batched, attrs):
    x, indices = arrays
    if batched[1]:
        return None  # indices differing per example: not covered
    axis = attrs.get("axis")
    if axis is None:
        return None
    return xp.take(x, indices, axis=normalize_axis(axis, x.ndim - 1) + 1)


def _leading_batch(rule):
    """Ops that broadcast their inputs' leading axes and work on the trailing ones
    (softmax_cross_entropy's logits (..., classes) and labels (...)): a batch axis in front of
    either broadcasts as any other leading axis, so the forward itself is the batching rule."""
    forward = rule.forward

    def batch(xp, arrays, batched, attrs):
        return forward(xp, *arrays, **attrs)
    return batch


# -- the families -----------------------------------------------------------------------------

ELEMENTWISE = (
    "add", "subtract", "multiply", "divide", "pow", "maximum", "minimum", "where",
    "negative", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tanh", "abs", "sign",
    "clip", "astype", "sigmoid", "relu", "stop_gradient",
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not",
    "isnan", "isinf", "isfinite", "signbit", "floor", "ceil", "round", "trunc", "floor_divide",
)
# one input, an ``axis`` attribute naming example axes (default when absent)
AXIS_OPS = {
    "sum": None, "mean": None, "prod": None, "max": None, "min": None, "var": None, "std": None,
    "logsumexp": None, "softmax": -1, "log_softmax": -1, "squeeze": None,
    "all": None, "any": None, "count_nonzero": None,
}

for _name in ELEMENTWISE:
    if _name in RULES:
        RULES[_name].defbatch(elementwise_batch(RULES[_name]))
RULES["multiply"].defbatch(_multiply_batch(RULES["multiply"]))
for _name, _default in AXIS_OPS.items():
    if _name in RULES:
        RULES[_name].defbatch(axis_batch(RULES[_name], _default))
RULES["expand_dims"].defbatch(axis_batch(RULES["expand_dims"], 0, insert=True))
RULES["concat"].defbatch(_join_batch(RULES["concat"], insert=False))
RULES["stack"].defbatch(_join_batch(RULES["stack"], insert=True))
RULES["reshape"].defbatch(_reshape_batch)
RULES["broadcast_to"].defbatch(_broadcast_to_batch)
RULES["permute_dims"].defbatch(_permute_batch)
RULES["matrix_transpose"].defbatch(_matrix_transpose_batch)
RULES["getitem"].defbatch(_key_batch)
RULES["scatter"].defbatch(_scatter_batch)
RULES["matmul"].defbatch(_matmul_batch)
RULES["take"].defbatch(_take_batch)
RULES["softmax_cross_entropy"].defbatch(_leading_batch(RULES["softmax_cross_entropy"]))
del _name, _default
