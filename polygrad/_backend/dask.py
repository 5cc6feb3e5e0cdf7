"""Dask: chunked, lazy arrays through array_api_compat.dask.array, on one machine or a cluster.

Every op builds Dask's task graph; nothing runs until polygrad evaluates: at
item()/numpy(), the end of backward() (the loss and the gradients in one graph, so the
data is read once per step) and an optimizer step. ``evaluate`` materialises the
arrays it is given *in place*: each Dask array keeps its name and chunks, and its graph
becomes one task per chunk holding the computed block. The new parameters of an
optimizer step thus carry no history, and the task graph does not grow from step to
step. Blocks are brought back to the client (parameters and their gradients are small;
the data never is): on a cluster the next step ships them to the workers again inside
its graph, and no lineage survives on the scheduler either.

Where it runs is Dask's business: its local threaded scheduler by default; a
``dask.distributed.Client`` the user made (Dask's default scheduler from then on); or
``POLYGRAD_DASK_SCHEDULER=tcp://host:port``, read once here when the backend loads,
which connects a Client to that scheduler.

Chunks: arrays polygrad makes from NumPy data (leaves, constants) are one chunk; Dask
arrays a user passes in keep their chunks, so a data set's chunks drive the parallelism.

Data-dependent shapes: Dask gives the result of a boolean mask, ``nonzero`` or
``unique_*`` unknown (nan) chunk sizes, which no later op can use. polygrad indexes
masks by their ``nonzero`` positions (``boolean_masks=False``, as on MLX), and ``nonzero``
here computes those positions at once (as MLX does on the host), so every shape a Value
reports is known.
"""
from __future__ import annotations

import importlib
import math
import os
import sys
from typing import Any, Callable

from ..errors import BackendError, ShapeError
from ._record import ArrayNamespace, Backend
from ._scatter import copying_setitem, standard_put
from ._special import dask_special

__all__ = ["load", "SCHEDULER_VARIABLE"]

SCHEDULER_VARIABLE = "POLYGRAD_DASK_SCHEDULER"
client = None  # the Client POLYGRAD_DASK_SCHEDULER connected (kept alive here), else None


def load() -> Backend:
    da = importlib.import_module("dask.array")
    dask = importlib.import_module("dask")
    np = importlib.import_module("numpy")
    compat = importlib.import_module("array_api_compat.dask.array")
    threaded_get = importlib.import_module("dask.threaded").get
    global client
    client = _connect(os.environ.get(SCHEDULER_VARIABLE, "").strip())

    def is_array(obj):
        if not isinstance(obj, da.Array):
            return False
        if any(math.isnan(n) for n in obj.shape):  # the one door a user's Dask array comes in by
            raise ShapeError(
                f"dask: an array of unknown shape {obj.shape} (Dask does not know its chunk sizes, "
                "e.g. after boolean masking): call its .compute_chunk_sizes() before giving it to polygrad"
            )
        return True

    def compute(arrays):
        """Compute ``arrays`` in one graph, on Dask's scheduler (the threaded one, a Client's...).

        A graph of one chunk per array (a model's parameters, small data) has no parallelism
        to offer, and Dask's graph optimisation (fusing blockwise chains per chunk) costs a
        third of a small step there: such a graph runs unoptimised in this thread where the
        scheduler is local anyway, or where it reads nothing but arrays already in this
        process (an optimizer step), rather than making a round trip to a cluster."""
        chunked = _any_chunked(arrays)
        if not chunked:
            scheduler = dask.base.get_scheduler()
            if scheduler is None or scheduler is threaded_get or _reads_only_client_memory(arrays):
                return dask.compute(*arrays, scheduler="sync", optimize_graph=False)
        return dask.compute(*arrays, optimize_graph=chunked)

    def to_numpy(a):
        if not isinstance(a, da.Array):
            return np.asarray(a)
        blocks = _blocks(a)
        if blocks is not None and len(blocks) == 1:  # evaluated already: no scheduler round trip
            return np.asarray(next(iter(blocks.values())))
        return np.asarray(compute([a])[0])

    def evaluate(*arrays):
        # Optimizers pass their state as it is kept: a tuple (Adam's moments) or None.
        lazy = list({id(a): a for a in _flatten(arrays) if isinstance(a, da.Array) and _blocks(a) is None}.values())
        if lazy:
            for a, value in zip(lazy, compute(lazy)):
                _materialise(a, np.asarray(value))

    xp = ArrayNamespace("dask", compat, special=dask_special(da, np), **extensions(da, compat, np),
                        linalg=ArrayNamespace("dask.linalg", compat.linalg, **linalg_extensions(da, compat, np)),
                        fft=ArrayNamespace("dask.fft", compat.fft, **fft_extensions(da, compat)))
    return Backend(
        name="dask", xp=xp, device="cpu", is_array=is_array, to_numpy=to_numpy,
        evaluate=evaluate, boolean_masks=False,
    )


def _connect(address: str, timeout: str = "10s"):
    """A Client for POLYGRAD_DASK_SCHEDULER (it becomes Dask's default scheduler), or None."""
    if not address:
        return None
    try:
        distributed = importlib.import_module("distributed")
    except ImportError as exc:
        raise BackendError(
            f"{SCHEDULER_VARIABLE}={address} needs dask.distributed: pip install -e \".[dask]\" ({exc})"
        ) from exc
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BackendError(
            f"dask: cannot connect to the scheduler {address!r} named by {SCHEDULER_VARIABLE}: {exc}"
        ) from exc


def _flatten(items):
    for item in items:
        if isinstance(item, (tuple, list)):
            yield from _flatten(item)
        elif isinstance(item, dict):
            yield from _flatten(item.values())
        else:
            yield item


def _blocks(a) -> dict | None:
    """The blocks of an evaluated array (its graph is one NumPy array per chunk), else None."""
    layers = a.__dask_graph__().layers
    if len(layers) != 1:
        return None
    layer = layers.get(a.name)
    if layer is None or not getattr(layer, "is_materialized", lambda: True)():
        return None
    np = sys.modules["numpy"]
    if len(layer) != math.prod(len(c) for c in a.chunks) or not all(
            isinstance(v, np.ndarray) for v in layer.values()):
        return None
    return layer


def _any_chunked(arrays) -> bool:
    """Whether any layer of the arrays' graphs has more than one chunk."""
    seen = set()
    for a in arrays:
        for name, layer in a.__dask_graph__().layers.items():
            if name not in seen:
                seen.add(name)
                if len(layer) > 1:
                    return True
    return False


def _reads_only_client_memory(arrays) -> bool:
    """Whether the graphs start only from NumPy blocks held in this process (evaluated arrays,
    leaves made from NumPy) or from zeros/ones/full, never from storage, futures or generators."""
    np = sys.modules["numpy"]
    for a in arrays:
        graph = a.__dask_graph__()
        for name, layer in graph.layers.items():
            if graph.dependencies.get(name):
                continue
            io_deps = getattr(layer, "io_deps", None)
            if io_deps is not None:  # a Blockwise layer with no array inputs: creation or storage
                if not all(type(dep).__name__ == "ArrayChunkShapeDep" for dep in io_deps.values()) or any(
                        not (isinstance(source, str) and source in io_deps) for source, _ in layer.indices):
                    return False
            elif not all(isinstance(v, np.ndarray) for v in layer.values()):
                return False
    return True


def _materialise(a, value) -> None:
    """Give Dask array ``a`` the graph of its computed ``value``: same name, same chunks."""
    import itertools

    from dask.array.core import slices_from_chunks
    from dask.highlevelgraph import HighLevelGraph

    keys = itertools.product(*(range(len(c)) for c in a.chunks))
    blocks = {(a.name, *index): value[where] if where else value  # 0-d: the array, not a scalar
              for index, where in zip(keys, slices_from_chunks(a.chunks))}
    a.dask = HighLevelGraph.from_collections(a.name, blocks, dependencies=())


def on_one_block(da: Any, np: Any, function: Callable, name: str) -> Callable:
    """``function`` (NumPy's) run lazily on whole arrays: one task whose inputs are the
    arrays' chunks concatenated, its outputs one chunk each. The outputs' shapes and dtypes
    come from a call on stand-ins of the same shapes (identity matrices where square, so
    inv or cholesky do not fail on them): decompositions' shapes depend on shapes only."""
    delayed = importlib.import_module("dask").delayed

    def stand_in(a):
        a = np.zeros(a.shape, dtype=a.dtype)
        if a.ndim >= 2 and a.shape[-1] == a.shape[-2]:
            a[...] = np.eye(a.shape[-1], dtype=a.dtype)
        return a

    def call(*args, **kwargs):
        outline = function(*(stand_in(a) if isinstance(a, da.Array) else a for a in args), **kwargs)
        task = delayed(function, pure=True, name=f"{name}-{importlib.import_module('dask.base').tokenize(args, kwargs)}")
        result = task(*args, **kwargs)

        def part(value, outline):
            return da.from_delayed(value, shape=outline.shape, dtype=outline.dtype)
        if isinstance(outline, tuple):
            return type(outline)(*(part(result[i], o) for i, o in enumerate(outline)))
        return part(result, np.asarray(outline))
    call.__name__ = name
    return call


def linalg_extensions(da: Any, compat: Any, np: Any) -> dict:
    """dask.array.linalg works on 2-D arrays only (no batches) and lacks det, slogdet, eigh,
    eigvalsh, pinv, matrix_power, cross: every function but the chunk-aware products and
    norms runs NumPy's on the whole array (model-sized matrices), lazily."""
    host = importlib.import_module("array_api_compat.numpy").linalg
    chunk_aware = {"matmul", "matrix_transpose", "tensordot", "vecdot", "vector_norm", "diagonal", "trace"}
    return {name: on_one_block(da, np, getattr(host, name), f"linalg.{name}")
            for name in host.__all__ if name[0].islower() and name not in chunk_aware | {"test"}
            and callable(getattr(host, name)) and not isinstance(getattr(host, name), type)}


def fft_extensions(da: Any, compat: Any) -> dict:
    """Dask transforms an axis only where it is one chunk: those axes are rechunked first."""
    def whole_axes(function):
        def transform(x, /, *args, axis=-1, axes=None, **kwargs):
            if axes is None and function.__name__.endswith("n"):  # fftn and kin: all axes, or s's
                s = kwargs.get("s")
                along = range(x.ndim) if s is None else range(x.ndim - len(s), x.ndim)
            else:
                along = [axis] if axes is None else axes
            x = x.rechunk({a % x.ndim: -1 for a in along})
            if function.__name__.endswith("n") or axes is not None:
                return function(x, *args, axes=axes, **kwargs)
            return function(x, *args, axis=axis, **kwargs)
        transform.__name__ = function.__name__
        return transform
    names = ("fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft")
    return {name: whole_axes(getattr(compat.fft, name)) for name in names}


def extensions(da: Any, compat: Any, np: Any) -> dict:
    """Functions that replace or add to array_api_compat.dask.array's, by array-API name."""
    host = importlib.import_module("array_api_compat.numpy")

    def one_chunk(a):
        return da.from_array(a, chunks=-1)

    def asarray(obj, /, *, dtype=None, device=None, copy=None):
        if isinstance(obj, da.Array):
            return compat.asarray(obj, dtype=dtype, copy=copy)
        if hasattr(obj, "__dlpack__") and not hasattr(obj, "__array__"):
            obj = np.from_dlpack(obj)
        # NumPy data, Python numbers, lists: one chunk (leaves and constants are small; a
        # data set the user chunked stays a Dask array and keeps its chunks).
        return one_chunk(np.array(obj, dtype=dtype, copy=True))

    def from_dlpack(x, /, *, device=None, copy=None):
        return asarray(np.from_dlpack(x))

    def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
        # dask.array.eye computes a wrong graph for n_cols != n_rows (2026.8: a missing block)
        return one_chunk(np.eye(n_rows, n_cols, k, dtype=dtype or np.float64))

    def nonzero(x, /):
        # A data-dependent shape: computed now, so the positions have a known size.
        return tuple(one_chunk(i) for i in np.nonzero(np.asarray(x.compute())))

    def computed_now(name):
        """unique_*: data-dependent shapes, computed at once (as nonzero) so they are known."""
        on_host = getattr(host, name)

        def function(x, /):
            found = on_host(np.asarray(x.compute()))
            return type(found)(*map(one_chunk, found)) if isinstance(found, tuple) else one_chunk(found)
        function.__name__ = name
        return function

    def empty_safe(name):
        """Dask reduces empty blocks with NumPy functions that have no identity (max of an
        empty block raises even where the reduced axis is not empty). An empty input holds
        no data, so NumPy's answer on an empty array of the same shape is the answer."""
        reduce = getattr(compat, name)
        on_host = getattr(host, name)

        def reduction(x, /, *args, **kwargs):
            if math.prod(x.shape) == 0:
                return one_chunk(np.asarray(on_host(np.empty(x.shape, dtype=x.dtype), *args, **kwargs)))
            return reduce(x, *args, **kwargs)
        reduction.__name__ = name
        return reduction

    def matmul(x1, x2, /):
        if x1.ndim >= 2 and x2.ndim == 2 and x1.numblocks[-1] == 1 and x2.numblocks[0] == 1 \
                and x1.shape[-1] == x2.shape[0]:
            # Nothing to sum across chunks (data @ weights): one np.matmul per block of x1.
            # Dask's own matmul always adds a reduction, two more tasks per block.
            batch = tuple(range(x1.ndim - 2))
            rows, inner, columns = x1.ndim - 2, x1.ndim, x1.ndim + 1
            return da.blockwise(np.matmul, batch + (rows, columns), x1, batch + (rows, inner), x2, (inner, columns),
                                dtype=np.result_type(x1.dtype, x2.dtype), concatenate=True)
        return compat.matmul(x1, x2)

    def reshape(x, /, shape, *, copy=None):
        try:
            return compat.reshape(x, shape, copy=copy)
        except NotImplementedError:  # Dask reshapes only chunkings it can map block to block
            return compat.reshape(x.rechunk(-1), shape, copy=copy)

    def take(x, indices, /, *, axis=None):
        if axis is None:  # the standard allows it for 1-D x only; Dask's take insists on an axis
            if x.ndim != 1:
                raise ValueError(f"take: axis is required for an array with {x.ndim} axes")
            axis = 0
        return compat.take(x, indices, axis=axis)

    def scatter(values, key, shape):
        out = da.zeros(shape, dtype=values.dtype, chunks="auto")
        if math.prod(values.shape) == 0:  # Dask's setitem rejects an empty selection
            return out
        if any(k is None for k in key):
            key = tuple(k for k in key if k is not None)
            values = da.reshape(values, out[key].shape)
        key, flips = _ascending(key, shape)
        if flips:
            values = da.flip(values, axis=flips)
        out[key[0] if len(key) == 1 else key] = values
        return out

    def _ascending(key, shape):
        """The key with every slice of negative step as the same positions in ascending order,
        and the value axes to flip to match: Dask's setitem fails on some descending slices
        (2026.8: x[0, ::-1] = v on a (1, 1) array)."""
        if any(k is Ellipsis for k in key):
            at = key.index(Ellipsis)
            key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1:]
        ascending, flips, value_axis = [], [], 0
        for k, n in zip(key, shape):
            if isinstance(k, slice) and (k.step or 1) < 0:
                positions = range(*k.indices(n))  # not empty: empty selections returned above
                k = slice(positions[-1], positions[0] + 1, -positions.step)
                flips.append(value_axis)
            ascending.append(k)
            value_axis += not isinstance(k, int)
        return tuple(ascending) + tuple(key[len(shape):]), tuple(flips)

    def searchsorted(x1, x2, /, *, side="left", sorter=None):
        if math.prod(x1.shape) == 0 or math.prod(x2.shape) == 0:
            # the answer depends on no value (all 0, or empty); Dask gets the shape wrong (2026.8)
            return one_chunk(host.searchsorted(np.empty(x1.shape, x1.dtype), np.empty(x2.shape, x2.dtype), side=side))
        if x2.ndim == 0:  # Dask's searchsorted fails on 0-d x2 (2026.8)
            return da.reshape(compat.searchsorted(x1, da.reshape(x2, (1,)), side=side, sorter=sorter), ())
        return compat.searchsorted(x1, x2, side=side, sorter=sorter)

    def scatter_add(values, indices, shape, axis):
        n = shape[axis]
        if math.prod(values.shape) == 0:
            return da.zeros(shape, dtype=values.dtype, chunks="auto")
        moved = da.moveaxis(values, axis, 0)
        rest = moved.shape[1:]
        flat = da.reshape(moved, (moved.shape[0], math.prod(rest))).rechunk({1: -1})
        indices = indices.rechunk((flat.chunks[0],))

        def add_at(index_block, value_block):
            out = np.zeros((1, n, value_block.shape[1]), dtype=value_block.dtype)
            np.add.at(out[0], index_block, value_block)
            return out

        # One partial sum per chunk of values, then a sum over the chunks.
        parts = da.blockwise(add_at, "bnm", indices, "b", flat, "bm", new_axes={"n": n},
                             adjust_chunks={"b": 1}, dtype=values.dtype, concatenate=True)
        return da.moveaxis(da.reshape(da.sum(parts, axis=0), (n, *rest)), 0, axis)

    def take_along_axis(x, indices, /, *, axis=-1):
        # Dask has none: NumPy's on whole arrays, one lazy task (the gather crosses chunks)
        x, indices = x.rechunk(-1), indices.rechunk(-1)
        shape = np.broadcast_shapes(tuple(x.shape[:axis % x.ndim]) + (1,) + tuple(x.shape[axis % x.ndim + 1:]),
                                    tuple(indices.shape))
        return da.map_blocks(np.take_along_axis, x, indices, axis=axis, dtype=x.dtype,
                             chunks=tuple((n,) for n in shape))

    def repeat(x, repeats, /, *, axis=None):
        if axis is None:
            x, axis = da.reshape(x.rechunk(-1), (-1,)), 0
        if isinstance(repeats, int):
            return da.repeat(x, repeats, axis=axis)
        # repeats per element: a data-dependent length, computed now (as nonzero)
        return one_chunk(np.repeat(np.asarray(x.compute()), np.asarray(repeats.compute()), axis=axis))

    reductions = ("max", "min", "sum", "prod", "mean", "var", "std", "argmax", "argmin", "all", "any",
                  "count_nonzero", "cumulative_sum", "cumulative_prod")
    return dict(asarray=asarray, from_dlpack=from_dlpack, eye=eye, nonzero=nonzero, matmul=matmul, reshape=reshape, take=take,
                searchsorted=searchsorted, scatter=scatter, scatter_add=scatter_add,
                take_along_axis=take_along_axis, repeat=repeat,
                # item assignment: Dask writes basic keys and masks into a lazy copy; integer
                # indices through standard functions (Dask has no integer-array assignment)
                setitem=copying_setitem(lambda x: x.copy()), put=standard_put(compat),
                **{name: computed_now(name) for name in ("unique_values", "unique_counts", "unique_inverse", "unique_all")},
                **{name: empty_safe(name) for name in reductions if hasattr(compat, name)})
