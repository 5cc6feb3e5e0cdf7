"""Convolutions (cross-correlations, as in every deep-learning library) over 1 or more
spatial axes, channels first: x (batch, in_channels, *spatial), weight (out_channels,
in_channels / groups, *kernel), PyTorch's layout.

Written with the array API only, as im2col: each kernel offset is one strided slice of the
padded input, the slices are stacked into columns, and one batched matmul with the weight
does the rest. Gradients come from the slices, stack, reshape and matmul rules.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

from .. import namespace as pn
from .._graph import Value
from ..errors import ShapeError
from . import init
from ._module import Module

__all__ = ["conv", "conv1d", "conv2d", "Conv1d", "Conv2d"]


def _tuple(value: int | Sequence[int], n: int, what: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ShapeError(f"conv: {what} needs {n} values (one per spatial axis), got {value}")
    return value


def _padding(padding, n, kernel, stride, dilation, spatial) -> list[tuple[int, int]]:
    """(before, after) per spatial axis, from ints, (before, after) pairs, "valid" or "same"."""
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":  # JAX's SAME: output size ceil(size / stride), the odd pixel after
        pads = []
        for size, k, s, d in zip(spatial, kernel, stride, dilation):
            total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return pads
    if isinstance(padding, str):
        raise ValueError(f"conv: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    if isinstance(padding, int):
        return [(padding, padding)] * n
    padding = list(padding)
    if len(padding) != n:
        raise ShapeError(f"conv: padding needs {n} entries (one per spatial axis), got {padding}")
    return [(p, p) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in padding]


def _pad(x: Value, axis: int, before: int, after: int) -> Value:
    if not before and not after:
        return x
    on = x.backend
    pieces = []
    for size in (before, after):
        shape = list(x.shape)
        shape[axis] = size
        pieces.append(Value._wrap(on.xp.zeros(tuple(shape), dtype=x.dtype), on))
    return pn.concat([pieces[0], x, pieces[1]], axis=axis)


def conv(x, weight, bias=None, *, stride: int | Sequence[int] = 1, padding: Any = 0,
         dilation: int | Sequence[int] = 1, groups: int = 1):
    """N-d convolution: x (batch, C_in, *spatial), weight (C_out, C_in / groups, *kernel),
    bias (C_out,) -> (batch, C_out, *out), out = floor((size + pads - dilation (k - 1) - 1) / stride) + 1.

    padding: an int, one int or (before, after) pair per spatial axis, "valid" (none) or
    "same" (JAX's SAME: output size ceil(size / stride)). Zero padding.
    """
    if not isinstance(x, Value):
        x = pn.asarray(x, backend=weight.backend if isinstance(weight, Value) else None)
    n = weight.ndim - 2
    if n < 1 or x.ndim != n + 2:
        raise ShapeError(f"conv: input of shape {tuple(x.shape)} and weight of shape {tuple(weight.shape)} "
                         f"do not fit: expected (batch, channels, *spatial) and (out, in / groups, *kernel) "
                         "with as many spatial axes as kernel axes")
    batch, channels, *spatial = x.shape
    out_channels, group_channels, *kernel = weight.shape
    if groups < 1 or channels % groups or out_channels % groups or group_channels * groups != channels:
        raise ShapeError(f"conv: input of shape {tuple(x.shape)} has {channels} channels; weight of shape "
                         f"{tuple(weight.shape)} with groups={groups} expects {group_channels * groups} "
                         f"(and out channels divisible by groups)")
    stride, dilation = _tuple(stride, n, "stride"), _tuple(dilation, n, "dilation")
    pads = _padding(padding, n, kernel, stride, dilation, spatial)
    out = [(size + lo + hi - d * (k - 1) - 1) // s + 1
           for size, (lo, hi), k, s, d in zip(spatial, pads, kernel, stride, dilation)]
    if min(out) < 1:
        raise ShapeError(f"conv: input of shape {tuple(x.shape)} is smaller than the dilated kernel "
                         f"{tuple(weight.shape)} (padding {pads}, dilation {dilation}): output size {tuple(out)}")
    for axis, (lo, hi) in enumerate(pads):
        x = _pad(x, axis + 2, lo, hi)
    # One strided slice per kernel offset: columns (batch, C_in, prod(kernel), *out).
    slices = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        key = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + s * (m - 1) + 1, s) for o, d, s, m in zip(offset, dilation, stride, out))
        slices.append(x[key])
    columns = pn.stack(slices, axis=2) if len(slices) > 1 else pn.expand_dims(slices[0], axis=2)
    positions = math.prod(out)
    per_group = group_channels * math.prod(kernel)
    columns = pn.reshape(columns, (batch, groups, per_group, positions))
    w = pn.reshape(weight, (groups, out_channels // groups, per_group))
    y = pn.reshape(pn.matmul(w, columns), (batch, out_channels, *out))   # (batch, groups, out/g, positions)
    if bias is not None:
        y = y + pn.reshape(bias, (out_channels,) + (1,) * n)
    return y


def conv1d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups: int = 1):
    """x (batch, C_in, length), weight (C_out, C_in / groups, k): see ``conv``."""
    if weight.ndim != 3:
        raise ShapeError(f"conv1d: weight must have 3 axes (out, in / groups, k), got shape {tuple(weight.shape)}")
    return conv(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups: int = 1):
    """x (batch, C_in, height, width), weight (C_out, C_in / groups, kh, kw): see ``conv``."""
    if weight.ndim != 4:
        raise ShapeError(f"conv2d: weight must have 4 axes (out, in / groups, kh, kw), got shape {tuple(weight.shape)}")
    return conv(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups)


class _ConvNd(Module):
    _spatial = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding: Any = 0,
                 dilation=1, groups: int = 1, bias: bool = True, rng: Any = None):
        if in_channels % groups or out_channels % groups:
            raise ShapeError(f"{type(self).__name__}: in_channels {in_channels} and out_channels "
                             f"{out_channels} must both be divisible by groups {groups}")
        n = self._spatial
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _tuple(kernel_size, n, "kernel_size")
        self.stride, self.dilation, self.padding = _tuple(stride, n, "stride"), _tuple(dilation, n, "dilation"), padding
        rng = init.generator(rng)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        # PyTorch's default: weight and bias uniform in +-1/sqrt(fan_in).
        bound = 1.0 / math.sqrt(init.fans(shape, in_axis=1, out_axis=0)[0])
        self.weight = init.uniform(shape, -bound, bound, rng=rng)
        self.bias = init.uniform((out_channels,), -bound, bound, rng=rng) if bias else None

    def forward(self, x):
        return conv(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                    dilation=self.dilation, groups=self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, bias={self.bias is not None}")


class Conv1d(_ConvNd):
    """1-d convolution: (batch, in_channels, length) -> (batch, out_channels, length_out)."""
    _spatial = 1


class Conv2d(_ConvNd):
    """2-d convolution: (batch, in_channels, height, width) -> (batch, out_channels, h_out, w_out)."""
    _spatial = 2
