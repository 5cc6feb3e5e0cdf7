"""pg.save / pg.load: safetensors checkpoints, the same bits on every backend, no pickle."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import polygrad as pg
from conftest import to_numpy
from test_optim import small_batches, small_model

pytest.importorskip("safetensors", reason="safetensors is not installed: pg.save/pg.load need it")

OTHER_BACKEND = "array_api_strict" if pg.backend().name == "numpy" else "numpy"


def _header(path) -> dict:
    """The safetensors header: 8 bytes of little-endian length, then JSON (and no pickle anywhere)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def test_a_tree_round_trips_with_dtypes_shapes_and_order(tmp_path):
    rng = np.random.default_rng(0)
    tree = {
        "weights": {"w": pg.Value(rng.normal(size=(3, 2))), "b": pg.Value(rng.normal(size=(2,)), dtype="float64")},
        "table": pg.asarray(np.arange(6, dtype=np.int32).reshape(2, 3)).data,   # a backend array
        "host": np.asfortranarray(rng.normal(size=(2, 3))),                   # non-contiguous NumPy
        "layers": [np.array([True, False]), np.zeros((0, 3))],
        "step": 7, "scale": 0.5,
    }
    path = tmp_path / "tree.safetensors"
    pg.save(path, tree, metadata={"note": "test"})
    header = _header(path)
    assert header["__metadata__"]["note"] == "test"
    assert header["weights.w"]["dtype"] == "F32" and header["weights.b"]["dtype"] == "F64"

    loaded = pg.load(path)
    assert list(loaded) == ["weights", "table", "host", "layers", "step", "scale"]
    assert list(loaded["layers"]) == ["0", "1"]
    flat = pg.load(path, flat=True)
    assert list(flat) == ["weights.w", "weights.b", "table", "host", "layers.0", "layers.1", "step", "scale"]
    expected = {"weights.w": tree["weights"]["w"].numpy(), "weights.b": tree["weights"]["b"].numpy(),
                "table": np.arange(6, dtype=np.int32).reshape(2, 3), "host": tree["host"],
                "layers.0": np.array([True, False]), "layers.1": np.zeros((0, 3)),
                "step": np.asarray(7), "scale": np.asarray(0.5)}
    for name, array in flat.items():
        assert pg.backend().is_array(array), name
        host = to_numpy(array)
        assert host.dtype == expected[name].dtype and host.shape == expected[name].shape, name
        np.testing.assert_array_equal(host, expected[name], err_msg=name)


def test_saved_on_one_backend_loaded_on_another_gives_the_same_bits(tmp_path):
    path = tmp_path / "model.safetensors"
    model = pg.nn.Sequential(pg.nn.Linear(3, 4, rng=0), pg.nn.LayerNorm(4), pg.nn.Linear(4, 2, rng=1))
    for p in model.parameters():   # perturb so the file holds numbers no seed would give
        p.data = p.data * 1.000001 + 1e-7
    pg.save(path, model.state_dict())
    x = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    here = model(pg.Value(x)).numpy()
    with pg.use_backend(OTHER_BACKEND):
        loaded = pg.load(path)
        assert all(pg.backend().is_array(a) for a in pg.load(path, flat=True).values())
        clone = pg.nn.Sequential(pg.nn.Linear(3, 4, rng=5), pg.nn.LayerNorm(4), pg.nn.Linear(4, 2, rng=6))
        clone.load_state_dict(loaded)
        for (name, a), (_, b) in zip(model.state_dict().items(), clone.state_dict().items()):
            np.testing.assert_array_equal(pg.Value(b).numpy().view(np.uint32), pg.Value(a).numpy().view(np.uint32), name)
        there = clone(pg.Value(x)).numpy()
        clone_path = tmp_path / "back.safetensors"
        pg.save(clone_path, clone.state_dict())
    np.testing.assert_allclose(there, here, rtol=1e-5, atol=1e-6)
    back = pg.load(clone_path, flat=True)
    for name, array in model.state_dict().items():   # and back again, bit for bit
        np.testing.assert_array_equal(to_numpy(back[name]), to_numpy(array))


@pytest.mark.usefixtures("float64")
def test_training_resumes_from_a_checkpoint_exactly(tmp_path):
    batches = small_batches(4)

    def train(model, optimizer, data):
        for x, y in data:
            loss = pg.nn.mse_loss(model(pg.Value(x)), y)
            optimizer.zero_grad()
            loss.backward()
            pg.optim.clip_grad_norm(model, 1.0)
            optimizer.step()

    model = small_model()
    optimizer = pg.optim.AdamW(model, lr=pg.optim.cosine_decay(0.05, 4, warmup_steps=1))
    train(model, optimizer, batches[:2])
    path = tmp_path / "checkpoint.safetensors"
    pg.save(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict()})
    assert "optimizer.state.layers.0.weight.m" in _header(path)
    train(model, optimizer, batches[2:])

    checkpoint = pg.load(path)
    resumed = small_model(seed=1)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = pg.optim.AdamW(resumed, lr=pg.optim.cosine_decay(0.05, 4, warmup_steps=1))
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.step_count == 2
    train(resumed, resumed_optimizer, batches[2:])
    for a, b in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(to_numpy(b), to_numpy(a))


def test_a_file_of_the_wrong_shapes_is_a_clear_error(tmp_path):
    path = tmp_path / "small.safetensors"
    pg.save(path, pg.nn.MLP([2, 3, 1], rng=0).state_dict())
    bigger = pg.nn.MLP([2, 5, 1], rng=0)
    with pytest.raises(pg.StateDictError, match=r"layers.0.weight: \(2, 3\) in the state, \(2, 5\) expected"):
        bigger.load_state_dict(pg.load(path))
    with pytest.raises(pg.StateDictError, match=r"missing: layers.2.weight, layers.2.bias"):
        pg.nn.MLP([2, 3, 1, 1], rng=0).load_state_dict(pg.load(path))


def test_bad_trees_and_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="'a' is both an array and the prefix of 'a.b'"):
        pg.save(tmp_path / "x.safetensors", {"a": np.ones(1), "a.b": np.ones(1)})
    with pytest.raises(ValueError, match="the name 'a.b' occurs twice"):
        pg.save(tmp_path / "x.safetensors", {"a": {"b": np.ones(1)}, "a.b": np.ones(1)})
    with pytest.raises(pg.PolygradError, match="dtype complex128"):
        pg.save(tmp_path / "x.safetensors", {"z": np.ones(2, dtype=complex)})
    with pytest.raises(ValueError, match="expected a dict"):
        pg.save(tmp_path / "x.safetensors", np.ones(2))
    not_safetensors = tmp_path / "pickle.pkl"
    not_safetensors.write_bytes(b"\x80\x04\x95 this is a pickle, and it is not read")
    with pytest.raises(pg.PolygradError, match="is not a readable safetensors file"):
        pg.load(not_safetensors)
    with pytest.raises(FileNotFoundError, match="no file"):
        pg.load(tmp_path / "missing.safetensors")
