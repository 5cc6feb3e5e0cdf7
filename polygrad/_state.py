"""polygrad's settings, one place: the active backend, the default dtype, grad mode and
the transform depth.

Environment variables (POLYGRAD_BACKEND, POLYGRAD_DTYPE, POLYGRAD_DEBUG_NANS) are read once,
at import, into process-wide defaults; ``set_backend``/``set_default_dtype`` change those defaults.
Everything a block of code switches temporarily (``use_backend``, ``no_grad``, a transform
running ``f``, ``detect_anomaly``) lives in context variables, so one thread's ``with pg.no_grad():`` never
changes what another thread records. A new thread starts from the defaults, with
recording on (as in PyTorch).

This module imports nothing else of polygrad's: everything else may import it.
"""
from __future__ import annotations

import contextlib
import os
import threading
from contextvars import ContextVar

__all__ = [
    "backend_name", "set_default_backend_name", "use_backend_name", "dtype_name",
    "set_default_dtype_name", "use_dtype_name", "is_grad_enabled", "grad_mode", "no_grad", "enable_grad",
    "transform_depth", "entering_transform", "FLOAT_DTYPE_NAMES", "detect_anomaly",
    "is_anomaly_enabled", "anomaly_watch", "vmapping", "jit_tracing",
]

FLOAT_DTYPE_NAMES = ("float32", "float64")


class _Defaults:
    """Process-wide defaults, read from the environment once."""

    def __init__(self) -> None:
        self.backend_name = os.environ.get("POLYGRAD_BACKEND", "numpy").strip() or "numpy"
        self.dtype_name = os.environ.get("POLYGRAD_DTYPE", "float32").strip() or "float32"
        self.debug_nans = os.environ.get("POLYGRAD_DEBUG_NANS", "").strip().lower() not in ("", "0", "false", "no")


_defaults = _Defaults()
_backend_override: ContextVar[str | None] = ContextVar("polygrad_backend", default=None)
_dtype_override: ContextVar[str | None] = ContextVar("polygrad_dtype", default=None)
_grad_enabled: ContextVar[bool] = ContextVar("polygrad_grad_enabled", default=True)
_transform_depth: ContextVar[int] = ContextVar("polygrad_transform_depth", default=0)
_anomaly: ContextVar[bool] = ContextVar("polygrad_anomaly", default=_defaults.debug_nans)
# True while vmap runs its function: apply then looks for batched Values among its inputs
_vmapping: ContextVar[bool] = ContextVar("polygrad_vmapping", default=False)
# True while jit traces its function: a Value's truth value is unknown then
_jit_tracing: ContextVar[bool] = ContextVar("polygrad_jit_tracing", default=False)


# -- backend -----------------------------------------------------------------------------

def backend_name() -> str:
    """The name of the backend new Values live on, in this context."""
    return _backend_override.get() or _defaults.backend_name


def set_default_backend_name(name: str) -> None:
    """Change the process-wide default (a ``use_backend`` block in force keeps its own)."""
    _defaults.backend_name = name
    _backend_override.set(None)


@contextlib.contextmanager
def use_backend_name(name: str):
    token = _backend_override.set(name)
    try:
        yield
    finally:
        _backend_override.reset(token)


# -- default dtype --------------------------------------------------------------------------

def dtype_name() -> str:
    return _dtype_override.get() or _defaults.dtype_name


def set_default_dtype_name(name: str) -> None:
    _defaults.dtype_name = name
    _dtype_override.set(None)


@contextlib.contextmanager
def use_dtype_name(name: str):
    token = _dtype_override.set(name)
    try:
        yield
    finally:
        _dtype_override.reset(token)


# -- grad mode ----------------------------------------------------------------------------------

def is_grad_enabled() -> bool:
    """Whether new nodes record the graph (``pg.no_grad()`` turns it off)."""
    return _grad_enabled.get()


@contextlib.contextmanager
def grad_mode(enabled: bool):
    token = _grad_enabled.set(enabled)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


def no_grad():
    """``with pg.no_grad():`` ops inside record no graph and nothing requires a gradient."""
    return grad_mode(False)


def enable_grad():
    """``with pg.enable_grad():`` turns recording back on inside a no_grad block."""
    return grad_mode(True)


# -- transform depth --------------------------------------------------------------------------------

def transform_depth() -> int:
    """How many grad()-like transforms are running their function in this context."""
    return _transform_depth.get()


@contextlib.contextmanager
def entering_transform():
    token = _transform_depth.set(_transform_depth.get() + 1)
    try:
        yield
    finally:
        _transform_depth.reset(token)


# -- anomaly mode -------------------------------------------------------------------------------------

# How many detect_anomaly(True) blocks are open in any thread, plus 1 when POLYGRAD_DEBUG_NANS
# is set. apply() and the backward walk read only this (one list item) and look at the
# context variable only when it is non-zero: anomaly mode costs nothing while nobody uses it.
anomaly_watch = [1 if _defaults.debug_nans else 0]
_anomaly_count_lock = threading.Lock()


def is_anomaly_enabled() -> bool:
    """Whether anomaly mode is on in this context (``detect_anomaly`` or POLYGRAD_DEBUG_NANS=1)."""
    return anomaly_watch[0] > 0 and _anomaly.get()


@contextlib.contextmanager
def detect_anomaly(enabled: bool = True):
    """``with pg.detect_anomaly():`` the first NaN or infinity an op produces, in a forward
    (eager or replayed) or a backward, raises ``pg.AnomalyError`` naming the op, the input
    shapes and the line of your code that created the node. Nodes remember that line only
    while the mode is on, so it costs nothing otherwise. ``detect_anomaly(False)`` turns it
    off for a block (e.g. where an infinity is intended). This thread or task only."""
    token = _anomaly.set(bool(enabled))
    with _anomaly_count_lock:
        anomaly_watch[0] += 1
    try:
        yield
    finally:
        with _anomaly_count_lock:
            anomaly_watch[0] -= 1
        _anomaly.reset(token)

# -- vmap and jit ------------------------------------------------------------------------------

@contextlib.contextmanager
def vmapping():
    """Inside: apply batches the ops that meet a batched Value (see transforms/vmap.py)."""
    token = _vmapping.set(True)
    try:
        yield
    finally:
        _vmapping.reset(token)


@contextlib.contextmanager
def jit_tracing():
    """Inside: jit is tracing a function on placeholders (see transforms/jit.py)."""
    token = _jit_tracing.set(True)
    try:
        yield
    finally:
        _jit_tracing.reset(token)
