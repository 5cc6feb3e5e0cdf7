"""An engine that cannot hand back a wrong gradient (issue 11): all-or-nothing replay,
per-thread state under real threads, anomaly mode, errors that name the op, dtype
promotion, no aliasing, pickling, and edge cases. Runs on every backend."""
from __future__ import annotations

import copy
import pickle
import re
import threading

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, run_python, to_numpy

OTHER = "numpy" if BACKEND != "numpy" else "array_api_strict"
F32 = pg.backend().dtype("float32")


def _dtype(name):
    return pg.backend().dtype(name)


def dtype_name(dtype) -> str:
    """'float32' from any library's float32 (NumPy's type, MLX's, array-api-strict's...)."""
    return str(dtype).rsplit(".", 1)[-1].strip("'>")


OUT_KERNELS = sorted(getattr(pg.backend(), "out_kernels", {}))


# -- 1. forward(**feeds): all-or-nothing, every placeholder fed, only placeholders fed ---------

W = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]], dtype=np.float32)


def _graph():
    X = pg.placeholder((None, 3), name="X")
    Y = pg.placeholder((None,), name="Y")
    w = pg.Value(W, name="w")
    hidden = pg.tanh(X @ w)
    loss = pg.mean((pg.sum(hidden * hidden, axis=1) - Y) ** 2)
    return loss, w


def _batch(seed, n):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n,)).astype(np.float32)


def test_a_forward_that_fails_part_way_leaves_the_graph_as_it_was():
    loss, w = _graph()
    x, y = _batch(0, 4)
    loss.forward(X=x, Y=y)
    nodes = pg.engine.toposort(loss)
    before = [(n.data, None if n.data is None else to_numpy(n.data).copy()) for n in nodes]
    bad_x, _ = _batch(1, 5)
    with pytest.raises(pg.ShapeError, match=r"subtract: shapes \(5,\) and \(4,\) cannot be broadcast"):
        loss.forward(X=bad_x, Y=y)  # X fits its placeholder; the graph fails deep inside
    for node, (data, values) in zip(nodes, before):
        assert node.data is data  # nothing written, placeholders included
        np.testing.assert_array_equal(to_numpy(node.data), values)
    # the next good forward + backward gives what a fresh graph gives
    x2, y2 = _batch(2, 4)
    loss.forward(X=x2, Y=y2)
    loss.backward()
    fresh_w = pg.Value(W)
    fresh = pg.mean((pg.sum(pg.tanh(pg.Value(x2) @ fresh_w) ** 2, axis=1) - pg.Value(y2)) ** 2)
    fresh.backward()
    np.testing.assert_allclose(to_numpy(loss), to_numpy(fresh), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(w.grad), to_numpy(fresh_w.grad), rtol=1e-5)


def test_every_placeholder_is_fed_on_every_forward():
    loss, _ = _graph()
    x, y = _batch(0, 4)
    loss.forward(X=x, Y=y)
    with pytest.raises(pg.FeedError, match=r"feed every placeholder on each forward; missing: 'Y'"):
        loss.forward(X=x)  # today's Y would be reused silently


def test_a_graph_without_placeholders_replays_with_no_feeds():
    w = pg.Value(np.array([1.0, 2.0]))
    out = pg.sum(w * w)
    w.data = pg.Value(np.array([3.0, 4.0])).data
    out.forward()
    assert float(out.item()) == 25.0
    with pytest.raises(pg.FeedError, match=r"no placeholder named 'X'.*placeholders are: none"):
        out.forward(X=np.ones(2))


def test_feeding_a_named_parameter_is_an_error_and_leaves_its_weights():
    loss, w = _graph()
    x, y = _batch(0, 4)
    with pytest.raises(pg.FeedError, match=r"no placeholder named 'w'.*'w' is a named Value made from data"):
        loss.forward(X=x, Y=y, w=np.zeros((3, 2)))
    np.testing.assert_array_equal(to_numpy(w), W)
    assert loss.data is None  # the failed forward computed nothing into the graph


def test_feed_errors_name_the_placeholder_and_dtypes_in_words():
    loss, _ = _graph()
    x, y = _batch(0, 4)
    with pytest.raises(pg.DTypeError, match=r"^forward: placeholder 'X' expects float32 data; the feed is int64"):
        loss.forward(X=x.astype(np.int64), Y=y)
    with pytest.raises(pg.ShapeError, match=r"placeholder 'Y' expects shape \(None,\) \(None: any size\); "
                                            r"the feed has shape \(4, 1\)"):
        loss.forward(X=x, Y=y[:, None])


def test_two_placeholders_with_one_name_are_an_error():
    out = pg.sum(pg.placeholder((2,), name="X") * pg.placeholder((2,), name="X"))
    with pytest.raises(pg.FeedError, match="two placeholders named 'X'"):
        out.forward(X=np.ones(2))


def test_placeholders_are_flagged_named_values_are_not():
    assert pg.replay.is_placeholder(pg.placeholder((2,), name="X"))
    assert not pg.replay.is_placeholder(pg.Value(np.ones(2), name="X"))


# -- 2. the replay plan and NumPy buffer reuse ------------------------------------------------------

def _chain(h):
    for i in range(6):
        h = [h * 0.9, h + 0.1, pg.tanh(h), pg.sin(h)][i % 4]
    return pg.sum(pg.exp(-h) * h)


@pytest.mark.skipif(BACKEND != "numpy", reason="shape changes matter to buffer reuse, NumPy's alone; "
                                                "tests/test_replay.py checks replay on every backend")
def test_replay_matches_eager_across_changing_shapes():
    X = pg.placeholder((None, 3), name="X")
    w = pg.Value(W)
    root = _chain(X @ w)
    for n in (4, 7, 7, 4, 4):
        x, _ = _batch(n, n)
        w.grad = None
        root.forward(X=x)
        root.backward()
        w_eager = pg.Value(W)
        eager = _chain(pg.Value(x) @ w_eager)
        eager.backward()
        np.testing.assert_allclose(to_numpy(root), to_numpy(eager), rtol=1e-6)
        np.testing.assert_allclose(to_numpy(w.grad), to_numpy(w_eager.grad), rtol=1e-5)


def test_replay_never_writes_into_an_array_a_user_holds():
    X = pg.placeholder((None, 3), name="X")
    hidden = pg.tanh(X * 2.0)
    root = pg.sum(hidden + 1.0)
    held = []
    for seed in range(5):
        x, _ = _batch(seed, 4)
        root.forward(X=x)
        held.append((hidden.data, np.tanh(x * 2.0), root.data, float(to_numpy(root))))
    for data, expected, root_data, total in held:  # every array handed out keeps its values
        np.testing.assert_allclose(to_numpy(data), expected, rtol=1e-6)
        assert float(to_numpy(root_data)) == total


@pytest.mark.skipif(BACKEND != "numpy", reason="buffer reuse (ufuncs with out=) is NumPy's alone")
def test_numpy_replay_alternates_between_two_buffers():
    x = pg.Value(np.ones((4, 4)))
    hidden = pg.tanh(x * 0.5)
    root = pg.sum(hidden)
    seen = set()
    for _ in range(6):
        root.forward()
        seen.add(id(hidden.data))
    assert len(seen) == 2  # the node's data and its spare, reused in turn


def test_replay_of_0d_and_mixed_results_matches_eager():
    x = pg.Value(np.array([0.5, 1.5]))
    scalar = pg.exp(pg.tanh(pg.sum(x)) * 2.0)  # 0-d ufunc results (NumPy scalars on NumPy)
    root = pg.sum(pg.exp(scalar + x) * x)
    for _ in range(4):
        root.forward()
    expected = np.sum(np.exp(np.exp(np.tanh(2.0) * 2.0) + np.array([0.5, 1.5])) * np.array([0.5, 1.5]))
    np.testing.assert_allclose(float(root.item()), expected, rtol=1e-6)


@pytest.mark.skipif(not OUT_KERNELS, reason="this backend writes no results in place")
@pytest.mark.parametrize("name", OUT_KERNELS)
def test_out_kernels_compute_what_their_rules_compute(name):
    on = pg.backend()
    rule = pg.RULES[name]
    rng = np.random.default_rng(0)
    arity = rule.forward.__code__.co_argcount - 1
    a = on.asarray(rng.uniform(0.5, 2.0, (3, 1)).astype(np.float32))
    b = on.asarray(rng.uniform(0.5, 2.0, (4,)).astype(np.float32))
    args = (a, b)[:arity]
    expected = rule.forward(on.xp, *args)
    buffer = on.xp.zeros(expected.shape, dtype=expected.dtype)
    got = on.out_kernels[name](*args, out=buffer)
    assert got is buffer
    np.testing.assert_array_equal(to_numpy(got), to_numpy(expected))


# -- 3. per-thread state, under threads forced to overlap ------------------------------------------

def _regression(seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(8, 3)), rng.normal(size=(8, 1)), rng.normal(size=(8, 3)), rng.normal(size=(8, 1)))


def _train(steps, seed, barrier=None, evaluate=False):
    """SGD on a linear model (few ops a step: JAX dispatches each); every 50 steps a barrier
    makes the other thread run meanwhile."""
    X, y, Xv, yv = _regression(seed)
    w = pg.Value(np.full((3, 1), 0.1))
    X, y, Xv, yv = (pg.Value(a, requires_grad=False) for a in (X, y, Xv, yv))
    optimizer = pg.optim.SGD([w], lr=0.01)
    losses, evals = [], []
    for step in range(steps):
        if barrier is not None and step % 50 == 0:
            barrier.wait(timeout=120)
        d = X @ w - y
        loss = pg.sum(d * d)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.data)
        if evaluate and step % 10 == 0:
            with pg.no_grad():
                dv = Xv @ w - yv
                held_out = pg.sum(dv * dv)
            assert held_out.op is None and not held_out.requires_grad  # nothing recorded
            evals.append(held_out.data)
    xp = w.backend.xp
    return {"backend": w.backend.name, "w": to_numpy(w), "losses": to_numpy(xp.stack(losses)),
            "evals": to_numpy(xp.stack(evals)) if evals else None}


def _train_on_other(steps, seed, barrier=None):
    with pg.use_backend(OTHER):
        return _train(steps, seed, barrier)


def test_two_threads_train_as_if_one_after_the_other():
    steps = 1000
    expected = [_train(steps, 0, evaluate=True), _train_on_other(steps, 1)]
    barrier = threading.Barrier(2)
    results: list = [None, None]
    errors: list = []

    def run(i, job):
        try:
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(0, lambda: _train(steps, 0, barrier, evaluate=True))),
               threading.Thread(target=run, args=(1, lambda: _train_on_other(steps, 1, barrier)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results[0]["backend"] == BACKEND and results[1]["backend"] == OTHER
    for got, want in zip(results, expected):
        for key in ("w", "losses", "evals"):
            np.testing.assert_array_equal(got[key], want[key])
    assert pg.is_grad_enabled() and pg.backend().name == BACKEND


def test_overlapping_contexts_in_two_threads_restore_correctly():
    barrier = threading.Barrier(2)
    seen: dict = {}
    errors: list = []

    def first():
        with pg.no_grad():
            barrier.wait(timeout=30)                # 1: both inside their blocks
            barrier.wait(timeout=30)                # 2: the other has entered its own
            seen["first inside"] = (pg.is_grad_enabled(), pg.backend().name, pg.is_anomaly_enabled(),
                                    pg.default_dtype() == _dtype("float32"))
            x = pg.Value(np.ones(2))
            seen["first records"] = (x * 2.0).op
        barrier.wait(timeout=30)                    # 3: left its block while the other is inside
        barrier.wait(timeout=30)                    # 4
        seen["first after"] = (pg.is_grad_enabled(), pg.backend().name)

    def second():
        barrier.wait(timeout=30)                    # 1
        with pg.use_backend(OTHER), pg.detect_anomaly(), pg.use_default_dtype("float64"):
            barrier.wait(timeout=30)                # 2
            barrier.wait(timeout=30)                # 3: the first thread has left no_grad
            seen["second inside"] = (pg.is_grad_enabled(), pg.backend().name, pg.is_anomaly_enabled(),
                                     pg.default_dtype() == pg.backend().dtype("float64"))
            f = pg.grad(lambda v: pg.sum(v * v))
            seen["second grad"] = to_numpy(f(pg.Value([1.0, 2.0])))
        seen["second after"] = (pg.is_grad_enabled(), pg.backend().name, pg.is_anomaly_enabled())
        barrier.wait(timeout=30)                    # 4

    def guarded(job):
        try:
            job()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=guarded, args=(job,)) for job in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert seen["first inside"] == (False, BACKEND, False, True)
    assert seen["first records"] is None
    assert seen["first after"] == (True, BACKEND)
    assert seen["second inside"] == (True, OTHER, True, True)
    np.testing.assert_array_equal(seen["second grad"], [2.0, 4.0])
    assert seen["second after"] == (True, BACKEND, False)


def test_constants_made_in_two_threads_take_each_threads_default_dtype():
    results: dict = {}
    barrier = threading.Barrier(2)

    def run(name):
        with pg.use_default_dtype(name):
            barrier.wait(timeout=30)
            ints = pg.Value(np.arange(3))
            results[name] = {dtype_name((ints + 0.5).dtype) for _ in range(200)}

    threads = [threading.Thread(target=run, args=(name,)) for name in ("float32", "float64")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"float32": {"float32"}, "float64": {"float64"}}


def test_one_graph_replayed_by_two_threads_at_once_is_an_error():
    X = pg.placeholder((2,), name="X")
    root = pg.sum(X * X)
    root.forward(X=np.ones(2))
    errors: list = []
    with root._plan.lock:  # as if another thread were in the middle of a replay
        thread = threading.Thread(target=lambda: errors.append(pytest.raises(pg.FeedError, root.forward, X=np.ones(2))))
        thread.start()
        thread.join()
    assert errors and "another thread" in str(errors[0].value)
    root.forward(X=np.full(2, 2.0))
    assert float(root.item()) == 8.0


# -- 4. anomaly mode ------------------------------------------------------------------------------

def test_anomaly_mode_names_the_op_shapes_and_line_of_a_forward_nan():
    x = pg.Value(np.array([1.0, 0.0, -1.0]))
    with pg.detect_anomaly():
        with pytest.raises(pg.AnomalyError) as caught:
            pg.log(x)  # the line the error must name
    message = str(caught.value)
    assert re.match(r"^log: the forward produced nan and inf \(input shapes \(3,\); output shape \(3,\)\)", message)
    assert "test_trust.py" in message and "pg.log(x)  # the line the error must name" in message
    assert isinstance(caught.value, FloatingPointError) and isinstance(caught.value, pg.PolygradError)
    pg.log(x)  # outside the block: no error, and nothing recorded on the node
    assert getattr(pg.exp(x), "_origin", None) is None


def test_anomaly_mode_catches_the_first_nan_of_a_backward():
    x = pg.Value(np.array([4.0, 0.0]))
    with pg.detect_anomaly():
        root = pg.sum(pg.sqrt(x) * 3.0)  # finite forward; sqrt'(0) = inf
        with pytest.raises(pg.AnomalyError, match=r"^sqrt: the backward produced inf in the gradient of input 0 "
                                                  r"\(input shapes \(2,\); output shape \(2,\)\); the node was "
                                                  r"created at .*test_trust.py:\d+ .*pg.sqrt\(x\)"):
            root.backward()
    assert x.grad is None  # a failed backward writes no gradient


def test_anomaly_mode_in_a_replay_leaves_the_graph_as_it_was():
    X = pg.placeholder((None,), name="X")
    with pg.detect_anomaly():
        root = pg.sum(pg.log(X))
        root.forward(X=np.ones(3))
        with pytest.raises(pg.AnomalyError, match=r"^log: the forward produced inf .*pg.sum\(pg.log\(X\)\)"):
            root.forward(X=np.zeros(3))
    assert float(root.item()) == 0.0
    with pg.detect_anomaly(False):
        root.forward(X=np.zeros(3))  # turned off for a block: the infinity is intended
    assert float(root.item()) == -np.inf


def test_the_environment_variable_turns_anomaly_mode_on_and_no_backend_moves_numpys_random_state():
    """One fresh interpreter for two checks: POLYGRAD_DEBUG_NANS=1, and selecting (importing)
    the backend leaves NumPy's global random state where it was (importing JAX draws from it)."""
    code = ("import numpy as np\nnp.random.seed(0)\nbefore = np.random.get_state()\n"
            "import polygrad as pg\npg.sum(pg.Value(np.ones(2)) * 2.0).backward()\n"
            "with pg.use_backend('numpy'):\n    pg.Value(1.0)\n"
            "after = np.random.get_state()\n"
            "print((before[1] == after[1]).all() and before[2] == after[2])\n"
            "assert pg.is_anomaly_enabled()\n"
            "try:\n    pg.Value(np.zeros(2)) / 0.0\nexcept pg.AnomalyError as e:\n    print(e)\n")
    done = run_python(code, POLYGRAD_BACKEND=BACKEND, POLYGRAD_DEBUG_NANS="1")
    assert done.returncode == 0, done.stderr
    random_state_kept, anomaly = done.stdout.splitlines()[:2]
    assert random_state_kept == "True"
    assert anomaly.startswith("divide: the forward produced nan")


# -- 5. errors: a polygrad type that is also the builtin one, naming the op ------------------------

ERRORS = {
    "matmul shapes": (lambda x: x @ x, "ShapeError", ValueError, r"^matmul: shapes \(2, 3\) and \(2, 3\)"),
    "impossible reshape": (lambda x: pg.reshape(x, (4,)), "ShapeError", ValueError, r"^reshape: .*\(2, 3\)"),
    "axis out of range": (lambda x: pg.sum(x, axis=5), "AxisError", IndexError, r"^sum: input shapes \(2, 3\).*axis"),
    "too many indices": (lambda x: x[0, 0, 0], "IndexingError", IndexError, r"^getitem: too many indices \(3\)"),
    "two ellipses": (lambda x: x[..., 0, ...], "IndexingError", IndexError, r"^getitem: .*one ellipsis"),
    "a string index": (lambda x: x["a"], "IndexingError", IndexError, r"^getitem: input shapes \(2, 3\)"),
    "unknown dtype name": (lambda x: pg.astype(x, "float17"), "DTypeError", TypeError,
                           r"^astype: unknown dtype name 'float17'"),
    "bfloat16 on numpy": (lambda x: pg.astype(x, "bfloat16") if BACKEND in ("numpy", "array_api_strict") else pg.astype(x, "float17"),
                          "DTypeError", TypeError, r"^astype: (dtype 'bfloat16' is not supported by the \w+ backend|unknown)"),
    "a string Value": (lambda x: pg.Value("abc"), "DTypeError", TypeError, r"^Value: cannot make a numeric array from str"),
    "a list of strings": (lambda x: pg.Value(["a", "b"]), "DTypeError", TypeError, r"^Value: "),
    "ragged lists": (lambda x: pg.Value([[1.0, 2.0], [3.0]]), "ShapeError", ValueError, r"^Value: the nested lists .* are ragged"),
    "an object array": (lambda x: pg.Value(np.array([object()])), "DTypeError", TypeError, r"^Value: "),
    "prod of 0-d over axis 0": (lambda x: pg.prod(pg.Value(2.0), axis=0), "AxisError", IndexError,
                                r"^prod: input shapes \(\); .*axis 0 is out of bounds"),
    "zeros with a bad dtype": (lambda x: pg.zeros(2, dtype="float17"), "DTypeError", TypeError, r"^zeros: unknown dtype"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_input_raises_a_polygrad_error_that_is_also_the_builtin_one(case):
    call, type_name, builtin, pattern = ERRORS[case]
    x = pg.Value(np.ones((2, 3)))
    with pytest.raises(getattr(pg, type_name), match=pattern) as caught:
        call(x)
    assert isinstance(caught.value, builtin) and isinstance(caught.value, pg.PolygradError)


# -- 6. dtypes as the standard and NumPy promote them -----------------------------------------------

def _kind(value):
    xp = value.backend.xp
    for kind in ("bool", "signed integer", "real floating", "complex floating"):
        if xp.isdtype(value.dtype, kind):
            return kind


def test_python_numbers_promote_bool_and_integer_values():
    flags = pg.Value(np.array([True, False]))
    ints = pg.Value(np.array([1, 2]))
    assert _kind(flags + 1) == "signed integer"
    np.testing.assert_array_equal(to_numpy(flags + 1), [2, 1])
    assert _kind(flags + 1.0) == "real floating" and (flags + 1.0).dtype == F32
    assert (ints + 0.5).dtype == F32  # the default float, not float64 (NumPy's) or an error (strict)
    np.testing.assert_array_equal(to_numpy(ints * 2.5), [2.5, 5.0])
    assert _kind(pg.where(flags, 1, 0)) == "signed integer"  # where's condition does not decide
    assert _kind(pg.logical_and(flags, 1)) == "bool"
    assert _kind(flags < 1) == "bool"


@pytest.mark.parametrize("make", [
    lambda d: pg.zeros(2, dtype=d), lambda d: pg.ones((2,), dtype=d), lambda d: pg.full(2, 3, dtype=d),
    lambda d: pg.arange(3, dtype=d), lambda d: pg.asarray([1, 2], dtype=d), lambda d: pg.empty(2, dtype=d),
    lambda d: pg.eye(2, dtype=d), lambda d: pg.linspace(0, 1, 3, dtype=d), lambda d: pg.zeros_like(pg.Value([1.0]), dtype=d),
    lambda d: pg.astype(pg.Value([1.0]), d), lambda d: pg.Value([1.0], dtype=d), lambda d: pg.placeholder((1,), name="p", dtype=d),
], ids=["zeros", "ones", "full", "arange", "asarray", "empty", "eye", "linspace", "zeros_like", "astype", "Value",
        "placeholder"])
@pytest.mark.parametrize("dtype", ["float32", "int32", np.float32, np.dtype("int32")], ids=["float32", "int32", "np.float32", "np.dtype"])
def test_dtype_names_and_numpy_dtypes_work_in_every_creation_function(make, dtype):
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    if name == "int32" and make.__name__ == "<lambda>" and "linspace" in make.__code__.co_names:
        pytest.skip("linspace makes floating-point numbers (the standard)")
    assert make(dtype).dtype == _dtype(name)


def test_gradients_through_complex_intermediates_follow_jax():
    jax = pytest.importorskip("jax", reason="JAX is the oracle of the complex convention")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    wide = BACKEND != "mlx"  # MLX has no complex128
    x0 = np.array([0.3, -1.2, 2.0])

    def reference(x):
        z = x.astype(jnp.complex128) * (1.0 + 2.0j)
        return jnp.sum(jnp.abs(jnp.exp(z * 0.5j) + z * z))

    with pg.use_default_dtype("float64" if wide else "float32"):
        x = pg.Value(x0)
        z = pg.astype(x, "complex128" if wide else "complex64") * (1.0 + 2.0j)
        assert z.requires_grad  # a complex result carries gradients: none is dropped
        pg.sum(pg.abs(pg.exp(z * 0.5j) + z * z)).backward()
    np.testing.assert_allclose(to_numpy(x.grad), np.asarray(jax.jit(jax.grad(reference))(x0)), rtol=1e-10 if wide else 1e-5)


def test_python_complex_numbers_keep_their_imaginary_part():
    x = pg.Value(np.array([1.0, 2.0]))
    np.testing.assert_allclose(to_numpy(x * 1j), [1j, 2j])


# -- 7. no aliasing; no global RNG moved --------------------------------------------------------------

def test_two_leaves_never_share_a_gradient_array():
    a, b = pg.Value(np.ones((2, 3))), pg.Value(np.ones((3, 2)))
    c = pg.Value(np.ones((2, 3)))
    (pg.sum(a + c) + pg.sum(b.T + c)).backward()
    grads = [a.grad, b.grad, c.grad]
    assert len({id(g) for g in grads}) == 3
    host = [np.asarray(g) for g in grads] if BACKEND == "numpy" else []
    for i, g in enumerate(host):
        for other in host[i + 1:]:
            assert not np.shares_memory(g, other)
    seed = pg.backend().xp.ones((2, 3), dtype=F32)
    a.grad = None
    a.backward(seed)  # a leaf as the root: its gradient is not the caller's seed array
    assert a.grad is not seed


def test_a_value_does_not_share_memory_with_the_callers_array():
    for given in (np.arange(4.0, dtype=np.float32), np.arange(4, dtype=np.int64)):
        value = pg.Value(given)
        given[0] = 100
        assert to_numpy(value)[0] == 0
    native = pg.backend().xp.zeros((2,), dtype=F32)
    assert pg.Value(native).data is not native


# -- 8. pickle and copy.deepcopy --------------------------------------------------------------------

@pytest.mark.parametrize("clone", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy], ids=["pickle", "deepcopy"])
def test_values_round_trip_data_dtype_backend_and_requires_grad(clone):
    leaf = pg.Value(np.array([[1.0, -2.0]]), name="w")
    leaf.grad = pg.backend().xp.ones((1, 2), dtype=F32)
    frozen = pg.Value(np.array([3, 4]))
    for original in (leaf, frozen):
        copied = clone(original)
        assert copied is not original and copied.backend is original.backend
        assert copied.dtype == original.dtype and copied.requires_grad == original.requires_grad
        assert copied.name == original.name
        np.testing.assert_array_equal(to_numpy(copied), to_numpy(original))
    np.testing.assert_array_equal(to_numpy(clone(leaf).grad), [[1.0, 1.0]])


@pytest.mark.parametrize("clone", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_placeholder_graph_round_trips_and_replays(clone):
    loss, w = _graph()
    x, y = _batch(0, 4)
    loss.forward(X=x, Y=y)
    loss2, w2 = clone((loss, w))
    assert float(to_numpy(loss2)) == float(to_numpy(loss))
    x, y = _batch(1, 6)
    for root in (loss, loss2):
        root.forward(X=x, Y=y)
        root.backward()
    assert pg.replay.is_placeholder(pg.engine.toposort(loss2)[0])
    np.testing.assert_array_equal(to_numpy(w2.grad), to_numpy(w.grad))  # w2 is the graph's own leaf


def test_a_module_and_a_long_chain_pickle():
    model = pg.nn.MLP([3, 4, 2], rng=np.random.default_rng(0))
    copied = pickle.loads(pickle.dumps(model))
    x = np.ones((2, 3))
    np.testing.assert_array_equal(to_numpy(copied(x)), to_numpy(model(x)))
    assert [p.requires_grad for p in copied.parameters()] == [True] * 4
    h = pg.Value(np.ones(2))
    for _ in range(1200):  # deeper than pickle's recursion limit (1000)
        h = h * 1.0001
    np.testing.assert_allclose(to_numpy(pickle.loads(pickle.dumps(h))), to_numpy(h))


# -- 9. edge cases ----------------------------------------------------------------------------------

def test_prod_of_a_0d_value_over_all_axes_has_a_gradient():
    x = pg.Value(3.0)
    pg.prod(x).backward()
    assert float(to_numpy(x.grad)) == 1.0


def test_softmax_cross_entropy_takes_numpy_int64_labels():
    logits = pg.Value(np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]]))
    loss = pg.nn.softmax_cross_entropy(logits, np.array([0, 2], dtype=np.int64))
    loss.backward()
    host = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    log_probs = host - np.log(np.exp(host).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(float(to_numpy(loss)), -(log_probs[0, 0] + log_probs[1, 2]) / 2, rtol=1e-6)
    assert to_numpy(logits.grad).shape == (2, 3)
