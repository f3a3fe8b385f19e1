"""Run dbt through its programmatic runner (dbtRunner), never through shell strings.

Each invocation runs in a child Python process (`python -m clvlayer.dbt_runner`), which calls dbtRunner and reports
the node results back as JSON. The child exits when dbt is done, so dbt-duckdb's cached connection and its file lock
are released before the CLI checkpoints, publishes or reads the warehouse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
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


def run_dbt(args: list[str], *, duckdb_path: Path, raw_data_dir: Path | None = None,
            extra_env: Mapping[str, str | None] | None = None, quiet: bool = False) -> DbtOutcome:
    """Invoke `dbt <args>` against the project with the given warehouse file and input folder."""
    profiles_dir = ensure_profiles_dir()
    command = [*args, "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(profiles_dir)]
    if quiet:
        command = ["--quiet", *command]
    env = dict(os.environ)
    env.update({"DUCKDB_PATH": str(duckdb_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    env.pop("RAW_DATA_DIR", None)
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
        subprocess.run([sys.executable, "-m", "clvlayer.dbt_runner", str(report), *command],
                       cwd=PROJECT_ROOT, env=env, check=False)
        data = json.loads(report.read_text() or "{}")
    finally:
        report.unlink(missing_ok=True)
    return DbtOutcome(success=bool(data.get("success")), command=["dbt", *command],
                      failures=list(data.get("failures", ["dbt did not report (crashed?)"])),
                      passed=int(data.get("passed", 0)))


def _child_main(report: str, command: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(command)
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
    Path(report).write_text(json.dumps({"success": bool(result.success), "failures": failures, "passed": passed}))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], sys.argv[2:]))
