"""polygrad.progress: a tqdm bar on a terminal, plain lines without tqdm, silent otherwise."""
from __future__ import annotations

import builtins
import io

import pytest

from polygrad.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_not_a_terminal_or_quiet():
    stream = io.StringIO()
    with Progress(3, stream=stream) as bar:
        for loss in (3.0, 2.0, 1.0):
            bar.update(loss)
    assert bar.mode == "off" and stream.getvalue() == ""
    assert bar.steps == 3
    assert bar.running_loss == pytest.approx(0.9 * (0.9 * 3.0 + 0.1 * 2.0) + 0.1 * 1.0)
    assert Progress(3, stream=FakeTerminal(), quiet=True).mode == "off"


def test_plain_lines_without_tqdm(monkeypatch):
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name == "tqdm":
            raise ImportError("tqdm hidden by the test")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    stream = FakeTerminal()
    with Progress(2, desc="fit", stream=stream, print_interval_s=0.0) as bar:
        bar.update(1.5)
        bar.update(0.5)
    assert bar.mode == "print"
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("fit: step 1/2  loss 1.5000")
    assert lines[1].startswith("fit: step 2/2  loss 1.4000")


def test_tqdm_bar_on_a_terminal():
    pytest.importorskip("tqdm", reason="tqdm is the optional extra 'progress'")
    stream = FakeTerminal()
    with Progress(2, desc="fit", stream=stream) as bar:
        bar.update(1.0)
        bar.update(1.0)
    assert bar.mode == "tqdm"
    assert "fit" in stream.getvalue() and "loss=1.0000" in stream.getvalue() and "2/2" in stream.getvalue()
