"""The linalg extension: gradients in float64 against central differences (batched, 1x1 and
non-contiguous matrices), the degenerate eigen/singular values that must raise, composite
models against jax.grad, multi-output nodes in the engine, shape errors.

``GRADCHECK_CASES`` also feeds test_gradients.py's coverage test (every rule with a vjp
has a case that runs it).
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, requires_jax, to_numpy
from polygrad.testing import gradcheck

la = pg.linalg
_rng = np.random.default_rng(20241210)


# -- well-conditioned inputs ------------------------------------------------------------------

def _orthogonal(*batch, n):
    return np.linalg.qr(_rng.normal(size=batch + (n, n)))[0]


def general(*batch, n=3):
    """A square matrix with singular values 0.7, 1.4, 2.1..., either sign of det."""
    s = 0.7 * np.arange(1, n + 1)
    return (_orthogonal(*batch, n=n) * s) @ np.swapaxes(_orthogonal(*batch, n=n), -1, -2)


def symmetric(*batch, n=3, low=-2.0):
    """A symmetric matrix with eigenvalues low, low + 1.3, ... (apart)."""
    q = _orthogonal(*batch, n=n)
    return (q * (low + 1.3 * np.arange(n))) @ np.swapaxes(q, -1, -2)


def spd(*batch, n=3):
    return symmetric(*batch, n=n, low=0.5)


def rectangular(*batch, m, n):
    """m x n with singular values 0.8, 1.6, ... (apart, nonzero)."""
    k = min(m, n)
    u, v = _orthogonal(*batch, n=m)[..., :k], _orthogonal(*batch, n=n)[..., :k]
    return (u * (0.8 * np.arange(1, k + 1))) @ np.swapaxes(v, -1, -2)


def transposed(a):
    """The same matrix as a non-contiguous view (the transpose of its transpose's copy)."""
    view = np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)
    assert not view.flags.c_contiguous
    return view


def strided(a):
    """The same matrix as every other row of a larger array."""
    wide = np.zeros(a.shape[:-2] + (2 * a.shape[-2], a.shape[-1]))
    wide[..., ::2, :] = a
    view = wide[..., ::2, :]
    assert not view.flags.c_contiguous
    return view


# Eigen/singular vectors are unique up to sign: a gradient check differentiates them through
# a sign normalisation (sum of cubes positive), which is locally constant.
def _unique_columns(v):
    return v * pg.sign(pg.sum(v * v * v, axis=-2, keepdims=True))


def _unique_rows(v):
    return v * pg.sign(pg.sum(v * v * v, axis=-1, keepdims=True))


def _eigh_both(x):
    w, v = la.eigh(x)
    return _unique_columns(v) * w[..., None, :]


def _svd_all(x):
    u, s, vh = la.svd(x, full_matrices=False)
    return pg.concat([pg.reshape(_unique_columns(u), u.shape[:-2] + (-1,)), s,
                      pg.reshape(_unique_rows(vh), vh.shape[:-2] + (-1,))], axis=-1)


def _qr_both(x):
    q, r = la.qr(x)
    return pg.concat([pg.reshape(_unique_columns(q), q.shape[:-2] + (-1,)),
                      pg.reshape(_unique_rows(r), r.shape[:-2] + (-1,))], axis=-1)


GRADCHECK_CASES = [
    ("cholesky[batched]", la.cholesky, (spd(2, n=3),)),
    ("cholesky[upper, strided]", lambda x: la.cholesky(x, upper=True), (strided(spd(n=3)),)),
    ("cholesky[1x1]", la.cholesky, (spd(n=1),)),
    ("inv[transposed]", la.inv, (transposed(general(n=3)),)),
    ("inv[batched]", la.inv, (general(2, n=2),)),
    ("det[batched]", la.det, (general(2, n=3),)),
    ("det[1x1]", la.det, (general(n=1),)),
    ("slogdet[logabsdet and sign]", lambda x: la.slogdet(x).logabsdet * la.slogdet(x).sign, (general(2, n=3),)),
    ("solve[vector, batched x1]", la.solve, (general(2, n=3), _rng.normal(size=3))),
    ("solve[matrices broadcast]", la.solve, (transposed(general(n=3)), _rng.normal(size=(2, 3, 2)))),
    ("pinv[tall]", la.pinv, (rectangular(m=3, n=2),)),
    ("pinv[wide, batched]", la.pinv, (rectangular(2, m=2, n=3),)),
    ("cross[broadcast]", la.cross, (_rng.normal(size=(2, 3)), _rng.normal(size=3))),
    ("cross[axis -2]", lambda a, b: la.cross(a, b, axis=-2), (_rng.normal(size=(3, 2)), _rng.normal(size=(3, 2)))),
    ("eigh[batched, both outputs]", _eigh_both, (symmetric(2, n=3),)),
    ("eigh[eigenvalues only, transposed]", lambda x: la.eigh(x).eigenvalues, (transposed(symmetric(n=3)),)),
    ("eigh[1x1]", _eigh_both, (symmetric(n=1),)),
    ("eigh[not symmetric: reads the symmetric part]", _eigh_both, (symmetric(n=3) + np.triu(_rng.normal(size=(3, 3))),)),
    ("eigvalsh[batched]", la.eigvalsh, (symmetric(2, n=3),)),
    ("svd[tall, batched]", _svd_all, (rectangular(2, m=3, n=2),)),
    ("svd[wide]", _svd_all, (rectangular(m=2, n=3),)),
    ("svd[square, full_matrices]", lambda x: _unique_columns(la.svd(x).U) * la.svd(x).S, (strided(general(n=3)),)),
    ("svd[1x1]", _svd_all, (general(n=1),)),
    ("svdvals[wide, batched]", la.svdvals, (rectangular(2, m=2, n=3),)),
    ("qr[tall, batched]", _qr_both, (rectangular(2, m=3, n=2),)),
    ("qr[wide]", _qr_both, (np.concatenate([general(n=2), _rng.normal(size=(2, 1))], axis=-1),)),
    ("qr[R of complete, tall]", lambda x: _unique_rows(la.qr(x, mode="complete").R), (rectangular(m=3, n=2),)),
    ("diagonal[offsets]", lambda x: pg.concat([la.diagonal(x, offset=1), la.diagonal(x, offset=-1)], axis=-1),
     (_rng.normal(size=(2, 3, 3)),)),
    ("trace[offset, wide]", lambda x: la.trace(x, offset=1), (_rng.normal(size=(2, 3, 4)),)),
    ("outer", la.outer, (_rng.normal(size=3), _rng.normal(size=2))),
    ("matrix_power[5]", lambda x: la.matrix_power(x, 5), (0.7 * general(n=2),)),
    ("matrix_power[-2, batched]", lambda x: la.matrix_power(x, -2), (general(2, n=2),)),
    ("vector_norm[axis, ord 3]", lambda x: la.vector_norm(x, axis=-1, ord=3), (_rng.normal(size=(2, 3)),)),
    ("vector_norm[2, all axes, keepdims]", lambda x: la.vector_norm(x, keepdims=True), (_rng.normal(size=(2, 3)),)),
    ("matrix_norm[fro and nuc]", lambda x: la.matrix_norm(x) + la.matrix_norm(x, ord="nuc"), (rectangular(2, m=2, n=3),)),
    ("matrix_norm[2, -1, inf]", lambda x: la.matrix_norm(x, ord=2) + la.matrix_norm(x, ord=-1)
     + la.matrix_norm(x, ord=float("inf"), keepdims=True)[..., 0, 0], (_rng.normal(size=(3, 2)),)),
]


# On jax every new (op, shape) costs XLA compiles (~0.1 s each, dozens per decomposition's
# vjp): there a few cases run, and conformance/ checks every linalg rule against JAX and
# finite differences.
ON_JAX = {"eigh[batched, both outputs]", "qr[wide]"}
ON_JAX_ONLY = pytest.mark.skip(reason="jax: XLA compiles per op and shape make this slow; "
                                      "conformance/ checks the rules it uses on jax")
not_on_jax = pytest.mark.skipif(BACKEND == "jax", reason="jax: XLA compiles per op and shape make this slow; "
                                                         "the other backends run it, conformance/ checks the rules on jax")


def _cases(cases):
    return [pytest.param(f, a, id=name, marks=[ON_JAX_ONLY] if BACKEND == "jax" and name not in ON_JAX else [])
            for name, f, a in cases]


@pytest.mark.parametrize("f, args", _cases(GRADCHECK_CASES))
def test_gradcheck(float64, f, args):
    gradcheck(f, *args)


def test_case_ids_are_unique():
    names = [name for name, _, _ in GRADCHECK_CASES]
    assert len(names) == len(set(names))


# -- the degenerate cases raise, the values stay differentiable --------------------------------

def test_eigh_repeated_eigenvalues_raise_for_eigenvectors(float64):
    x = pg.Value(np.diag([1.0, 1.0, 3.0]))
    w, v = la.eigh(x)
    with pytest.raises(pg.GradientError, match=r"linalg\.eigh: two eigenvalues are equal.*eigvalsh"):
        pg.sum(v[..., 0] * np.array([1.0, 2.0, 3.0])).backward()
    # the eigenvalues alone are differentiable there: V diag(g) V^T
    x = pg.Value(np.diag([1.0, 1.0, 3.0]))
    pg.sum(la.eigh(x).eigenvalues * np.array([1.0, 2.0, 3.0])).backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.diag([1.0, 2.0, 3.0]), atol=1e-12)


@not_on_jax
def test_svd_repeated_singular_values_raise_for_vectors(float64):
    x = pg.Value(np.array([[2.0, 0.0], [0.0, -2.0]]))  # singular values 2, 2
    with pytest.raises(pg.GradientError, match=r"linalg\.svd: two singular values are equal.*svdvals"):
        pg.sum(la.svd(x).U).backward()
    pg.sum(la.svdvals(x)).backward()  # the values are fine
    assert np.all(np.isfinite(to_numpy(x.grad)))


@not_on_jax
def test_rank_deficient_non_square_svd_raises_for_vectors(float64):
    x = pg.Value(np.array([[3.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))  # rank 1, 3 x 2
    with pytest.raises(pg.GradientError, match=r"a singular value is 0"):
        pg.sum(la.svd(x, full_matrices=False).U).backward()


@not_on_jax
def test_arbitrary_bases_have_no_gradient(float64):
    """full_matrices=True on a non-square matrix, mode="complete" on a tall one: the extra
    vectors are any basis of a complement (JAX raises too); the values stay differentiable."""
    x = pg.Value(rectangular(m=3, n=2))
    with pytest.raises(pg.GradientError, match="full_matrices=False"):
        pg.sum(la.svd(x).U).backward()
    with pytest.raises(pg.GradientError, match="mode='reduced'"):
        pg.sum(la.qr(x, mode="complete").Q).backward()
    pg.sum(la.svd(x).S).backward()
    assert x.grad is not None


def test_complex_decompositions_say_their_gradient_is_missing():
    if BACKEND == "mlx":
        pytest.skip("mlx: linalg of complex matrices is not supported by MLX")
    a = np.array([[2.0, 1j], [-1j, 3.0]])
    x = pg.Value(a, dtype="complex128")
    with pytest.raises(pg.GradientError, match=r"linalg\.eigh: gradients of complex inputs are not implemented"):
        pg.sum(la.eigh(x).eigenvalues).backward()


# -- multi-output nodes -----------------------------------------------------------------------

@not_on_jax
def test_each_output_gets_its_own_gradient_and_they_add_up(float64):
    a = symmetric(n=3)
    x = pg.Value(a)
    w, v = la.eigh(x)
    loss = pg.sum(w * w) + pg.sum(_unique_columns(v)[0])
    loss.backward()
    both = to_numpy(x.grad)
    x1, x2 = pg.Value(a), pg.Value(a)
    pg.sum(la.eigh(x1).eigenvalues ** 2).backward()
    pg.sum(_unique_columns(la.eigh(x2).eigenvectors)[0]).backward()
    np.testing.assert_allclose(both, to_numpy(x1.grad) + to_numpy(x2.grad), rtol=1e-12)


def test_multi_output_ops_replay_and_run_without_grad(float64):
    xp = pg.placeholder((None, 2, 2), name="X")
    q, r = la.qr(xp)
    out = pg.sum(r * r)
    for batch in (1, 3):
        data = general(batch, n=2)
        out.forward(X=data)
        np.testing.assert_allclose(out.item(), np.sum(data * data), rtol=1e-12)  # |R|_F = |X|_F
    with pg.no_grad():
        sign, logabsdet = la.slogdet(pg.Value(general(n=2)))
    assert not logabsdet.requires_grad and logabsdet.op is None


@not_on_jax
def test_second_derivatives_through_decompositions(float64):
    """create_graph runs the vjps with polygrad's namespace: hessian-vector products of
    a log-det and an eigenvalue function, against JAX."""
    jax = requires_jax()
    import jax.numpy as jnp
    a, direction = general(n=3), _rng.normal(size=(3, 3))

    def f(m, y):
        return m.linalg.slogdet(y)[1] + m.sum(m.linalg.eigvalsh(y @ m.matrix_transpose(y)) ** 2)

    def hvp(m, grad):  # d/dx <grad f(x), direction>
        return lambda x: m.sum(grad(lambda y: f(m, y))(x) * direction)

    got = pg.grad(hvp(pg, pg.grad))(pg.Value(a))
    want = jax.jit(jax.grad(hvp(jnp, jax.grad)))(jnp.asarray(a))  # one XLA program: faster than eager
    np.testing.assert_allclose(to_numpy(got), np.asarray(want), rtol=1e-7, atol=1e-10)


# -- composites against jax.grad ------------------------------------------------------------------

def test_gaussian_log_likelihood_matches_jax(float64):
    """-log N(y; mu, L L^T + I) through cholesky, solve, slogdet and diagonal, as in a GP."""
    jax = requires_jax()
    import jax.numpy as jnp
    factor, mu, y = _rng.normal(size=(4, 4)), _rng.normal(size=4), _rng.normal(size=(3, 4))

    def nll(m, factor, mu):
        cov = factor @ m.matrix_transpose(factor) + m.eye(4, dtype=factor.dtype)
        chol = m.linalg.cholesky(cov)
        z = m.linalg.solve(chol, m.matrix_transpose(y - mu))
        half_logdet = m.sum(m.log(m.linalg.diagonal(chol)))
        return 0.5 * m.sum(z * z) + 3 * half_logdet

    got_value, got = pg.value_and_grad(lambda f, u: nll(pg, f, u), argnums=(0, 1))(factor, mu)
    want_value, want = jax.jit(jax.value_and_grad(lambda f, u: nll(jnp, f, u), argnums=(0, 1)))(
        jnp.asarray(factor), jnp.asarray(mu))
    np.testing.assert_allclose(float(got_value), float(want_value), rtol=1e-12)
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), np.asarray(w), rtol=1e-9, atol=1e-12)


@not_on_jax
def test_ridge_regression_through_solve_and_slogdet_matches_jax(float64):
    """Least squares by the normal equations, with the log-det of the Gram matrix."""
    jax = requires_jax()
    import jax.numpy as jnp
    x, y = _rng.normal(size=(6, 3)), _rng.normal(size=6)

    def loss(m, x, y):
        gram = m.matrix_transpose(x) @ x + 0.1 * m.eye(3, dtype=x.dtype)
        w = m.linalg.solve(gram, m.matrix_transpose(x) @ y)
        residual = x @ w - y
        return m.sum(residual * residual) + m.linalg.slogdet(gram)[1] + m.linalg.vector_norm(w)

    got = pg.grad(lambda a, b: loss(pg, a, b), argnums=(0, 1))(x, y)
    want = jax.jit(jax.grad(lambda a, b: loss(jnp, a, b), argnums=(0, 1)))(jnp.asarray(x), jnp.asarray(y))
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), np.asarray(w), rtol=1e-9, atol=1e-12)


# -- dtypes, errors -------------------------------------------------------------------------------

@not_on_jax
def test_float32_stays_float32():
    f32 = pg.backend().dtype("float32")
    x = pg.Value(spd(2, n=3), dtype="float32")
    outputs = [la.cholesky(x), la.slogdet(x).logabsdet, la.eigh(x).eigenvectors, la.svd(x).U, la.inv(x), la.det(x),
               la.eigvalsh(x), la.qr(x).R, la.pinv(x), la.solve(x, x), la.matrix_norm(x)]
    assert all(o.dtype == f32 for o in outputs)
    total = outputs[0].sum()
    for o in outputs[1:]:
        total = total + o.sum()
    total.backward()
    assert x.grad.dtype == f32


@pytest.mark.parametrize("call, message", [
    (lambda: la.inv(pg.Value(np.ones((2, 3)))), r"linalg\.inv: needs square matrices \(\.\.\., M, M\), got shape \(2, 3\)"),
    (lambda: la.solve(pg.Value(np.eye(3)), pg.Value(np.ones((2, 2)))), r"linalg\.solve: shapes \(3, 3\) and \(2, 2\) do not align"),
    (lambda: la.matrix_power(pg.Value(np.ones((2, 3))), 2), r"linalg\.matrix_power: needs square matrices"),
    (lambda: la.diagonal(pg.Value(np.ones(3))), r"linalg\.diagonal: needs matrices"),
])
def test_shape_errors_name_the_op(call, message):
    with pytest.raises(pg.ShapeError, match=message):
        call()


def test_integer_outputs_have_no_gradient(float64):
    x = pg.Value(rectangular(2, m=3, n=2))
    rank = la.matrix_rank(x)
    assert not rank.requires_grad
    np.testing.assert_array_equal(to_numpy(rank), [2, 2])
