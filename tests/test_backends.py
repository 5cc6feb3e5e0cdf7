"""Backend selection: set_backend, use_backend, POLYGRAD_BACKEND, moving Values between backends."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, ROOT, run_python, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

OTHER = "numpy" if BACKEND == "array_api_strict" else "array_api_strict"


def test_backend_record_reports_name_namespace_and_device():
    b = pg.backend()
    assert isinstance(b, pg.Backend)
    assert b.name == BACKEND
    assert b.xp.exp is not None and b.xp.asarray is not None
    x = pg.Value(np.ones(2))
    assert x.backend is b
    assert b.is_array(x.data)
    assert x.device == b.device
    assert b.device is not None
    assert isinstance(b.to_numpy(x.data), np.ndarray)
    assert "numpy" in pg.available_backends() and "array_api_strict" in pg.available_backends()


def test_use_backend_restores_the_previous_backend():
    before = pg.backend()
    with pg.use_backend(OTHER) as inside:
        assert inside is pg.backend() and inside.name == OTHER
        y = pg.Value(np.array([1.0, 2.0]))
        with pg.use_backend(BACKEND):
            assert pg.backend() is before
        assert pg.backend().name == OTHER
    assert pg.backend() is before
    assert y.backend.name == OTHER  # a Value keeps the backend it was made on
    (pg.sum(y * y)).backward()
    assert y.grad is not None and y.backend.is_array(y.grad)


def test_use_backend_restores_after_an_exception():
    with pytest.raises(RuntimeError):
        with pg.use_backend(OTHER):
            raise RuntimeError("boom")
    assert pg.backend().name == BACKEND


def test_use_backend_with_an_unknown_name_changes_nothing():
    with pytest.raises(pg.BackendError, match="unknown backend 'nope'"):
        with pg.use_backend("nope"):
            pass  # pragma: no cover
    assert pg.backend().name == BACKEND


def test_set_backend_returns_the_record_and_switches():
    record = pg.set_backend(OTHER)
    assert record.name == OTHER and pg.backend() is record
    assert pg.Value(np.ones(1)).backend is record
    pg.set_backend(BACKEND)
    assert pg.backend().name == BACKEND
    assert pg.set_backend(OTHER) is record  # loaded once, cached


def test_values_move_between_backends():
    x = pg.Value(np.array([1.0, -2.0, 3.0]), name="x")
    moved = x.to(OTHER)
    assert moved.backend.name == OTHER and moved.name == "x" and moved.requires_grad
    np.testing.assert_array_equal(to_numpy(moved), [1.0, -2.0, 3.0])
    back = moved.to(BACKEND)
    assert back.backend is pg.backend()
    np.testing.assert_array_equal(to_numpy(back), [1.0, -2.0, 3.0])


def test_both_backends_give_the_same_numbers():
    """The point of polygrad: switching backend does not change the results."""
    rng = np.random.default_rng(0)
    x, w, idx = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), np.array([0, 2, 2, 4])

    def loss(x, w):
        h = pg.tanh(x @ w)
        return pg.sum(pg.log_softmax(h[idx], axis=-1) * pg.max(h, axis=0)) + pg.mean(pg.relu(x[:, ::-1]) ** 2)
    results = {}
    for name in (BACKEND, OTHER):
        with pg.use_backend(name):
            value, grads = pg.value_and_grad(loss, argnums=(0, 1))(x, w)
            results[name] = (to_numpy(value), [to_numpy(g) for g in grads])
    a, b = results[BACKEND], results[OTHER]
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=1e-15)


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_environment_variable_selects_the_backend(name):
    result = run_python(
        "import numpy as np, polygrad as pg\n"
        "x = pg.Value(np.array([1.0, 2.0]))\n"
        "pg.sum(x * x).backward()\n"
        "print(pg.backend().name, x.backend.name, type(x.data).__module__.split('.')[0], x.grad.dtype)\n",
        POLYGRAD_BACKEND=name,
    )
    assert result.returncode == 0, result.stderr
    backend_name, value_backend, module, dtype = result.stdout.split()
    assert backend_name == value_backend == name
    assert module == name
    assert dtype.endswith("float32")  # the default dtype when POLYGRAD_DTYPE is not set


@pytest.mark.backend_independent
def test_environment_variables_for_dtype():
    result = run_python(
        "import polygrad as pg\nprint(pg.Value([1.0]).dtype)\n",
        POLYGRAD_BACKEND="numpy", POLYGRAD_DTYPE="float64",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "float64"


@pytest.mark.backend_independent
def test_unknown_backend_in_the_environment_is_a_clear_error():
    result = run_python(
        "import polygrad as pg\n"
        "try:\n"
        "    pg.Value([1.0])\n"
        "except pg.BackendError as e:\n"
        "    print('BackendError:', e)\n",
        POLYGRAD_BACKEND="tensorflow",
    )
    assert result.returncode == 0, result.stderr
    assert "BackendError: unknown backend 'tensorflow'" in result.stdout
    assert "numpy" in result.stdout and "array_api_strict" in result.stdout


def test_demo_loss_curve_matches_numpy_to_float32_tolerance():
    """The same training run (the demo's quantile regression, fixed seed, float32) gives the
    same loss curve on the active backend as on NumPy, within the backend's float32 tolerance."""
    if BACKEND == "numpy":
        pytest.skip("numpy is the reference the other backends' curves are compared with")
    from backends import spec
    from polygrad.demo import train
    pg.set_default_dtype("float32")
    with pg.use_backend("numpy"):
        reference = np.array(train(steps=100, seed=0, batch=256).losses)
    run = train(steps=100, seed=0, batch=256)
    assert run.backend == BACKEND
    np.testing.assert_allclose(run.losses, reference, rtol=spec(BACKEND).float32_tolerance, atol=0)
    assert reference[-10:].mean() < 0.7 * reference[:10].mean()  # it trained: the check is not vacuous


@pytest.mark.parametrize("source", ["numpy", "array_api_strict", "jax", "mlx", "cupy"])
def test_values_move_from_every_backend_and_mixing_names_both(source):
    from backends import spec
    problem = spec(source).probe()
    if problem:
        pytest.skip(f"{source} cannot run here: {problem}")
    data = np.array([[1.0, -2.0], [3.0, 4.5]])
    with pg.use_backend(source):
        x = pg.Value(data, name="x")
    moved = x.to(BACKEND)
    assert moved.backend is pg.backend() and moved.name == "x" and moved.dtype == pg.backend().dtype("float64")
    np.testing.assert_array_equal(to_numpy(moved), data)
    made = pg.asarray(x.data, backend=BACKEND)
    assert made.backend is pg.backend()
    np.testing.assert_array_equal(to_numpy(made), data)
    if source != BACKEND:
        with pytest.raises(pg.BackendError, match=rf"{source}.*{BACKEND}|{BACKEND}.*{source}"):
            _ = moved * x


@pytest.mark.backend_independent
def test_demo_with_an_unknown_backend_says_so_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "polygrad", "--steps", "1"], capture_output=True, text=True,
                            env={**os.environ, "POLYGRAD_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 2
    assert "unknown backend 'tensorflow'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(BACKEND != "jax", reason="JAX compiles an XLA program per shape; the other backends do not")
def test_jax_lifts_new_shaped_host_arrays_without_compiling():
    """jnp.asarray(numpy data, dtype=, device=) compiles per new shape (~60 ms each here):
    polygrad's jax backend casts on the host and transfers, so new leaves compile nothing."""
    import logging

    import jax
    messages: list[str] = []

    class Recorder(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())
    recorder = Recorder()
    logging.getLogger("jax").addHandler(recorder)
    try:
        pg.Value(np.ones((2, 2)))  # JAX's first transfer sets itself up
        with jax.log_compiles(True):
            for n in range(3, 8):
                pg.Value(np.ones((n, 5)))                   # float64 data -> the default float32
                pg.Value(np.ones((n, 5)), dtype="float64")
                pg.asarray([1.0] * n, dtype="float32")
                pg.Value(np.arange(n))                      # integers keep their dtype
            compiles = [m for m in messages if "compil" in m.lower()]
            assert not compiles, compiles[:3]
            jax.numpy.asarray(np.ones((9, 5)), dtype=jax.numpy.float32, device=jax.devices()[0])
            assert any("compil" in m.lower() for m in messages), "the recorder hears JAX's compiles"
    finally:
        logging.getLogger("jax").removeHandler(recorder)


@pytest.mark.skipif(BACKEND != "jax", reason="tracers are JAX's (jax.jit, jax.eval_shape)")
def test_constants_made_under_a_jax_trace_are_not_kept_after_it():
    """polygrad's caches of constants (Python numbers, a vjp's 0.5) must not keep a tracer:
    used eagerly after the trace, it would raise JAX's UnexpectedTracerError."""
    import jax

    def f(a):
        x = pg.Value(a)
        y = pg.maximum(x * 0.123, 0.0) + 4.56  # numbers this test alone uses: made in the trace
        y.sum().backward()
        return x.grad
    assert jax.eval_shape(f, jax.ShapeDtypeStruct((3,), np.float32)).shape == (3,)
    got = f(np.array([1.0, -2.0, 3.0], dtype=np.float32))
    np.testing.assert_allclose(to_numpy(got), [0.123, 0.0, 0.123], rtol=1e-6)
