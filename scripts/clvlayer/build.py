"""Build the warehouse: write, audit, publish.

1. write   - dbt builds every model into a fresh file next to the warehouse (`.build/<run_id>/<name>.duckdb`);
2. audit   - the same `dbt build` runs every data test and unit test; any failure stops here;
3. publish - the build file is checkpointed and atomically renamed over the published warehouse path.

Readers therefore see the previous complete warehouse or the new complete one, never a half-built one. A failed
build leaves the published file untouched and keeps the failed build file for inspection. Each run appends one
JSON line to `<warehouse folder>/runs.jsonl`.
"""

from __future__ import annotations

import json
import shutil
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from clvlayer.inputs import MANIFEST_ENV, resolve_inputs
from clvlayer.dbt_runner import run_dbt


@dataclass
class RunRecord:
    run_id: str
    started_at: str
    finished_at: str = ""
    input: str = "embedded sample (seeds)"
    build_file: str = ""
    published_to: str = ""
    published: bool = False
    tests_passed: int = 0
    failures: list[str] = field(default_factory=list)
    input_rows: dict[str, int] = field(default_factory=dict)
    output_rows: dict[str, int] = field(default_factory=dict)


def _row_counts(database: Path, schema_names: tuple[str, ...]) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' order by 1, 2",
            [list(schema_names)],
        ).fetchall()
        return {f"{s}.{t}": connection.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                for s, t in tables}


def _input_rows(database: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select source_table, raw_rows from audit.audit_row_accounting").fetchall()
    return {table: count for table, count in rows}


def build_warehouse(warehouse: Path, raw_data_dir: Path | None, *, dbt_args: list[str] | None = None,
                    target_path: Path | None = None) -> RunRecord:
    """Write-audit-publish the warehouse. Returns the run record (also appended to runs.jsonl)."""
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    record = RunRecord(run_id=run_id, started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    # one folder per run, same file name as the published warehouse: DuckDB names a database after its file
    # (up to the first dot), and dbt bakes that name into the manifest the semantic layer reads
    build_dir = warehouse.parent / ".build" / run_id
    build_dir.mkdir(parents=True, exist_ok=True)
    build_file = build_dir / warehouse.name
    record.build_file = str(build_file)
    try:
        extra_env: dict[str, str | None] = {MANIFEST_ENV: None}
        if raw_data_dir is not None:
            record.input = str(raw_data_dir)
            work_dir = build_dir / "inputs"
            work_dir.mkdir(exist_ok=True)
            manifest = resolve_inputs(raw_data_dir, dbt_args=dbt_args, work_dir=work_dir)
            extra_env[MANIFEST_ENV] = manifest.write(build_dir / "inputs.json").read_text()
        args = ["build", *(dbt_args or [])]
        if raw_data_dir is not None:
            args += ["--exclude", "resource_type:seed"]
        if target_path is not None:
            args += ["--target-path", str(target_path)]
        outcome = run_dbt(args, duckdb_path=build_file, raw_data_dir=raw_data_dir, extra_env=extra_env)
        record.tests_passed = outcome.passed
        record.failures = outcome.failures
        if outcome.success:
            import duckdb

            with duckdb.connect(str(build_file)) as connection:
                connection.execute("checkpoint")
            record.input_rows = _input_rows(build_file)
            record.output_rows = _row_counts(build_file, ("marts",))
            os.replace(build_file, warehouse)
            wal = build_file.with_suffix(build_file.suffix + ".wal")
            if wal.exists():
                wal.unlink()
            shutil.rmtree(build_dir, ignore_errors=True)
            record.published = True
            record.published_to = str(warehouse)
        record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    except Exception as error:  # the record must be written whatever failed
        record.failures.append(f"{type(error).__name__}: {error}")
        record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        raise
    finally:
        with (warehouse.parent / "runs.jsonl").open("a") as log:
            log.write(json.dumps(asdict(record)) + "\n")
    return record
