"""Linear, MLP, Embedding, LayerNorm, RMSNorm, Dropout, and their functional forms.

Parameters are drawn on the host (``pg.nn.init``), so the same seed gives the same model
on every backend; the layers compute only through polygrad's namespace.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .. import namespace as pn
from .._graph import Value
from ..errors import ShapeError
from . import init
from ._module import Module

__all__ = [
    "Linear", "MLP", "Embedding", "LayerNorm", "RMSNorm", "Dropout",
    "linear", "embedding", "layer_norm", "rms_norm", "dropout",
]


# -- functional forms ----------------------------------------------------------------------

def linear(x, weight, bias=None):
    """x (..., in) @ weight (in, out) + bias (out,) -> (..., out)."""
    y = pn.matmul(x, weight)
    return y if bias is None else y + bias


def embedding(indices, weight):
    """Rows of weight (num, dim) picked by integer indices of any shape -> indices.shape + (dim,).
    The gradient adds up into rows picked more than once."""
    if not isinstance(indices, Value):
        indices = pn.asarray(indices, backend=weight.backend)
    rows = pn.take(weight, pn.reshape(indices, (-1,)), axis=0)
    return pn.reshape(rows, tuple(indices.shape) + (weight.shape[-1],))


def _norm_axes(x, normalized_shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    k = len(normalized_shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ShapeError(f"{what}: input of shape {tuple(x.shape)} does not end in the normalized shape {normalized_shape}")
    return tuple(range(x.ndim - k, x.ndim))


def _as_shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """(x - mean) / sqrt(var + eps) over the trailing axes ``normalized_shape``, then
    * weight + bias (both of that shape, optional). var is the biased variance."""
    axes = _norm_axes(x, _as_shape(normalized_shape), "layer_norm")
    centered = x - pn.mean(x, axis=axes, keepdims=True)
    y = centered / pn.sqrt(pn.mean(centered * centered, axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def rms_norm(x, normalized_shape, weight=None, eps: float = 1e-5):
    """x / sqrt(mean(x^2) + eps) over the trailing axes ``normalized_shape``, then * weight."""
    axes = _norm_axes(x, _as_shape(normalized_shape), "rms_norm")
    y = x / pn.sqrt(pn.mean(x * x, axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight


def dropout(x, p: float, *, rng: Any, training: bool = True):
    """Zero each element with probability p and scale the rest by 1 / (1 - p).

    The mask is drawn on the host from ``rng`` (a NumPy Generator or an int seed:
    ``rng.random(x.shape) >= p``) and moved to x's backend, so a seed gives the same mask
    on every backend. Off (x itself) when not ``training`` or p == 0. In a replayed graph
    (placeholders, ``forward(**feeds)``) the mask drawn when the graph was built is reused.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if not isinstance(x, Value):
        x = pn.asarray(x)
    if None in x.shape:
        raise ShapeError("dropout: needs a known shape; feed the placeholders before building dropout")
    keep = init.generator(rng).random(x.shape) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    name = init.float_name(x.dtype, x.backend)
    mask = Value(np.where(keep, scale, 0.0).astype(name), dtype=name, requires_grad=False, backend=x.backend)
    return x * mask


# -- modules ---------------------------------------------------------------------------------

class Linear(Module):
    """y = x @ weight + bias, weight of shape (in_features, out_features).

    Initialised as PyTorch's nn.Linear: weight and bias uniform in +-1/sqrt(in_features)
    (drawn in that order from ``rng``).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, rng: Any = None):
        rng = init.generator(rng)
        bound = 1.0 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = init.uniform((in_features, out_features), -bound, bound, rng=rng)
        self.bias = init.uniform((out_features,), -bound, bound, rng=rng) if bias else None

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class MLP(Module):
    """Linear layers with an activation between them (none after the last)."""

    def __init__(self, sizes: Sequence[int], *, activation: Callable = pn.relu, rng: Any = None):
        rng = init.generator(rng)
        self.layers = [Linear(a, b, rng=rng) for a, b in zip(sizes[:-1], sizes[1:])]
        self.activation = activation

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x


class Embedding(Module):
    """A table of num_embeddings vectors of size embedding_dim, looked up by integer index:
    indices (...) -> (..., embedding_dim). Initialised N(0, 1), as PyTorch's."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng: Any = None):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = init.normal((num_embeddings, embedding_dim), rng=rng)

    def forward(self, indices):
        return embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (see ``layer_norm``);
    weight starts at ones, bias at zeros."""

    def __init__(self, normalized_shape: int | Sequence[int], *, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True):
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.weight = init.ones(self.normalized_shape) if elementwise_affine else None
        self.bias = init.zeros(self.normalized_shape) if elementwise_affine and bias else None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes (see
    ``rms_norm``); weight starts at ones."""

    def __init__(self, normalized_shape: int | Sequence[int], *, eps: float = 1e-5, elementwise_affine: bool = True):
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.weight = init.ones(self.normalized_shape) if elementwise_affine else None

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class Dropout(Module):
    """Dropout with its own seeded NumPy Generator: ``Dropout(0.1, seed=0)``. Each call in
    training mode draws the next mask (see ``dropout``); in eval mode it is the identity."""

    def __init__(self, p: float = 0.5, *, seed: Any = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p = p
        self._rng = init.generator(seed)

    def forward(self, x):
        return dropout(x, self.p, rng=self._rng, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
