"""User mistakes get polygrad errors that name the op and the shapes or dtypes involved."""
from __future__ import annotations

import re

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

OTHER_BACKEND = "numpy" if BACKEND == "array_api_strict" else "array_api_strict"


def _s(shape) -> str:
    """A shape as a regular expression."""
    return re.escape(str(tuple(shape)))


# -- shapes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa, sb", [((2, 3), (4,)), ((3, 1), (2, 4)), ((0, 3), (2, 3))])
@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum"])
def test_broadcast_mismatch_names_op_and_shapes(op, sa, sb):
    a, b = pg.Value(np.ones(sa)), pg.Value(np.ones(sb))
    with pytest.raises(pg.ShapeError, match=rf"^{op}: shapes {_s(sa)} and {_s(sb)} cannot be broadcast"):
        getattr(pg, op)(a, b)


def test_operator_mismatch_names_op():
    with pytest.raises(pg.ShapeError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        pg.Value(np.ones((2, 3))) + pg.Value(np.ones(4))
    with pytest.raises(pg.ShapeError, match=r"multiply: shapes \(2, 3\) and \(2,\)"):
        pg.Value(np.ones((2, 3))) * np.ones(2)


@pytest.mark.parametrize("sa, sb, detail", [
    ((2, 3), (2, 3), "second-to-last axis of the second \\(2\\)"),
    ((3,), (4,), "only axis of the second \\(4\\)"),
    ((5, 2, 3), (4, 2), "second-to-last axis of the second \\(4\\)"),
])
def test_matmul_mismatch_names_shapes(sa, sb, detail):
    with pytest.raises(pg.ShapeError, match=rf"^matmul: shapes {_s(sa)} and {_s(sb)} do not align.*{detail}"):
        pg.Value(np.ones(sa)) @ pg.Value(np.ones(sb))


@pytest.mark.parametrize("call, op", [
    (lambda a: pg.reshape(a, (4, 2)), "reshape"),
    (lambda a: pg.sum(a, axis=3), "sum"),
    (lambda a: pg.squeeze(a, axis=0), "squeeze"),
    (lambda a: pg.broadcast_to(a, (3, 3)), "broadcast_to"),
    (lambda a: pg.concat([a, pg.Value(np.ones(4))]), "concat"),
    (lambda a: pg.stack([a, pg.Value(np.ones(4))]), "stack"),
    (lambda a: pg.tensordot(a, a, axes=1), "tensordot"),
])
def test_shape_errors_of_other_ops_name_the_op_and_input_shape(call, op):
    a = pg.Value(np.ones((2, 3)))
    with pytest.raises(pg.ShapeError, match=rf"^{op}:.*\(2, 3\)"):
        call(a)


@pytest.mark.parametrize("call, op", [
    (lambda a: a[5], "getitem"),
    (lambda a: a[[0, 5]], "getitem"),
    (lambda a: pg.take(a, np.array([0, 3]), axis=1), "take"),
])
def test_indices_out_of_range_name_the_op_and_input_shape(call, op):
    a = pg.Value(np.ones((2, 3)))
    with pytest.raises(pg.IndexingError, match=rf"^{op}:.*\(2, 3\)"):
        call(a)


def test_index_arrays_must_be_integers():
    a = pg.Value(np.ones((2, 3)))
    with pytest.raises(pg.DTypeError, match=r"^take:.*\(2, 3\)"):
        pg.take(a, np.array([0.5]), axis=0)


# -- dtypes --------------------------------------------------------------------------------------------

def test_integer_leaf_cannot_require_grad():
    with pytest.raises(pg.DTypeError, match="int64 cannot require a gradient"):
        pg.Value(np.array([1, 2]), requires_grad=True)
    assert not pg.Value(np.array([1, 2])).requires_grad  # but is fine as a constant


@pytest.mark.parametrize("wrap", [False, True])
def test_grad_of_an_integer_argument(wrap):
    arg = np.array([1, 2])
    arg = pg.Value(arg) if wrap else arg
    with pytest.raises(pg.DTypeError, match=r"grad: argument 0 has dtype \S*int64; only float arguments"):
        pg.grad(lambda x: pg.sum(x * 2.0))(arg)


def test_grad_of_an_integer_argument_names_its_position():
    with pytest.raises(pg.DTypeError, match=r"argument 1 has dtype \S*int64"):
        pg.grad(lambda x, i: pg.sum(x) * 2.0, argnums=(0, 1))(np.array([1.0]), np.array([1]))


@pytest.mark.parametrize("name", ["float16", "bfloat16", "int32", "float"])
def test_unknown_default_dtype(name):
    before = pg.default_dtype()
    with pytest.raises(pg.DTypeError, match=rf"default dtype must be one of float32, float64, got '{name}'"):
        pg.set_default_dtype(name)
    assert pg.default_dtype() == before


@pytest.mark.backend_independent
def test_unknown_dtype_from_the_environment_is_reported_on_use():
    from conftest import run_python
    result = run_python(
        "import numpy as np, polygrad as pg\n"
        "try:\n"
        "    pg.Value([1.0])\n"
        "except pg.DTypeError as e:\n"
        "    print('DTypeError:', e)\n",
        POLYGRAD_DTYPE="float8",
    )
    assert result.returncode == 0, result.stderr
    assert "DTypeError:" in result.stdout and "'float8'" in result.stdout and "POLYGRAD_DTYPE" in result.stdout


# -- backends -------------------------------------------------------------------------------------------

def test_mixing_backends_names_both():
    mine = pg.Value(np.ones(2))
    other = pg.Value(np.ones(2), backend=OTHER_BACKEND)
    assert other.backend.name == OTHER_BACKEND
    for op, call in [("add", lambda: mine + other), ("multiply", lambda: other * mine),
                     ("matmul", lambda: pg.matmul(mine, other))]:
        with pytest.raises(pg.BackendError, match=rf"^{op}: cannot mix .*{BACKEND}.*{OTHER_BACKEND}|"
                                                   rf"^{op}: cannot mix .*{OTHER_BACKEND}.*{BACKEND}"):
            call()


def test_moving_a_value_makes_mixing_work():
    other = pg.Value(np.array([1.0, 2.0]), backend=OTHER_BACKEND)
    moved = other.to(BACKEND)
    assert moved.backend is pg.backend()
    out = pg.Value(np.array([3.0, 4.0])) * moved
    np.testing.assert_array_equal(to_numpy(out), [3.0, 8.0])


def test_unknown_backend_lists_available_ones():
    with pytest.raises(pg.BackendError, match=r"unknown backend 'torch'.*available backends: .*numpy.*array_api_strict"):
        pg.set_backend("torch")
    assert pg.backend().name == BACKEND  # unchanged


# -- backward -------------------------------------------------------------------------------------------

def test_backward_without_a_grad_requiring_leaf():
    a = pg.Value(np.ones(3), requires_grad=False)
    with pytest.raises(pg.GradientError, match="does not depend on any Value that requires a gradient"):
        pg.sum(a * 2.0).backward()
    with pytest.raises(pg.GradientError, match=r"root: leaf, shape \(3,\)"):
        a.backward()


def test_errors_are_polygrad_errors_and_standard_ones():
    """except ValueError / TypeError still catches them, as users of NumPy expect."""
    assert issubclass(pg.ShapeError, ValueError) and issubclass(pg.ShapeError, pg.PolygradError)
    assert issubclass(pg.DTypeError, TypeError)
    assert issubclass(pg.BackendError, ValueError)


# -- an error leaves the graph as it was -------------------------------------------------------------

def _loss(x, w):
    return pg.sum(pg.tanh(x @ w) * x[:, :1])


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
W = np.array([[0.2, -0.4], [0.6, 0.1], [-0.3, 0.8]])


def test_an_error_op_leaves_graph_and_gradients_unchanged():
    x, w = pg.Value(X), pg.Value(W)
    loss = _loss(x, w)
    loss.backward()
    grads = to_numpy(x.grad).copy(), to_numpy(w.grad).copy()
    value = to_numpy(loss).copy()
    for bad in (lambda: loss + pg.Value(np.ones(4)) * x,        # shape error, graph nodes as input
                lambda: x @ x,                                   # matmul shape error
                lambda: pg.reshape(w, (4, 2)),
                lambda: x + pg.Value(np.ones(3), backend=OTHER_BACKEND)):
        with pytest.raises(pg.PolygradError):
            bad()
    np.testing.assert_array_equal(to_numpy(loss), value)
    np.testing.assert_array_equal(to_numpy(x.grad), grads[0])
    np.testing.assert_array_equal(to_numpy(w.grad), grads[1])
    # the same graph still backpropagates (accumulating), and a fresh one agrees
    loss.backward()
    np.testing.assert_allclose(to_numpy(w.grad), 2 * grads[1], rtol=1e-12)
    x2, w2 = pg.Value(X), pg.Value(W)
    _loss(x2, w2).backward()
    np.testing.assert_allclose(to_numpy(x2.grad), grads[0], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(w2.grad), grads[1], rtol=1e-12)


def test_a_failing_backward_leaves_no_partial_gradients(monkeypatch):
    x, w = pg.Value(X), pg.Value(W)
    a = pg.Value(np.array([1.0, 2.0]))
    # sin's branch is reached last, after x and w have their cotangents
    loss = pg.sum(pg.sin(a)) + _loss(x, w)

    def broken(*args, **kwargs):
        raise RuntimeError("planted failure")
    original = pg.RULES["sin"].vjp
    monkeypatch.setattr(pg.RULES["sin"], "vjp", broken)
    with pytest.raises(pg.GradientError, match=r"^sin: vjp failed for input shapes \(2,\).*planted failure"):
        loss.backward()
    assert x.grad is None and w.grad is None and a.grad is None
    monkeypatch.setattr(pg.RULES["sin"], "vjp", original)
    loss.backward()  # no stale cotangent left inside the graph
    x2, w2 = pg.Value(X), pg.Value(W)
    _loss(x2, w2).backward()
    np.testing.assert_allclose(to_numpy(w.grad), to_numpy(w2.grad), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(a.grad), np.cos([1.0, 2.0]), rtol=1e-12)


def test_writing_into_a_parameter_is_refused():
    """As PyTorch: a leaf that requires a gradient cannot be written into while recording
    (see tests/test_setitem.py for what can)."""
    with pytest.raises(pg.GradientError, match="setitem: cannot write into a leaf that requires a gradient"):
        pg.Value(np.ones(2))[0] = 1.0


def test_bad_operand_type_names_the_op():
    with pytest.raises(TypeError, match="exp: cannot use an object of type str"):
        pg.exp("abc")
