"""The array-API shim for MLX (``mlx.core``), which follows the standard closely but not fully.

MLX exposes ``__array_namespace__`` and most of the standard's names, but differs in
the places listed here: creation functions take a stream instead of ``device=``,
``var``/``std`` take ``ddof`` instead of ``correction``, ``clip`` takes positional
bounds, ``asarray`` turns float64 NumPy data into float32, ``nonzero`` and ``signbit``
are missing, ``sort``/``argsort`` have no ``descending``/``stable``,
``cumulative_prod``/``cumulative_sum`` no ``include_initial``, ``searchsorted`` returns
uint32, ``repeat`` takes only an int, ``roll``/``tril``/``triu`` take positional arguments
and the ``unique_*`` functions need a static size. Everything else falls through to
``mlx.core`` unchanged (see ``ArrayNamespace``).

MLX's CPU kernels for exp, sin and cos are float32-accurate even on float64 data
(measured relative errors 2e-7, 8e-7 and 1e-5 against NumPy), which would make
float64 gradient checks meaningless. For float64 only, the shim computes them from
MLX functions that are float64-accurate (power, tan): still MLX ops, still lazy.

MLX is lazy: these functions only build its graph. polygrad evaluates (``mx.eval``)
where a user expects data to exist: item()/numpy(), the end of backward(), an
optimizer step, and timing; never inside a rule, so MLX can fuse the graph.

MLX has no float64 on the GPU; float64 works on the CPU device only, and asking for
it on the GPU is a DTypeError (raised by ``check_dtype``).
"""
from __future__ import annotations

import importlib
import math
from typing import Any, Callable

from ..errors import DTypeError
from ._record import ArrayNamespace, Backend
from ._scatter import copying_put, copying_setitem, standard_scatter

__all__ = ["load", "extensions"]


def load() -> Backend:
    mx = importlib.import_module("mlx.core")
    np = importlib.import_module("numpy")
    device = mx.default_device()
    float64_ok = device == mx.cpu
    # MLX's setitem builds a new graph node (nothing is shared), so the standard scatter works.
    # mx.array(x) is a new handle: assigning into it leaves x as it was (the writes copy).
    xp = ArrayNamespace("mlx", mx, scatter=standard_scatter(mx), setitem=copying_setitem(mx.array),
                        put=copying_put(mx.array), **extensions(mx, np, float64_ok))

    def to_numpy(a):
        return np.asarray(a if a.dtype != mx.bfloat16 else a.astype(mx.float32))

    return Backend(
        name="mlx", xp=xp, device=device,
        is_array=lambda obj: isinstance(obj, mx.array),
        to_numpy=to_numpy, synchronize=mx.synchronize, evaluate=mx.eval,
        boolean_masks=False,
    )


def extensions(mx: Any, np: Any, float64_ok: bool) -> dict[str, Callable]:
    """Functions that replace or add to ``mlx.core``'s, by array-API name."""

    def check_dtype(dtype):
        if dtype == mx.float64 and not float64_ok:
            raise DTypeError(
                "mlx: float64 is not supported on the GPU; use float32 (the default), or run "
                "MLX on the CPU with mx.set_default_device(mx.cpu) before selecting the backend"
            )
        return dtype

    def numpy_dtype(dtype):
        name = np.dtype(dtype).name
        return mx.bool_ if name == "bool" else getattr(mx, name)

    def asarray(obj, /, *, dtype=None, device=None, copy=None):
        if dtype is not None:
            check_dtype(dtype)
        if isinstance(obj, mx.array):
            return obj if dtype is None or obj.dtype == dtype else obj.astype(dtype)
        if isinstance(obj, (np.ndarray, np.generic)):
            obj = np.asarray(obj)
            if dtype is None:
                dtype = check_dtype(numpy_dtype(obj.dtype))  # mx.array(float64 data) would give float32
            if not obj.flags.c_contiguous:
                obj = obj.copy()  # MLX rejects negative strides
            if obj.size == 0:
                # mx.array of an empty NumPy array reads memory it never wrote: its sum is
                # garbage, its prod 0, all/any random (mlx 0.32). zeros() makes a sound one.
                return mx.zeros(obj.shape, dtype=dtype or numpy_dtype(obj.dtype))
        if dtype is None and not hasattr(obj, "__dlpack__") and hasattr(obj, "__array__"):
            obj = np.asarray(obj)  # e.g. a CuPy or JAX array: through the host
            dtype = check_dtype(numpy_dtype(obj.dtype))
        return mx.array(obj, dtype=dtype) if dtype is not None else mx.array(obj)

    def from_dlpack(x, /, *, device=None, copy=None):
        # mx.from_dlpack narrows float64 to float32 as mx.array does: through NumPy instead
        return asarray(np.from_dlpack(x))

    def astype(x, dtype, /, *, copy=True, device=None):
        return x.astype(check_dtype(dtype))

    def zeros(shape, *, dtype=None, device=None):
        return mx.zeros(shape, dtype=check_dtype(dtype or mx.float32))

    def ones(shape, *, dtype=None, device=None):
        return mx.ones(shape, dtype=check_dtype(dtype or mx.float32))

    def full(shape, fill_value, *, dtype=None, device=None):
        if dtype is None:
            dtype = mx.bool_ if isinstance(fill_value, bool) else (
                mx.int32 if isinstance(fill_value, int) else mx.float32)
        return mx.full(shape, fill_value, dtype=check_dtype(dtype))

    def like(make):
        def creator(x, /, *, dtype=None, device=None):
            return make(x.shape, dtype=dtype or x.dtype)
        return creator

    def full_like(x, /, fill_value, *, dtype=None, device=None):
        return full(x.shape, fill_value, dtype=dtype or x.dtype)

    def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
        return mx.eye(n_rows, n_cols, k, dtype=check_dtype(dtype or mx.float32))

    def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
        if stop is None:
            start, stop = 0, start
        if dtype is None:
            ints = all(isinstance(v, int) for v in (start, stop, step))
            dtype = mx.int32 if ints else mx.float32
        return mx.arange(start, stop, step, dtype=check_dtype(dtype))

    def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
        if not endpoint:  # MLX's linspace always includes the stop
            step = (stop - start) / num if num else 0
            return mx.linspace(start, stop - step, num, dtype=check_dtype(dtype or mx.float32)) if num else \
                mx.zeros((0,), dtype=dtype or mx.float32)
        return mx.linspace(start, stop, num, dtype=check_dtype(dtype or mx.float32))

    def var(x, /, *, axis=None, correction=0.0, keepdims=False):
        return _with_correction(mx.var, x, axis, correction, keepdims)

    def std(x, /, *, axis=None, correction=0.0, keepdims=False):
        return _with_correction(mx.std, x, axis, correction, keepdims)

    def _with_correction(reduce, x, axis, correction, keepdims):
        if x.size == 0:  # every result element has N = 0: nan; MLX 0.32 hangs on empty views
            return mx.full(reduced_shape(x, axis, keepdims), math.nan, dtype=x.dtype)
        if float(correction).is_integer():
            return reduce(x, axis=axis, keepdims=keepdims, ddof=int(correction))
        # a fractional correction: rescale the ddof=0 result
        n = math.prod(x.shape) if axis is None else math.prod(
            x.shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
        scale = n / (n - correction) if n > correction else math.inf
        result = mx.var(x, axis=axis, keepdims=keepdims) * scale
        return mx.sqrt(result) if reduce is mx.std else result

    def clip(x, /, min=None, max=None):  # noqa: A002 - the standard's names
        if min is None and max is None:
            return x
        return mx.clip(x, min, max)

    def pow(a, b, /):  # noqa: A001
        return mx.power(a, b)

    def signbit(x, /):
        # negative numbers and -0.0 (whose reciprocal is -inf); nan counts as positive
        return (x < 0) | ((x == 0) & (mx.reciprocal(x) < 0))

    def nonzero(x, /):
        # a data-dependent shape: MLX cannot build it lazily, so it is computed on the host
        found = np.nonzero(np.asarray(x))
        return tuple(mx.array(i.astype(np.int32)) for i in found)

    e = math.e

    def exp(x, /):
        if x.dtype != mx.float64:
            return mx.exp(x)
        return mx.power(mx.array(e, dtype=mx.float64), x)  # exact to |x| * 1e-16 relative

    def _half_angle_tangent(x):
        return mx.tan(x * mx.array(0.5, dtype=x.dtype))

    def sin(x, /):
        if x.dtype != mx.float64:
            return mx.sin(x)
        t = _half_angle_tangent(x)  # sin x = 2t / (1 + t^2); |t| <= 1.7e16 so t^2 cannot overflow
        one = mx.array(1.0, dtype=x.dtype)
        return mx.where(mx.isinf(x), mx.array(math.nan, dtype=x.dtype), (t + t) / (one + t * t))

    def cos(x, /):
        if x.dtype != mx.float64:
            return mx.cos(x)
        t = _half_angle_tangent(x)  # cos x = (1 - t)(1 + t) / (1 + t^2)
        one = mx.array(1.0, dtype=x.dtype)
        return mx.where(mx.isinf(x), mx.array(math.nan, dtype=x.dtype), (one - t) * (one + t) / (one + t * t))

    def sort(x, /, *, axis=-1, descending=False, stable=True):
        if descending:  # stable descending order: reverse, sort stably, reverse back
            return mx.flip(mx.sort(mx.flip(x, axis=axis), axis=axis), axis=axis)
        return mx.sort(x, axis=axis)

    def argsort(x, /, *, axis=-1, descending=False, stable=True):
        if descending:
            n = x.shape[axis]
            flipped = mx.argsort(mx.flip(x, axis=axis), axis=axis)
            # reversing and re-mapping indices keeps equal elements in their original order
            return mx.flip(mx.array(n - 1, dtype=flipped.dtype) - flipped, axis=axis)
        return mx.argsort(x, axis=axis)

    def cumulative(running, initial, name):
        def cumulative_op(x, /, *, axis=None, dtype=None, include_initial=False):
            if axis is None:
                if x.ndim > 1:
                    raise ValueError(f"{name}: axis is required for an array with {x.ndim} axes")
                axis = 0
            out = running(x if dtype is None else x.astype(dtype), axis=axis)
            if include_initial:
                shape = list(out.shape)
                shape[axis] = 1
                out = mx.concatenate([mx.full(shape, initial, dtype=out.dtype), out], axis=axis)
            return out
        return cumulative_op

    def searchsorted(x1, x2, /, *, side="left", sorter=None):
        if sorter is not None:
            x1 = mx.take(x1, sorter)
        # MLX answers in uint32; the standard's index dtype is signed (MLX's default int32)
        return mx.searchsorted(x1, x2, side=side).astype(mx.int32)

    def repeat(x, repeats, /, *, axis=None):
        if isinstance(repeats, int):
            return mx.repeat(x, repeats, axis=axis)
        # an array of counts: a data-dependent shape, which MLX cannot build lazily
        if axis is None:
            x, axis = x.reshape(-1), 0
        counts = np.asarray(repeats).reshape(-1)
        owner = np.repeat(np.arange(x.shape[axis]), counts if counts.size != 1 else int(counts[0]))
        return mx.take(x, mx.array(owner.astype(np.int32)), axis=axis)

    def roll(x, /, shift, *, axis=None):
        return mx.roll(x, shift, axis)

    def tril(x, /, *, k=0):
        return mx.tril(x, k)

    def triu(x, /, *, k=0):
        return mx.triu(x, k)

    def set_function(name):
        """unique_*: a data-dependent shape, computed on the host (as nonzero)."""
        compat = importlib.import_module("array_api_compat.numpy")

        def unique(x, /):
            found = getattr(compat, name)(np.asarray(x))
            if name == "unique_values":
                return asarray(found)
            return type(found)(*(asarray(part) for part in found))
        return unique

    def take(x, indices, /, *, axis=None):
        if not mx.issubdtype(indices.dtype, mx.integer):
            raise TypeError(f"take: indices must have an integer dtype, got {indices.dtype}")
        return mx.take(x, indices, axis=axis)

    def matrix_transpose(x, /):
        if x.ndim < 2:
            raise ValueError(f"matrix_transpose needs at least 2 dimensions, got shape {x.shape}")
        return mx.swapaxes(x, -1, -2)

    def scatter_add(values, indices, shape, axis):
        out = mx.zeros(shape, dtype=values.dtype)
        if values.size == 0:  # nothing to add, and MLX's scatter rejects empty updates
            return out
        return out.at[(slice(None),) * axis + (indices,)].add(values)

    def reduced_shape(x, axis, keepdims):
        axes = range(x.ndim) if axis is None else [a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)]
        return [1 if i in axes else n for i, n in enumerate(x.shape) if keepdims or i not in axes]

    def chooser(find):
        def choose(x, /, *, axis=None, keepdims=False):
            if x.ndim == 0:  # MLX fails on a 0-d array with keepdims=True; the answer is 0
                return find(x)
            if x.size == 0 and axis is not None and x.shape[axis]:
                # Along a non-empty axis of an empty array the answer is empty; MLX refuses.
                return mx.zeros(reduced_shape(x, axis, keepdims), dtype=mx.uint32)
            return find(x, axis=axis, keepdims=keepdims)
        return choose

    def empty_safe(reduce, identity):
        """MLX 0.32 reduces an empty array (a view especially) over memory it never wrote:
        sums of 1e-321, prod 0, mean inf, random counts. Every result element of an empty
        input reduces nothing, so it is the reduction's identity."""
        def reduction(x, /, *, axis=None, keepdims=False, **kwargs):
            if x.size == 0:
                dtype = reduce(mx.zeros((1,), dtype=x.dtype), **kwargs).dtype
                return mx.full(reduced_shape(x, axis, keepdims), identity, dtype=dtype)
            return reduce(x, axis=axis, keepdims=keepdims, **kwargs)
        return reduction

    any_ = empty_safe(mx.any, False)

    def all_(x, /, *, axis=None, keepdims=False):  # not all(): arange above uses the builtin
        # MLX's all() over an empty axis is False; the standard (and NumPy) say True
        return mx.logical_not(any_(mx.logical_not(x), axis=axis, keepdims=keepdims))

    names = dict(
        asarray=asarray, from_dlpack=from_dlpack, astype=astype, zeros=zeros, ones=ones, empty=zeros, full=full,
        zeros_like=like(zeros), ones_like=like(ones), empty_like=like(zeros), full_like=full_like,
        eye=eye, arange=arange, linspace=linspace, var=var, std=std, clip=clip, pow=pow,
        argmax=chooser(mx.argmax), argmin=chooser(mx.argmin),
        signbit=signbit, nonzero=nonzero, matrix_transpose=matrix_transpose,
        scatter_add=scatter_add, bool=mx.bool_, exp=exp, sin=sin, cos=cos,
        sort=sort, argsort=argsort, take=take, all=all_, any=any_,
        cumulative_prod=cumulative(mx.cumprod, 1, "cumulative_prod"),
        cumulative_sum=cumulative(mx.cumsum, 0, "cumulative_sum"),
        searchsorted=searchsorted, repeat=repeat, roll=roll, tril=tril, triu=triu,
        **{name: set_function(name) for name in ("unique_all", "unique_counts", "unique_inverse", "unique_values")},
        sum=empty_safe(mx.sum, 0), prod=empty_safe(mx.prod, 1), mean=empty_safe(mx.mean, math.nan),
        count_nonzero=empty_safe(mx.count_nonzero, 0),
    )
    return names
