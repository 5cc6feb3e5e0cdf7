"""Scaled dot-product attention and multi-head attention."""
from __future__ import annotations

import math
from typing import Any

from .. import namespace as pn
from .._graph import Value
from ..errors import ShapeError
from ._layers import Linear
from .init import generator
from ._module import Module

__all__ = ["scaled_dot_product_attention", "MultiHeadAttention"]


def _large_negative(x: Value) -> float:
    """What masked scores become: finite, so a row with every key masked gives a uniform
    softmax rather than nan (JAX's dot_product_attention uses the same -0.7 * max)."""
    return -0.7 * float(x.backend.xp.finfo(x.dtype).max)


def scaled_dot_product_attention(query, key, value, *, mask=None, causal: bool = False, scale: float | None = None):
    """softmax(query @ key^T * scale, masked) @ value.

    query (..., L, d), key (..., S, d), value (..., S, d_v) -> (..., L, d_v); scale defaults
    to 1/sqrt(d). mask: booleans broadcastable to (..., L, S), True where a query may attend.
    causal: query i attends to keys j <= i (combined with mask when both are given).
    """
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key {tuple(key.shape)} and "
                         f"value {tuple(value.shape)} do not fit: expected (..., L, d), (..., S, d), (..., S, d_v)")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = pn.matmul(query, pn.matrix_transpose(key)) * scale
    if causal:
        on = scores.backend
        rows = on.xp.arange(query.shape[-2])
        cols = on.xp.arange(key.shape[-2])
        lower = Value._wrap(rows[:, None] >= cols[None, :], on)
        mask = lower if mask is None else pn.logical_and(_as_mask(mask, on), lower)
    if mask is not None:
        scores = pn.where(_as_mask(mask, scores.backend), scores, _large_negative(scores))
    return pn.matmul(pn.softmax(scores, axis=-1), value)


def _as_mask(mask, on):
    return mask if isinstance(mask, Value) else pn.asarray(mask, backend=on)


class MultiHeadAttention(Module):
    """Multi-head attention: queries, keys and values projected by Linear layers, split into
    ``num_heads`` heads of embed_dim / num_heads, attended (``scaled_dot_product_attention``),
    merged and projected out.

    forward(query, key=None, value=None, *, mask=None): query (..., L, embed_dim), key and
    value (..., S, embed_dim), self-attention when they are omitted; mask: booleans
    broadcastable to (..., L, S), True where a query may attend, the same for every head.
    ``causal=True`` masks future positions in every call.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True, causal: bool = False, rng: Any = None):
        if embed_dim % num_heads:
            raise ShapeError(f"MultiHeadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        rng = generator(rng)
        self.embed_dim, self.num_heads, self.causal = embed_dim, num_heads, causal
        self.query_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng)
        self.key_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng)
        self.value_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng)

    def _split(self, t):
        """(..., T, embed) -> (..., heads, T, head_dim)"""
        *lead, length, _ = t.shape
        t = pn.reshape(t, (*lead, length, self.num_heads, self.embed_dim // self.num_heads))
        n = len(lead)
        return pn.permute_dims(t, (*range(n), n + 1, n, n + 2))

    def forward(self, query, key=None, value=None, *, mask=None):
        key = query if key is None else key
        value = key if value is None else value
        if query.shape[-1] != self.embed_dim:
            raise ShapeError(f"MultiHeadAttention: query of shape {tuple(query.shape)} does not end in embed_dim {self.embed_dim}")
        q = self._split(self.query_proj(query))
        k = self._split(self.key_proj(key))
        v = self._split(self.value_proj(value))
        if mask is not None:
            mask = _as_mask(mask, q.backend)
            if mask.ndim >= 3:  # (batch..., L, S) -> (batch..., 1, L, S): the same for every head
                mask = pn.expand_dims(mask, axis=-3)
        mixed = scaled_dot_product_attention(q, k, v, mask=mask, causal=self.causal)
        n = mixed.ndim - 3
        merged = pn.permute_dims(mixed, (*range(n), n + 1, n, n + 2))   # (..., L, heads, head_dim)
        return self.out_proj(pn.reshape(merged, (*merged.shape[:-2], self.embed_dim)))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, causal={self.causal}"
