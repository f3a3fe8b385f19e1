"""Build the warehouse: write, audit, publish.

1. lock    - one build per warehouse at a time (clvlayer.publish.warehouse_lock); a run killed earlier is
             reconciled with runs.jsonl and the folders of killed and old failed builds are removed;
2. resolve - the input vars are checked and the input folder is checked and described by the one resolver
             (clvlayer.dbt_inputs.prepare_inputs), whose manifest dbt reads the files through;
3. write   - dbt builds every model into a fresh file next to the warehouse (`.build/<run_id>/<name>.duckdb`); an
             incremental run (clvlayer.incremental) starts instead from a copy of the published file, when that
             was built by the same code and settings, and dbt's incremental models apply only what changed;
4. audit   - the same `dbt build` runs every data test and unit test; the first failure stops dbt at once
             (--fail-fast) and the build here, with the failed test and what it checks in the run record; then the
             saved queries are materialized as tables of schema `exports` (clvlayer.exports; one that fails to plan
             fails the build);
5. publish - the run record is written into the file and appended to runs.jsonl, the file is checked read-only
             and atomically renamed over the published warehouse, then checked read-only again.

Readers therefore see the previous complete warehouse or the new complete one, never a half-built one. A failed
build leaves the published file untouched and keeps the failed build file for inspection (at most
CLV_KEEP_FAILED_BUILDS of them); a build that ran out of disk space removes its partial file.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clvlayer.contract import InputError
from clvlayer.dbt_inputs import prepare_inputs
from clvlayer.dbt_runner import _target_path, run_dbt
from clvlayer.exports import ExportError, export_saved_queries
from clvlayer.incremental import Start, node_selection, start_from_published, state_fingerprint, test_filters
from clvlayer.inputs import project_vars
from clvlayer.publish import (DEFAULT_KEEP_FAILED, DiskFull, append_run_record, clean_build_dirs, is_disk_full,
                              mark_failed, publish_file, reconcile_runs, start_build_dir, verify_read_only,
                              warehouse_lock, write_embedded_record)

# Test hook: CLV_FAULT_PAUSE=point[,point...] stops the process (SIGSTOP) at those named steps of the publish, so a
# test sees exactly what a kill -9 there would leave, then kills it or lets it go on (SIGCONT).
PAUSE_ENV = "CLV_FAULT_PAUSE"
RUN_ID_ENV = "CLV_RUN_ID"
#: set for an incremental run whose data tests may read only what it writes (macros/tests/scoped_tests.sql)
SCOPED_TESTS_ENV = "CLV_SCOPED_TESTS"


@dataclass
class RunRecord:
    run_id: str
    started_at: str
    finished_at: str = ""
    input: str = "embedded sample (seeds)"
    build_file: str = ""
    published_to: str = ""
    published: bool = False
    published_at: str = ""
    tests_passed: int = 0
    failures: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)  # what each failed test checks (its YAML description)
    error_kind: str = ""  # input | tests | exports | disk_full | error
    input_rows: dict[str, int] = field(default_factory=dict)
    output_rows: dict[str, int] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mode: str = "full"  # full | incremental (started from a copy of the published run incremental_from)
    incremental_from: str = ""
    copy_seconds: float = 0.0
    state_fingerprint: str = ""
    selection: list[str] = field(default_factory=list)  # dbt's node selection, empty for the whole graph
    test_filters: list[str] = field(default_factory=list)  # which data tests ran, beyond the selection (incremental)
    settings: dict[str, Any] = field(default_factory=dict)  # vars readers label the data with (reporting_currency)
    exports: dict[str, int] = field(default_factory=dict)  # rows per saved-query export table (clvlayer.exports)


def scoped_tests(record: RunRecord, start: Start | None) -> bool:
    """Whether this run's data tests may read only the rows it writes: an incremental run started from a copy of a
    published run that ran the same data tests (same node selection and test_filters), without --full-tests. The
    published warehouse then passed every test this run makes, so a row it does not write was checked
    (macros/tests/scoped_tests.sql)."""
    return (start is not None and start.copied and start.test_filters == record.test_filters
            and os.environ.get("CLV_FULL_TESTS") != "1")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _row_counts(database: Path, schema_names: tuple[str, ...]) -> dict[str, int]:
    """Rows of every table and view of the schemas (marts that only filter an intermediate table are views)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type in ('BASE TABLE', 'VIEW') order by 1, 2",
            [list(schema_names)],
        ).fetchall()
        return {f"{s}.{t}": connection.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                for s, t in tables}


def _input_rows(database: Path) -> dict[str, int]:
    """Raw rows per source table, from the audit (empty when a build selected no audit)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        try:
            rows = connection.execute("select source_table, raw_rows from audit.audit_row_accounting").fetchall()
        except duckdb.CatalogException:
            return {}
    return {table: count for table, count in rows}


def load_notes(database: Path, run_id: str) -> list[str]:
    """What this run loaded, from the load ledger (audit.audit_load_ledger): per table the files read, full or
    incremental, and why a table was rebuilt in full (empty when the build selected no ledger)."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        try:
            rows = connection.execute(
                "select source_table, any_value(load_mode), count(*), sum(raw_rows), any_value(load_note), "
                "string_agg(batch_file, ', ' order by batch_file) from audit.audit_load_ledger "
                "where clv_run_id = ? group by source_table order by source_table", [run_id]).fetchall()
        except duckdb.CatalogException:
            return []
    notes = []
    for table, mode, files, raw_rows, note, names in rows:
        shown = names if files <= 5 else f"{names.split(', ')[0]} ... {names.split(', ')[-1]}"
        notes.append(f"load {table}: {mode}, {files} file(s) read ({shown}; {raw_rows:,} rows)"
                     + (f" - {note}" if note else ""))
    return notes


def _pause(point: str) -> None:
    if point in os.environ.get(PAUSE_ENV, "").split(","):
        print(f"CLV_PAUSED_AT {point}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)


def keep_failed_builds() -> int:
    return int(os.environ.get("CLV_KEEP_FAILED_BUILDS", DEFAULT_KEEP_FAILED))


def build_warehouse(warehouse: Path, raw_data_dir: Path | None, *, dbt_args: list[str] | None = None,
                    target_path: Path | None = None, lock_timeout: float | None = None,
                    keep_failed: int | None = None, incremental: bool = False) -> RunRecord:
    """Write-audit-publish the warehouse (`incremental`: start from a copy of the published one, see
    clvlayer.incremental). Returns the run record (also in runs.jsonl and, when published, inside
    the warehouse as audit.build_run). Raises InputError, LockTimeout or DiskFull with a message saying the fix."""
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    record = RunRecord(run_id=run_id, started_at=_now())
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    asked = time.monotonic()
    with warehouse_lock(warehouse, run_id=run_id, timeout=lock_timeout):
        if time.monotonic() - asked > 1:
            record.notes.append(f"waited {time.monotonic() - asked:.0f}s for another build of this warehouse")
        record.started_at = _now()
        record.notes += reconcile_runs(warehouse)
        removed = clean_build_dirs(warehouse, keep_failed=keep_failed if keep_failed is not None
                                   else keep_failed_builds())
        record.notes += [f"removed .build/{name}" for name in removed]
        build_dir = start_build_dir(warehouse, run_id)
        record.build_file = str(build_dir / warehouse.name)
        written = False
        try:
            written = _build_and_publish(warehouse, raw_data_dir, build_dir, record, dbt_args, target_path,
                                         incremental)
        except InputError as error:
            record.error_kind, record.failures = "input", [str(error)]
            shutil.rmtree(build_dir, ignore_errors=True)  # nothing was built
            raise
        except Exception as error:
            record.failures.append(f"{type(error).__name__}: {error}")
            if is_disk_full(error):
                record.error_kind = "disk_full"
                shutil.rmtree(build_dir, ignore_errors=True)
                raise DiskFull(_disk_full_message(warehouse)) from error
            record.error_kind = record.error_kind or "error"
            mark_failed(build_dir, str(error))
            raise
        finally:
            record.finished_at = record.finished_at or _now()
            if not written:
                _append_quietly(warehouse, record)
    return record


def _build_and_publish(warehouse: Path, raw_data_dir: Path | None, build_dir: Path, record: RunRecord,
                       dbt_args: list[str] | None, target_path: Path | None, incremental: bool) -> bool:
    """The build itself; returns whether the run record was written (it is, as part of a publish)."""
    build_file = build_dir / warehouse.name
    inputs = prepare_inputs(raw_data_dir, dbt_args=dbt_args, work_dir=build_dir / "inputs")
    record.settings = {"reporting_currency": str(project_vars(dbt_args).get("reporting_currency") or "").upper()}
    record.state_fingerprint = state_fingerprint(dbt_args)
    record.selection = node_selection(dbt_args)
    record.test_filters = test_filters(dbt_args)
    if inputs.manifest is not None:
        record.input = str(inputs.folder)
        inputs.manifest.write(build_dir / "inputs.json")
        record.inputs = {name: {"path": t.path, "format": t.format, "source_rows": t.source_rows,
                                "count_method": t.count_method, "notes": t.notes}
                         for name, t in inputs.manifest.tables.items()}
    if incremental:
        start = start_from_published(warehouse, build_file, record.state_fingerprint, record.selection)
        record.notes.append(start.note)
        if start.copied:
            record.mode, record.incremental_from = "incremental", start.from_run
            record.copy_seconds = start.copy_seconds
    args = ["build", "--fail-fast", *(dbt_args or []), *inputs.build_args()]  # stop at the first failure
    if record.mode == "incremental" and os.environ.get("CLV_FULL_TESTS") != "1":
        # unit tests check code, and an incremental run's code is its published run's (state fingerprint)
        args += ["--exclude-resource-type", "unit_test"]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    os.environ[RUN_ID_ENV] = record.run_id  # the load ledger names the run (audit_load_ledger.clv_run_id)
    if scoped_tests(record, start if incremental else None):
        os.environ[SCOPED_TESTS_ENV] = "1"
    try:
        outcome = run_dbt(args, duckdb_path=build_file, inputs=inputs, pid_file=build_dir / "dbt.pid")
    finally:
        os.environ.pop(RUN_ID_ENV, None)
        os.environ.pop(SCOPED_TESTS_ENV, None)
    record.tests_passed = outcome.passed
    record.failures = outcome.failures
    if not outcome.success:
        if any(is_disk_full(failure) for failure in outcome.failures):
            raise OSError(28, "No space left on device: " + "; ".join(outcome.failures)[:500])
        record.error_kind = "tests"
        record.failed_checks = failed_checks(outcome.failures, _target_path(args, os.environ))
        mark_failed(build_dir, "; ".join(outcome.failures))
        return False
    if not _export_saved_queries(build_file, record, _target_path(args, os.environ), _selects(dbt_args)):
        return False
    record.input_rows = _input_rows(build_file)
    record.notes += load_notes(build_file, record.run_id)
    record.output_rows = _row_counts(build_file, ("marts",))
    if warehouse.with_name(warehouse.name + ".wal").exists():  # publish_file removes it (see there)
        record.notes.append(f"removed a stale {warehouse.name}.wal before publishing")
    published_at = _now()
    published = {**asdict(record), "published": True, "published_to": str(warehouse), "published_at": published_at,
                 "finished_at": published_at}
    write_embedded_record(build_file, published)
    verify_read_only(build_file, record.run_id)
    _pause("publish:before_record")
    append_run_record(warehouse, published)  # the record comes first: a live warehouse always has one
    try:
        publish_file(build_file, warehouse, record.run_id, pause=_pause)
    except Exception:
        reconcile_runs(warehouse)  # runs.jsonl must name the live file again
        raise
    record.published, record.published_to, record.published_at = True, str(warehouse), published_at
    record.finished_at = published_at
    shutil.rmtree(build_dir, ignore_errors=True)
    return True


def _selects(dbt_args: list[str] | None) -> bool:
    return any(arg.split("=")[0] in ("-s", "--select", "--selector", "--exclude") for arg in dbt_args or [])


def _export_saved_queries(build_file: Path, record: RunRecord, target: Path, selected: bool = False) -> bool:
    """Materialize the saved queries as tables of the audited build file, before it is published (False: one
    failed to plan, or, in a build that selected no subset, lacks a table; the build is kept as failed, like a
    failed test). A build of selected models skips the exports whose models it did not build, with a note."""
    try:
        done = export_saved_queries(build_file, target / "semantic_manifest.json")
        if done.skipped and not selected:
            raise ExportError("saved-query export(s) could not be created in a full build: " + "; ".join(
                f"{name}: {why}" for name, why in done.skipped.items()))
    except ExportError as error:
        record.error_kind, record.failures = "exports", [str(error)]
        mark_failed(build_file.parent, str(error))
        return False
    record.exports = done.rows
    record.notes.append(f"exported {len(done.rows)} saved-query tables in {done.seconds:.1f}s")
    record.notes += [f"export {name} skipped: {why}" for name, why in done.skipped.items()]
    return True


def failed_checks(failures: list[str], target: Path) -> list[str]:
    """What each failed test checks, from dbt's manifest: '<test> on <model>.<column>: <description>' (the test's
    description, else the tested column's)."""
    import json

    try:
        nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    except (OSError, ValueError, KeyError):
        return []
    checks = []
    for failure in failures:
        test = nodes.get(failure.split(":", 1)[0])
        if test is None or test.get("resource_type") != "test":
            continue
        model = nodes.get(test.get("attached_node") or "", {})
        column = test.get("column_name") or ""
        about = test.get("description") or model.get("columns", {}).get(column, {}).get("description", "")
        kind = (test.get("test_metadata") or {}).get("name") or test["name"]
        where = ".".join(part for part in (model.get("name", ""), column) if part)
        checks.append(f"{kind} on {where}: {' '.join(about.split())}" if about else f"{kind} on {where}")
    return checks


def _append_quietly(warehouse: Path, record: RunRecord) -> None:
    try:
        append_run_record(warehouse, asdict(record))
    except OSError as error:
        print(f"warning: could not append the run record to {warehouse.parent / 'runs.jsonl'}: {error}",
              file=sys.stderr)


def _disk_full_message(warehouse: Path) -> str:
    usage = shutil.disk_usage(warehouse.parent)
    size = warehouse.stat().st_size if warehouse.exists() else 0
    return (f"The build ran out of disk space on {warehouse.parent} ({usage.free / 2**20:,.0f} MiB free of "
            f"{usage.total / 2**20:,.0f} MiB); its partial files were removed and the published warehouse is "
            f"unchanged. A build needs room for a second copy of the warehouse (now {size / 2**20:,.0f} MiB) plus "
            "DuckDB's temporary files. Fix: free space there, or set DUCKDB_PATH to a larger disk.")
