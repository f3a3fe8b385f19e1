"""Run dbt through its programmatic runner (dbtRunner), never through shell strings.

Each invocation runs in a child Python process (`python -m clvlayer.dbt_runner`), which calls dbtRunner and reports
the node results back as JSON. The child exits when dbt is done, so dbt-duckdb's cached connection and its file lock
are released before the CLI checkpoints, publishes or reads the warehouse. With CLV_DBT_FORK_SERVER=1 (the test
suite) the child is a fork of a process that has dbt and the scientific stack loaded (clvlayer.dbt_forkserver).

The child dies with its parent: it asks the kernel for SIGKILL when the parent goes away (prctl PR_SET_PDEATHSIG,
so even a kill -9 of `clv build` stops it), runs in its own process group, and the parent kills that group when it
is interrupted (Ctrl-C, SIGTERM) or fails while dbt runs.

Partial parsing. dbt reuses its last parse (target/partial_parse.msgpack) only when the rendered profile is the same
(it hashes the connection info, the DuckDB `path` included) and the vars are the same. The warehouse file therefore
reaches dbt as a bare file name: the child runs in the file's folder with DUCKDB_PATH=<name>.duckdb, so every build
of `customer_value.duckdb`, wherever its `.build/<run>/` folder is, renders the same profile (DuckDB resolves the
name against the working directory; its WAL and spill files still sit next to the file). Path options dbt resolves
against the working directory are made absolute against the project root first, as they were before. Each
(file name, --vars) pair keeps its last parse state in target/partial_parse/, which is copied into a target folder
that lacks it, so builds into fresh target folders (tests, `clv docs-md`) parse partially too.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir

if TYPE_CHECKING:
    from clvlayer.dbt_inputs import DbtInputs


@dataclass
class DbtOutcome:
    """What one dbt invocation did: success, the passing node count and the failing nodes with their messages."""

    success: bool
    command: list[str]
    failures: list[str] = field(default_factory=list)
    passed: int = 0
    messages: list[str] = field(default_factory=list)  # macro log lines starting with MESSAGE_PREFIX


PR_SET_PDEATHSIG = 1
MESSAGE_PREFIX = "CLV_"


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """preexec_fn of the child: SIGKILL when the parent dies; exit at once if it already has (the race)."""

    def setup() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def run_child(command: list[str], *, env: Mapping[str, str], pid_file: Path | None = None,
              cwd: Path = PROJECT_ROOT) -> int:
    """Run a child process that cannot outlive this one (see the module docstring). Returns its exit code."""
    child = subprocess.Popen(command, cwd=cwd, env=dict(env), process_group=0,
                             preexec_fn=_die_with_parent(os.getpid()))
    if pid_file is not None:
        pid_file.write_text(str(child.pid))
    try:
        return child.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise


PARSE_STATE = "partial_parse.msgpack"
PARSE_CACHE = PROJECT_ROOT / "target" / "partial_parse"
# dbt options whose relative paths dbt resolves against the working directory (the child's is the warehouse folder)
CWD_PATH_OPTIONS = ("--state", "--defer-state", "--log-path", "--output", "-o", "--record-timing-info")


def run_dbt(args: list[str], *, duckdb_path: Path, inputs: DbtInputs | None = None,
            quiet: bool = False, pid_file: Path | None = None) -> DbtOutcome:
    """Invoke `dbt <args>` against the project with the given warehouse file and input (clvlayer.dbt_inputs;
    None: the embedded sample, whatever RAW_DATA_DIR the caller's environment holds)."""
    profiles_dir = ensure_profiles_dir()
    duckdb_path = Path(os.path.abspath(duckdb_path))
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    args = _paths_from_project_root(args)
    command = [*args, "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(profiles_dir)]
    if quiet:
        command = ["--quiet", *command]
    env = dict(os.environ)
    # a bare file name: the profile renders the same for every folder (see the module docstring)
    env.update({"DUCKDB_PATH": duckdb_path.name, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    # one OpenBLAS thread for the dbt Python models (read when numpy loads, so it must be in the child's
    # environment): their linear algebra is small per call and, on two cores shared with DuckDB's threads, BLAS
    # worker threads cost more than they compute (the 10M-order fits: 17 s CPU with them, 14 s without)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    from clvlayer.dbt_inputs import SAMPLE  # not at the top: the dbt child process does not need the resolver

    (inputs or SAMPLE).apply_to(env)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report = Path(handle.name)
    target = _target_path(args, env)
    key = _parse_key(args, duckdb_path)
    try:
        _restore_parse_state(target, key)
        started = time.time()
        _run_child_main([str(report), *command], env=env, pid_file=pid_file, cwd=duckdb_path.parent)
        _save_parse_state(target, key, started)
        data = json.loads(report.read_text() or "{}")
    finally:
        report.unlink(missing_ok=True)
    failures = list(data.get("failures", ["dbt did not report (crashed?)"]))
    if failures and all(failure.startswith(NOT_RUN) for failure in failures):
        failures = failures_in_run_results(target, started) + failures
    return DbtOutcome(success=bool(data.get("success")), command=["dbt", *command], failures=failures,
                      passed=int(data.get("passed", 0)), messages=list(data.get("messages", [])))


def _run_child_main(command: list[str], *, env: Mapping[str, str], pid_file: Path | None, cwd: Path) -> None:
    """`python -m clvlayer.dbt_runner <command>`: a fork of the process's dbt fork server when the environment asks
    for one and it can take the invocation (clvlayer.dbt_forkserver), else a spawned child."""
    from clvlayer import dbt_forkserver

    if dbt_forkserver.enabled(env) and dbt_forkserver.run_forked(command, env=env, cwd=cwd,
                                                                 pid_file=pid_file) is not None:
        return
    run_child([sys.executable, "-m", "clvlayer.dbt_runner", *command], env=env, pid_file=pid_file, cwd=cwd)


NOT_RUN = "dbt did not run: "


def failures_in_run_results(target: Path, since: float) -> list[str]:
    """The failing nodes of the run_results.json dbt wrote into `target` after `since` (as node_outcomes words
    them). An invocation that ends in an exception (e.g. a connection closed while fail-fast cancels the other
    threads' queries) reports no node results, but dbt has written them: the failing test is not lost."""
    path = target / "run_results.json"
    try:
        if path.stat().st_mtime < since:
            return []
        results = json.loads(path.read_text()).get("results", [])
    except (OSError, ValueError):
        return []
    return [f"{r.get('unique_id', '?')}: {str(r.get('status', '')).lower()}: {(r.get('message') or '').strip()[:500]}"
            for r in results if str(r.get("status", "")).lower() in FAILED_STATUSES]


def _option(args: list[str], name: str) -> str | None:
    """The value of `name VALUE` or `name=VALUE` in args (the last one wins, as in click)."""
    value = None
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def _paths_from_project_root(args: list[str]) -> list[str]:
    """Relative values of CWD_PATH_OPTIONS made absolute against the project root (the child's old cwd)."""
    out = list(args)
    for i, arg in enumerate(out):
        name, eq, value = arg.partition("=")
        if name not in CWD_PATH_OPTIONS:
            continue
        if eq and not os.path.isabs(value):
            out[i] = f"{name}={PROJECT_ROOT / value}"
        elif not eq and i + 1 < len(out) and not os.path.isabs(out[i + 1]) and not out[i + 1].startswith("-"):
            out[i + 1] = str(PROJECT_ROOT / out[i + 1])
    return out


def _target_path(args: list[str], env: Mapping[str, str]) -> Path:
    """Where dbt writes its artifacts: --target-path, else DBT_TARGET_PATH, else target/ (relative to the project)."""
    return PROJECT_ROOT / (_option(args, "--target-path") or env.get("DBT_TARGET_PATH") or "target")


def _parse_key(args: list[str], duckdb_path: Path) -> str:
    """What dbt's parse state depends on that differs between clv's invocations: the file name and the vars."""
    vars_digest = hashlib.sha256((_option(args, "--vars") or "").encode()).hexdigest()[:16]
    return f"{duckdb_path.name}.{vars_digest}"


def _copy_atomically(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, partial)
    os.replace(partial, destination)


def _restore_parse_state(target: Path, key: str) -> None:
    """Give dbt this key's last parse state when the target folder holds none or another key's. A cache only:
    dbt still checks the state against the files, profile and vars, and parses in full when it does not match."""
    cached = PARSE_CACHE / f"{key}.msgpack"
    owner = target / f"{PARSE_STATE}.key"
    try:
        if cached.exists() and (not owner.exists() or owner.read_text() != key):
            _copy_atomically(cached, target / PARSE_STATE)
            owner.write_text(key)
    except OSError:
        pass  # no state: dbt parses in full


def _save_parse_state(target: Path, key: str, started: float) -> None:
    state = target / PARSE_STATE
    try:
        if state.exists() and state.stat().st_mtime >= started:  # dbt parsed in this run and wrote its state
            (target / f"{PARSE_STATE}.key").write_text(key)
            _copy_atomically(state, PARSE_CACHE / f"{key}.msgpack")
    except OSError:
        pass


FAILED_STATUSES = {"error", "fail", "runtime error"}


def node_outcomes(result) -> tuple[list[str], int]:
    """The failing nodes (with their messages) and the passing node count of a dbtRunner result."""
    failures: list[str] = []
    passed = 0
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", "")).lower()
        name = getattr(getattr(node_result, "node", None), "unique_id", "?")
        if status in FAILED_STATUSES:
            failures.append(f"{name}: {status}: {(node_result.message or '').strip()[:500]}")
        elif status in {"success", "pass"}:
            passed += 1
    if result.exception is not None:
        failures.append(f"{NOT_RUN}{result.exception}")
    elif not result.success and not failures:
        failures.append("dbt reported failure (see the log above)")
    return failures, passed


def _write_the_manifest_once(command: list[str]) -> None:
    """`dbt build` writes manifest.json and semantic_manifest.json twice: when it has parsed the project and when the
    run ends (then with the compiled SQL of the nodes it ran; a run with failing nodes too). Nothing reads the first
    copy (clv reads both files after the run), and each write serializes the whole manifest (~0.2-0.4 CPU s for this
    project), so a build skips the first. An interrupted run, which dbt ends without writing the manifest, leaves the
    previous one. Any other command writes as dbt does."""
    subcommand = next((arg for arg in command if not arg.startswith("-")), None)
    if subcommand != "build" or "--no-write-json" in command:
        return
    import inspect

    from dbt.cli import requires

    parse = requires.parse_manifest
    signature = inspect.signature(parse)
    if "write" not in signature.parameters:  # another dbt version: write as dbt does
        return

    def parse_without_writing(*args: object, **kwargs: object) -> object:
        bound = signature.bind(*args, **kwargs)
        bound.arguments["write"] = False
        return parse(*bound.args, **bound.kwargs)

    requires.parse_manifest = parse_without_writing


def _child_main(report: str, command: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    _write_the_manifest_once(command)
    messages: list[str] = []

    def collect(event) -> None:  # macro log lines meant for the CLI (e.g. the input preview)
        if event.info.name == "JinjaLogInfo" and event.info.msg.startswith(MESSAGE_PREFIX):
            messages.append(event.info.msg)

    result = dbtRunner(callbacks=[collect]).invoke(command)
    failures, passed = node_outcomes(result)
    Path(report).write_text(json.dumps({"success": bool(result.success), "failures": failures, "passed": passed,
                                        "messages": messages}))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], sys.argv[2:]))
