"""`clv test` (what `make test` and CI run): sqlfluff lint, one dbt build with every data and unit test, pytest.

The three steps share the machine's cores:
  * lint runs in the background from the start (its own seeded DuckDB file, so it never holds the build's file
    lock; sqlfluff's dbt templater compiles into the project's target/, the build and every test fixture into
    target folders of their own); its report is printed when it ends, before the step table;
  * the dbt build runs in the foreground, then pytest with pytest-xdist workers (PYTEST_WORKERS, one per core
    here; CLV_TEST_WORKERS overrides it, 0 runs in one process). tests/python/conftest.py builds each fixture
    warehouse once for the whole run, whichever worker asks first;
  * pytest prints its slowest tests at the end (--durations).
Extra pytest arguments come last, so `clv test -- -n 0 -k oracle` overrides the defaults.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from clvlayer.project import PROJECT_ROOT

console = Console(stderr=True)

PYTEST_WORKERS = 2  # this machine's cores; the fixtures' builds are shared, so more workers only wait on them
SLOWEST_TESTS = 15
LINT_PROCESSES = 2


@dataclass
class Step:
    name: str
    ok: bool = False
    seconds: float = 0.0
    output: list[str] = field(default_factory=list)


def pytest_command(extra: list[str]) -> list[str]:
    """pytest over both cores, in the work units of tests/python/conftest.py, the slowest tests printed."""
    workers = os.environ.get("CLV_TEST_WORKERS", str(PYTEST_WORKERS))
    return [sys.executable, "-m", "pytest", "-q", "-n", workers, "--dist", "loadscope", "--no-loadscope-reorder",
            f"--durations={SLOWEST_TESTS}", *extra]


def run_step(name: str, command: list[str]) -> Step:
    console.rule(f"[bold]{name}")
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, check=False)
    return Step(name, completed.returncode == 0, time.perf_counter() - started)


def _lint(tmp: Path, step: Step) -> None:
    """Seed a DuckDB file of the lint's own (the dbt templater compiles against the raw tables), then lint."""
    from clvlayer.dbt_runner import run_dbt
    from clvlayer.project import ensure_profiles_dir

    started = time.perf_counter()
    database = tmp / "lint.duckdb"
    seeded = run_dbt(["--quiet", "seed", "--target-path", str(tmp / "lint_target")], duckdb_path=database)
    if not seeded.success:
        step.name, step.output = "dbt seed (for lint)", [*seeded.failures]
    else:
        command = [sys.executable, "-m", "clvlayer.lint", str(database), str(ensure_profiles_dir()),
                   "--processes", str(LINT_PROCESSES)]
        env = dict(os.environ, DBT_TARGET_PATH=str(tmp / "lint_target"))  # not the project's target/ (MetricFlow)
        completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
        step.ok, step.output = completed.returncode == 0, [completed.stdout, completed.stderr]
    step.seconds = time.perf_counter() - started


def start_lint(tmp: Path) -> tuple[Step, threading.Thread]:
    step = Step("sqlfluff lint (dbt templater, in the background)")
    thread = threading.Thread(target=_lint, args=(tmp, step), name="lint", daemon=True)
    thread.start()
    return step, thread


def finish_lint(step: Step, thread: threading.Thread) -> Step:
    thread.join()
    console.rule(f"[bold]{step.name}")
    for text in step.output:
        if text.strip():
            print(text.rstrip(), flush=True)
    return step


def dbt_build(tmp: Path) -> Step:
    from clvlayer.dbt_runner import run_dbt

    console.rule("[bold]dbt build (all models, data tests and unit tests)")
    started = time.perf_counter()
    outcome = run_dbt(["build", "--target-path", str(tmp / "target")], duckdb_path=tmp / "test.duckdb")
    for failure in outcome.failures:
        console.print(f"[red]  - {failure}[/red]")
    return Step("dbt build", outcome.success, time.perf_counter() - started)


def print_table(steps: list[Step], wall: float) -> None:
    table = Table(title="clv test")
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for step in steps:
        table.add_row(step.name, "[green]pass[/green]" if step.ok else "[red]FAIL[/red]", f"{step.seconds:.1f}")
    table.add_row("wall time (lint overlaps the other steps)", "", f"{wall:.1f}")
    console.print(table)


def run_suite(*, skip_lint: bool, skip_pytest: bool, pytest_args: list[str]) -> int:
    """Lint (background), build with every data and unit test into a throw-away warehouse, pytest."""
    import tempfile

    started = time.perf_counter()
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="clv-test-") as name:
        tmp = Path(name)
        lint = None if skip_lint else start_lint(tmp)
        steps.append(dbt_build(tmp))
        if not skip_pytest:
            steps.append(run_step("pytest", pytest_command(pytest_args)))
        if lint is not None:
            steps.insert(0, finish_lint(*lint))
    print_table(steps, time.perf_counter() - started)
    return 0 if all(step.ok for step in steps) else 1
