"""The ``fft`` extension: discrete Fourier transforms (op names "fft.<name>").

Complex cotangents follow JAX's convention: a vjp is the transpose of the (real-)linear
map under the pairing <a, b> = Re(sum(a * b)), without conjugation, as ``jax.vjp``
computes it. So the vjp of fft is fft again (the DFT matrix is symmetric), of ifft ifft,
with the same ``n``/``s`` and ``norm``, trimmed or zero-padded back to the input's length
(the transpose of the forward's padding or trimming). A real input that entered a complex
transform gets the real part of its cotangent (the engine takes it).

The real transforms need care with the Hermitian half (JAX's lax/fft.py): rfft keeps
frequencies 0..n//2 of a real signal, so its transpose is irfft of conj(g) / w with
weights w = 1 at frequency 0 (and n/2 for even n), 2 elsewhere: every other kept
frequency stands for two of the full spectrum. irfft's transpose is conj(w * rfft(g)).
The norm mode of these transposes is the dual one ("backward" <-> "forward"), which
carries the same scale factor the other way round.
"""
from __future__ import annotations

from ._core import defrule, normalize_axis

NORMS = ("backward", "ortho", "forward")
_DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# -- helpers -------------------------------------------------------------------------------

def _complex(xp, x):
    """x as complex: the standard's complex transforms take complex input (array_api_strict
    insists), so a real x is cast. MLX has no complex128 (and takes real input itself)."""
    if xp.isdtype(x.dtype, "complex floating"):
        return x
    target = xp.complex64 if x.dtype == xp.float32 else getattr(xp, "complex128", None)
    return x if target is None else xp.astype(x, target)


def _fit(xp, a, axis, length):
    """a trimmed or zero-padded along axis to length: the transpose of the forward's
    zero-padding or trimming of its input to the transform's length."""
    size = a.shape[axis]
    if size == length:
        return a
    if size > length:
        return a[(slice(None),) * axis + (slice(0, length), Ellipsis)]
    shape = list(a.shape)
    shape[axis] = length - size
    return xp.concat([a, xp.zeros(tuple(shape), dtype=a.dtype)], axis=axis)


def _fit_all(xp, a, axes, shape):
    for axis in axes:
        a = _fit(xp, a, axis, shape[axis])
    return a


def _hermitian_weights(xp, n, axis, ndim, dtype):
    """The weights of the kept half of a real signal's spectrum (length n // 2 + 1) along
    axis: 1 at frequency 0 and, for even n, at n / 2; 2 elsewhere."""
    kept = n // 2 + 1
    weights = [1.0] + [2.0] * (kept - 1)
    if n % 2 == 0 and kept > 1:
        weights[-1] = 1.0
    return xp.reshape(xp.asarray(weights, dtype=dtype), (kept,) + (1,) * (ndim - axis - 1))


def _length(shape, n, axis, *, real_inverse=False):
    """(axis as a non-negative int, the transform's length n along it)."""
    axis = normalize_axis(axis, len(shape))
    if n is None:
        n = 2 * (shape[axis] - 1) if real_inverse else shape[axis]
    return axis, n


def _sizes_axes(shape, s, axes, *, real_inverse=False):
    """(sizes, axes) of an n-dimensional transform, explicit: axes default to all (or the
    last len(s)), sizes to the input's (-1 too), and for the inverse real transforms the
    last to 2 * (m - 1)."""
    ndim = len(shape)
    if axes is None:
        axes = tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))
    axes = tuple(normalize_axis(a, ndim) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"repeated axes in {axes}")
    if s is None:
        s = (-1,) * len(axes)
    if len(s) != len(axes):
        raise ValueError(f"s={tuple(s)} and axes={axes} must have the same length")
    sizes = []
    for i, (axis, n) in enumerate(zip(axes, s)):
        if n == -1:
            n = 2 * (shape[axis] - 1) if real_inverse and i == len(axes) - 1 else shape[axis]
        sizes.append(int(n))
    return tuple(sizes), axes


def _axis_problem(shape, axis):
    if not -len(shape) <= axis < max(len(shape), 1) or not shape:
        return f"axis {axis} is out of range for an input of shape {shape}"
    return None


def _checks_1d(shapes, attrs):
    """What is wrong with a one-dimensional transform's input shape, axis or n."""
    shape, axis, n = shapes[0], attrs.get("axis", -1), attrs.get("n")
    problem = _axis_problem(shape, axis)
    if problem is None and n is not None and n < 1:
        problem = f"n must be at least 1, got {n}"
    return problem


def _checks_nd(shapes, attrs):
    """What is wrong with an n-dimensional transform's input shape, axes or s."""
    shape, axes, s = shapes[0], attrs.get("axes"), attrs.get("s")
    for axis in axes or ():
        problem = _axis_problem(shape, axis)
        if problem:
            return problem
    if axes is not None and len({a % len(shape) for a in axes}) != len(axes):
        return f"repeated axes in axes={axes}"
    if s is not None and axes is not None and len(s) != len(axes):
        return f"s={s} and axes={axes} must have the same length"
    if s is not None and any(n != -1 and n < 1 for n in s):
        return f"the sizes in s must be at least 1 (or -1), got {s}"
    return None


def _check_norm(norm):
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


# -- complex to complex ----------------------------------------------------------------------

@defrule("fft.fft")
def fft(xp, x, *, n=None, axis=-1, norm="backward"):
    """the one-dimensional discrete Fourier transform along axis, of length n"""
    _check_norm(norm)
    return xp.fft.fft(_complex(xp, x), n=n, axis=axis, norm=norm)


@fft.defvjp
def fft_vjp(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    axis, n = _length(x.shape, n, axis)
    return (_fit(xp, xp.fft.fft(g, n=n, axis=axis, norm=norm), axis, x.shape[axis]),)


@defrule("fft.ifft")
def ifft(xp, x, *, n=None, axis=-1, norm="backward"):
    """the one-dimensional inverse discrete Fourier transform along axis, of length n"""
    _check_norm(norm)
    return xp.fft.ifft(_complex(xp, x), n=n, axis=axis, norm=norm)


@ifft.defvjp
def ifft_vjp(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    axis, n = _length(x.shape, n, axis)
    return (_fit(xp, xp.fft.ifft(g, n=n, axis=axis, norm=norm), axis, x.shape[axis]),)


@defrule("fft.fftn")
def fftn(xp, x, *, s=None, axes=None, norm="backward"):
    """the n-dimensional discrete Fourier transform over axes, of sizes s"""
    _check_norm(norm)
    sizes, axes = _sizes_axes(x.shape, s, axes)
    return xp.fft.fftn(_complex(xp, x), s=sizes, axes=axes, norm=norm)


@fftn.defvjp
def fftn_vjp(xp, g, out, x, *, s=None, axes=None, norm="backward"):
    sizes, axes = _sizes_axes(x.shape, s, axes)
    return (_fit_all(xp, xp.fft.fftn(g, s=sizes, axes=axes, norm=norm), axes, x.shape),)


@defrule("fft.ifftn")
def ifftn(xp, x, *, s=None, axes=None, norm="backward"):
    """the n-dimensional inverse discrete Fourier transform over axes, of sizes s"""
    _check_norm(norm)
    sizes, axes = _sizes_axes(x.shape, s, axes)
    return xp.fft.ifftn(_complex(xp, x), s=sizes, axes=axes, norm=norm)


@ifftn.defvjp
def ifftn_vjp(xp, g, out, x, *, s=None, axes=None, norm="backward"):
    sizes, axes = _sizes_axes(x.shape, s, axes)
    return (_fit_all(xp, xp.fft.ifftn(g, s=sizes, axes=axes, norm=norm), axes, x.shape),)


# -- real signals and Hermitian spectra --------------------------------------------------------

@defrule("fft.rfft")
def rfft(xp, x, *, n=None, axis=-1, norm="backward"):
    """the discrete Fourier transform of a real signal: frequencies 0..n//2"""
    _check_norm(norm)
    return xp.fft.rfft(x, n=n, axis=axis, norm=norm)


@rfft.defvjp
def rfft_vjp(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    axis, n = _length(x.shape, n, axis)
    weights = _hermitian_weights(xp, n, axis, x.ndim, x.dtype)
    ct = xp.fft.irfft(xp.conj(g) / weights, n=n, axis=axis, norm=_DUAL[norm])
    return (_fit(xp, ct, axis, x.shape[axis]),)


@defrule("fft.irfft")
def irfft(xp, x, *, n=None, axis=-1, norm="backward"):
    """the real signal of length n (default 2 (m - 1)) whose spectrum's half is x"""
    _check_norm(norm)
    return xp.fft.irfft(_complex(xp, x), n=n, axis=axis, norm=norm)


@irfft.defvjp
def irfft_vjp(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    axis, n = _length(x.shape, n, axis, real_inverse=True)
    weights = _hermitian_weights(xp, n, axis, x.ndim, g.dtype)
    ct = xp.conj(xp.fft.rfft(g, n=n, axis=axis, norm=_DUAL[norm]) * weights)
    return (_fit(xp, ct, axis, x.shape[axis]),)


@defrule("fft.rfftn")
def rfftn(xp, x, *, s=None, axes=None, norm="backward"):
    """the n-dimensional transform of a real signal, the last axis halved as in rfft"""
    _check_norm(norm)
    sizes, axes = _sizes_axes(x.shape, s, axes)
    return xp.fft.rfftn(x, s=sizes, axes=axes, norm=norm)


@rfftn.defvjp
def rfftn_vjp(xp, g, out, x, *, s=None, axes=None, norm="backward"):
    sizes, axes = _sizes_axes(x.shape, s, axes)
    weights = _hermitian_weights(xp, sizes[-1], axes[-1], x.ndim, x.dtype)
    ct = xp.fft.irfftn(xp.conj(g) / weights, s=sizes, axes=axes, norm=_DUAL[norm])
    return (_fit_all(xp, ct, axes, x.shape),)


@defrule("fft.irfftn")
def irfftn(xp, x, *, s=None, axes=None, norm="backward"):
    """the real n-dimensional signal of sizes s whose spectrum, halved on the last axis, is x"""
    _check_norm(norm)
    sizes, axes = _sizes_axes(x.shape, s, axes, real_inverse=True)
    return xp.fft.irfftn(_complex(xp, x), s=sizes, axes=axes, norm=norm)


@irfftn.defvjp
def irfftn_vjp(xp, g, out, x, *, s=None, axes=None, norm="backward"):
    sizes, axes = _sizes_axes(x.shape, s, axes, real_inverse=True)
    weights = _hermitian_weights(xp, sizes[-1], axes[-1], x.ndim, g.dtype)
    ct = xp.conj(xp.fft.rfftn(g, s=sizes, axes=axes, norm=_DUAL[norm]) * weights)
    return (_fit_all(xp, ct, axes, x.shape),)


@defrule("fft.hfft")
def hfft(xp, x, *, n=None, axis=-1, norm="backward"):
    """the real spectrum of length n (default 2 (m - 1)) of a signal with Hermitian symmetry
    whose first half is x: irfft(conj(x)) with the dual norm"""
    _check_norm(norm)
    return xp.fft.hfft(_complex(xp, x), n=n, axis=axis, norm=norm)


@hfft.defvjp
def hfft_vjp(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    # the transpose of conj is conj: conj(irfft's transpose) = w * rfft(g)
    axis, n = _length(x.shape, n, axis, real_inverse=True)
    weights = _hermitian_weights(xp, n, axis, x.ndim, g.dtype)
    return (_fit(xp, xp.fft.rfft(g, n=n, axis=axis, norm=norm) * weights, axis, x.shape[axis]),)


@defrule("fft.ihfft")
def ihfft(xp, x, *, n=None, axis=-1, norm="backward"):
    """the inverse of hfft for a real x: conj(rfft(x)) with the dual norm"""
    _check_norm(norm)
    return xp.fft.ihfft(x, n=n, axis=axis, norm=norm)


@ihfft.defvjp
def ihfft_vjp(xp, g, out, x, *, n=None, axis=-1, norm="backward"):
    # rfft's transpose of conj(g), with the dual of the dual norm
    axis, n = _length(x.shape, n, axis)
    weights = _hermitian_weights(xp, n, axis, x.ndim, x.dtype)
    return (_fit(xp, xp.fft.irfft(g / weights, n=n, axis=axis, norm=norm), axis, x.shape[axis]),)


# -- shifts --------------------------------------------------------------------------------------

@defrule("fft.fftshift")
def fftshift(xp, x, *, axes=None):
    """x rolled so that frequency 0 is in the middle of each axis"""
    return xp.fft.fftshift(x, axes=axes)


@fftshift.defvjp
def fftshift_vjp(xp, g, out, x, *, axes=None):
    return (xp.fft.ifftshift(g, axes=axes),)


@defrule("fft.ifftshift")
def ifftshift(xp, x, *, axes=None):
    """the inverse of fftshift"""
    return xp.fft.ifftshift(x, axes=axes)


@ifftshift.defvjp
def ifftshift_vjp(xp, g, out, x, *, axes=None):
    return (xp.fft.fftshift(g, axes=axes),)


for _rule in (fft, ifft, rfft, irfft, hfft, ihfft):
    _rule.defchecks(_checks_1d)
for _rule in (fftn, ifftn, rfftn, irfftn):
    _rule.defchecks(_checks_nd)
