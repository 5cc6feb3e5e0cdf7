"""The array API's ``fft`` extension over Values (``xp.fft``, ``pg.fft``).

The transforms are rules ("fft.<name>" in rules/fft.py), with the standard's signatures
(2024.12): ``n``/``axis`` for the one-dimensional transforms, ``s``/``axes`` for the
n-dimensional ones, ``norm`` "backward" (default), "ortho" or "forward". Their complex
cotangents follow JAX's convention (see the README). fftfreq and rfftfreq make
constants; fftshift and ifftshift are rules (each the other's vjp).
"""
from __future__ import annotations

from .. import _backend
from .._graph import Value, apply

__all__ = [
    "fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
    "fftfreq", "rfftfreq", "fftshift", "ifftshift",
]


def _sequence(values):
    return None if values is None else tuple(int(v) for v in values)


def fft(x, /, *, n=None, axis: int = -1, norm: str = "backward"):
    return apply("fft.fft", x, n=n, axis=axis, norm=norm)


def ifft(x, /, *, n=None, axis: int = -1, norm: str = "backward"):
    return apply("fft.ifft", x, n=n, axis=axis, norm=norm)


def fftn(x, /, *, s=None, axes=None, norm: str = "backward"):
    return apply("fft.fftn", x, s=_sequence(s), axes=_sequence(axes), norm=norm)


def ifftn(x, /, *, s=None, axes=None, norm: str = "backward"):
    return apply("fft.ifftn", x, s=_sequence(s), axes=_sequence(axes), norm=norm)


def rfft(x, /, *, n=None, axis: int = -1, norm: str = "backward"):
    return apply("fft.rfft", x, n=n, axis=axis, norm=norm)


def irfft(x, /, *, n=None, axis: int = -1, norm: str = "backward"):
    return apply("fft.irfft", x, n=n, axis=axis, norm=norm)


def rfftn(x, /, *, s=None, axes=None, norm: str = "backward"):
    return apply("fft.rfftn", x, s=_sequence(s), axes=_sequence(axes), norm=norm)


def irfftn(x, /, *, s=None, axes=None, norm: str = "backward"):
    return apply("fft.irfftn", x, s=_sequence(s), axes=_sequence(axes), norm=norm)


def hfft(x, /, *, n=None, axis: int = -1, norm: str = "backward"):
    return apply("fft.hfft", x, n=n, axis=axis, norm=norm)


def ihfft(x, /, *, n=None, axis: int = -1, norm: str = "backward"):
    return apply("fft.ihfft", x, n=n, axis=axis, norm=norm)


def _shift_axes(axes):
    return axes if axes is None or isinstance(axes, int) else tuple(axes)


def fftshift(x, /, *, axes=None):
    return apply("fft.fftshift", x, axes=_shift_axes(axes))


def ifftshift(x, /, *, axes=None):
    return apply("fft.ifftshift", x, axes=_shift_axes(axes))


def _frequencies(name: str, n: int, d: float, dtype, device) -> Value:
    """A constant: the sample frequencies, in the default float dtype unless given one."""
    on = _backend.backend()
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"fft.{name}: n must be a positive int, got {n!r}")
    frequencies = getattr(on.xp.fft, name)(n, d=d)
    target = _backend.default_dtype(on) if dtype is None else dtype
    if frequencies.dtype != target:
        frequencies = on.xp.astype(frequencies, target)
    return Value._wrap(frequencies, on)


def fftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None):
    return _frequencies("fftfreq", n, d, dtype, device)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None):
    return _frequencies("rfftfreq", n, d, dtype, device)
