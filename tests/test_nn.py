"""nn basics: Linear, MLP, the parameter walk, the two original losses (layers and the
Module tree in depth: test_nn_layers.py; optimizers: test_optim.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import polygrad as pg
from conftest import to_numpy

pytestmark = pytest.mark.usefixtures("float64")


# -- modules ---------------------------------------------------------------------------------------

def test_linear_parameters_shapes_and_forward():
    layer = pg.nn.Linear(3, 2, rng=np.random.default_rng(0))
    params = layer.parameters()
    assert [p.shape for p in params] == [(3, 2), (2,)]
    assert all(p.requires_grad and p.is_leaf and p.dtype == pg.default_dtype() for p in params)
    bound = 1 / math.sqrt(3)
    assert all(np.all(np.abs(to_numpy(p)) <= bound) for p in params)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(to_numpy(layer(pg.Value(x))), x @ to_numpy(layer.weight) + to_numpy(layer.bias))
    assert pg.nn.Linear(3, 2, bias=False).parameters()[0].shape == (3, 2)
    assert len(pg.nn.Linear(3, 2, bias=False).parameters()) == 1


def test_same_seed_same_model():
    a = pg.nn.MLP([2, 4, 1], rng=np.random.default_rng(7))
    b = pg.nn.MLP([2, 4, 1], rng=np.random.default_rng(7))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(to_numpy(p), to_numpy(q))


def test_mlp_parameters_in_order_and_forward():
    model = pg.nn.MLP([4, 5, 3, 2], rng=np.random.default_rng(1))
    params = model.parameters()
    assert [p.shape for p in params] == [(4, 5), (5,), (5, 3), (3,), (3, 2), (2,)]
    assert len({id(p) for p in params}) == len(params)
    x = np.random.default_rng(2).normal(size=(7, 4))
    h = x
    arrays = [to_numpy(p) for p in params]
    for i in range(0, 6, 2):
        h = h @ arrays[i] + arrays[i + 1]
        if i < 4:
            h = np.maximum(h, 0.0)
    np.testing.assert_allclose(to_numpy(model(pg.Value(x))), h, rtol=1e-12)
    pg.sum(model(pg.Value(x))).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in params)
    model.zero_grad()
    assert all(p.grad is None for p in params)


def test_module_walks_nested_containers_without_duplicates():
    class Net(pg.nn.Module):
        def __init__(self):
            self.shared = pg.Value(np.ones(2))
            self.blocks = {"a": pg.nn.Linear(2, 2), "b": [pg.nn.Linear(2, 1)]}
            self.again = self.shared
            self.frozen = pg.Value(np.ones(2), requires_grad=False)
            self.scale = 3.0
    params = Net().parameters()
    assert len(params) == 5
    assert [p.shape for p in params] == [(2,), (2, 2), (2,), (2, 1), (1,)]


def test_module_without_forward():
    with pytest.raises(NotImplementedError, match="must define forward"):
        pg.nn.Module()(1)


def test_losses_match_numpy():
    rng = np.random.default_rng(3)
    logits, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -log_probs[np.arange(5), labels].mean()
    got = pg.nn.softmax_cross_entropy(pg.Value(logits), pg.Value(labels))
    np.testing.assert_allclose(float(got.item()), expected, rtol=1e-12)

    prediction, target, q = rng.normal(size=(6, 3)), rng.normal(size=6), np.array([0.1, 0.5, 0.9])
    diff = target[:, None] - prediction
    expected = np.mean(np.maximum(q * diff, (q - 1) * diff))
    got = pg.nn.pinball_loss(pg.Value(prediction), pg.Value(target), pg.Value(q))
    np.testing.assert_allclose(float(got.item()), expected, rtol=1e-12)
