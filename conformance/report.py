"""The conformance report: one row per op of the rules table, per edge case, error case
and composite model, filled in as the tests run; printed at the end of every pytest run
and, when asked, written to conformance/reports/<backend>.md and .json.
"""
from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import platform
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

CHECKS = ("forward", "fd", "jax")
GROUPS = ("op", "edge", "error", "model", "meta")


@dataclass
class Row:
    """name: an op ("exp") or "<group>: <what>" ("edge: softmax 1e4").
    status: pass, fail, skipped or "not run"; reason: why it failed or was skipped.
    examples: checked examples; worst: the worst scaled error of each check (None: not run);
    kinks: gradient elements at kinks or without a finite derivative, judged by JAX only;
    jax_examples: examples the JAX oracle checked."""
    name: str
    status: str = "not run"
    reason: str = ""
    examples: int = 0
    worst: dict = field(default_factory=lambda: dict.fromkeys(CHECKS))
    kinks: int = 0
    jax_examples: int = 0
    note: str = ""

    @property
    def group(self) -> str:
        prefix = self.name.split(":", 1)[0]
        return prefix if ":" in self.name and prefix in GROUPS else "op"

    def record(self, check: str, error: float) -> None:
        previous = self.worst[check]
        if previous is None or error > previous:
            self.worst[check] = float(error)

    def outcome(self, status: str, reason: str = "") -> None:
        """Combine the outcomes of the tests feeding this row: fail > pass > skipped."""
        rank = {"not run": 0, "skipped": 1, "pass": 2, "fail": 3}
        if rank[status] >= rank[self.status]:
            if status != self.status or not self.reason:
                self.reason = reason
            self.status = status


class Report:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def row(self, name: str) -> Row:
        found = self.rows.get(name)
        if found is None:
            found = self.rows[name] = Row(name)
        return found

    def ordered(self) -> list[Row]:
        return sorted(self.rows.values(), key=lambda r: (GROUPS.index(r.group), r.name))

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("pass", "fail", "skipped", "not run"), 0)
        for r in self.rows.values():
            counts[r.status] += 1
        return counts


REPORT = Report()


# -- formatting --------------------------------------------------------------------------------

def _error(value: float | None) -> str:
    if value is None:
        return "-"
    return "0" if value == 0 else f"{value:.1e}"


def _status(r: Row) -> str:
    return {"pass": "pass", "fail": "FAIL", "skipped": "skip", "not run": "n/r"}[r.status]


def summary_line(meta: dict, report: Report) -> str:
    c = report.counts()
    text = (f"polygrad conformance on {meta['backend']} ({meta['device']}), {meta['dtype']}, "
            f"profile {meta['profile']}: {c['pass']} pass, {c['fail']} fail, {c['skipped']} skipped")
    return text + (f", {c['not run']} not run" if c["not run"] else "")


def terminal_lines(meta: dict, report: Report, width: int) -> list[str]:
    """The table of op, edge and model rows, several a line where the terminal is wide
    enough; error and meta rows (no errors to show) as one count each. Then every row
    that failed or was skipped, with why, and the notes (declared deviations, conventions)."""
    table = [r for r in report.ordered() if r.group in ("op", "edge", "model")]
    lines = [summary_line(meta, report)]
    if table:
        name_width = min(40, max(len(r.name) for r in table))
        cells = [f"{r.name[:name_width]:<{name_width}} {_status(r):<4} {r.examples:>4} "
                 + " ".join(f"{_error(r.worst[c]):>7}" for c in CHECKS) for r in table]
        header = f"{'row':<{name_width}} {'':<4} {'n':>4} " + " ".join(f"{c:>7}" for c in CHECKS)
        per_line = max(1, (width + 3) // (len(header) + 3))
        lines.append(" | ".join([header] * min(per_line, len(cells))))
        for start in range(0, len(cells), per_line):
            lines.append(" | ".join(c.ljust(len(header)) for c in cells[start:start + per_line]).rstrip())
    for group in ("error", "meta"):
        rows = [r for r in report.ordered() if r.group == group]
        if rows:
            counts = {s: sum(r.status == s for r in rows) for s in ("pass", "fail", "skipped", "not run")}
            lines.append(f"{group} rows: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    for r in report.ordered():
        if r.status in ("fail", "skipped") or (r.note and r.group != "meta"):
            lines.append(f"  {r.name}: {_status(r)}: {r.reason or r.note}")
    return lines


def markdown(meta: dict, report: Report) -> str:
    c = report.counts()
    lines = [
        f"# polygrad conformance: {meta['backend']}",
        "",
        f"{c['pass']} pass, {c['fail']} fail, {c['skipped']} skipped"
        + (f", {c['not run']} not run" if c["not run"] else "") + ".",
        "",
        "| | |",
        "|---|---|",
    ]
    for key in ("backend", "device", "dtype", "tolerance", "profile", "examples per test", "JAX oracle",
                "date", "command"):
        lines.append(f"| {key} | {_md(str(meta[key]))} |")
    lines.append(f"| versions | {_md(', '.join(f'{k} {v}' for k, v in meta['versions'].items()))} |")
    for key, title in (("declared deviations", "declared deviations"), ("notes", "backend notes (backends/)")):
        if meta[key]:
            lines.append(f"| {title} | {_md('; '.join(f'{k}: {v}' for k, v in meta[key].items()))} |")
    lines += [
        "",
        "Errors are the worst `|a - b| / max(1, |a|, |b|)` over all examples: forward against a float64 "
        "NumPy reference (and that reference against JAX's function), fd (the vjp) against central finite "
        "differences of that reference, jax against `jax.vjp` in float64 on the CPU. kinks: gradient "
        "elements finite differences cannot judge (a kink, no finite derivative, a convention such as a tie), "
        "judged by JAX alone. See conformance/README.md.",
        "",
        "| row | status | examples | forward | fd | jax | jax examples | kinks | reason / note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report.ordered():
        worst = " | ".join(_error(r.worst[k]) for k in CHECKS)
        status = {"skipped": "skipped", "fail": "**fail**"}.get(r.status, r.status)
        lines.append(f"| {_md(r.name)} | {status} | {r.examples} | {worst} | {r.jax_examples} | {r.kinks} "
                     f"| {_md(r.reason or r.note)} |")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("|", "\\|")


def write(meta: dict, report: Report, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / meta["backend"]
    data = {"meta": meta, "counts": report.counts(), "rows": [
        {"group": r.group, **asdict(r)} for r in report.ordered()]}
    paths = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    paths[0].write_text(json.dumps(data, indent=1, default=str) + "\n")
    paths[1].write_text(markdown(meta, report))
    return paths


# -- what the run was -------------------------------------------------------------------------

def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(distribution.replace("-", "_"))
        return getattr(module, "__version__", "not installed")


def backend_distribution(name: str, requirements: list[str]) -> str:
    """The package a backend comes from: its first pip requirement, else its own name."""
    for requirement in requirements:
        match = re.match(r"[A-Za-z0-9_.-]+", requirement)
        if match:
            return match.group(0)
    return name


def meta(backend, spec, profile: str, examples: int, jax_examples: int, dtype: str, tolerance: float,
         command: str) -> dict:
    requirements = spec.requirements_for("darwin" if sys.platform == "darwin" else "linux")
    package = backend_distribution(backend.name, requirements)
    versions = {package: _version(package)}
    for name in ("polygrad", "numpy", "array-api-compat", "jax", "hypothesis"):
        versions.setdefault(name, _version(name))
    versions["python"] = platform.python_version()
    return {
        "backend": backend.name,
        "device": str(backend.device),
        "machine": f"{platform.system()} {platform.machine()}",
        "dtype": dtype,
        "tolerance": f"{tolerance:g} (forward, jax); fd max(that, 1e-6)",
        "profile": profile,
        "examples per test": examples,
        "JAX oracle": f"every example finite differences do not confirm, and the first {jax_examples} of each op",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "versions": versions,
        "declared deviations": dict(spec.conformance_deviations),
        "notes": dict(spec.deviations),
    }
