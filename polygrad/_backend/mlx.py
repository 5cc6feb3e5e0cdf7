"""The array-API shim for MLX (``mlx.core``), which follows the standard closely but not fully.

MLX exposes ``__array_namespace__`` and most of the standard's names, but differs in
the places listed here: creation functions take a stream instead of ``device=``,
``var``/``std`` take ``ddof`` instead of ``correction``, ``clip`` takes positional
bounds, ``asarray`` turns float64 NumPy data into float32, ``nonzero`` and ``signbit``
are missing, ``sort``/``argsort`` have no ``descending``/``stable`` and
``cumulative_prod`` no ``include_initial``. Everything else falls through to
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
from ._scatter import standard_scatter
from ._special import mlx_special

__all__ = ["load", "extensions", "linalg_extensions", "fft_extensions"]


def load() -> Backend:
    mx = importlib.import_module("mlx.core")
    np = importlib.import_module("numpy")
    device = mx.default_device()
    float64_ok = device == mx.cpu
    # MLX's setitem builds a new graph node (nothing is shared), so the standard scatter works.
    xp = ArrayNamespace("mlx", mx, scatter=standard_scatter(mx), special=mlx_special(mx, np),
                        **extensions(mx, np, float64_ok))

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
        if name == "complex128":  # MLX has no complex128: complex data is complex64 there
            return mx.complex64
        found = mx.bool_ if name == "bool" else getattr(mx, name, None)
        if not isinstance(found, mx.Dtype):
            raise TypeError(f"MLX has no dtype {name}")
        return found

    def asarray(obj, /, *, dtype=None, device=None, copy=None):
        if dtype is not None:
            check_dtype(dtype)
        if isinstance(obj, mx.array):
            if dtype is not None and obj.dtype != dtype:
                return obj.astype(dtype)
            return mx.array(obj) if copy else obj  # mx.array(a) copies a
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

    def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
        if axis is None:
            if x.ndim > 1:
                raise ValueError(f"cumulative_prod: axis is required for an array with {x.ndim} axes")
            axis = 0
        out = mx.cumprod(x if dtype is None else x.astype(dtype), axis=axis)
        if include_initial:
            shape = list(out.shape)
            shape[axis] = 1
            out = mx.concatenate([mx.ones(shape, dtype=out.dtype), out], axis=axis)
        return out

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
        linalg=ArrayNamespace("mlx.linalg", mx.linalg, **linalg_extensions(mx, np)),
        fft=ArrayNamespace("mlx.fft", mx.fft, **fft_extensions(mx, np, asarray)),
        asarray=asarray, from_dlpack=from_dlpack, astype=astype, zeros=zeros, ones=ones, empty=zeros, full=full,
        zeros_like=like(zeros), ones_like=like(ones), empty_like=like(zeros), full_like=full_like,
        eye=eye, arange=arange, linspace=linspace, var=var, std=std, clip=clip, pow=pow,
        argmax=chooser(mx.argmax), argmin=chooser(mx.argmin),
        signbit=signbit, nonzero=nonzero, matrix_transpose=matrix_transpose,
        scatter_add=scatter_add, bool=mx.bool_, exp=exp, sin=sin, cos=cos,
        sort=sort, argsort=argsort, cumulative_prod=cumulative_prod, take=take, all=all_, any=any_,
        sum=empty_safe(mx.sum, 0), prod=empty_safe(mx.prod, 1), mean=empty_safe(mx.mean, math.nan),
        count_nonzero=empty_safe(mx.count_nonzero, 0),
    )
    return names


def linalg_extensions(mx: Any, np: Any) -> dict[str, Callable]:
    """mlx.linalg with the standard's signatures. MLX runs linear algebra on the CPU stream
    only (also on Apple silicon), has no matrix_rank or svdvals, computes only full SVDs
    and reduced QRs, solves without broadcasting, and its pinv takes no rtol."""
    cpu = mx.cpu

    def matrix_t(a):
        return mx.swapaxes(a, -1, -2)

    def svd(x, /, *, full_matrices=True):
        u, s, vh = mx.linalg.svd(x, stream=cpu)
        if not full_matrices:
            k = min(x.shape[-2:])
            u, vh = u[..., :, :k], vh[..., :k, :]
        return (u, s, vh)

    def svdvals(x, /):
        return mx.linalg.svd(x, compute_uv=False, stream=cpu)

    def qr(x, /, *, mode="reduced"):
        m, n = x.shape[-2:]
        if mode == "complete" and m > n:
            # Householder QR of [x | 0]: Q's first n columns and R are x's; the rest of Q
            # completes them to an orthogonal matrix
            padded = mx.concatenate([x, mx.zeros(x.shape[:-1] + (m - n,), dtype=x.dtype)], axis=-1)
            q, r = mx.linalg.qr(padded, stream=cpu)
            return (q, r[..., :, :n])
        q, r = mx.linalg.qr(x, stream=cpu)
        return (q, r)

    def cutoff(x, s, rtol):
        if rtol is None:
            eps = np.finfo(np.float64 if x.dtype == mx.float64 else np.float32).eps
            rtol = max(x.shape[-2:]) * eps
        elif isinstance(rtol, mx.array) and rtol.ndim:
            rtol = rtol[..., None]
        largest = mx.max(s, axis=-1, keepdims=True) if s.shape[-1] else mx.zeros(s.shape[:-1] + (1,), dtype=s.dtype)
        return largest * rtol

    def pinv(x, /, *, rtol=None):
        u, s, vh = svd(x, full_matrices=False)
        keep = s > cutoff(x, s, rtol)
        s_inverse = mx.where(keep, 1 / mx.where(keep, s, mx.ones_like(s)), mx.zeros_like(s))
        return (matrix_t(vh) * s_inverse[..., None, :]) @ matrix_t(u)

    def matrix_rank(x, /, *, rtol=None):
        s = svdvals(x)
        return mx.sum(s > cutoff(x, s, rtol), axis=-1)

    def solve(x1, x2, /):
        vector = x2.ndim == 1
        b = x2[:, None] if vector else x2
        batch = np.broadcast_shapes(tuple(x1.shape[:-2]), tuple(b.shape[:-2]))
        a = mx.broadcast_to(x1, batch + tuple(x1.shape[-2:]))
        b = mx.broadcast_to(b, batch + tuple(b.shape[-2:]))
        out = mx.linalg.solve(a, b, stream=cpu)
        return out[..., 0] if vector else out

    return dict(
        cholesky=lambda x, /, *, upper=False: mx.linalg.cholesky(x, upper=upper, stream=cpu),
        cross=lambda x1, x2, /, *, axis=-1: mx.linalg.cross(x1, x2, axis=axis, stream=cpu),
        det=lambda x, /: mx.linalg.det(x, stream=cpu),
        eigh=lambda x, /: tuple(mx.linalg.eigh(x, stream=cpu)),
        eigvalsh=lambda x, /: mx.linalg.eigvalsh(x, stream=cpu),
        inv=lambda x, /: mx.linalg.inv(x, stream=cpu),
        slogdet=lambda x, /: tuple(mx.linalg.slogdet(x, stream=cpu)),
        svd=svd, svdvals=svdvals, qr=qr, pinv=pinv, matrix_rank=matrix_rank, solve=solve,
    )


def fft_extensions(mx: Any, np: Any, asarray: Callable) -> dict[str, Callable]:
    """mlx.fft's missing transforms, from the ones it has. MLX has complex64 only, so its
    transforms compute in single precision whatever the input (a declared deviation)."""
    dual = {"backward": "forward", "ortho": "ortho", "forward": "backward"}

    def hfft(x, /, *, n=None, axis=-1, norm="backward"):
        return mx.fft.irfft(mx.conj(x), n=n, axis=axis, norm=dual[norm])

    def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
        return mx.conj(mx.fft.rfft(x, n=n, axis=axis, norm=dual[norm]))

    def frequencies(numpy_function):
        def function(n, /, *, d=1.0, dtype=None, device=None):
            # MLX computes them in float32: exactly, through NumPy, in the dtype asked for
            values = numpy_function(n, d=d)
            return asarray(values) if dtype is None else asarray(values, dtype=dtype)
        return function

    return dict(hfft=hfft, ihfft=ihfft, fftfreq=frequencies(np.fft.fftfreq), rfftfreq=frequencies(np.fft.rfftfreq))
