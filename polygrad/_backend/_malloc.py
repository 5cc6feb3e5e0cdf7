"""glibc's malloc set for array workloads: memory a step frees is kept for the next step.

Why: an eager training step builds a graph, then frees it whole. With glibc's defaults the
freed arrays sit at the top of the heap, more than ``M_TRIM_THRESHOLD`` (128 KiB) of them,
so ``free`` hands them back to the system and the next step takes a page fault on every
4 KiB page it touches again. On the 200-op elementwise chain of ``benchmarks/`` (16 KiB
arrays) that was 785 page faults and about a third of the step's time; hand-written NumPy,
which holds fewer arrays at once, took none. glibc raises both thresholds by itself once a
program frees one large (mmapped) array: this sets the state it would then reach (arrays up
to 32 MiB from the heap, up to 64 MiB of freed memory kept) from the start, so a process's
speed no longer depends on whether it happened to free a large array first.

The cost: up to 64 MiB of freed heap stays with the process instead of going back to the
system. Set ``POLYGRAD_TUNE_MALLOC=0`` to keep glibc's defaults; glibc's own variables
(``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_``, ``GLIBC_TUNABLES``) also take
precedence: when one is set, polygrad changes nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import sys

__all__ = ["keep_freed_memory", "TRIM_THRESHOLD", "MMAP_THRESHOLD"]

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 64 * 2**20
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
_USERS_OWN = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
_done: list = []


def keep_freed_memory() -> bool:
    """Set the thresholds once per process; True where they were set (glibc, not opted out)."""
    if _done:
        return _done[0]
    _done.append(False)
    if os.environ.get("POLYGRAD_TUNE_MALLOC", "").strip().lower() in ("0", "false", "no"):
        return False
    if sys.platform != "linux" or any(name in os.environ for name in _USERS_OWN):
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; M_MMAP_THRESHOLD first: setting either one turns off
    # glibc's dynamic adjustment of both
    _done[0] = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done[0]
