"""Run dbt through its programmatic runner (dbtRunner), never through shell strings.

Each invocation runs in a child Python process (`python -m clvlayer.dbt_runner`), which calls dbtRunner and reports
the node results back as JSON. The child exits when dbt is done, so dbt-duckdb's cached connection and its file lock
are released before the CLI checkpoints, publishes or reads the warehouse.

The child dies with its parent: it asks the kernel for SIGKILL when the parent goes away (prctl PR_SET_PDEATHSIG,
so even a kill -9 of `clv build` stops it), runs in its own process group, and the parent kills that group when it
is interrupted (Ctrl-C, SIGTERM) or fails while dbt runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir


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


def run_child(command: list[str], *, env: Mapping[str, str], pid_file: Path | None = None) -> int:
    """Run a child process that cannot outlive this one (see the module docstring). Returns its exit code."""
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=dict(env), process_group=0,
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


def run_dbt(args: list[str], *, duckdb_path: Path, raw_data_dir: Path | None = None,
            extra_env: Mapping[str, str | None] | None = None, quiet: bool = False,
            pid_file: Path | None = None) -> DbtOutcome:
    """Invoke `dbt <args>` against the project with the given warehouse file and input folder."""
    profiles_dir = ensure_profiles_dir()
    command = [*args, "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(profiles_dir)]
    if quiet:
        command = ["--quiet", *command]
    env = dict(os.environ)
    env.update({"DUCKDB_PATH": str(duckdb_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    env.pop("RAW_DATA_DIR", None)
    env.pop("CLV_INPUT_MANIFEST", None)
    if raw_data_dir is not None:
        env["RAW_DATA_DIR"] = str(raw_data_dir)
    for key, value in (extra_env or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report = Path(handle.name)
    try:
        run_child([sys.executable, "-m", "clvlayer.dbt_runner", str(report), *command], env=env,
                  pid_file=pid_file)
        data = json.loads(report.read_text() or "{}")
    finally:
        report.unlink(missing_ok=True)
    return DbtOutcome(success=bool(data.get("success")), command=["dbt", *command],
                      failures=list(data.get("failures", ["dbt did not report (crashed?)"])),
                      passed=int(data.get("passed", 0)), messages=list(data.get("messages", [])))


def _child_main(report: str, command: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    messages: list[str] = []

    def collect(event) -> None:  # macro log lines meant for the CLI (e.g. the input preview)
        if event.info.name == "JinjaLogInfo" and event.info.msg.startswith(MESSAGE_PREFIX):
            messages.append(event.info.msg)

    result = dbtRunner(callbacks=[collect]).invoke(command)
    failures: list[str] = []
    passed = 0
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", "")).lower()
        name = getattr(getattr(node_result, "node", None), "unique_id", "?")
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{name}: {status}: {(node_result.message or '').strip()[:500]}")
        elif status in {"success", "pass"}:
            passed += 1
    if result.exception is not None:
        failures.append(f"dbt did not run: {result.exception}")
    elif not result.success and not failures:
        failures.append("dbt reported failure (see the log above)")
    Path(report).write_text(json.dumps({"success": bool(result.success), "failures": failures, "passed": passed,
                                        "messages": messages}))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], sys.argv[2:]))
