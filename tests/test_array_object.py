"""Value as the standard's array object: operators (reflected and in-place), conversions to
Python numbers, DLPack, devices, the namespace and its inspection API, copies, and no
silent gradient loss when a Value's data is handed to another library."""
from __future__ import annotations

import operator

import array_api_compat
import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, to_numpy

pytestmark = pytest.mark.usefixtures("float64")

A = np.array([[1.5, -2.25, 3.0], [0.5, 4.0, -1.0]])
B = np.array([[0.75, 1.25, -2.0], [2.5, -0.5, 1.5]])


# -- operators ----------------------------------------------------------------------------------

ARITHMETIC = {
    "+": (operator.add, operator.iadd), "-": (operator.sub, operator.isub),
    "*": (operator.mul, operator.imul), "/": (operator.truediv, operator.itruediv),
    "//": (operator.floordiv, operator.ifloordiv), "%": (operator.mod, operator.imod),
    "**": (operator.pow, operator.ipow),
}


@pytest.mark.parametrize("symbol", list(ARITHMETIC))
def test_arithmetic_operators_reflected_and_in_place(symbol):
    plain, in_place = ARITHMETIC[symbol]
    a, b = (np.abs(A), B) if symbol == "**" else (A, B)
    x, y = pg.Value(a), pg.Value(b)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(to_numpy(plain(x, y)), plain(a, b), rtol=1e-13)
        np.testing.assert_allclose(to_numpy(plain(x, 2.0)), plain(a, 2.0), rtol=1e-13)
        np.testing.assert_allclose(to_numpy(plain(3.0, x)), plain(3.0, a), rtol=1e-13)  # reflected
        before = x
        x2 = in_place(x, y)
        np.testing.assert_allclose(to_numpy(x2), plain(a, b), rtol=1e-13)
    # x op= y rebinds the name to a new node; the node it held is unchanged (JAX's semantics)
    assert x2 is not before
    np.testing.assert_array_equal(to_numpy(before), a)


def test_matmul_in_place_and_reflected():
    x = pg.Value(A)
    y = x
    y @= pg.Value(B.T)
    np.testing.assert_allclose(to_numpy(y), A @ B.T)
    np.testing.assert_allclose(to_numpy(B @ pg.Value(A.T)), B @ A.T)  # NumPy on the left defers


def test_in_place_operators_keep_the_gradient_of_the_node_they_replace():
    w = pg.Value(A)
    h = w * 2.0
    h += w          # h is now a new node: 3 w
    h **= 2.0       # 9 w^2
    h -= 1.0
    h /= 3.0        # (9 w^2 - 1) / 3
    pg.sum(h).backward()
    np.testing.assert_allclose(to_numpy(w.grad), 6.0 * A, rtol=1e-13)


def test_floor_divide_and_remainder_operators_on_integers():
    i, j = pg.asarray([7, -7, 9]), pg.asarray([2, 2, -4])
    np.testing.assert_array_equal(to_numpy(i // j), np.array([7, -7, 9]) // np.array([2, 2, -4]))
    np.testing.assert_array_equal(to_numpy(i % j), np.array([7, -7, 9]) % np.array([2, 2, -4]))
    np.testing.assert_array_equal(to_numpy(10 % j), 10 % np.array([2, 2, -4]))
    assert (i % j).dtype == i.dtype and not (i % j).requires_grad


def test_remainder_operator_differentiates():
    x = pg.Value(A)
    pg.sum((x % 0.75) * x).backward()
    np.testing.assert_allclose(to_numpy(x.grad), (A % 0.75) + A, rtol=1e-13)


def test_bitwise_in_place_and_invert():
    flags = pg.asarray(np.array([True, False, True]))
    k = pg.asarray([5, 6, 7])
    for result, expected in [(operator.iand(k, 3), [1, 2, 3]), (operator.ior(k, 8), [13, 14, 15]),
                             (operator.ixor(k, 1), [4, 7, 6]), (operator.ilshift(k, 1), [10, 12, 14]),
                             (operator.irshift(k, 1), [2, 3, 3]), (~k, [-6, -7, -8])]:
        np.testing.assert_array_equal(to_numpy(result), expected)
    np.testing.assert_array_equal(to_numpy(~flags), [False, True, False])  # logical on booleans
    np.testing.assert_array_equal(to_numpy(operator.ixor(flags, True)), [False, True, False])


def test_unary_plus_is_a_new_node_that_passes_the_gradient():
    x = pg.Value(A)
    y = +x
    assert y is not x and y.op == "positive"
    pg.sum(y * y).backward()
    np.testing.assert_allclose(to_numpy(x.grad), 2 * A)


# -- conversions to Python numbers --------------------------------------------------------------

def test_conversions_to_python_numbers():
    assert float(pg.asarray(2.5)) == 2.5 and isinstance(float(pg.asarray(2)), float)
    assert int(pg.asarray(-3.75)) == -3 and int(pg.asarray(True)) == 1
    assert complex(pg.asarray(2.0)) == 2 + 0j and complex(pg.asarray(True)) == 1 + 0j
    assert bool(pg.asarray(0.0)) is False and bool(pg.asarray(np.nan)) is True
    assert operator.index(pg.asarray(4)) == 4
    assert [10, 20, 30][pg.asarray(2)] == 30 and list(range(6))[pg.asarray(1):pg.asarray(3)] == [1, 2]
    assert float(pg.Value(np.array([1.5]))) == 1.5  # one element, as item()


def test_conversions_refuse_what_the_standard_refuses():
    with pytest.raises(pg.ShapeError, match="one element"):
        float(pg.asarray([1.0, 2.0]))
    for convert in (int, bool, complex, operator.index):
        with pytest.raises((pg.ShapeError, TypeError)):
            convert(pg.asarray([1, 2]))
    with pytest.raises(TypeError, match="cannot be an index"):
        operator.index(pg.asarray(1.0))
    with pytest.raises(TypeError, match="cannot be an index"):
        [1, 2][pg.asarray(True)]
    with pytest.raises(OverflowError):
        int(pg.asarray(np.inf))
    with pytest.raises(ValueError):
        int(pg.asarray(np.nan))


def test_complex_values_convert_with_complex_only():
    z = pg.asarray(1.5 - 2.0j)
    assert complex(z) == 1.5 - 2.0j
    for convert in (float, int):
        with pytest.raises(TypeError, match="complex"):
            convert(z)


# -- the namespace, the inspection API ------------------------------------------------------------

def test_array_namespace_takes_known_versions_and_rejects_others():
    x = pg.Value(A)
    for version in (None, "2021.12", "2022.12", "2023.12", "2024.12"):
        assert x.__array_namespace__(api_version=version) is pg.namespace
    with pytest.raises(ValueError, match="2099.01.*2024.12"):
        x.__array_namespace__(api_version="2099.01")
    assert pg.namespace.__array_api_version__ == "2024.12"


def test_inspection_api_reflects_the_active_backend():
    info = pg.__array_namespace_info__()
    assert info is not None and pg.namespace.__array_namespace_info__ is pg.__array_namespace_info__
    caps = info.capabilities()
    assert caps["boolean indexing"] is True and caps["data-dependent shapes"] is True
    assert "max dimensions" in caps
    assert info.default_device() == pg.backend().device
    assert info.default_device() in info.devices()
    defaults = info.default_dtypes()
    assert defaults["real floating"] == pg.default_dtype() == pg.float64  # polygrad's default, not the backend's
    assert defaults["complex floating"] == pg.backend().complex_dtype(pg.default_dtype())
    assert defaults["integral"] == pg.asarray(1).dtype
    assert set(defaults) == {"real floating", "complex floating", "integral", "indexing"}
    pg.set_default_dtype("float32")
    assert info.default_dtypes()["real floating"] == pg.float32
    assert set(info.dtypes(kind="real floating")) == {"float32", "float64"}
    assert "int32" in info.dtypes(kind="integral") and "bool" in info.dtypes()
    assert set(info.dtypes(kind=("bool", "real floating"))) == {"bool", "float32", "float64"}
    assert set(info.dtypes(device=info.default_device(), kind="bool")) == {"bool"}
    assert all(pg.isdtype(d, "complex floating") for d in info.dtypes(kind="complex floating").values())
    assert BACKEND in repr(info)


# -- devices ---------------------------------------------------------------------------------------

def test_device_and_to_device():
    x = pg.Value(A)
    assert x.device == pg.backend().device or x.device in pg.__array_namespace_info__().devices()
    assert x.to_device(x.device) is x
    assert pg.asarray(A, device=x.device).device == x.device


@pytest.mark.skipif(BACKEND != "array_api_strict", reason="array_api_strict has several (simulated) devices")
def test_to_another_device_copies_and_passes_the_gradient_back():
    import array_api_strict
    other = array_api_strict.Device("device1")
    x = pg.Value(A)
    moved = x.to_device(other)
    assert moved.device == other and moved is not x
    pg.sum(moved * moved).to_device(x.device).backward()
    assert x.grad.device == x.device
    np.testing.assert_allclose(to_numpy(x.grad), 2 * A)


def test_transposes():
    x = pg.Value(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(to_numpy(x.mT), np.swapaxes(np.arange(24.0).reshape(2, 3, 4), -1, -2))
    np.testing.assert_array_equal(to_numpy(pg.Value(A).T), A.T)


# -- DLPack and NumPy: no silent gradient loss -------------------------------------------------------

def test_handing_data_that_records_gradients_to_numpy_is_an_error():
    x = pg.Value(A)  # a float leaf: it records gradients
    for hand_over in (np.asarray, np.array, lambda v: v.__array__(), lambda v: np.asarray([v, v]),
                      lambda v: np.asarray([v[0], v[1]]), lambda v: v.__dlpack__(), np.from_dlpack):
        with pytest.raises(pg.GradientError, match="records gradients.*detach"):
            hand_over(x)
    y = pg.exp(x) + 1.0  # a node in a differentiable graph
    with pytest.raises(pg.GradientError, match=r"\.numpy\(\)"):
        np.asarray(y)


def test_constants_and_detached_values_hand_over_their_data():
    x = pg.Value(A)
    for free in (x.detach(), pg.asarray(A), pg.Value(A, requires_grad=False), pg.exp(x.detach())):
        assert not free.requires_grad
        np.testing.assert_array_equal(np.asarray(free), to_numpy(free))
        np.testing.assert_array_equal(np.array(free, dtype=np.float32), to_numpy(free).astype(np.float32))
        np.testing.assert_array_equal(np.from_dlpack(free), to_numpy(free))
        assert free.__dlpack_device__() == free.data.__dlpack_device__()
    stacked = np.asarray([pg.asarray(1.5), pg.asarray(2.5)])  # never an object array
    assert stacked.dtype == np.float64 and stacked.tolist() == [1.5, 2.5]
    with pg.no_grad():
        out = pg.exp(x)
    np.testing.assert_allclose(np.asarray(out), np.exp(A))


def test_a_numpy_call_inside_a_gradient_is_an_error_not_a_zero():
    """What SciPy's array-API code does when it falls back to NumPy: polygrad refuses."""
    def energy(v):
        xp = array_api_compat.array_namespace(v)
        return xp.sum(xp.asarray(np.tanh(np.asarray(v))))
    with pytest.raises(pg.GradientError, match="records gradients"):
        pg.grad(energy)(A)


def test_polygrads_own_conversions_still_take_values():
    x = pg.Value(A)
    assert pg.Value(x).shape == x.shape and pg.asarray(x) is x
    np.testing.assert_array_equal(to_numpy(x[pg.asarray([1, 0])]), A[[1, 0]])
    np.testing.assert_array_equal(to_numpy(x[x > 1.0]), A[A > 1.0])
    np.testing.assert_array_equal(x.numpy(), A)
    assert x.to(BACKEND) is not x


# -- copies ------------------------------------------------------------------------------------------

def test_asarray_copies_when_asked_and_the_copy_is_differentiable():
    x = pg.Value(A)
    assert pg.asarray(x) is x and pg.asarray(x, copy=False) is x
    copied = pg.asarray(x, copy=True)
    assert copied is not x and copied.op == "copy" and copied.requires_grad
    np.testing.assert_array_equal(to_numpy(copied), A)
    pg.sum(copied * 3.0).backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.full_like(A, 3.0))
    with pytest.raises(ValueError, match="copy=False"):
        pg.asarray(x, dtype=pg.float32, copy=False)
    assert pg.astype(x, x.dtype, copy=False) is x and pg.astype(x, x.dtype) is not x


def test_asarray_of_a_list_of_values_stacks_them_differentiably():
    x = pg.Value(A)
    rows = pg.asarray([x[0], x[1] * 2.0])
    np.testing.assert_array_equal(to_numpy(rows), A * np.array([[1.0], [2.0]]))
    pg.sum(rows).backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.array([[1.0] * 3, [2.0] * 3]))


def test_from_dlpack():
    data = pg.asarray(A).data
    got = pg.from_dlpack(data)
    assert isinstance(got, pg.Value) and not got.requires_grad
    np.testing.assert_array_equal(to_numpy(got), A)
    x = pg.Value(A)
    assert pg.from_dlpack(x) is x
