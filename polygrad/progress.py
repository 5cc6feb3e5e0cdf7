"""A training progress line: a ``tqdm`` bar with the running loss on a terminal.

    with Progress(steps, quiet=args.quiet) as bar:
        for step in range(steps):
            ...
            bar.update(loss.item())

On a terminal it draws a tqdm bar (``pip install -e ".[progress]"``), or without tqdm
prints the step and running loss about twice a second. It stays silent when the stream
is not a terminal (logs, pipes, tests) or with ``quiet=True``.
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "interactive"]


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stdout) is a terminal."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Counts steps and keeps a running (exponentially smoothed) loss for display.

    mode: "tqdm" (a bar), "print" (periodic lines), or "off"; chosen from the stream
    and whether tqdm imports unless given. ``smoothing`` weights the newest loss.
    """

    def __init__(self, total: int | None = None, *, desc: str = "train", quiet: bool = False,
                 stream: TextIO | None = None, mode: str | None = None, smoothing: float = 0.1,
                 print_interval_s: float = 0.5):
        self.stream = sys.stdout if stream is None else stream
        self.total, self.desc, self.smoothing = total, desc, smoothing
        self.steps = 0
        self.running_loss: float | None = None
        self._bar: Any = None
        self._print_interval_s = print_interval_s
        self._start = self._last_print = time.perf_counter()
        if mode is None:
            mode = "off" if quiet or not interactive(self.stream) else "tqdm"
        if mode == "tqdm":
            try:
                from tqdm import tqdm
            except ImportError:  # the optional extra is absent: plain lines instead
                mode = "print"
            else:
                self._bar = tqdm(total=total, desc=desc, file=self.stream, dynamic_ncols=True, leave=True)
        if mode not in ("tqdm", "print", "off"):
            raise ValueError(f"Progress: mode must be 'tqdm', 'print' or 'off', got {mode!r}")
        self.mode = mode

    def update(self, loss: float | None = None, n: int = 1) -> None:
        self.steps += n
        if loss is not None:
            loss = float(loss)
            self.running_loss = loss if self.running_loss is None else (
                (1.0 - self.smoothing) * self.running_loss + self.smoothing * loss)
        if self.mode == "tqdm":
            if self.running_loss is not None:
                self._bar.set_postfix(loss=f"{self.running_loss:.4f}", refresh=False)
            self._bar.update(n)
        elif self.mode == "print":
            now = time.perf_counter()
            if now - self._last_print >= self._print_interval_s or self.steps == self.total:
                self._last_print = now
                of = f"/{self.total}" if self.total else ""
                shown = "" if self.running_loss is None else f"  loss {self.running_loss:.4f}"
                print(f"{self.desc}: step {self.steps}{of}{shown}  ({now - self._start:.1f} s)",
                      file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
