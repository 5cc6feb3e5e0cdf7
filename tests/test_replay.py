"""Placeholders and replay: ``root.forward(**feeds)`` recomputes the recorded graph in place."""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from polygrad.engine import toposort
from conftest import to_numpy

pytestmark = pytest.mark.usefixtures("float64")

W = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])
B = np.array([0.1, -0.2])


def _model(x, y, w, b):
    """Any mix of ops, non-differentiable ones (argmax, comparison) included."""
    hidden = pg.tanh(x @ w + b)
    mask = pg.astype(hidden > 0.0, pg.default_dtype())  # a placeholder's dtype is known only once fed
    scores = pg.log_softmax(hidden * mask + hidden, axis=-1)
    picked = pg.take(pg.reshape(scores, (-1,)), pg.argmax(scores, axis=None)[None])
    return pg.mean((pg.sum(scores, axis=1) - y) ** 2) + pg.sum(picked)


def _eager(x, y):
    w, b = pg.Value(W), pg.Value(B)
    loss = _model(pg.Value(x, requires_grad=False), pg.Value(y, requires_grad=False), w, b)
    loss.backward()
    return to_numpy(loss), to_numpy(w.grad), to_numpy(b.grad)


def _batch(seed, n):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.normal(size=(n,))


def test_placeholder_and_value_constructor_declare_shapes():
    X = pg.placeholder((None, 3), name="X")
    Y = pg.Value(shape=(5,), name="Y")
    assert X.shape == (None, 3) and X.name == "X" and X.data is None
    assert Y.shape == (5,) and Y.ndim == 1
    assert X.dtype == pg.default_dtype()
    assert not X.requires_grad
    assert "not fed" in repr(X)
    with pytest.raises(pg.PolygradError, match="placeholder 'X' has no data"):
        X.numpy()


def test_forward_matches_recomputing_from_scratch_and_reuses_the_graph():
    X = pg.placeholder((None, 3), name="X")
    Y = pg.placeholder((None,), name="Y")
    w, b = pg.Value(W), pg.Value(B)
    loss = _model(X, Y, w, b)
    assert loss.data is None  # nothing computed before the first feed
    nodes = [id(n) for n in toposort(loss)]
    for seed, n in [(0, 4), (1, 7), (2, 1), (0, 4)]:
        x, y = _batch(seed, n)
        w.zero_grad()
        b.zero_grad()
        assert loss.forward(X=x, Y=y) is loss
        assert [id(n) for n in toposort(loss)] == nodes  # the same graph, not a rebuilt one
        expected_loss, expected_w, expected_b = _eager(x, y)
        np.testing.assert_allclose(to_numpy(loss), expected_loss, rtol=1e-12)
        loss.backward()
        np.testing.assert_allclose(to_numpy(w.grad), expected_w, rtol=1e-12)
        np.testing.assert_allclose(to_numpy(b.grad), expected_b, rtol=1e-12)


def test_forward_sees_updated_parameters():
    X = pg.placeholder((None, 3), name="X")
    w = pg.Value(W)
    out = pg.sum(X @ w)
    x = np.ones((2, 3))
    out.forward(X=x)
    first = float(out.item())
    w.data = pg.Value(2 * W).data  # what an optimizer step does
    out.forward(X=x)
    np.testing.assert_allclose(float(out.item()), 2 * first, rtol=1e-12)


def test_gradients_after_forward_are_fresh():
    X = pg.placeholder((2,), name="X")
    w = pg.Value(np.array([1.0, 2.0]))
    h = (X * w).retain_grad()
    loss = pg.sum(h * h)
    loss.forward(X=np.array([1.0, 1.0]))
    loss.backward()
    np.testing.assert_allclose(to_numpy(w.grad), 2 * np.array([1.0, 2.0]))
    w.zero_grad()
    loss.forward(X=np.array([3.0, -1.0]))
    assert h.grad is None  # replay clears the gradients of recomputed nodes
    loss.backward()
    # d/dw sum((x w)^2) = 2 x^2 w
    np.testing.assert_allclose(to_numpy(w.grad), 2 * np.array([9.0, 1.0]) * np.array([1.0, 2.0]))
    np.testing.assert_allclose(to_numpy(h.grad), 2 * np.array([3.0, -2.0]))


def test_forward_accepts_lists_and_values_and_casts_floats():
    X = pg.placeholder((None,), name="X")
    out = pg.sum(X * X)
    out.forward(X=[1.0, 2.0])
    assert float(out.item()) == 5.0
    out.forward(X=pg.Value(np.array([3.0])))
    assert float(out.item()) == 9.0
    out.forward(X=np.array([1.0, 2.0], dtype=np.float32))
    assert out.dtype == pg.default_dtype()


def test_indexing_with_placeholders():
    X = pg.placeholder((None, 3), name="X")
    out = pg.sum(X[:, [2, 2, 0]] * X[0])
    x = np.arange(6.0).reshape(2, 3)
    out.forward(X=x)
    np.testing.assert_allclose(float(out.item()), float(np.sum(x[:, [2, 2, 0]] * x[0])))


# -- errors ---------------------------------------------------------------------------------------

def _two_placeholder_graph():
    X = pg.placeholder((None, 3), name="X")
    Y = pg.placeholder((None,), name="Y")
    return pg.mean((X @ pg.Value(W[:, 0]) - Y) ** 2)


@pytest.mark.parametrize("x_shape", [(4, 2), (3,), (4, 3, 1)])
def test_wrong_feed_shape_names_the_placeholder_and_shapes(x_shape):
    loss = _two_placeholder_graph()
    shape = str(x_shape).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(pg.ShapeError, match=rf"placeholder 'X' expects shape \(None, 3\) \(None: any size\); "
                                            rf"the feed has shape {shape}"):
        loss.forward(X=np.ones(x_shape), Y=np.zeros(4))


def test_unknown_feed_name_lists_the_placeholders():
    loss = _two_placeholder_graph()
    with pytest.raises(pg.FeedError, match=r"no placeholder named 'Z'.*placeholders are: 'X', 'Y'"):
        loss.forward(X=np.ones((4, 3)), Y=np.zeros(4), Z=np.zeros(4))


def test_missing_feed_names_the_placeholder():
    loss = _two_placeholder_graph()
    with pytest.raises(pg.FeedError, match="feed every placeholder on each forward; missing: 'Y'"):
        loss.forward(X=np.ones((4, 3)))


def test_feeds_whose_shapes_do_not_combine_name_the_op():
    loss = _two_placeholder_graph()
    with pytest.raises(pg.ShapeError, match=r"subtract: shapes \(4,\) and \(5,\) cannot be broadcast"):
        loss.forward(X=np.ones((4, 3)), Y=np.zeros(5))


def test_integer_feed_for_a_float_placeholder_is_a_dtype_error():
    loss = _two_placeholder_graph()
    with pytest.raises(pg.DTypeError, match="placeholder 'X' expects float64 data; the feed is int64"):
        loss.forward(X=np.ones((4, 3), dtype=np.int64), Y=np.zeros(4))


def test_backward_before_any_feed_is_an_error():
    loss = _two_placeholder_graph()
    with pytest.raises(pg.GradientError, match="forward"):
        loss.backward()


def test_placeholder_requires_data_or_shape():
    with pytest.raises(pg.ShapeError, match="give data, or a shape"):
        pg.Value()
    with pytest.raises(pg.ShapeError, match=r"data has shape \(2,\), not \(3,\)"):
        pg.Value(np.ones(2), shape=(3,))
