"""The standard's elementwise functions and creation functions as polygrad's namespace has them:
names and signatures, Python scalars, bitwise functions, method forms, result_type, and
complex gradients against jax.vjp (JAX's convention).

Gradients of the real-valued functions are checked in test_gradients.py (gradcheck, float64:
0-d, empty, non-contiguous and broadcast inputs) and in conformance/ (finite differences and
JAX on every backend).
"""
from __future__ import annotations

import inspect

import array_api_compat.numpy as npx
import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, requires_jax, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

# The 2024.12 standard's elementwise functions by number of array arguments.
UNARY = (
    "abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "bitwise_invert", "ceil", "conj",
    "cos", "cosh", "exp", "expm1", "floor", "imag", "isfinite", "isinf", "isnan", "log", "log1p",
    "log2", "log10", "logical_not", "negative", "positive", "real", "reciprocal", "round", "sign",
    "signbit", "sin", "sinh", "square", "sqrt", "tan", "tanh", "trunc",
)
BINARY = (
    "add", "atan2", "bitwise_and", "bitwise_left_shift", "bitwise_or", "bitwise_right_shift",
    "bitwise_xor", "copysign", "divide", "equal", "floor_divide", "greater", "greater_equal",
    "hypot", "less", "less_equal", "logaddexp", "logical_and", "logical_or", "logical_xor",
    "maximum", "minimum", "multiply", "nextafter", "not_equal", "pow", "remainder", "subtract",
)
POSITIONAL = inspect.Parameter.POSITIONAL_ONLY


def _signature(name):
    return [(p.name, p.kind) for p in inspect.signature(getattr(pg, name)).parameters.values()]


@pytest.mark.parametrize("name", UNARY + BINARY + ("clip",))
def test_every_elementwise_function_has_the_standards_signature(name):
    assert getattr(pg, name) is getattr(pg.namespace, name)
    if name == "clip":
        expected = [("x", POSITIONAL), ("min", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                    ("max", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    else:
        expected = [("x", POSITIONAL)] if name in UNARY else [("x1", POSITIONAL), ("x2", POSITIONAL)]
    assert _signature(name) == expected


def test_creation_functions_have_the_standards_signatures():
    keyword = inspect.Parameter.KEYWORD_ONLY
    assert _signature("full_like") == [("x", POSITIONAL), ("fill_value", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                                       ("dtype", keyword), ("device", keyword)]
    for name in ("zeros_like", "ones_like", "empty_like"):
        assert _signature(name) == [("x", POSITIONAL), ("dtype", keyword), ("device", keyword)]
    for name in ("zeros", "ones", "empty", "full", "eye", "linspace", "arange", "asarray", "from_dlpack"):
        assert ("device", keyword) in _signature(name), name
    x = pg.Value(np.ones((2, 2)))
    filled = pg.full_like(x, fill_value=3.0, device=x.device)
    np.testing.assert_array_equal(to_numpy(filled), np.full((2, 2), 3.0))
    assert pg.zeros(2, device=x.device).device == x.device


# -- values: every new function against NumPy --------------------------------------------------------

X = np.array([[0.5, -0.25, 0.75], [-0.5, 0.125, 0.0]])
Y = np.array([[1.5, 2.0, -0.5], [0.25, -3.0, 1.0]])
INTS = np.array([[3, -4, 7], [0, 12, -1]])
SHIFTS = np.array([[1, 0, 2], [3, 1, 0]])
BOOLS = np.array([[True, False, True], [False, False, True]])


def _inputs(name):
    """Arguments for one function: values in its domain, of the dtype it takes."""
    if name.startswith("bitwise_") and name.endswith("shift"):
        return INTS, SHIFTS
    if name.startswith("bitwise_"):
        return (INTS,) if name == "bitwise_invert" else (INTS, INTS[::-1])
    if name.startswith("logical_"):
        return (BOOLS,) if name == "logical_not" else (BOOLS, BOOLS[::-1])
    if name in ("real", "imag", "conj"):  # the standard defines imag for complex numbers only
        return (Z.astype(_complex_dtype_name()),)
    if name == "acosh":
        return (np.abs(Y) + 1.0,)
    if name in ("log", "log2", "log10", "sqrt", "reciprocal"):
        return (np.abs(Y),)
    if name in ("divide", "floor_divide", "remainder", "pow"):
        return np.abs(Y) if name == "pow" else X, Y
    return (X,) if name in UNARY else (X, Y)


# On JAX every new (op, shape, dtype) costs an XLA compilation; there the conformance suite
# checks each rule's values, and the namespace's wiring is the same on every backend.
ON_JAX = pytest.mark.skipif(BACKEND == "jax", reason="values checked by conformance/ on jax; XLA compiles cost ~40 ms an op")


@ON_JAX
@pytest.mark.parametrize("name", UNARY + BINARY)
def test_every_elementwise_function_matches_numpy(name):
    args = _inputs(name)
    got = getattr(pg, name)(*[pg.asarray(a) for a in args])
    with np.errstate(all="ignore"):
        expected = getattr(npx, name)(*args)
    assert got.dtype == pg.backend().dtype(str(expected.dtype)), (got.dtype, expected.dtype)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12 if expected.dtype != np.complex64 else 1e-6)


def test_nextafter_steps_one_ulp():
    x = pg.asarray([1.0, 0.0, -2.0, 3.0])
    towards = pg.asarray([2.0, -1.0, 0.0, 3.0])
    got = to_numpy(pg.nextafter(x, towards))
    np.testing.assert_array_equal(got.view(np.int64), np.nextafter(to_numpy(x), to_numpy(towards)).view(np.int64))
    assert not pg.nextafter(pg.Value([1.0]), 2.0).requires_grad  # a step of one ulp: no gradient


SCALARS_ON_JAX = ("add", "atan2", "bitwise_left_shift", "copysign", "logical_and", "nextafter", "pow", "remainder")


@pytest.mark.parametrize("name", [n if n in SCALARS_ON_JAX else pytest.param(n, marks=ON_JAX) for n in BINARY])
def test_binary_functions_take_a_python_scalar_on_either_side(name):
    args = _inputs(name)
    array, right = args[0], args[-1]  # shift counts must be >= 0: the second argument's values
    scalar = 1 if array.dtype.kind == "i" else (True if array.dtype.kind == "b" else 0.75)
    f = getattr(pg, name)
    with np.errstate(all="ignore"):
        for got, expected in [(f(pg.asarray(array), scalar), getattr(npx, name)(array, np.asarray(scalar, array.dtype))),
                              (f(scalar, pg.asarray(right)), getattr(npx, name)(np.asarray(scalar, right.dtype), right))]:
            assert got.dtype == pg.backend().dtype(str(expected.dtype)), (got.dtype, expected.dtype)
            np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12)


def test_where_and_clip_take_python_scalars():
    x = pg.Value(X)
    np.testing.assert_array_equal(to_numpy(pg.where(x > 0, x, 0.0)), np.where(X > 0, X, 0.0))
    np.testing.assert_array_equal(to_numpy(pg.where(x > 0, 1.0, -1.0)), np.where(X > 0, 1.0, -1.0))
    assert pg.where(x > 0, 1.0, -1.0).dtype == pg.float64


def test_a_python_scalar_takes_the_dtype_of_the_other_branch_not_of_the_condition():
    ints = pg.asarray(np.array([1, 2, 3], dtype=np.int32))
    for got in (pg.where(pg.asarray(BOOLS[0]), 956, ints), pg.where(pg.asarray(BOOLS[0]), ints, 956)):
        assert got.dtype == ints.dtype
    np.testing.assert_array_equal(to_numpy(pg.where(pg.asarray(BOOLS[0]), 956, ints)), [956, 2, 956])


def test_linspace_without_endpoint_is_start_plus_multiples_of_the_step():
    got = pg.linspace(-4.9e16, 4.5e-11, 9, endpoint=False, dtype=pg.float64)
    np.testing.assert_allclose(to_numpy(got), np.linspace(-4.9e16, 4.5e-11, 9, endpoint=False), rtol=1e-15)


def test_finfo_and_iinfo_give_python_numbers():
    info = pg.finfo(pg.float32)
    assert type(info.eps) is float and info.eps == float(np.finfo(np.float32).eps) and info.bits == 32
    assert type(info.smallest_normal) is float and info.dtype == pg.float32
    assert pg.finfo(pg.asarray([1.0])).bits == 64
    ints = pg.iinfo(pg.int16)
    assert (ints.bits, ints.min, ints.max) == (16, -32768, 32767) and type(ints.max) is int


# -- result_type with Python scalars ---------------------------------------------------------------

def test_result_type_accepts_python_scalars():
    f32, f64 = pg.backend().dtype("float32"), pg.backend().dtype("float64")
    x32 = pg.asarray(np.ones(2, dtype=np.float32))
    ints = pg.asarray([1, 2])
    assert pg.result_type(x32, 1.0) == f32           # a Python float keeps the array's precision
    assert pg.result_type(x32, 2) == f32
    assert pg.result_type(x32, True) == f32
    assert pg.result_type(ints, 3) == ints.dtype
    assert pg.result_type(ints, 1.5) == f64          # the default float (float64 here)
    assert pg.result_type(x32, 1j) == pg.backend().complex_dtype(f32)
    assert pg.result_type(pg.int8, 1) == pg.int8
    assert pg.result_type(x32, f64, 1.0) == f64
    assert pg.result_type(1.0) == f64 and pg.result_type(True) == pg.bool
    with pytest.raises(TypeError):
        pg.result_type()


# -- bitwise functions and operators ------------------------------------------------------------

def test_bitwise_functions_are_bitwise_on_integers_and_logical_on_booleans():
    a, b = pg.asarray(INTS), pg.asarray(INTS[::-1])
    for got, expected in [(a & b, INTS & INTS[::-1]), (a | b, INTS | INTS[::-1]), (a ^ b, INTS ^ INTS[::-1]),
                          (~a, ~INTS), (a << pg.asarray(SHIFTS), INTS << SHIFTS),
                          (a >> pg.asarray(SHIFTS), INTS >> SHIFTS), (a & 6, INTS & 6), (6 | a, 6 | INTS),
                          (1 << pg.asarray(SHIFTS), 1 << SHIFTS), (64 >> pg.asarray(SHIFTS), 64 >> SHIFTS)]:
        assert got.dtype == a.dtype and not got.requires_grad
        np.testing.assert_array_equal(to_numpy(got), expected)
    p, q = pg.asarray(BOOLS), pg.asarray(BOOLS[::-1])
    for got, expected in [(p & q, BOOLS & BOOLS[::-1]), (p | q, BOOLS | BOOLS[::-1]), (p ^ q, BOOLS ^ BOOLS[::-1]),
                          (~p, ~BOOLS), (p & True, BOOLS), (False | p, BOOLS)]:
        assert got.dtype == pg.bool
        np.testing.assert_array_equal(to_numpy(got), expected)


# -- method forms ------------------------------------------------------------------------------

def test_method_forms_are_the_namespace_functions():
    from polygrad.value import METHODS
    assert len(METHODS) >= 40
    for name in METHODS:  # generated from the list: each calls the namespace function
        assert getattr(pg.Value, name).__wrapped__ is getattr(pg, name), name
    x, y = pg.Value(X), pg.Value(Y)
    for name in ("exp", "tanh", "sign", "isnan", "floor"):
        np.testing.assert_array_equal(to_numpy(getattr(x, name)()), to_numpy(getattr(pg, name)(x)), err_msg=name)
    for name in ("atan2", "maximum"):
        np.testing.assert_array_equal(to_numpy(getattr(x, name)(y)), to_numpy(getattr(pg, name)(x, y)), err_msg=name)
    positive = pg.Value(np.abs(Y))
    np.testing.assert_allclose(to_numpy(positive.log1p()), np.log1p(np.abs(Y)), rtol=1e-15)
    np.testing.assert_array_equal(to_numpy(x.clip(-0.3, 0.4)), np.clip(X, -0.3, 0.4))
    np.testing.assert_array_equal(to_numpy(x.clip(max=0.1)), np.minimum(X, 0.1))
    np.testing.assert_array_equal(to_numpy(positive.pow(2)), np.abs(Y) ** 2)
    assert x.astype(pg.float32).dtype == pg.float32
    # they differentiate like the functions
    loss = (x.sin() * y.exp()).sum() + x.pow(2).sum()
    loss.backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.cos(X) * np.exp(Y) + 2 * X)
    np.testing.assert_allclose(to_numpy(y.grad), np.sin(X) * np.exp(Y))
    assert "pg.exp" in pg.Value.exp.__doc__


# -- complex numbers: JAX's convention, checked against jax.vjp --------------------------------------

def _complex_dtype_name():
    """complex128 where the backend has it; MLX has complex64 only."""
    return "complex128" if hasattr(pg.backend().xp, "complex128") else "complex64"


Z = np.array([[0.5 + 0.25j, -1.0 + 0.5j, 0.75 - 1.25j], [1.5 - 0.5j, 0.25 + 1.0j, -0.5 - 0.75j]])
W = np.array([[1.0 - 0.5j, 0.5 + 0.75j, -1.25 + 0.25j], [0.75 + 0.5j, -1.5 - 0.25j, 1.0 + 1.5j]])
COT = np.array([[1.0 + 0.5j, -0.5 + 1.0j, 0.25 - 0.75j], [0.5 - 1.0j, 1.25 + 0.25j, -1.0 + 0.5j]])

COMPLEX = {
    "arithmetic, parts, abs": lambda m, z, w: (z * w + z / w - w ** 2 + (-z) - 1.5 * z + (0.5 - 1j) * w
                                               + m.real(z) * m.imag(w) + m.conj(z) * w + m.abs(w) + m.abs(z) ** 2),
    "functions": lambda m, z, w: (m.exp(z) * m.log(w) + m.sqrt(z) + m.reciprocal(w) - m.log1p(z)
                                  + m.sin(z) * m.cos(w) + m.tanh(z) + m.tan(w) + m.asinh(z) + m.atan(w)),
    "reductions and matmul": lambda m, z, w: m.sum(z * w, axis=0) + m.mean(z) + m.matmul(z, m.matrix_transpose(w))[0, :1],
}


@pytest.mark.parametrize("name", [name if i == 0 else pytest.param(name, marks=ON_JAX) for i, name in enumerate(COMPLEX)])
def test_complex_gradients_match_jax_vjp(name):
    jax = requires_jax()
    import jax.numpy as jnp
    f = COMPLEX[name]
    dtype = _complex_dtype_name()
    z, w = pg.Value(Z.astype(dtype)), pg.Value(W.astype(dtype))
    assert z.requires_grad and z.dtype == pg.backend().dtype(dtype)
    out = f(pg, z, w)
    cot = COT[: out.shape[0], : out.shape[1]] if out.ndim == 2 else COT[0, : out.shape[0]]
    out.backward(cot.astype(dtype))

    @jax.jit  # one XLA compilation for the case rather than one per primitive
    def oracle(a, b, c):
        result, pullback = jax.vjp(lambda a, b: f(jnp, a, b), a, b)
        return result, pullback(c)
    expected_out, expected_grads = oracle(jnp.asarray(Z), jnp.asarray(W), jnp.asarray(cot))
    tol = 1e-12 if dtype == "complex128" else 2e-5
    np.testing.assert_allclose(to_numpy(out), np.asarray(expected_out), rtol=tol, atol=tol)
    for got, expected in zip((z.grad, w.grad), expected_grads):
        assert got.dtype == pg.backend().dtype(dtype)
        np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=tol, atol=tol)


def test_a_real_input_through_complex_numbers_gets_a_real_gradient():
    jax = requires_jax()
    import jax.numpy as jnp

    def f(m, x):
        return m.sum(m.real(m.exp(x * 1j) * (2.0 - 1j)) + m.abs(x + 0.5j))
    x = X[0]
    got = pg.grad(lambda v: f(pg, v))(pg.Value(x))
    assert got.dtype == pg.float64
    expected = jax.jit(jax.grad(lambda v: f(jnp, v)))(jnp.asarray(x))
    tol = 1e-12 if _complex_dtype_name() == "complex128" else 2e-6  # MLX: complex64 in between
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=tol)


def test_grad_of_a_real_function_of_complex_input_is_jaxs():
    """jax.grad of a real function of z gives d/dx - i d/dy: the conjugate of PyTorch's."""
    jax = requires_jax()
    import jax.numpy as jnp
    dtype = _complex_dtype_name()

    def f(m, z):
        return m.sum(m.abs(z) ** 2 + m.real(z * z))
    got = pg.grad(lambda v: f(pg, v))(pg.Value(Z.astype(dtype)))
    expected = jax.jit(jax.grad(lambda v: f(jnp, v)))(jnp.asarray(Z))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=2e-6)
    # |z|^2 = x^2 + y^2 gives 2x - 2iy = 2 conj(z); Re(z^2) = x^2 - y^2 gives 2x + 2iy = 2z
    np.testing.assert_allclose(np.asarray(expected), 2 * np.conj(Z) + 2 * Z, rtol=1e-12)


def test_second_order_complex_gradients_match_jax():
    """create_graph runs the complex vjps with polygrad's own namespace: real, conj, abs too."""
    jax = requires_jax()
    import jax.numpy as jnp
    dtype = _complex_dtype_name()

    def outer(m, grad, v):
        return m.sum(m.abs(grad(lambda w: m.sum(m.abs(m.sin(w)) ** 2))(v)) ** 2)
    got = pg.grad(lambda v: outer(pg, pg.grad, v))(pg.Value(Z[0].astype(dtype)))
    expected = jax.jit(jax.grad(lambda v: outer(jnp, jax.grad, v)))(jnp.asarray(Z[0]))
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), rtol=1e-12 if dtype == "complex128" else 1e-5)


def test_complex_roots_need_a_cotangent():
    z = pg.Value(Z.astype(_complex_dtype_name()))
    with pytest.raises(pg.DTypeError, match="complex.*grad="):
        pg.sum(z).backward()
    with pytest.raises(pg.DTypeError, match="complex scalar"):
        pg.grad(lambda v: pg.sum(v))(z)


def test_complex_python_numbers_make_complex_values():
    x = pg.Value(np.array([1.0, 2.0]))
    assert (x * 1j).dtype == pg.backend().complex_dtype(x.dtype)
    v = pg.Value([1 + 2j, 3.0])
    assert pg.isdtype(v.dtype, "complex floating") and v.requires_grad
    assert complex(pg.asarray(1.5 - 2j)) == 1.5 - 2j
    assert pg.asarray([1j]).dtype == pg.backend().complex_dtype(pg.default_dtype())
