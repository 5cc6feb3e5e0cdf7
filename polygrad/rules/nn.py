"""Neural-network functions (named as in JAX): sigmoid, relu, softmax, log_softmax, logsumexp;
and softmax_cross_entropy, fused as PyTorch's cross_entropy and optax's (integer labels)."""
from __future__ import annotations


from ._core import defrule, gradient_mask, kept_shape, normalize_axes, reduced_count, scalar


@defrule("sigmoid")
def sigmoid(xp, x):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so it never overflows"""
    e = xp.exp(xp.negative(xp.abs(x)))
    one = scalar(xp, 1.0, e)
    return xp.where(x >= scalar(xp, 0.0, x), one / (one + e), e / (one + e))


@sigmoid.defvjp
def sigmoid_vjp(xp, g, out, x):
    return (g * out * (scalar(xp, 1.0, out) - out),)


@defrule("relu")
def relu(xp, x):
    """max(x, 0); its gradient at 0 is 0, as jax.nn.relu's"""
    return xp.maximum(x, scalar(xp, 0.0, x))


@relu.defvjp
def relu_vjp(xp, g, out, x):
    # A multiply by the 0/1 mask: NumPy's where() is about 4x slower on large arrays.
    return (g * gradient_mask(xp, x > scalar(xp, 0.0, x), g.dtype),)


def _max_shift(xp, x, axis):
    """max(x) over axis (kept), the shift that keeps exp from overflowing; over an empty
    axis, where max has no value, 0 (JAX's softmax and logsumexp accept empty axes)."""
    if reduced_count(x.shape, axis) == 0:
        return xp.zeros(kept_shape(x.shape, axis), dtype=x.dtype)
    return xp.max(x, axis=axis, keepdims=True)


def _finite_shift(xp, x, axis):
    """_max_shift, with 0 where the max is not finite (a row of -inf stays -inf, not nan)."""
    shift = _max_shift(xp, x, axis)
    return xp.where(xp.isfinite(shift), shift, scalar(xp, 0.0, shift))


@defrule("logsumexp")
def logsumexp(xp, x, *, axis=None, keepdims=False):
    """log(sum(exp(x))) over axis, shifted by the max so it cannot overflow; -inf over an empty axis"""
    shift = _finite_shift(xp, x, axis)
    total = xp.sum(xp.exp(x - shift), axis=axis, keepdims=True)
    out = xp.log(total) + shift
    return out if keepdims else xp.squeeze(out, axis=normalize_axes(axis, x.ndim))


@logsumexp.defvjp
def logsumexp_vjp(xp, g, out, x, *, axis=None, keepdims=False):
    # softmax(x), from x shifted by its max as in the forward (and in JAX), not exp(x - out):
    # out is rounded at its own magnitude (5e-4 at 1e4 in float32), x - out would carry that.
    e = xp.exp(x - _finite_shift(xp, x, axis))
    return (xp.reshape(g, kept_shape(x.shape, axis)) * (e / xp.sum(e, axis=axis, keepdims=True)),)


@defrule("softmax")
def softmax(xp, x, *, axis=-1):
    """exp(x) / sum(exp(x)) along axis, shifted by the max"""
    e = xp.exp(x - _max_shift(xp, x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


@softmax.defvjp
def softmax_vjp(xp, g, out, x, *, axis=-1):
    return (out * (g - xp.sum(g * out, axis=axis, keepdims=True)),)


@defrule("log_softmax")
def log_softmax(xp, x, *, axis=-1):
    """x - logsumexp(x) along axis, shifted by the max"""
    shifted = x - _max_shift(xp, x, axis)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


@log_softmax.defvjp
def log_softmax_vjp(xp, g, out, x, *, axis=-1):
    return (g - xp.exp(out) * xp.sum(g, axis=axis, keepdims=True),)


def label_mask(xp, labels, classes: int):
    """True where the position along the class axis is the label. A label outside
    [0, classes) matches no position (cross_entropy's ignore_index relies on it)."""
    return xp.expand_dims(labels, axis=-1) == xp.arange(classes, dtype=labels.dtype)


@defrule("softmax_cross_entropy")
def softmax_cross_entropy(xp, logits, labels):
    """-log_softmax(logits)[label] along the last axis: one loss per example, for integer labels
    of shape logits.shape[:-1]; one op (as PyTorch's and optax's) where the composition takes ~10"""
    shifted = logits - _max_shift(xp, logits, -1)
    total = xp.log(xp.sum(xp.exp(shifted), axis=-1))
    # the label's logit picked by where, not by a one-hot product: -inf (a masked class) * 0 is nan
    picked = xp.where(label_mask(xp, labels, logits.shape[-1]), shifted, scalar(xp, 0.0, shifted))
    return total - xp.sum(picked, axis=-1)


@softmax_cross_entropy.defvjp
def softmax_cross_entropy_vjp(xp, g, out, logits, labels):
    # softmax - one_hot, with the softmax recomputed from the max shift as the forward's
    # (from out, lse - x[label], it would carry lse's rounding: 1e-3 at 1e4 in float32)
    e = xp.exp(logits - _max_shift(xp, logits, -1))
    probs = e / xp.sum(e, axis=-1, keepdims=True)
    one_hot = xp.astype(label_mask(xp, labels, logits.shape[-1]), probs.dtype)
    return xp.expand_dims(g, axis=-1) * (probs - one_hot), None
