"""The standard's own test suite (data-apis/array-api-tests) against polygrad's namespace on
one backend, and against that backend's own namespace (the baseline) in the same way;
writes the comparison to conformance/reports/array-api-tests-<backend>.md and .json.

    ARRAY_API_TESTS_DIR=/path/to/array-api-tests python -m conformance.array_api_suite --backend numpy

``nox -s "array_api_tests(backend='numpy')"`` runs this. The suite is not vendored: it is
found at ``ARRAY_API_TESTS_DIR``, else at ``../shared/array-api-tests`` next to the
checkout; without it this exits 0 and says why (``--require`` makes that an error).

Both runs use the same settings: the API version pinned to 2024.12 (a library declaring
a newer one would get another test set), 100 Hypothesis examples, derandomized (the
same examples every run), no deadline, shrinking off (conformance/array_api_suite_plugin.py),
``--continue-on-collection-errors``, run from a temporary directory so nothing is written
into the suite's folder (read-only in CI). A case is one collected test id.

The figure that matters is the share of the baseline's passing cases that polygrad
passes too ("of the baseline's passes"); the report groups the others by test function.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "conformance" / "reports"
API_VERSION = "2024.12"
SUITE_VARIABLE = "ARRAY_API_TESTS_DIR"

# The namespace each backend is measured against: array-api-compat's wrapper where it has
# one, else the library's own namespace (JAX with 64-bit floats, as polygrad's jax backend
# turns them on).
BASELINES = {
    "numpy": "array_api_compat.numpy",
    "array_api_strict": "array_api_strict",
    "jax": "exec('import jax; jax.config.update(\"jax_enable_x64\", True); import jax.numpy as xp')",
    "mlx": "mlx.core",
    "cupy": "array_api_compat.cupy",
}
BASELINE_NAMES = {"jax": "jax.numpy (x64)"}


def suite_dir() -> tuple[Path | None, str]:
    """The suite's folder, or None and the reason it was not found."""
    given = os.environ.get(SUITE_VARIABLE, "").strip()
    candidate = Path(given).expanduser() if given else ROOT.parent / "shared" / "array-api-tests"
    where = f"{SUITE_VARIABLE}={given}" if given else f"{candidate} (the default; set {SUITE_VARIABLE})"
    if not (candidate / "array_api_tests").is_dir():
        return None, (f"the standard's test suite is not at {where}: clone data-apis/array-api-tests "
                      f"(with its array-api submodule) and set {SUITE_VARIABLE} to it")
    return candidate, ""


def suite_commit(suite: Path) -> str:
    version = suite / "VERSION"
    if version.exists():
        return version.read_text().splitlines()[0].strip()
    try:
        return subprocess.run(["git", "-C", str(suite), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_suite(suite: Path, module: str, backend: str, max_examples: int, extra: list[str],
              timeout: float | None) -> dict:
    """One run of the suite against ``module``: {"cases": {nodeid: [outcome, message]}, ...}."""
    with tempfile.TemporaryDirectory(prefix="array-api-tests-") as tmp:
        results = Path(tmp) / "results.json"
        env = dict(os.environ)
        env.update({
            "ARRAY_API_TESTS_MODULE": module,
            "ARRAY_API_TESTS_VERSION": API_VERSION,
            "POLYGRAD_BACKEND": backend,
            "POLYGRAD_SUITE_RESULTS": str(results),
            "PYTHONDONTWRITEBYTECODE": "1",
            "HYPOTHESIS_STORAGE_DIRECTORY": str(Path(tmp) / "hypothesis"),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(suite), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        })
        command = [
            sys.executable, "-m", "pytest", str(suite / "array_api_tests"),
            "-p", "conformance.array_api_suite_plugin", "-p", "no:cacheprovider",
            f"--max-examples={max_examples}", "--derandomize", "--disable-deadline",
            "--continue-on-collection-errors", "-q", "--no-header", "-rN", "--tb=short",
            "-W", "ignore::pytest.PytestUnknownMarkWarning", *extra,
        ]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
            tail = (done.stdout + done.stderr)[-2000:]
        except subprocess.TimeoutExpired as exc:
            tail = f"timed out after {timeout} s; {(exc.stdout or '')[-1000:]}"
        seconds = time.perf_counter() - started
        cases = json.loads(results.read_text()) if results.exists() else {}
    return {"module": module, "seconds": round(seconds, 1), "cases": cases,
            "tail": tail if not cases else ""}


def counts(cases: dict) -> dict:
    found = collections.Counter(outcome for outcome, _ in cases.values())
    return {"cases": len(cases), **dict(sorted(found.items()))}


def function_of(nodeid: str) -> str:
    """'array_api_tests/test_x.py::test_f[param]' -> 'test_x.py::test_f'."""
    return nodeid.split("[", 1)[0].split("/")[-1].replace(" (collection)", "")


def compare(polygrad: dict, baseline: dict) -> dict:
    ours, theirs = polygrad["cases"], baseline["cases"]
    baseline_passes = {k for k, (outcome, _) in theirs.items() if outcome == "passed"}
    our_passes = {k for k, (outcome, _) in ours.items() if outcome == "passed"}
    kept = baseline_passes & our_passes
    lost = sorted(baseline_passes - our_passes)
    groups: dict[str, dict] = {}
    uncollectable = {k.split(" ", 1)[0]: m for k, (o, m) in ours.items() if o == "collection error"}
    for nodeid in lost:
        outcome, message = ours.get(nodeid) or ["not collected", uncollectable.get(nodeid.split("::", 1)[0], "")]
        group = groups.setdefault(function_of(nodeid), {"cases": 0, "outcomes": collections.Counter(),
                                                         "example": message})
        group["cases"] += 1
        group["outcomes"][outcome] += 1
    ranked = sorted(groups.items(), key=lambda item: (-item[1]["cases"], item[0]))
    by_file = collections.Counter()
    for name, group in ranked:
        by_file[name.split("::")[0]] += group["cases"]
    return {
        "baseline_passes": len(baseline_passes),
        "polygrad_passes": len(our_passes),
        "passes_of_baseline": len(kept),
        "share_of_baseline": round(len(kept) / len(baseline_passes), 4) if baseline_passes else None,
        "polygrad_only_passes": len(our_passes - baseline_passes),
        "lost_by_file": dict(by_file.most_common()),
        "lost_by_function": [
            {"function": name, "cases": g["cases"], "outcomes": dict(g["outcomes"]), "example": g["example"]}
            for name, g in ranked
        ],
        "collection_errors": sorted(k for k, (o, _) in ours.items() if o == "collection error"),
    }


def versions(backend: str) -> dict:
    import importlib.metadata as md
    found = {"python": platform.python_version()}
    for package in ("numpy", "array-api-compat", "array-api-strict", "jax", "mlx", "cupy-cuda12x",
                    "hypothesis", "pytest"):
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return found


def markdown(report: dict) -> str:
    c = report["comparison"]
    p, b = report["polygrad"], report["baseline"]
    share = "n/a" if c["share_of_baseline"] is None else f"{100 * c['share_of_baseline']:.1f}%"
    lines = [
        f"# The standard's test suite on {report['backend']}: polygrad vs {report['baseline_name']}",
        "",
        f"- suite: {report['suite_commit']}",
        f"- API version {API_VERSION}; {report['max_examples']} examples, derandomized, no deadline, "
        "no shrinking, `--continue-on-collection-errors`",
        f"- date: {report['date']}; command: `{report['command']}`",
        f"- versions: {', '.join(f'{k} {v}' for k, v in report['versions'].items())}",
        *(["- the two runs ran side by side (`--concurrent`): each time includes the other's "
           "competition for the CPUs"] if report.get("concurrent") else []),
        "",
        "| namespace | cases | passed | failed | skipped | other | time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in (("polygrad.namespace", p), (report["baseline_name"], b)):
        n = run["counts"]
        other = n["cases"] - n.get("passed", 0) - n.get("failed", 0) - n.get("skipped", 0)
        lines.append(f"| `{name}` | {n['cases']} | {n.get('passed', 0)} | {n.get('failed', 0)} | "
                     f"{n.get('skipped', 0)} | {other} | {run['seconds']:.0f} s |")
    lines += [
        "",
        f"**polygrad passes {c['passes_of_baseline']} of the baseline's {c['baseline_passes']} passing cases: "
        f"{share}** (and {c['polygrad_only_passes']} the baseline fails or skips).",
        "",
    ]
    if c["collection_errors"]:
        lines += ["Collection errors: " + ", ".join(f"`{e}`" for e in c["collection_errors"]), ""]
    if c["lost_by_function"]:
        lines += ["## Cases the baseline passes and polygrad does not", "",
                  "| test file | cases |", "|---|---:|"]
        lines += [f"| `{name}` | {n} |" for name, n in c["lost_by_file"].items()]
        lines += ["", "| test function | cases | outcomes | first message |", "|---|---:|---|---|"]
        for g in c["lost_by_function"]:
            outcomes = ", ".join(f"{k} {v}" for k, v in g["outcomes"].items())
            message = g["example"].replace("|", "\\|").replace("\n", " ")[:160]
            lines.append(f"| `{g['function']}` | {g['cases']} | {outcomes} | {message} |")
    for run in (p, b):
        if run.get("tail"):
            lines += ["", f"`{run['module']}` recorded no cases; the end of its output:", "", "```",
                      run["tail"], "```"]
    return "\n".join(lines) + "\n"


def write(report: dict, polygrad: dict, baseline: dict, out: Path) -> Path:
    """Add the comparison and both runs to ``report``; write the .md and a compact .json (every
    case that did not pass, by outcome, for polygrad and the baseline; the messages are in the
    groups). Returns the path without suffix."""
    report["comparison"] = compare(polygrad, baseline)
    for key, run in (("polygrad", polygrad), ("baseline", baseline)):
        report[key] = {
            "module": run["module"], "seconds": run["seconds"], "counts": counts(run["cases"]),
            "not_passed": {k: outcome for k, (outcome, _) in sorted(run["cases"].items()) if outcome != "passed"},
            "tail": run.get("tail", ""),
        }
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"array-api-tests-{report['backend']}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    return stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default=os.environ.get("POLYGRAD_BACKEND", "numpy"))
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=REPORTS, help="folder for the .md and .json")
    parser.add_argument("--require", action="store_true", help="fail, rather than skip, without the suite")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run (default: none)")
    parser.add_argument("--concurrent", action="store_true",
                        help="run polygrad's and the baseline's runs side by side (halves the wall time "
                             "on two or more cores; each run's time then includes the other's competition)")
    parser.add_argument("pytest_args", nargs="*", help="passed to both runs (after --), e.g. -k test_abs")
    args = parser.parse_args(argv)
    if args.backend not in BASELINES:
        parser.error(f"unknown backend {args.backend!r}; one of {', '.join(BASELINES)}")
    suite, reason = suite_dir()
    if suite is None:
        print(f"skipped: {reason}")
        return 1 if args.require else 0
    order = "side by side" if args.concurrent else "polygrad run, then the baseline run"
    print(f"array-api-tests at {suite}; backend {args.backend}; {order}", flush=True)

    def one_run(name: str, module: str) -> dict:
        run = run_suite(suite, module, args.backend, args.max_examples, args.pytest_args, args.timeout)
        print(f"{name}: {counts(run['cases'])} in {run['seconds']} s", flush=True)
        return run

    runs = (("polygrad", "polygrad.namespace"), ("baseline", BASELINES[args.backend]))
    if args.concurrent:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            polygrad, baseline = pool.map(lambda run: one_run(*run), runs)
    else:
        polygrad, baseline = (one_run(*run) for run in runs)
    report = {
        "backend": args.backend,
        "baseline_name": BASELINE_NAMES.get(args.backend, BASELINES[args.backend]),
        "suite_commit": suite_commit(suite),
        "api_version": API_VERSION,
        "max_examples": args.max_examples,
        "concurrent": args.concurrent,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m conformance.array_api_suite " + " ".join(sys.argv[1:] if argv is None else argv),
        "versions": versions(args.backend),
    }
    stem = write(report, polygrad, baseline, args.out)
    c = report["comparison"]
    print(f"polygrad passes {c['passes_of_baseline']} of the baseline's {c['baseline_passes']} "
          f"({c['share_of_baseline']}); wrote {stem}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
