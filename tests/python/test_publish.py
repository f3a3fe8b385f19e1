"""Write-audit-publish: a failed build leaves the published warehouse byte-identical and keeps the failed file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from clvlayer.build import build_warehouse
from conftest import HANDMADE, build


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_build_keeps_previous_warehouse(tmp_path: Path) -> None:
    warehouse = build(tmp_path, HANDMADE)
    before = _digest(warehouse)
    record = build_warehouse(warehouse, HANDMADE, dbt_args=["--vars", '{"as_of_date": "not-a-date"}'],
                             target_path=tmp_path / "target2")
    assert not record.published and record.failures
    assert _digest(warehouse) == before
    assert Path(record.build_file).exists()  # kept for inspection
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [r["published"] for r in runs] == [True, False]
    assert runs[0]["input_rows"]["orders"] == 8 and runs[0]["output_rows"]["marts.fct_orders"] == 8


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = [r[0] for r in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        return {t: connection.execute(f"select * from marts.{t} order by all").fetchall() for t in tables}


def test_rebuild_on_same_input_gives_identical_marts(tmp_path: Path) -> None:
    first = _marts(build(tmp_path / "one", HANDMADE))
    second = _marts(build(tmp_path / "two", HANDMADE))
    assert set(first) >= {"fct_orders", "dim_customers", "fct_customer_ltv", "fct_cohort_retention"}
    assert first == second


def test_published_file_is_readable_by_duckdb_1_4_clients(tmp_path: Path) -> None:
    import duckdb

    warehouse = build(tmp_path, HANDMADE)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(storage,)] = connection.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = 'warehouse'").fetchall()
    assert storage.startswith("v1.4")
