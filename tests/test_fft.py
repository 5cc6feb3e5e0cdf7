"""The fft extension: gradients in float64 against central differences (real inputs
through complex transforms and back), JAX's complex cotangent convention checked against
jax.vjp with complex inputs and cotangents, the real part a real input keeps of a complex
cotangent, float32 on every backend (MLX computes transforms in complex64 only).

``GRADCHECK_CASES`` also feeds test_gradients.py's coverage test.
"""
from __future__ import annotations

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, requires_jax, to_numpy
from polygrad.testing import gradcheck

fft = pg.fft
_rng = np.random.default_rng(20241211)

# MLX has no complex128: its transforms run in complex64 whatever the input (backends/mlx.py),
# so float64 finite differences of them measure float32 rounding, not the gradient.
single_precision_fft = pytest.mark.skipif(
    BACKEND == "mlx", reason="mlx: no complex128, transforms compute in complex64 (declared in backends/mlx.py); "
                             "test_float32_vjps_match_jax checks MLX's gradients in float32")

FILTER = _rng.normal(size=4) + 1j * _rng.normal(size=4)  # a complex constant: 6 // 2 + 1 frequencies

GRADCHECK_CASES = [
    # real -> complex -> real: rfft, a complex filter, irfft
    ("rfft, irfft[a filter]", lambda x: fft.irfft(fft.rfft(x) * FILTER, n=6), (_rng.normal(size=(2, 6)),)),
    ("rfft, irfft[odd n, ortho, padded]", lambda x: fft.irfft(fft.rfft(x, n=7, norm="ortho") * 1.5, n=5, norm="ortho"),
     (_rng.normal(size=5),)),
    ("fft, hfft[axis 0, forward]", lambda x: fft.hfft(fft.fft(x, axis=0, norm="forward"), n=5, axis=0),
     (_rng.normal(size=(4, 2))[:, ::-1],)),
    ("ifft, ihfft[trimmed]", lambda x: fft.hfft(fft.ihfft(fft.hfft(fft.ifft(x, n=3))), n=4), (_rng.normal(size=(2, 4)),)),
    ("fftn, ifftn, irfftn[s, axes]", lambda x: fft.irfftn(fft.ifftn(fft.fftn(x, s=(3, 4), axes=(0, 1)), axes=(0,)),
                                                          s=(3, 4), axes=(0, 1)), (_rng.normal(size=(2, 3)),)),
    ("rfftn, irfftn[all axes]", lambda x: fft.irfftn(fft.rfftn(x) * 2.0, s=x.shape), (_rng.normal(size=(2, 3, 4)),)),
    ("fftshift, ifftshift", lambda x: fft.ifftshift(fft.fftshift(x, axes=1) * np.arange(5.0), axes=(0,)),
     (_rng.normal(size=(3, 5)),)),
]


# On jax every new (op, shape) costs XLA compiles: a few cases run there, and conformance/
# checks every fft rule against JAX and finite differences.
ON_JAX = {"rfft, irfft[a filter]", "irfft[Hermitian half]"}
ON_JAX_ONLY = pytest.mark.skip(reason="jax: XLA compiles per op and shape make this slow; "
                                      "conformance/ checks the rules it uses on jax")


def _on_jax(names):
    return [pytest.param(name, id=name, marks=[ON_JAX_ONLY] if BACKEND == "jax" and name not in ON_JAX else [])
            for name in names]


@single_precision_fft
@pytest.mark.parametrize("f, args", [
    pytest.param(f, a, id=name, marks=[ON_JAX_ONLY] if BACKEND == "jax" and name not in ON_JAX else [])
    for name, f, a in GRADCHECK_CASES])
def test_gradcheck(float64, f, args):
    gradcheck(f, *args)


def test_case_ids_are_unique():
    names = [name for name, _, _ in GRADCHECK_CASES]
    assert len(names) == len(set(names))


# -- JAX's convention for complex cotangents -----------------------------------------------------

VJP_CASES = {
    "fft[complex in, complex out]": ("fft", {"n": 5, "norm": "ortho"}, "complex", (2, 4)),
    "ifftn[s, axes]": ("ifftn", {"s": (2, 3), "axes": (1, 0)}, "complex", (3, 2)),
    "rfft[real in]": ("rfft", {"n": 6}, "real", (2, 5)),
    "irfft[Hermitian half]": ("irfft", {"n": 7, "norm": "forward"}, "complex", (4,)),
    "hfft": ("hfft", {}, "complex", (3,)),
    "ihfft": ("ihfft", {"norm": "ortho"}, "real", (5,)),
    "fft[real in: the cotangent's real part]": ("fft", {}, "real", (4,)),
}


def _vjp_against_jax(name, dtype, rtol):
    jax = requires_jax()
    import jax.numpy as jnp
    op, attrs, kind, shape = VJP_CASES[name]
    x = _rng.normal(size=shape) + (1j * _rng.normal(size=shape) if kind == "complex" else 0)
    complex_dtype = "complex64" if dtype == "float32" else "complex128"
    x = x.astype(complex_dtype if kind == "complex" else dtype)
    leaf = pg.Value(x, dtype=str(x.dtype))
    out = getattr(fft, op)(leaf, **attrs)
    want_out, pullback = jax.vjp(lambda v: getattr(jnp.fft, op)(v, **attrs), jnp.asarray(x))
    cot = _rng.normal(size=want_out.shape) + (1j * _rng.normal(size=want_out.shape)
                                              if np.iscomplexobj(want_out) else 0)
    cot = cot.astype(want_out.dtype)
    out.backward(cot)
    want, = pullback(jnp.asarray(cot))
    assert leaf.grad.dtype == leaf.dtype  # a real input's gradient is real
    np.testing.assert_allclose(to_numpy(out), np.asarray(want_out), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(to_numpy(leaf.grad), np.asarray(want), rtol=rtol, atol=rtol)


@single_precision_fft
@pytest.mark.parametrize("name", _on_jax(VJP_CASES))
def test_vjps_match_jax(float64, name):
    _vjp_against_jax(name, "float64", 1e-12)


@pytest.mark.parametrize("name", _on_jax(["fft[complex in, complex out]", "rfft[real in]", "irfft[Hermitian half]", "ihfft"]))
def test_float32_vjps_match_jax(name):
    """On every backend (MLX included), in single precision."""
    _vjp_against_jax(name, "float32", 2e-5)


def test_a_real_input_keeps_the_real_part_of_a_complex_cotangent(float64):
    """x real -> fft(x): the cotangent reaching x is complex; x's gradient is its real part
    (JAX's convention: the real-to-complex cast's transpose), never a cast that drops it
    with a warning or fails."""
    x = pg.Value(np.array([1.0, -2.0, 0.5, 3.0]))
    out = fft.fft(x)
    cot = np.array([1.0 + 2.0j, -1.0j, 0.5, 2.0 - 1.0j])
    out.backward(cot.astype("complex64" if BACKEND == "mlx" else "complex128"))
    expected = np.real(np.fft.fft(cot))  # fft's transpose is fft (the DFT matrix is symmetric)
    assert x.grad.dtype == x.dtype
    np.testing.assert_allclose(to_numpy(x.grad), expected, rtol=1e-6 if BACKEND == "mlx" else 1e-12)


@single_precision_fft
def test_grad_of_a_real_function_of_complex_parameters_matches_jax(float64):
    """pg.grad with complex arguments, as jax.grad: d f/d(real part) - i d f/d(imaginary part)."""
    jax = requires_jax()
    import jax.numpy as jnp
    weights = _rng.normal(size=4) + 1j * _rng.normal(size=4)
    signal = _rng.normal(size=6)

    def loss(m, w):
        filtered = m.fft.irfft(m.fft.rfft(signal) * w, n=6)
        return m.sum(filtered * filtered)

    got = pg.grad(lambda w: loss(pg, w))(weights)
    want = jax.jit(jax.grad(lambda w: loss(jnp, w)))(jnp.asarray(weights))
    assert np.iscomplexobj(to_numpy(got))
    np.testing.assert_allclose(to_numpy(got), np.asarray(want), rtol=1e-12)
    with pytest.raises(pg.DTypeError, match="must return a real scalar"):
        pg.grad(lambda w: pg.sum(w * w))(weights)


def test_complex_roots_need_a_cotangent(float64):
    z = fft.fft(pg.Value(np.ones(4)))
    assert z.requires_grad
    with pytest.raises(pg.DTypeError, match="complex dtype"):
        z.backward()


@pytest.mark.skipif(not (hasattr(pg, "real") and hasattr(pg, "conj")),
                    reason="create_graph through complex values needs pg.real and pg.conj (issue 10, item 1)")
@single_precision_fft
def test_second_derivatives_through_real_transforms(float64):
    gradcheck(lambda x: pg.grad(lambda y: pg.sum(fft.irfft(fft.rfft(y * y) * FILTER, n=6) ** 2))(x),
              _rng.normal(size=6))


# -- frequencies, errors --------------------------------------------------------------------------

def test_sample_frequencies():
    np.testing.assert_allclose(to_numpy(fft.fftfreq(5, d=0.5)), np.fft.fftfreq(5, d=0.5), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(fft.rfftfreq(6)), np.fft.rfftfreq(6), rtol=1e-6)
    assert fft.fftfreq(4).dtype == pg.default_dtype()
    assert fft.rfftfreq(4, dtype=pg.float32).dtype == pg.backend().dtype("float32")
    with pytest.raises(ValueError, match="n must be a positive int"):
        fft.fftfreq(0)


def test_bad_arguments_name_the_op():
    x = pg.Value(np.ones((2, 3)))
    with pytest.raises(pg.PolygradError, match=r"fft\.fft.*norm must be one of"):
        fft.fft(x, norm="both")
    with pytest.raises(pg.PolygradError, match=r"fft\.fftn.*repeated axes"):
        fft.fftn(x, axes=(0, 0))
    with pytest.raises(pg.ShapeError, match=r"fft\.rfft"):
        fft.rfft(x, axis=2)


def test_casting_a_real_value_to_complex_passes_the_real_part_back():
    """pg.astype(real, complex): its transpose is the real part (the engine's cast)."""
    complex_dtype = "complex64" if BACKEND == "mlx" else "complex128"
    x = pg.Value(np.array([1.0, -2.0, 0.5]))
    z = pg.astype(x, pg.backend().dtype(complex_dtype))
    assert z.requires_grad
    z.backward(np.array([1.0 + 2.0j, -1.0j, 3.0]).astype(complex_dtype))
    assert x.grad.dtype == x.dtype
    np.testing.assert_allclose(to_numpy(x.grad), [1.0, 0.0, 3.0])
