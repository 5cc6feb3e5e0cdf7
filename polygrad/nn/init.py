"""Initialisers: new parameters drawn on the host with NumPy's Generator, then moved.

Every draw happens in float64 with ``numpy.random.Generator`` and is rounded to the
target dtype on the host before it moves to the active backend, so one seed gives the
same bits on every backend. ``rng`` is a Generator, an int seed, or None (fresh entropy).

Fans follow JAX's ``variance_scaling``: ``in_axis``/``out_axis`` name the input and output
axes and every other axis is the receptive field. The defaults (-2, -1) fit ``Linear``'s
(in_features, out_features) weight; convolution weights (out, in, *kernel) use (1, 0).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import _backend
from .._graph import Value
from ..errors import DTypeError, ShapeError

__all__ = [
    "generator", "fans", "calculate_gain", "uniform", "normal", "constant", "zeros", "ones",
    "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
]

_FLOAT_NAMES = ("float16", "float32", "float64")


def generator(rng: Any = None) -> np.random.Generator:
    """``rng`` as a NumPy Generator: a Generator passes through, an int seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def float_name(dtype: Any = None, on: _backend.Backend | None = None) -> str:
    """The name ("float32"...) of a float dtype given by name or object (None: the default)."""
    on = on or _backend.backend()
    if dtype is None:
        dtype = _backend.default_dtype(on)
    if isinstance(dtype, str):
        if dtype in _FLOAT_NAMES:
            return dtype
    else:
        for name in _FLOAT_NAMES:
            if getattr(on.xp, name, None) is not None and on.dtype(name) == dtype:
                return name
    raise DTypeError(f"initialisers make float parameters; got dtype {dtype!r}")


def _leaf(host: np.ndarray, dtype: Any, requires_grad: bool) -> Value:
    """A leaf on the active backend from float64 host data, rounded to dtype on the host."""
    name = float_name(dtype)
    return Value(np.asarray(host, dtype=np.dtype(name)), dtype=name, requires_grad=requires_grad)


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def fans(shape: Sequence[int], in_axis: int = -2, out_axis: int = -1) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: its input and output sizes times the receptive field."""
    shape = _shape(shape)
    if len(shape) < 2:
        raise ShapeError(f"fans: a weight needs at least 2 axes (input and output), got shape {shape}")
    in_axis, out_axis = in_axis % len(shape), out_axis % len(shape)
    receptive = math.prod(n for i, n in enumerate(shape) if i not in (in_axis, out_axis))
    return shape[in_axis] * receptive, shape[out_axis] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for a nonlinearity: 1 for linear/sigmoid, 5/3 for tanh,
    sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, 0.01 by default)."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def uniform(shape, low: float = 0.0, high: float = 1.0, *, rng: Any = None, dtype: Any = None,
            requires_grad: bool = True) -> Value:
    """A parameter of ``shape`` drawn uniformly from [low, high)."""
    return _leaf(generator(rng).uniform(low, high, _shape(shape)), dtype, requires_grad)


def normal(shape, std: float = 1.0, mean: float = 0.0, *, rng: Any = None, dtype: Any = None,
           requires_grad: bool = True) -> Value:
    """A parameter of ``shape`` drawn from N(mean, std^2)."""
    return _leaf(generator(rng).normal(mean, std, _shape(shape)), dtype, requires_grad)


def constant(shape, value: float, *, dtype: Any = None, requires_grad: bool = True) -> Value:
    return _leaf(np.full(_shape(shape), float(value)), dtype, requires_grad)


def zeros(shape, *, dtype: Any = None, requires_grad: bool = True) -> Value:
    return constant(shape, 0.0, dtype=dtype, requires_grad=requires_grad)


def ones(shape, *, dtype: Any = None, requires_grad: bool = True) -> Value:
    return constant(shape, 1.0, dtype=dtype, requires_grad=requires_grad)


def xavier_uniform(shape, gain: float = 1.0, *, in_axis: int = -2, out_axis: int = -1, rng: Any = None,
                   dtype: Any = None) -> Value:
    """Glorot uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape, in_axis, out_axis)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def xavier_normal(shape, gain: float = 1.0, *, in_axis: int = -2, out_axis: int = -1, rng: Any = None,
                  dtype: Any = None) -> Value:
    """Glorot normal: N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape, in_axis, out_axis)
    return normal(shape, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng=rng, dtype=dtype)


def _kaiming_scale(shape, a, mode, nonlinearity, in_axis, out_axis) -> float:
    fan_in, fan_out = fans(shape, in_axis, out_axis)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                    in_axis: int = -2, out_axis: int = -1, rng: Any = None, dtype: Any = None) -> Value:
    """He uniform, as PyTorch's: U(-b, b), b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    bound = math.sqrt(3.0) * _kaiming_scale(shape, a, mode, nonlinearity, in_axis, out_axis)
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def kaiming_normal(shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                   in_axis: int = -2, out_axis: int = -1, rng: Any = None, dtype: Any = None) -> Value:
    """He normal, as PyTorch's: N(0, s^2), s = gain / sqrt(fan)."""
    std = _kaiming_scale(shape, a, mode, nonlinearity, in_axis, out_axis)
    return normal(shape, std, rng=rng, dtype=dtype)
