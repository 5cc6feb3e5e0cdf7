"""Losses. Each takes ``reduction``: "mean" (the default), "sum" or "none" (per element,
or per example for the classification losses)."""
from __future__ import annotations

from .. import namespace as pn
from .._graph import Value, apply
from ..errors import ShapeError
from ..rules.nn import label_mask
from ._activations import softplus

__all__ = [
    "mse_loss", "l1_loss", "huber_loss", "binary_cross_entropy_with_logits", "cross_entropy",
    "pinball_loss", "softmax_cross_entropy",
]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction: str, what: str):
    if reduction == "mean":
        return pn.mean(loss)
    if reduction == "sum":
        return pn.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{what}: reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


def _as_value(x, like=None):
    """Labels and targets given as NumPy arrays or lists become constants on like's backend."""
    if isinstance(x, Value):
        return x
    return pn.asarray(x, backend=like.backend if isinstance(like, Value) else None)


def mse_loss(prediction, target, *, reduction: str = "mean"):
    """(prediction - target)^2."""
    diff = pn.subtract(prediction, target)
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(prediction, target, *, reduction: str = "mean"):
    """|prediction - target|."""
    return _reduce(pn.abs(pn.subtract(prediction, target)), reduction, "l1_loss")


def huber_loss(prediction, target, *, delta: float = 1.0, reduction: str = "mean"):
    """d^2 / 2 where |d| <= delta, delta (|d| - delta / 2) elsewhere; d = prediction - target
    (PyTorch's HuberLoss; optax.huber_loss is the same function)."""
    diff = pn.subtract(prediction, target)
    size = pn.abs(diff)
    loss = pn.where(size <= delta, 0.5 * (diff * diff), delta * (size - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def binary_cross_entropy_with_logits(logits, targets, *, reduction: str = "mean"):
    """-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] = softplus(x) - x y, stable for any x;
    targets y in [0, 1] (soft labels allowed), the shape of logits."""
    return _reduce(softplus(logits) - logits * targets, reduction, "binary_cross_entropy_with_logits")


def cross_entropy(logits, labels, *, label_smoothing: float = 0.0, ignore_index: int | None = None,
                  reduction: str = "mean"):
    """Softmax cross-entropy over the last axis of logits (..., classes).

    labels: integer classes of shape logits.shape[:-1], or class probabilities of the shape
    of logits. label_smoothing e mixes the target with the uniform distribution:
    (1 - e) target + e / classes (PyTorch's convention). ignore_index: examples with that
    label add nothing, and "mean" averages over the others (nan if none is left, as PyTorch).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    labels = _as_value(labels, logits)
    integer = not labels.backend.is_float(labels.dtype)
    if integer and not label_smoothing:
        loss = _per_example(logits, labels, "cross_entropy")
    else:
        loss = -pn.sum(_smoothed_target(logits, labels, label_smoothing, ignore_index, integer)
                       * pn.log_softmax(logits, axis=-1), axis=-1)
    if ignore_index is None:
        return _reduce(loss, reduction, "cross_entropy")
    kept = pn.astype(labels != ignore_index, loss.dtype)
    loss = loss * kept
    if reduction == "mean":
        return pn.sum(loss) / pn.sum(kept)
    return _reduce(loss, reduction, "cross_entropy")


def _check_integer_labels(logits, labels, what: str) -> None:
    shape = tuple(logits.shape)
    if not shape or tuple(labels.shape) != shape[:-1]:
        raise ShapeError(f"{what}: integer labels of shape {tuple(labels.shape)} do not fit logits of "
                         f"shape {shape}: expected {shape[:-1] if shape else 'logits of one axis or more'}")


def _per_example(logits, labels, what: str):
    """The softmax_cross_entropy op, after checking labels against logits (a label outside
    [0, classes), as ignore_index's, picks no class: its loss is the logsumexp)."""
    _check_integer_labels(logits, labels, what)
    return apply("softmax_cross_entropy", logits, labels)


def _smoothed_target(logits, labels, label_smoothing: float, ignore_index, integer: bool):
    """The target distribution: one-hot of integer labels, or the given probabilities,
    mixed with the uniform distribution by label_smoothing."""
    shape = tuple(logits.shape)
    classes = shape[-1]
    if integer:
        _check_integer_labels(logits, labels, "cross_entropy")
        target = pn.astype(label_mask(pn, labels, classes), logits.dtype)
    else:
        if ignore_index is not None:
            raise ValueError("cross_entropy: ignore_index applies to integer labels, not probabilities")
        if tuple(labels.shape) != shape:
            raise ShapeError(f"cross_entropy: probabilities of shape {tuple(labels.shape)} do not fit logits of shape {shape}")
        target = labels
    if label_smoothing:
        target = (1.0 - label_smoothing) * target + label_smoothing / classes
    return target


def pinball_loss(prediction, target, quantiles, *, reduction: str = "mean"):
    """Multi-quantile (pinball) loss: max(q d, (q - 1) d) with d = target - prediction.

    Computed as d * (q - [d < 0]), which is the same function in fewer ops (its
    gradient at d == 0 is q, where the max form would split the tie: q - 0.5).
    prediction: (batch, n_quantiles); target: (batch, 1) or (batch,); quantiles: (n_quantiles,).
    """
    if getattr(target, "ndim", 2) == 1:
        target = pn.reshape(target, (-1, 1))
    # Namespace calls, not operators: a raw MLX array on the left of `-` rejects a Value.
    diff = pn.subtract(target, prediction)
    below = pn.astype(diff < 0.0, diff.dtype)
    return _reduce(diff * pn.subtract(quantiles, below), reduction, "pinball_loss")


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels (...) under logits (..., classes): the plain case
    of ``cross_entropy``, one fused op and a mean."""
    return pn.mean(_per_example(logits, _as_value(labels, logits), "softmax_cross_entropy"))
