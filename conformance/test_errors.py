"""Bad input on the active backend, each case a report row: the same polygrad exception
type on every backend, with a message that names the op and the shapes or dtypes. The
backend's own exception may be chained as the cause, never be the only explanation.

The shape-mismatch rows of elementwise ops are generated from the rules table: every
binary elementwise op the input generators know (conformance/inputs.py) gets one.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pytest

import polygrad as pg
from polygrad._graph import apply

from .checks import declared, quiet
from .inputs import BINARY
from .report import REPORT

A, B = (2, 3), (4,)


def _value(shape, kind="float"):
    data = np.ones(shape, dtype={"float": np.float64, "bool": np.bool_, "int": np.int64}[kind])
    return pg.Value(data)


def _shapes_named(*shapes) -> str:
    return "".join(f"(?=.*{re.escape(str(tuple(s)))})" for s in shapes)


def _elementwise_cases() -> dict:
    cases = {}
    for op in (*BINARY, "floor_divide", "logical_and", "logical_or", "logical_xor"):
        kind = "bool" if op.startswith("logical") else "float"
        cases[f"error: {op} shape mismatch"] = (
            pg.ShapeError, rf"^{op}: {_shapes_named(A, B)}",
            lambda op=op, kind=kind: apply(op, _value(A, kind), _value(B, kind)))
    cases["error: where shape mismatch"] = (
        pg.ShapeError, rf"^where: {_shapes_named(A, B)}",
        lambda: pg.where(_value(A, "bool"), _value(B), _value(A)))
    return cases


def _other_backend() -> str:
    return "array_api_strict" if pg.backend().name == "numpy" else "numpy"


# row -> (exception type, regular expression its message must match, the bad call)
ERRORS: dict[str, tuple[type, str, Callable]] = {
    **_elementwise_cases(),
    "error: matmul shape mismatch": (
        pg.ShapeError, r"^matmul: shapes \(2, 3\) and \(2, 3\) do not align",
        lambda: _value(A) @ _value(A)),
    "error: matmul of vectors of two lengths": (
        pg.ShapeError, r"^matmul: shapes \(3,\) and \(4,\) do not align",
        lambda: pg.matmul(_value((3,)), _value((4,)))),
    "error: tensordot shape mismatch": (
        pg.ShapeError, rf"^tensordot: {_shapes_named(A)}",
        lambda: pg.tensordot(_value(A), _value(A), axes=1)),
    "error: reshape to another size": (
        pg.ShapeError, rf"^reshape: {_shapes_named(A)}(?=.*\(4, 2\))",
        lambda: pg.reshape(_value(A), (4, 2))),
    "error: broadcast_to an incompatible shape": (
        pg.ShapeError, rf"^broadcast_to: {_shapes_named(A)}(?=.*\(3, 3\))",
        lambda: pg.broadcast_to(_value(A), (3, 3))),
    "error: concat shape mismatch": (
        pg.ShapeError, rf"^concat: {_shapes_named(A, B)}",
        lambda: pg.concat([_value(A), _value(B)])),
    "error: stack shape mismatch": (
        pg.ShapeError, rf"^stack: {_shapes_named(A, B)}",
        lambda: pg.stack([_value(A), _value(B)])),
    "error: squeeze an axis of size 3": (
        pg.ShapeError, rf"^squeeze: {_shapes_named(A)}",
        lambda: pg.squeeze(_value(A), axis=1)),
    "error: sum over an axis out of range": (
        pg.ShapeError, rf"^sum: {_shapes_named(A)}",
        lambda: pg.sum(_value(A), axis=3)),
    "error: softmax over an axis out of range": (
        pg.ShapeError, rf"^softmax: {_shapes_named(A)}",
        lambda: pg.softmax(_value(A), axis=2)),
    # Indices out of range: an IndexingError (an IndexError) on every backend, where JAX
    # would clamp or give nan and MLX would read memory it never wrote.
    "error: index out of bounds": (
        pg.IndexingError, rf"^getitem: {_shapes_named(A)}",
        lambda: _value(A)[5]),
    "error: index array out of bounds": (
        pg.IndexingError, rf"^getitem: {_shapes_named(A)}",
        lambda: _value(A)[[0, 5]]),
    "error: negative index array out of bounds": (
        pg.IndexingError, rf"^getitem: {_shapes_named(A)}",
        lambda: _value(A)[:, pg.asarray(np.array([-4, 0]))]),
    "error: take out of bounds": (
        pg.IndexingError, rf"^take: {_shapes_named(A)}",
        lambda: pg.take(_value(A), pg.asarray(np.array([0, 3])), axis=1)),
    "error: take_along_axis out of bounds": (
        pg.IndexingError, rf"^take_along_axis: {_shapes_named(A)}",
        lambda: pg.take_along_axis(_value(A), np.array([[2], [0]]), axis=0)),
    "error: setitem out of bounds": (
        pg.IndexingError, rf"^setitem: {_shapes_named(A)}",
        lambda: pg.zeros(A).__setitem__((0, 3), 1.0)),
    "error: setitem index array out of bounds": (
        pg.IndexingError, rf"^setitem: {_shapes_named(A)}",
        lambda: pg.zeros(A).__setitem__(np.array([2]), 1.0)),
    "error: setitem into a leaf that requires a gradient": (
        pg.GradientError, rf"^setitem: cannot write into a leaf that requires a gradient {_shapes_named(A)}",
        lambda: _value(A).__setitem__(0, 1.0)),
    "error: take with float indices": (
        pg.DTypeError, rf"^take: {_shapes_named(A)}(?=.*float)",
        lambda: pg.take(_value(A), np.array([0.5]), axis=0)),
    "error: integer leaf asked for a gradient": (
        pg.DTypeError, r"^Value: a leaf of dtype \S*int64 cannot require a gradient",
        lambda: pg.Value(np.array([1, 2]), requires_grad=True)),
    "error: boolean leaf asked for a gradient": (
        pg.DTypeError, r"^Value: a leaf of dtype \S*bool cannot require a gradient",
        lambda: pg.Value(np.array([True]), requires_grad=True)),
    "error: grad of an integer argument": (
        pg.DTypeError, r"^grad: argument 0 has dtype \S*int64; only float arguments",
        lambda: pg.grad(lambda x: pg.sum(x * 2.0))(np.array([1, 2]))),
    "error: backward from an integer root": (
        pg.GradientError, r"^backward: the root does not depend on any Value that requires a gradient",
        lambda: pg.argmax(_value(A)).backward()),
    "error: mixed backends": (
        pg.BackendError, r"^add: cannot mix a \S+ Value and a \S+ Value",
        lambda: _value(A) + pg.Value(np.ones(A), backend=_other_backend())),
    "error: mixed backends in matmul": (
        pg.BackendError, r"^matmul: cannot mix a \S+ Value and a \S+ Value",
        lambda: pg.matmul(pg.Value(np.ones(A), backend=_other_backend()), _value((3, 2)))),
}


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.conformance_row(r)) for r in ERRORS])
def test_error(row):
    expected, pattern, call = ERRORS[row]

    def check():
        REPORT.row(row).examples += 1
        with pytest.raises(pg.PolygradError) as caught, quiet():
            call()
        error = caught.value
        assert isinstance(error, expected), (
            f"{row}: {type(error).__name__} on {pg.backend().name}, expected {expected.__name__}: {error}")
        assert re.search(pattern, str(error)), f"{row}: message {str(error)!r} does not match {pattern!r}"
    declared(row, check)


def test_mixed_backends_name_both():
    mine, other = pg.backend().name, _other_backend()
    with pytest.raises(pg.BackendError) as caught:
        ERRORS["error: mixed backends"][2]()
    assert mine in str(caught.value) and other in str(caught.value)
