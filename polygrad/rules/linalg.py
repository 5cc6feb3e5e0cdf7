"""Linear algebra: matmul, tensordot, matrix_transpose, and the ``linalg`` extension's
decompositions, inverses and solves (op names "linalg.<name>").

Every rule works on stacks of matrices (leading batch axes). Conventions, as JAX's:

- cholesky, eigh and eigvalsh read the symmetric part ``(x + x^T) / 2`` of their input
  (JAX's ``symmetrize_input``), so their gradients are symmetric and exact for any input
  (NumPy reads one triangle only, which would make the gradient depend on the triangle).
- eigh and svd are differentiable where the eigen/singular values are distinct. Where two
  are equal (to ``n * eps`` of the largest) and the eigen/singular *vectors* receive a
  cotangent, the vjp raises a GradientError: the vectors are not unique there and the
  formulas divide by the gap (JAX returns inf/nan). Eigen/singular values alone are
  always differentiable.
- svd with ``full_matrices=True`` on a non-square matrix, and qr with ``mode="complete"``
  on a tall one, raise a GradientError when the vectors receive a cotangent (the extra
  columns are an arbitrary basis); use ``full_matrices=False`` / ``mode="reduced"``.
- The decompositions, pinv and slogdet differentiate real inputs; their complex
  gradients (which need conjugates) raise a GradientError. inv, solve, det and cross are
  holomorphic and follow JAX's complex convention with the same formulas.

Multi-output rules (eigh, svd, qr, slogdet) return a tuple; see rules/outputs.py.
"""
from __future__ import annotations

from ..errors import GradientError
from ._core import defrule, normalize_axis, scalar


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


# -- the linalg extension: helpers ----------------------------------------------------------

def _mT(xp, a):
    return xp.matrix_transpose(a)


def _symmetric_part(xp, a):
    return (a + xp.matrix_transpose(a)) * scalar(xp, 0.5, a)


def _lower_mask(xp, n, dtype, diagonal):
    """An n x n matrix: 1 below the diagonal, ``diagonal`` on it, 0 above."""
    index = xp.arange(n)
    below = xp.astype(index[:, None] > index[None, :], dtype)
    return below + xp.eye(n, dtype=dtype) * scalar(xp, diagonal, below)


def _off_diagonal_inverse(xp, gaps, eye):
    """1 / gaps off the diagonal, 0 on it (gaps' diagonal is 0)."""
    return scalar(xp, 1.0, gaps) / (gaps + eye) - eye


def _real_only(op, xp, x):
    if xp.isdtype(x.dtype, "complex floating"):
        raise GradientError(
            f"{op}: gradients of complex inputs are not implemented (input dtype {x.dtype}); "
            "real inputs are differentiable"
        )


def _require_distinct(xp, values, op, what, *, nonzero=False):
    """Raise a GradientError where two of the sorted ``values`` (last axis) are equal to
    within n * eps of the largest, or (``nonzero``) one is that close to 0: the vectors'
    gradient divides by these gaps. One host synchronisation per call."""
    n = values.shape[-1]
    if n == 0:
        return
    magnitude = xp.abs(values)
    tol = xp.max(magnitude, axis=-1, keepdims=True) * scalar(xp, n * xp.finfo(values.dtype).eps, values)
    degenerate = None
    if n >= 2:
        degenerate = xp.any(xp.abs(values[..., 1:] - values[..., :-1]) <= tol)
        if bool(degenerate):
            raise GradientError(
                f"{op}: two {what} are equal (to within n * eps of the largest), so the "
                f"{'eigenvectors' if 'eigen' in what else 'singular vectors'} are not unique and have no "
                "gradient there; differentiate only the values "
                f"({'eigvalsh' if 'eigen' in what else 'svdvals'}), or perturb the input"
            )
    if nonzero and bool(xp.any(magnitude <= tol)):
        raise GradientError(
            f"{op}: a singular value is 0 (to within n * eps of the largest) in a non-square "
            "matrix, so the singular vectors beyond its rank have no gradient"
        )


# -- cholesky, inverses, determinants, solves ------------------------------------------------

@defrule("linalg.cholesky")
def cholesky(xp, x, *, upper=False):
    """the Cholesky factor (lower, or upper with upper=True) of the symmetric part of x"""
    return xp.linalg.cholesky(_symmetric_part(xp, x), upper=upper)


@cholesky.defvjp
def cholesky_vjp(xp, g, out, x, *, upper=False):
    _real_only("linalg.cholesky", xp, x)
    lower, g_lower = (_mT(xp, out), _mT(xp, g)) if upper else (out, g)
    # Murray (2016): x_bar = L^-T Phi(L^T L_bar) L^-1, Phi = lower triangle, half diagonal
    phi = (_mT(xp, lower) @ g_lower) * _lower_mask(xp, lower.shape[-1], lower.dtype, 0.5)
    inverse = xp.linalg.inv(lower)
    return (_symmetric_part(xp, _mT(xp, inverse) @ phi @ inverse),)


@defrule("linalg.inv")
def inv(xp, x):
    """the inverse of each square matrix"""
    return xp.linalg.inv(x)


@inv.defvjp
def inv_vjp(xp, g, out, x):
    out_t = _mT(xp, out)
    return (-(out_t @ g @ out_t),)


@defrule("linalg.det")
def det(xp, x):
    """the determinant of each square matrix"""
    return xp.linalg.det(x)


@det.defvjp
def det_vjp(xp, g, out, x):
    return ((g * out)[..., None, None] * _mT(xp, xp.linalg.inv(x)),)


@defrule("linalg.slogdet")
def slogdet(xp, x):
    """(sign, log |det|) of each square matrix"""
    sign, logabsdet = xp.linalg.slogdet(x)
    return (sign, logabsdet)


@slogdet.defvjp
def slogdet_vjp(xp, g, out, x):
    _real_only("linalg.slogdet", xp, x)
    g_logabsdet = g[1]  # the sign is piecewise constant: no gradient
    if g_logabsdet is None:
        return (None,)
    return (g_logabsdet[..., None, None] * _mT(xp, xp.linalg.inv(x)),)


def _square_checks(shapes, attrs):
    shape = shapes[0]
    if len(shape) < 2 or shape[-1] != shape[-2]:
        return f"needs square matrices (..., M, M), got shape {shape}"
    return None


for _rule in (inv, det, slogdet, cholesky):
    _rule.defchecks(_square_checks)


@defrule("linalg.solve")
def solve(xp, x1, x2):
    """X with x1 @ X = x2; x2 of shape (M,) is one vector for every matrix of x1"""
    return xp.linalg.solve(x1, x2)


@solve.defchecks
def solve_checks(shapes, attrs):
    a, b = shapes
    if len(a) < 2 or a[-1] != a[-2]:
        return f"x1 must be square matrices (..., M, M), got shape {a}"
    rows = b[0] if len(b) == 1 else (b[-2] if len(b) >= 2 else None)
    if rows != a[-1]:
        return f"shapes {a} and {b} do not align: x2 needs {a[-1]} rows (shape (M,) or (..., M, K))"
    return None


@solve.defvjp
def solve_vjp(xp, g, out, x1, x2):
    vector = x2.ndim == 1
    g_b = xp.linalg.solve(_mT(xp, x1), g[..., None] if vector else g)
    solution = out[..., None] if vector else out
    return (lambda: -(g_b @ _mT(xp, solution)), g_b[..., 0] if vector else g_b)


@defrule("linalg.pinv")
def pinv(xp, x, *, rtol=None):
    """the Moore-Penrose pseudo-inverse; singular values below rtol * the largest count as 0"""
    return xp.linalg.pinv(x, rtol=rtol)


@pinv.defvjp
def pinv_vjp(xp, g, out, x, *, rtol=None):
    """Golub & Pereyra (1973), for a rank that does not change near x."""
    _real_only("linalg.pinv", xp, x)
    m, n = x.shape[-2:]
    out_t, g_t = _mT(xp, out), _mT(xp, g)
    left = xp.eye(m, dtype=x.dtype) - x @ out    # I - x x+
    right = xp.eye(n, dtype=x.dtype) - out @ x   # I - x+ x
    return (-(out_t @ g @ out_t) + left @ g_t @ (out @ out_t) + (out_t @ out) @ g_t @ right,)


@defrule("linalg.matrix_rank")
def matrix_rank(xp, x, *, rtol=None):
    """the number of singular values above rtol * the largest (no gradient)"""
    return xp.linalg.matrix_rank(x, rtol=rtol)


@defrule("linalg.cross", broadcasts=True)
def cross(xp, x1, x2, *, axis=-1):
    """the cross product of 3-vectors along axis"""
    return xp.linalg.cross(x1, x2, axis=axis)


@cross.defvjp
def cross_vjp(xp, g, out, x1, x2, *, axis=-1):
    # g . (a x b) = a . (b x g) = b . (g x a)
    return (lambda: xp.linalg.cross(x2, g, axis=axis), lambda: xp.linalg.cross(g, x1, axis=axis))


# -- eigen and singular value decompositions ---------------------------------------------------

@defrule("linalg.eigh")
def eigh(xp, x):
    """(eigenvalues ascending, eigenvectors as columns) of the symmetric part of x"""
    values, vectors = xp.linalg.eigh(_symmetric_part(xp, x))
    return (values, vectors)


@eigh.defvjp
def eigh_vjp(xp, g, out, x):
    _real_only("linalg.eigh", xp, x)
    g_values, g_vectors = g
    values, vectors = out
    eye = xp.eye(values.shape[-1], dtype=values.dtype)
    inner = None
    if g_values is not None:
        inner = eye * g_values[..., None, :]  # diag(g_values)
    if g_vectors is not None:
        _require_distinct(xp, values, "linalg.eigh", "eigenvalues")
        # F[i, j] = 1 / (w_j - w_i) off the diagonal
        f = _off_diagonal_inverse(xp, values[..., None, :] - values[..., :, None], eye)
        term = f * (_mT(xp, vectors) @ g_vectors)
        inner = term if inner is None else inner + term
    return (_symmetric_part(xp, vectors @ inner @ _mT(xp, vectors)),)


@defrule("linalg.eigvalsh")
def eigvalsh(xp, x):
    """the eigenvalues (ascending) of the symmetric part of x"""
    return xp.linalg.eigvalsh(_symmetric_part(xp, x))


@eigvalsh.defvjp
def eigvalsh_vjp(xp, g, out, x):
    vectors = xp.linalg.eigh(_symmetric_part(xp, x))[1]  # the forward computed only the values
    return ((vectors * g[..., None, :]) @ _mT(xp, vectors),)


@defrule("linalg.svd")
def svd(xp, x, *, full_matrices=True):
    """(U, S, Vh): x = U diag(S) Vh, singular values descending"""
    u, s, vh = xp.linalg.svd(x, full_matrices=full_matrices)
    return (u, s, vh)


@svd.defvjp
def svd_vjp(xp, g, out, x, *, full_matrices=True):
    _real_only("linalg.svd", xp, x)
    g_u, g_s, g_vh = g
    u, s, vh = out
    m, n = x.shape[-2:]
    k = min(m, n)
    if full_matrices and m != n:
        if g_u is not None or g_vh is not None:
            raise GradientError(
                f"linalg.svd: with full_matrices=True the last {abs(m - n)} singular vectors of a "
                f"{m} x {n} matrix are an arbitrary basis and have no gradient; use full_matrices=False"
            )
        u, vh = u[..., :, :k], vh[..., :k, :]
    return (lambda: _svd_backward(xp, u, s, vh, g_u, g_s, g_vh, m, n),)


def _svd_backward(xp, u, s, vh, g_u, g_s, g_vh, m, n):
    """The reduced SVD's vjp (real): with J = U^T gU, K = V^T gV, F[i, j] = 1/(s_j^2 - s_i^2),

    gA = U [diag(gS) + (F o (J - J^T)) S + S (F o (K - K^T))] V^T
         + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T)
    """
    k = s.shape[-1]
    eye = xp.eye(k, dtype=s.dtype)
    inner = eye * g_s[..., None, :] if g_s is not None else None
    extra = None
    if g_u is not None or g_vh is not None:
        _require_distinct(xp, s, "linalg.svd", "singular values",
                          nonzero=(g_u is not None and m > k) or (g_vh is not None and n > k))
        squares = s * s
        f = _off_diagonal_inverse(xp, squares[..., None, :] - squares[..., :, None], eye)
        s_row = s[..., None, :]
        terms = []
        if g_u is not None:
            j = _mT(xp, u) @ g_u
            terms.append((f * (j - _mT(xp, j))) * s_row)
            if m > k:
                extra = ((g_u - u @ j) / s_row) @ vh
        if g_vh is not None:
            g_v = _mT(xp, g_vh)
            kk = vh @ g_v
            terms.append(_mT(xp, s_row) * (f * (kk - _mT(xp, kk))))
            if n > k:
                term = (u / s_row) @ (g_vh - _mT(xp, kk) @ vh)  # U S^-1 ((I - V V^T) gV)^T
                extra = term if extra is None else extra + term
        for term in terms:
            inner = term if inner is None else inner + term
    result = u @ inner @ vh
    return result if extra is None else result + extra


@defrule("linalg.svdvals")
def svdvals(xp, x):
    """the singular values, descending"""
    return xp.linalg.svdvals(x)


@svdvals.defvjp
def svdvals_vjp(xp, g, out, x):
    _real_only("linalg.svdvals", xp, x)
    u, _, vh = xp.linalg.svd(x, full_matrices=False)  # the forward computed only the values
    return ((u * g[..., None, :]) @ vh,)


@defrule("linalg.qr")
def qr(xp, x, *, mode="reduced"):
    """(Q, R): x = Q R, Q with orthonormal columns, R upper triangular"""
    q, r = xp.linalg.qr(x, mode=mode)
    return (q, r)


@qr.defvjp
def qr_vjp(xp, g, out, x, *, mode="reduced"):
    _real_only("linalg.qr", xp, x)
    g_q, g_r = g
    q, r = out
    m, n = x.shape[-2:]
    if mode == "complete" and m > n:
        if g_q is not None:
            raise GradientError(
                f"linalg.qr: with mode='complete' the last {m - n} columns of Q of a {m} x {n} "
                "matrix are an arbitrary basis and have no gradient; use mode='reduced'"
            )
        q, r = q[..., :, :n], r[..., :n, :]
        g_r = g_r[..., :n, :]
    g_q = xp.zeros_like(q) if g_q is None else g_q
    g_r = xp.zeros_like(r) if g_r is None else g_r
    return (lambda: _qr_backward(xp, x, q, r, g_q, g_r),)


def _qr_backward(xp, x, q, r, g_q, g_r):
    m, n = x.shape[-2:]
    if m >= n:
        return _qr_backward_tall(xp, q, r, g_q, g_r)
    # wide: x = [x1 | y], R = [R1 | R2] with x1 = Q R1 square and y = Q R2
    g_r2 = g_r[..., :, m:]
    g_q = g_q + x[..., :, m:] @ _mT(xp, g_r2)
    g_x1 = _qr_backward_tall(xp, q, r[..., :, :m], g_q, g_r[..., :, :m])
    return xp.concat([g_x1, q @ g_r2], axis=-1)


def _qr_backward_tall(xp, q, r, g_q, g_r):
    """m >= n: M = R gR^T - gQ^T Q; gA = (gQ + Q copyltu(M)) R^-T (Walter & Lehmann 2018),
    copyltu(M) the symmetric matrix with M's lower triangle."""
    n = r.shape[-1]
    mm = r @ _mT(xp, g_r) - _mT(xp, g_q) @ q
    below = mm * _lower_mask(xp, n, mm.dtype, 0.0)
    copyltu = below + _mT(xp, below) + mm * xp.eye(n, dtype=mm.dtype)
    b = g_q + q @ copyltu
    return _mT(xp, xp.linalg.solve(r, _mT(xp, b)))  # b R^-T
