"""Optimizers, schedules and clipping.

Every optimizer's 50-step trajectory is checked against its update equations written out
here in NumPy (PyTorch's conventions; Lion's as in optax), in float64, on the active backend.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import polygrad as pg
from conftest import to_numpy

pytestmark = pytest.mark.usefixtures("float64")


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


OPTIMIZERS = sorted(set(_all_subclasses(pg.optim.Optimizer)), key=lambda c: c.__name__)


# -- reference update equations, one per optimizer: step(w, g, state, t, lr) -> (w, state) ----------

def sgd_reference(lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False):
    def step(w, g, s, t, eta):
        g = g + weight_decay * w
        if momentum:
            s["b"] = g if t == 1 else momentum * s["b"] + g  # torch: the buffer is g at the first step
            g = g + momentum * s["b"] if nesterov else s["b"]
        return w - eta * g
    return step


def adam_reference(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    b1, b2 = betas

    def step(w, g, s, t, eta):
        if decoupled:
            w = w * (1 - eta * weight_decay)
        else:
            g = g + weight_decay * w
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
        return w - eta * m_hat / (np.sqrt(v_hat) + eps)
    return step


def adamw_reference(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    return adam_reference(lr, betas, eps, weight_decay, decoupled=True)


def rmsprop_reference(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    def step(w, g, s, t, eta):
        g = g + weight_decay * w
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
        if centered:
            s["a"] = alpha * s.get("a", 0.0) + (1 - alpha) * g
            avg = np.sqrt(s["v"] - s["a"] ** 2) + eps
        else:
            avg = np.sqrt(s["v"]) + eps
        if momentum:
            s["b"] = momentum * s.get("b", 0.0) + g / avg
            return w - eta * s["b"]
        return w - eta * g / avg
    return step


def adagrad_reference(lr=0.01, eps=1e-10, weight_decay=0.0, initial_accumulator_value=0.0):
    def step(w, g, s, t, eta):
        g = g + weight_decay * w
        s["sum"] = s.get("sum", initial_accumulator_value) + g * g
        return w - eta * g / (np.sqrt(s["sum"]) + eps)
    return step


def lion_reference(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
    b1, b2 = betas

    def step(w, g, s, t, eta):
        m = s.get("m", 0.0)
        w = w - eta * (np.sign(b1 * m + (1 - b1) * g) + weight_decay * w)
        s["m"] = b2 * m + (1 - b2) * g
        return w
    return step


def decaying(t):  # a learning rate given as a callable of the step: the reference is handed the same values
    return 0.05 * 0.97 ** t


# Settings tried per optimizer (the reference takes the same keywords).
REFERENCES = {
    "SGD": (sgd_reference, [{"lr": 0.1}, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
                            {"lr": decaying, "momentum": 0.8, "nesterov": True}]),
    "Adam": (adam_reference, [{"lr": 0.1}, {"lr": decaying, "betas": (0.8, 0.9), "eps": 1e-6, "weight_decay": 0.1}]),
    "AdamW": (adamw_reference, [{"lr": 0.1}, {"lr": decaying, "weight_decay": 0.1}]),
    "RMSprop": (rmsprop_reference, [{"lr": 0.01}, {"lr": decaying, "alpha": 0.9, "momentum": 0.5,
                                                   "centered": True, "weight_decay": 0.01}]),
    "Adagrad": (adagrad_reference, [{"lr": 0.1}, {"lr": decaying, "weight_decay": 0.01,
                                                  "initial_accumulator_value": 0.1}]),
    "Lion": (lion_reference, [{"lr": 0.01}, {"lr": decaying, "betas": (0.8, 0.95), "weight_decay": 0.1}]),
}


def test_every_optimizer_has_a_reference():
    names = {cls.__name__ for cls in OPTIMIZERS}
    assert names >= {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Lion"}
    assert names <= set(REFERENCES), f"optimizers without update equations in this test: {names - set(REFERENCES)}"


# The parameters are shaped as SMALL_MODEL's first layer, and every training test here and in
# test_io.py uses that model: on the jax backend each new (op, shape) costs an XLA compile.
SMALL_MODEL = [2, 3, 1]
TARGETS = [np.linspace(-1.0, 1.0, 6).reshape(2, 3), np.array([0.5, -0.25, 1.0])]


def small_model(seed=0):
    return pg.nn.MLP(SMALL_MODEL, activation=pg.tanh, rng=seed)


def small_batches(count, seed=0):
    """(x, y) batches of 8 for SMALL_MODEL: a smooth target it can fit."""
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        x = rng.uniform(-2, 2, size=(8, 2))
        batches.append((x, np.sin(x[:, :1]) + 0.5 * x[:, 1:]))
    return batches


def _gradient(w, c):
    """d/dw sum(0.5 (w - c)^2 + 0.1 cos(3 w)): a curved bowl with ripples."""
    return (w - c) - 0.3 * np.sin(3 * w)


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_optimizer_trajectory_follows_its_update_equations(cls):
    make_reference, settings_list = REFERENCES[cls.__name__]
    rng = np.random.default_rng(5)
    for settings in settings_list:
        starts = [rng.normal(size=(2, 3)), rng.normal(size=(3,))]
        params = [pg.Value(s) for s in starts]
        idle = pg.Value(np.ones(3))  # never gets a gradient: must be left alone
        optimizer = cls(params + [idle], **settings)
        reference = make_reference(**settings)
        expected = [s.copy() for s in starts]
        states = [{}, {}]
        for t in range(1, 51):
            loss = sum(pg.sum(0.5 * (p - c) ** 2 + 0.1 * pg.cos(3.0 * p)) for p, c in zip(params, TARGETS))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            eta = settings["lr"](t - 1) if callable(settings["lr"]) else settings["lr"]
            assert optimizer.last_lr == eta
            for i, c in enumerate(TARGETS):
                expected[i] = reference(expected[i], _gradient(expected[i], c), states[i], t, eta)
                np.testing.assert_allclose(to_numpy(params[i]), expected[i], rtol=1e-9, atol=1e-12,
                                           err_msg=f"{cls.__name__}{settings} step {t}")
        np.testing.assert_array_equal(to_numpy(idle), np.ones(3))
        assert optimizer.step_count == 50


@pytest.mark.parametrize("cls, settings", [
    (pg.optim.SGD, {"lr": 0.05, "momentum": 0.9}), (pg.optim.Adam, {"lr": 0.05}),
    (pg.optim.AdamW, {"lr": 0.05}), (pg.optim.Lion, {"lr": 0.01}),
])
def test_short_training_run_decreases_the_loss(cls, settings):
    model = small_model()
    optimizer = cls(model, **settings)
    (x, y), = small_batches(1)
    losses = []
    for _ in range(60):
        loss = pg.nn.mse_loss(model(pg.Value(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.3 * losses[0], losses[::10]


def test_training_with_a_replayed_graph():
    """The static-graph path: build once with placeholders, then forward/backward/step."""
    model = small_model()
    X = pg.placeholder((None, 2), name="X")
    Y = pg.placeholder((None, 1), name="Y")
    loss = pg.nn.mse_loss(model(X), Y)
    optimizer = pg.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for x, y in small_batches(40, seed=1):
        loss.forward(X=x, Y=y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


# -- learning rates ------------------------------------------------------------------------------

def test_schedules_follow_their_formulas():
    s = pg.optim.step_decay(1.0, 10, 0.5)
    assert [s(t) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    e = pg.optim.exponential_decay(2.0, 0.5, 10)
    assert e(0) == 2.0 and e(10) == 1.0 and math.isclose(e(5), 2.0 * math.sqrt(0.5))
    assert pg.optim.constant(0.3)(1000) == 0.3

    c = pg.optim.cosine_decay(1.0, 100, warmup_steps=10, warmup_start=0.1, end=0.01)
    expected = {0: 0.1, 5: 0.55, 10: 1.0, 55: 0.01 + 0.99 * 0.5, 100: 0.01, 500: 0.01}
    for t, value in expected.items():
        assert math.isclose(c(t), value, rel_tol=1e-12), t
    plain = pg.optim.cosine_decay(1.0, 4)
    assert [round(plain(t), 12) for t in range(5)] == [1.0, round((1 + math.cos(math.pi / 4)) / 2, 12), 0.5,
                                                        round((1 + math.cos(3 * math.pi / 4)) / 2, 12), 0.0]

    # PyTorch's OneCycleLR(max_lr=1, total_steps=100): 0.04 at the start, 1 at step 29, 4e-6 at step 99.
    o = pg.optim.one_cycle(1.0, 100)
    assert math.isclose(o(0), 0.04) and math.isclose(o(29), 1.0) and math.isclose(o(99), 4e-6)
    up = [o(t) for t in range(30)]
    down = [o(t) for t in range(29, 100)]
    assert up == sorted(up) and down == sorted(down, reverse=True)
    assert math.isclose(o(14.5), 0.04 + (1 - 0.04) / 2)  # halfway up the cosine: the mean of its ends

    with pytest.raises(ValueError, match="warmup_steps"):
        pg.optim.cosine_decay(1.0, 10, warmup_steps=10)
    with pytest.raises(ValueError, match="pct_start"):
        pg.optim.one_cycle(1.0, 100, pct_start=1.5)


def test_a_generator_or_callable_gives_the_learning_rate_per_step():
    w = pg.Value(np.zeros(1))
    seen = []
    optimizer = pg.optim.SGD([w], lr=lambda t: seen.append(t) or 0.1 * (t + 1))
    for _ in range(3):
        w.grad = pg.Value(np.ones(1)).data
        optimizer.step()
    assert seen == [0, 1, 2]
    np.testing.assert_allclose(to_numpy(w), [-(0.1 + 0.2 + 0.3)])

    rates = (0.5 ** k for k in range(2))   # brief-ds style: a generator, one value per step
    optimizer = pg.optim.SGD([w], lr=rates)
    for expected in (1.0, 0.5):
        w.grad = pg.Value(np.ones(1)).data
        optimizer.step()
        assert optimizer.last_lr == expected
    with pytest.raises(pg.PolygradError, match="ran out after 2 steps"):
        optimizer.step()
    optimizer.lr = 0.25   # hyperparameters can be changed between steps
    optimizer.step()
    assert optimizer.last_lr == 0.25


def test_bad_settings_and_parameters_are_clear_errors():
    w = pg.Value(np.zeros(2))
    with pytest.raises(ValueError, match="momentum"):
        pg.optim.SGD([w], momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        pg.optim.SGD([w], nesterov=True)
    with pytest.raises(ValueError, match="not a leaf"):
        pg.optim.Adam([w * 2.0])
    with pytest.raises(TypeError, match="not a Value"):
        pg.optim.Adam([np.zeros(2)])
    with pytest.raises(TypeError, match="lr must be"):
        optimizer = pg.optim.SGD([w], lr="fast")
        w.grad = pg.Value(np.ones(2)).data
        optimizer.step()


# -- clipping ---------------------------------------------------------------------------------

def test_clip_grad_norm_scales_all_gradients_together():
    a, b = pg.Value(np.zeros((2, 2))), pg.Value(np.zeros(3))
    unused = pg.Value(np.zeros(1))
    ga, gb = np.array([[3.0, 0.0], [0.0, 4.0]]), np.array([0.0, 12.0, 0.0])
    a.grad, b.grad = pg.Value(ga).data, pg.Value(gb).data
    norm = pg.optim.clip_grad_norm([a, b, unused], 6.5)
    assert math.isclose(norm, 13.0)
    np.testing.assert_allclose(to_numpy(a.grad), ga * 0.5)
    np.testing.assert_allclose(to_numpy(b.grad), gb * 0.5)
    assert unused.grad is None
    assert math.isclose(pg.optim.clip_grad_norm([a, b], 100.0), 6.5)   # under the limit: unchanged
    np.testing.assert_allclose(to_numpy(a.grad), ga * 0.5)
    with pytest.raises(ValueError, match="max_norm"):
        pg.optim.clip_grad_norm([a], 0.0)


def test_clip_grad_value_and_clipping_a_module():
    model = small_model()
    first = model.layers[0]
    x = np.zeros((8, 2))
    x[0] = [10.0, -20.0]
    pg.sum(first(pg.Value(x))).backward()   # weight gradient: x^T @ ones, bias gradient: 8 per output
    pg.optim.clip_grad_value(model, 1.5)
    np.testing.assert_allclose(to_numpy(first.weight.grad), [[1.5] * 3, [-1.5] * 3])
    np.testing.assert_allclose(to_numpy(first.bias.grad), [1.5] * 3)
    assert model.layers[1].weight.grad is None
    optimizer = pg.optim.SGD(model, lr=0.1)
    assert math.isclose(pg.optim.clip_grad_norm(optimizer, 1.0), math.sqrt(9 * 1.5 ** 2))


# -- state ----------------------------------------------------------------------------------------

def _train(model, optimizer, batches):
    for x, y in batches:
        loss = pg.nn.mse_loss(model(pg.Value(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("cls", [pg.optim.Adam, pg.optim.RMSprop])
def test_optimizer_state_round_trips_through_state_dict(cls):
    model = small_model()
    settings = {"centered": True, "momentum": 0.5} if cls is pg.optim.RMSprop else {}
    optimizer = cls(model, lr=0.01, **settings)
    batches = small_batches(5)
    _train(model, optimizer, batches[:3])
    state = optimizer.state_dict()
    assert state["step"] == 3
    assert set(state["state"]) == {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}
    saved_params = model.state_dict()

    _train(model, optimizer, batches[3:])
    continued = [to_numpy(p) for p in model.parameters()]

    clone = small_model(seed=99)
    clone.load_state_dict(saved_params)
    restored = cls(clone, lr=0.01, **settings)
    restored.load_state_dict(state)
    assert restored.step_count == 3
    _train(clone, restored, batches[3:])
    for got, want in zip(clone.parameters(), continued):
        np.testing.assert_array_equal(to_numpy(got), want)


def test_optimizer_load_state_dict_names_what_does_not_fit():
    small = pg.optim.Adam(small_model())
    other = pg.optim.Adam(pg.nn.MLP([2, 5, 1], rng=1))
    with pytest.raises(pg.StateDictError, match=r"shape mismatch: state.layers.0.weight.m: \(2, 5\) in the state, \(2, 3\) expected"):
        small.load_state_dict(other.state_dict())
    sgd = pg.optim.SGD(small_model())
    with pytest.raises(pg.StateDictError, match=r"unexpected: state.layers.0.weight.m"):
        sgd.load_state_dict(small.state_dict())
    with pytest.raises(pg.StateDictError, match=r"missing: step"):
        sgd.load_state_dict({})


def test_parameters_by_name_from_a_dict_tree():
    tree = {"encoder": {"w": pg.Value(np.ones(2))}, "head": [pg.Value(np.ones(1))]}
    optimizer = pg.optim.Adam(tree)
    assert optimizer.names == ["encoder.w", "head.0"]
    assert list(itertools.chain.from_iterable(s.keys() for s in optimizer.state.values())) == ["m", "v", "m", "v"]
