"""Plain dbt reads a user's folder the way CI runs it: `RAW_DATA_DIR=/data dbt build --profiles-dir .dbt`, no
manifest exported by hand. The profile's dbt-duckdb plugin (clvlayer.dbt_plugin) runs the same resolver as
`clv build`, so staging holds the same rows as a `clv build` of the same folder, and a broken folder stops dbt with
the resolver's message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from clvlayer.inputs import MANIFEST_ENV
from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir
from conftest import HANDMADE

STAGING = ["--select", "+audit_row_accounting", "--indirect-selection", "cautious", "--exclude",
           "resource_type:unit_test"]
TABLES = ("orders", "customers", "order_items", "products", "refunds", "marketing_spend")


def _plain_dbt(tmp: Path, raw_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The dbt executable with only RAW_DATA_DIR, the warehouse file and the project's profile."""
    env = {key: value for key, value in os.environ.items() if key not in (MANIFEST_ENV, "DBT_PROFILES_DIR")}
    env.update({"RAW_DATA_DIR": str(raw_dir), "DUCKDB_PATH": str(tmp / "plain.duckdb"),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run([str(dbt), *args, "--project-dir", str(PROJECT_ROOT), "--profiles-dir",
                           str(ensure_profiles_dir()), "--target-path", str(tmp / "target")],
                          cwd=tmp, env=env, capture_output=True, text=True, check=False)


def _rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_plain_dbt_build_reads_the_folder_like_clv_build(tmp_path: Path, handmade_warehouse: Path) -> None:
    folder = tmp_path / "raw"
    shutil.copytree(HANDMADE, folder)
    built = _plain_dbt(tmp_path, folder, "build", *STAGING)
    assert built.returncode == 0, built.stdout[-3000:]
    plain = tmp_path / "plain.duckdb"
    for table in TABLES:
        sql = f"select * from staging.stg_shop__{table} order by all"
        assert _rows(plain, sql) == _rows(handmade_warehouse, sql), table
    accounting = "select source_table, raw_rows, read_rows, clean_rows, quarantined_rows, unaccounted_rows " \
                 "from audit.audit_row_accounting order by all"
    assert _rows(plain, accounting) == _rows(handmade_warehouse, accounting)
    assert _rows(plain, "select count(*) from staging.stg_shop__orders")[0][0] > 0

    (folder / "orders.csv").unlink()
    refused = _plain_dbt(tmp_path, folder, "build", "--select", "stg_shop__orders")
    assert refused.returncode != 0
    assert f"{folder}: required table 'orders' is missing. Fix: add orders.parquet or orders.csv" in refused.stdout
