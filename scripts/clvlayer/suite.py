"""`clv test` (what `make test` and CI run): sqlfluff lint, one dbt build with every data and unit test, pytest.

The three steps share the machine's cores:
  * lint runs in a background process (it loads its seed first, there too), on a DuckDB file and a dbt target
    folder of its own (it never holds the build's file lock, and leaves the project's target/ to MetricFlow); its report is
    printed when pytest is done, before the step table;
  * the dbt build (a write-audit-publish build of the sample, every data and unit test) runs in the foreground;
    pytest's sample fixture reuses its warehouse; then pytest with pytest-xdist workers (PYTEST_WORKERS, one per core
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
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from clvlayer.project import PROJECT_ROOT

console = Console(stderr=True)

# the folder of the sample warehouse `clv test` built (warehouse.duckdb, runs.jsonl, target/): tests/python/conftest.py
# copies it for its sample fixture
PREBUILT_SAMPLE_ENV = "CLV_TEST_PREBUILT_SAMPLE"
PYTEST_WORKERS = 2  # this machine's cores; the fixtures' builds are shared, so more workers only wait on them
SLOWEST_TESTS = 30
# sqlfluff renders every dbt-templated file in its main process and only parses/lints in its pool; in `clv test` the
# cores are busy with the dbt build and pytest, so a pool of 2 only added worker start-up and pickling: measured on
# the shared machine (load ~17), 153 CPU s with 2 processes, 135 CPU s with 1, the same result
LINT_PROCESSES = 1


@dataclass
class Step:
    name: str
    ok: bool = False
    seconds: float = 0.0


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


def start_lint(tmp: Path) -> tuple[Step, threading.Thread | None, subprocess.Popen | None]:
    """Start the lint as a child process writing to TMP/lint.log (shown when it ends, not mixed with the other
    steps' output): it seeds a DuckDB file of its own (the dbt templater compiles against the raw tables), then lints
    (clvlayer.lint --seed), all in the background, so the dbt build starts at once. A thread waits for it and notes
    its seconds."""
    from clvlayer.project import ensure_profiles_dir

    console.rule("[bold]dbt seed for the lint, then sqlfluff lint, in the background")
    started = time.perf_counter()
    env = dict(os.environ, DBT_TARGET_PATH=str(tmp / "lint_target"))  # not the project's target/ (MetricFlow's)
    command = [sys.executable, "-m", "clvlayer.lint", "--seed", str(tmp / "lint.duckdb"), str(ensure_profiles_dir()),
               "--processes", str(LINT_PROCESSES)]
    with (tmp / "lint.log").open("w") as log:
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    step = Step("dbt seed + sqlfluff lint (dbt templater, in the background)")

    def wait() -> None:
        step.ok = process.wait() == 0
        step.seconds = time.perf_counter() - started

    waiter = threading.Thread(target=wait, name="lint", daemon=True)
    waiter.start()
    return step, waiter, process


def finish_lint(step: Step, waiter: threading.Thread | None, tmp: Path) -> Step:
    """Wait for the lint and print its report."""
    if waiter is not None:
        waiter.join()
    console.rule(f"[bold]{step.name}")
    print((tmp / "lint.log").read_text().rstrip(), flush=True)
    return step


def dbt_build(tmp: Path) -> Step:
    """Write-audit-publish the embedded sample with every data and unit test into TMP/sample; pytest's sample
    fixture reuses it (PREBUILT_SAMPLE_ENV) instead of building the same warehouse a second time."""
    from clvlayer.build import build_warehouse

    console.rule("[bold]dbt build of the sample (all models, data tests and unit tests), published for pytest")
    started = time.perf_counter()
    record = build_warehouse(tmp / "sample" / "warehouse.duckdb", None, target_path=tmp / "sample" / "target")
    for failure in record.failures:
        console.print(f"[red]  - {failure}[/red]")
    if record.published:
        os.environ[PREBUILT_SAMPLE_ENV] = str(tmp / "sample")
    return Step("dbt build", record.published, time.perf_counter() - started)


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
        step, waiter, process = start_lint(tmp) if not skip_lint else (None, None, None)
        try:
            steps.append(dbt_build(tmp))
            if not skip_pytest:
                steps.append(run_step("pytest", pytest_command(pytest_args)))
            if step is not None:
                steps.insert(0, finish_lint(step, waiter, tmp))
        finally:
            if process is not None and process.poll() is None:  # interrupted: the lint goes too
                process.kill()
    print_table(steps, time.perf_counter() - started)
    return 0 if all(step.ok for step in steps) else 1
