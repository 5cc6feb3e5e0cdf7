"""nn building blocks and optimizers."""
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


# -- optimizers ----------------------------------------------------------------------------------------

def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _sgd_reference(settings):
    lr, mu, wd = settings.get("lr", 0.01), settings.get("momentum", 0.0), settings.get("weight_decay", 0.0)

    def step(w, g, state, t):
        g = g + wd * w
        if mu:
            state = g if state is None else mu * state + g
            g = state
        return w - lr * g, state
    return step


def _adam_reference(settings):
    lr, (b1, b2), eps = settings.get("lr", 1e-3), settings.get("betas", (0.9, 0.999)), settings.get("eps", 1e-8)

    def step(w, g, state, t):
        m, v = state if state is not None else (np.zeros_like(w), np.zeros_like(w))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), (m, v)
    return step


# Update equations written out in NumPy, and the settings to try, per optimizer.
REFERENCES = {
    "SGD": (_sgd_reference, [{}, {"lr": 0.1}, {"lr": 0.05, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01}]),
    "Adam": (_adam_reference, [{}, {"lr": 0.1}, {"lr": 0.01, "betas": (0.8, 0.9), "eps": 1e-6}]),
}


def test_every_optimizer_has_a_reference():
    names = {cls.__name__ for cls in _all_subclasses(pg.optim.Optimizer)}
    assert names >= {"SGD", "Adam"}
    assert names <= set(REFERENCES), f"optimizers without update equations in this test: {names - set(REFERENCES)}"


@pytest.mark.parametrize("cls", list(_all_subclasses(pg.optim.Optimizer)), ids=lambda c: c.__name__)
def test_optimizer_steps_follow_the_update_equations(cls):
    make_reference, settings_list = REFERENCES[cls.__name__]
    rng = np.random.default_rng(5)
    for settings in settings_list:
        starts = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
        params = [pg.Value(s) for s in starts]
        idle = pg.Value(np.ones(2))  # never gets a gradient: must be left alone
        optimizer = cls(params + [idle], **settings)
        reference = make_reference(settings)
        expected = [s.copy() for s in starts]
        states = [None, None]
        for t in range(1, 4):
            grads = [rng.normal(size=s.shape) for s in starts]
            for p, g in zip(params, grads):
                p.grad = pg.Value(g).data
            optimizer.step()
            for i, g in enumerate(grads):
                expected[i], states[i] = reference(expected[i], g, states[i], t)
                np.testing.assert_allclose(to_numpy(params[i]), expected[i], rtol=1e-12, atol=1e-15,
                                           err_msg=f"{cls.__name__}{settings} step {t}")
        np.testing.assert_array_equal(to_numpy(idle), np.ones(2))
        assert optimizer.step_count == 3
        optimizer.zero_grad()
        assert all(p.grad is None for p in params)


@pytest.mark.parametrize("cls, settings", [(pg.optim.SGD, {"lr": 0.05, "momentum": 0.9}), (pg.optim.Adam, {"lr": 0.02})])
def test_short_training_run_decreases_the_loss(cls, settings):
    rng = np.random.default_rng(6)
    x = rng.uniform(-2, 2, size=(32, 1))
    y = np.sin(x)
    model = pg.nn.MLP([1, 16, 1], activation=pg.tanh, rng=rng)
    optimizer = cls(model.parameters(), **settings)
    losses = []
    for _ in range(60):
        loss = pg.mean((model(pg.Value(x)) - y) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.3 * losses[0], losses[::10]


def test_training_with_a_replayed_graph():
    """The static-graph path: build once with placeholders, then forward/backward/step."""
    rng = np.random.default_rng(8)
    model = pg.nn.MLP([2, 8, 3], rng=rng)
    X = pg.placeholder((None, 2), name="X")
    Y = pg.placeholder((None, 3), name="Y")
    loss = pg.mean(pg.sum((model(X) - Y) ** 2, axis=1))
    optimizer = pg.optim.Adam(model.parameters(), lr=0.03)
    w_true = rng.normal(size=(2, 3))
    losses = []
    for _ in range(40):
        x = rng.normal(size=(16, 2))
        loss.forward(X=x, Y=x @ w_true)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    assert np.mean(losses[-5:]) < 0.3 * np.mean(losses[:5])
