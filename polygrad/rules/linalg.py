"""Linear algebra: matmul, tensordot, matrix_transpose."""
from __future__ import annotations

from ._core import defrule, normalize_axis


# -- linear algebra ----------------------------------------------------------------------

@defrule("matmul")
def matmul(xp, a, b):
    """matrix product with array-API semantics: 1-D operands, batch broadcasting"""
    return xp.matmul(a, b)


@matmul.defchecks
def matmul_checks(shapes, attrs):
    a, b = shapes
    if not (a and b):
        return None
    inner_b = b[-2] if len(b) >= 2 else b[0]
    if a[-1] != inner_b:
        return (f"shapes {a} and {b} do not align: the last axis of the first ({a[-1]}) must equal "
                f"the {'second-to-last' if len(b) >= 2 else 'only'} axis of the second ({inner_b})")
    return None


@matmul.defvjp
def matmul_vjp(xp, g, out, a, b):
    if a.ndim >= 2 and b.ndim >= 2:
        return (lambda: xp.matmul(g, xp.matrix_transpose(b)),
                lambda: xp.matmul(xp.matrix_transpose(a), g))
    # Promote 1-D operands to matrices, as matmul itself does, then drop the axis again.
    a2 = xp.reshape(a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = xp.reshape(b, (b.shape[0], 1)) if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = xp.expand_dims(g2, axis=-2) if b.ndim >= 2 else xp.reshape(g2, (1,))
    if b.ndim == 1:
        g2 = xp.expand_dims(g2, axis=-1) if g2.ndim else xp.reshape(g2, (1, 1))
    if g2.ndim == 1:
        g2 = xp.reshape(g2, (1, 1))

    def grad_a():
        ga = xp.matmul(g2, xp.matrix_transpose(b2))
        return xp.reshape(ga, ga.shape[:-2] + (ga.shape[-1],)) if a.ndim == 1 else ga

    def grad_b():
        gb = xp.matmul(xp.matrix_transpose(a2), g2)
        return xp.reshape(gb, gb.shape[:-1]) if b.ndim == 1 else gb
    return grad_a, grad_b


def _tensordot_axes(axes, a_ndim):
    if isinstance(axes, int):
        return tuple(range(a_ndim - axes, a_ndim)), tuple(range(axes))
    first, second = axes
    return tuple(first), tuple(second)


@defrule("tensordot")
def tensordot(xp, a, b, *, axes=2):
    """contraction over axes, with array-API ``axes`` semantics (int or two sequences)"""
    return xp.tensordot(a, b, axes=axes)


@tensordot.defchecks
def tensordot_checks(shapes, attrs):
    axes = attrs.get("axes", 2)
    a, b = shapes
    if isinstance(axes, int):
        pairs = list(zip(a[len(a) - axes:], b[:axes])) if axes <= min(len(a), len(b)) else [(0, 1)]
    else:
        try:
            pairs = [(a[i], b[j]) for i, j in zip(*axes)]
        except IndexError:
            pairs = [(0, 1)]
    if any(m != n for m, n in pairs):
        return f"shapes {a} and {b} do not align over axes={axes!r}: contracted sizes must match"
    return None


@tensordot.defvjp
def tensordot_vjp(xp, g, out, a, b, *, axes=2):
    axes_a, axes_b = _tensordot_axes(axes, a.ndim)
    axes_a = tuple(normalize_axis(i, a.ndim) for i in axes_a)
    axes_b = tuple(normalize_axis(i, b.ndim) for i in axes_b)
    free_a = tuple(i for i in range(a.ndim) if i not in axes_a)
    free_b = tuple(i for i in range(b.ndim) if i not in axes_b)
    g_free_a = tuple(range(len(free_a)))
    g_free_b = tuple(range(len(free_a), g.ndim))
    pair_of_b = dict(zip(axes_b, axes_a))
    pair_of_a = dict(zip(axes_a, axes_b))

    def grad_a():
        # Axes of the result: a's free axes, then b's contracted axes in b's order.
        ga = xp.tensordot(g, b, axes=(g_free_b, free_b))
        order = free_a + tuple(pair_of_b[i] for i in sorted(axes_b))
        return xp.permute_dims(ga, tuple(sorted(range(a.ndim), key=order.__getitem__)))

    def grad_b():
        # Axes of the result: a's contracted axes in a's order, then b's free axes.
        gb = xp.tensordot(a, g, axes=(free_a, g_free_a))
        order = tuple(pair_of_a[i] for i in sorted(axes_a)) + free_b
        return xp.permute_dims(gb, tuple(sorted(range(b.ndim), key=order.__getitem__)))
    return grad_a, grad_b
