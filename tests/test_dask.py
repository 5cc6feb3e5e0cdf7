"""The dask backend: laziness and where polygrad computes, chunks, data-dependent shapes,
the task graph across optimizer steps, clusters (a LocalCluster on 127.0.0.1 started here),
out-of-core training on a zarr data set, and a worker killed in the middle of an epoch.

These run only under POLYGRAD_BACKEND=dask; the rest of the suite runs there too.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import threading

import numpy as np
import pytest

import polygrad as pg
from conftest import BACKEND, ROOT, run_python, to_numpy

pytestmark = pytest.mark.skipif(BACKEND != "dask", reason="the dask backend's own tests run under POLYGRAD_BACKEND=dask")

if BACKEND == "dask":
    import dask.array as da

    from polygrad._backend import dask as dask_loader


def _example():
    spec = importlib.util.spec_from_file_location("quantile_out_of_core", ROOT / "examples" / "quantile_out_of_core.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _eventually(condition, seconds: float = 10.0) -> bool:
    """Whether condition() comes true within seconds (the scheduler forgets released keys asynchronously)."""
    import time
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _is_evaluated(array) -> bool:
    return dask_loader._blocks(array) is not None


# -- chunks, laziness, where polygrad computes -----------------------------------------------

def test_leaves_from_numpy_are_one_chunk_and_data_keeps_its_chunks():
    leaf = pg.Value(np.ones((1000, 7)))
    assert leaf.data.numblocks == (1, 1)
    data = da.ones((1000, 7), chunks=(250, 7), dtype="float32")
    product = pg.Value(data, requires_grad=False) @ pg.Value(np.ones((7, 2)))
    assert product.data.chunks == ((250,) * 4, (2,))
    constant = pg.Value(np.ones((3, 2))) + np.arange(6.0).reshape(3, 2)
    assert constant.parents[1].data.numblocks == (1, 1)


def test_ops_are_lazy_until_backward_item_and_the_optimizer_step():
    X = da.from_array(np.random.default_rng(0).standard_normal((64, 3)), chunks=(16, 3))
    w = pg.Value(np.array([[0.5], [-1.0], [2.0]]))
    loss = pg.mean((pg.Value(X, requires_grad=False) @ w) ** 2)
    assert not _is_evaluated(loss.data)  # a graph, not yet computed
    loss.backward()
    assert _is_evaluated(loss.data) and _is_evaluated(w.grad)  # one compute for both
    expected = 2 * X.compute().T @ (X.compute() @ to_numpy(w)) / 64
    np.testing.assert_allclose(to_numpy(w.grad), expected, rtol=1e-5)
    optimizer = pg.optim.Adam([w], lr=0.1)
    optimizer.step()
    assert _is_evaluated(w.data) and all(_is_evaluated(s) for slots in optimizer.state.values() for s in slots.values())


def test_the_task_graph_does_not_grow_over_100_optimizer_steps():
    rng = np.random.default_rng(0)
    X = da.from_array(rng.standard_normal((256, 4)).astype(np.float32), chunks=(128, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
    w = pg.Value(np.zeros(4))
    optimizer = pg.optim.SGD([w], lr=0.05, momentum=0.5)  # its state (the velocity) too
    sizes, losses = [], []
    for _ in range(100):
        loss = pg.mean((pg.Value(X, requires_grad=False) @ w - y) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        (velocity,) = next(iter(optimizer.state.values())).values()
        sizes.append((len(w.data.__dask_graph__()), len(velocity.__dask_graph__())))
    assert sizes[-1] == sizes[0] == (1, 1)  # one task per chunk: each array is its value
    assert losses[-1] < 1e-3 * losses[0]


# -- scatters and data-dependent shapes -----------------------------------------------------

def test_scatters_of_chunked_cotangents_match_numpy():
    host = np.random.default_rng(1).standard_normal((12, 3))
    x = pg.Value(da.from_array(host, chunks=(4, 3)))
    rows = np.array([0, 5, 5, 11, 5, -1])
    pg.sum(x[rows] * np.arange(1.0, 19.0).reshape(6, 3)).backward()  # take: scatter_add, repeats add up
    expected = np.zeros((12, 3))
    np.add.at(expected, rows, np.arange(1.0, 19.0).reshape(6, 3))
    np.testing.assert_array_equal(to_numpy(x.grad), expected)
    x.zero_grad()
    pg.sum(x[2:9:3, 1:] * 2.0).backward()  # getitem: scatter
    expected = np.zeros((12, 3))
    expected[2:9:3, 1:] = 2.0
    np.testing.assert_array_equal(to_numpy(x.grad), expected)


def test_boolean_masks_nonzero_and_unique_have_known_shapes():
    host = np.array([[1.0, -2.0, 3.0], [0.0, 5.0, -6.0], [7.0, 8.0, 0.0], [3.0, 3.0, 1.0]])
    x = pg.Value(da.from_array(host, chunks=(2, 3)))
    mask = host > 0
    picked = x[mask]
    assert picked.shape == (int(mask.sum()),)
    pg.sum(picked * picked).backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.where(mask, 2 * host, 0.0))
    positions = pg.nonzero(x)
    assert [p.shape for p in positions] == [(10,), (10,)]
    np.testing.assert_array_equal(to_numpy(positions[1]), np.nonzero(host)[1])
    values = pg.backend().xp.unique_values(x.data)
    assert values.shape == (8,)
    np.testing.assert_array_equal(to_numpy(values), np.unique(host))


def test_an_array_of_unknown_shape_is_a_clear_error():
    data = da.from_array(np.arange(6.0), chunks=3)
    masked = data[data > 2]  # Dask cannot know how many elements the mask keeps
    with pytest.raises(pg.ShapeError, match=r"unknown shape.*compute_chunk_sizes"):
        pg.Value(masked)
    assert pg.Value(masked.compute_chunk_sizes()).shape == (3,)


# -- where it runs -------------------------------------------------------------------------

def test_no_configuration_means_dask_local_scheduler():
    assert dask_loader.client is None  # POLYGRAD_DASK_SCHEDULER unset: no Client connected


def test_an_unreachable_scheduler_is_a_clear_error():
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{bound.getsockname()[1]}"
        with pytest.raises(pg.BackendError, match=r"POLYGRAD_DASK_SCHEDULER"):
            dask_loader._connect(address, timeout="1s")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="400MiB",
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A small zarr data set (4 chunks of 512 rows) and the runs on the NumPy backend, all in memory."""
    example = _example()
    path = example.write_dataset(str(tmp_path_factory.mktemp("zarr") / "data.zarr"), chunks=4, rows=512)
    import zarr
    group = zarr.open_group(path, mode="r")
    with pg.use_backend("numpy"):
        full_batch, _ = example.train([[(group["X"][:], group["y"][:])]] * 3, lr=0.1)
        streamed, _ = example.train(([(group["X"][i:i + 512], group["y"][i:i + 512])] for i in range(0, 2048, 512)), lr=0.1)
    return example, path, full_batch, streamed


def test_out_of_core_full_batch_and_streamed_sgd_on_a_cluster_match_numpy(cluster, dataset):
    """The example's training on zarr chunks through a Client: the same losses as NumPy with the
    data in memory, and no task lineage left on the scheduler between steps."""
    distributed = pytest.importorskip("distributed")
    example, path, full_batch, streamed = dataset
    with distributed.Client(cluster) as client:
        X, y = example.open_dataset(path)
        with distributed.get_task_stream(client) as stream:
            losses, params = example.train([[(X, y)]] * 3, lr=0.1)
        assert {task["worker"] for task in stream.data} == set(cluster.scheduler_info["workers"])
        assert _eventually(lambda: not cluster.scheduler.tasks)  # parameters live in the client: no lineage kept
        sgd, _ = example.train(([(X.blocks[i], y.blocks[i])] for i in range(X.numblocks[0])), lr=0.1)
        assert all(len(p.data.__dask_graph__()) == 1 for p in params)
    np.testing.assert_allclose(losses, full_batch, rtol=1e-5)
    np.testing.assert_allclose(sgd, streamed, rtol=1e-5)
    assert losses[-1] < losses[0] and sgd[-1] < sgd[0]


def test_the_scheduler_address_in_the_environment_is_used(cluster):
    result = run_python(
        "import numpy as np, polygrad as pg, distributed\n"
        "x = pg.Value(np.array([1.0, 2.0, 3.0]))\n"
        "loss = pg.sum(x * x)\n"
        "loss.backward()\n"
        "print(distributed.default_client().scheduler.address, loss.item(), x.grad.compute().tolist())\n",
        POLYGRAD_BACKEND="dask", POLYGRAD_DASK_SCHEDULER=cluster.scheduler_address,
    )
    assert result.returncode == 0, result.stderr
    address, loss, grad = result.stdout.split(maxsplit=2)
    assert address == cluster.scheduler_address and float(loss) == 14.0 and grad.strip() == "[2.0, 4.0, 6.0]"


def test_a_worker_killed_in_the_middle_of_an_epoch_does_not_stop_training(cluster, dataset):
    """SIGKILL one worker process while the second full-batch step is being computed (after
    its 10th task finished); the scheduler recomputes what was lost on the other worker and
    on the one the nanny restarts, and the loss curve is the unfaulted one."""
    distributed = pytest.importorskip("distributed")
    example, path, full_batch, _ = dataset
    killed = threading.Event()

    class KillDuringStep(distributed.diagnostics.plugin.SchedulerPlugin):
        name = "polygrad-kill-during-step"

        def __init__(self, pid):
            self.pid, self.finished, self.armed = pid, 0, False

        def transition(self, key, start, finish, *args, **kwargs):
            if self.armed and finish == "memory":
                self.finished += 1
                if self.finished == 10:
                    os.kill(self.pid, signal.SIGKILL)
                    killed.set()

    with distributed.Client(cluster) as client:
        victim, victim_pid = sorted(client.run(os.getpid).items())[0]
        plugin = KillDuringStep(victim_pid)
        cluster.scheduler.add_plugin(plugin)
        X, y = example.open_dataset(path)
        steps_seen = []

        def steps():
            for step in range(3):
                plugin.armed = step == 1
                steps_seen.append((step, killed.is_set()))
                yield [(X, y)]
        try:
            losses, _ = example.train(steps(), lr=0.1)
        finally:
            cluster.scheduler.remove_plugin(name=plugin.name)
        assert killed.is_set() and steps_seen[1] == (1, False) and steps_seen[2] == (2, True)
        client.wait_for_workers(2, timeout=60)
        assert victim_pid not in client.run(os.getpid).values()
    np.testing.assert_allclose(losses, full_batch, rtol=1e-5)
