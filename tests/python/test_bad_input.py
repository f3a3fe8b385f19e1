"""Bad input: one table of cases (tests/python/bad_input_cases.py), each with its exact outcome, plus the audit of
every row and what a refused build says.

Row cases are checked in two staging + audit builds made once per session (the input folders are written here);
error and read cases need no dbt at all.
"""

from __future__ import annotations

import codecs
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from bad_input_cases import (DECLARED_ROWS, DECLARED_VARS, DECOY_FOLDER, DEFAULT_ROWS, DEFAULT_VARS,
                             DEFAULTS_FOLDER, ERROR_CASES, FILLER_ROWS, HEADERS, READ_CASES, Case)
from clvlayer.contract import InputError
from clvlayer.inputs import resolve_inputs
from clvlayer.project import PROJECT_ROOT
from conftest import HANDMADE, build, built_once

CASES = DEFAULT_ROWS + DECLARED_ROWS + ERROR_CASES + READ_CASES
STAGING_ONLY = ["--select", "+audit_row_accounting", "+audit_quarantine_summary", "--indirect-selection", "cautious"]

# --- the two input folders -------------------------------------------------------------------------------------------

BASE_LINES = {
    "defaults": {
        "orders": [f"f{i:05d},A,2024-01-02 00:00:00,1.00,completed,USD," for i in range(1, FILLER_ROWS + 1)],
        "customers": ["A,2024-01-01,paid_search,north,1990,true,2024-02-01", "\xa0G\xa0,2024-01-01,organic,,,,"],
        "order_items": ["f00001;P1;1;1.00;0"],
        "products": ["P1\tfood\t0.50\t2023-01-01", "P,2\tfood\t0.50\t"],
        "refunds": [],
        "marketing_spend": ["2024-03-06,paid_search,5.00"],
    },
    "declared": {
        "customers": ["A,2024-01-01 00:00:00,paid_search,north,1990,true,"],
        "refunds": [],
    },
}
FILE_FORMATS = {  # (encoding, delimiter, newline) of each CSV
    "defaults": {"orders": ("utf-8-sig", ",", "\n"), "customers": ("cp1252", ",", "\n"),
                 "order_items": ("utf-8", ";", "\n"), "products": ("utf-16", "\t", "\n"),
                 "refunds": ("utf-8", "|", "\r\n"), "marketing_spend": ("utf-16-be", ",", "\n")},
    "declared": {"customers": ("latin-1", ",", "\n"), "refunds": ("utf-8", ",", "\n")},
}
DECLARED_ORDERS_SQL = """
    select * from (values
        (1014.0, 'A', timestamptz '2024-03-05 10:00:00+02', 12.5, 'completed', null::timestamp),
        (2.0, 'A', timestamptz '2024-03-05 10:00:00+00', 'nan'::double, 'completed', null),
        (3.0, 'A', timestamptz '2024-03-05 10:00:00+00', 'inf'::double, 'completed', null),
        (4.0, 'A', timestamptz '2024-03-05 10:00:00+00', 1e15, 'completed', null),
        (5.0, 'A', timestamptz '2024-01-15 09:00:00+00', 1.0, 'completed', timestamp '2024-01-15 10:00:00'))
    as t(order_id, customer_id, ordered_at, amount, status, updated_at)"""


def _write_csv(path: Path, table: str, lines: list[str], encoding: str, delimiter: str, newline: str) -> None:
    header = delimiter.join(HEADERS[table])
    text = newline.join([header, *lines]) + newline
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(encoding)
    path.write_bytes(data)


def write_case_folder(root: Path, build_name: str) -> Path:
    folder = root / (DEFAULTS_FOLDER if build_name == "defaults" else "declared")
    folder.mkdir(parents=True)
    lines = {table: list(rows) for table, rows in BASE_LINES[build_name].items()}
    for case in DEFAULT_ROWS if build_name == "defaults" else DECLARED_ROWS:
        if case.line:
            lines.setdefault(case.table, []).append(case.line)
    for table, table_lines in lines.items():
        encoding, delimiter, newline = FILE_FORMATS[build_name][table] if table in FILE_FORMATS[
            build_name] else ("utf-8", ",", "\n")
        target = folder / f"{table}.csv"
        if build_name == "defaults" and table == "products":  # read through a symbolic link
            target = root / "elsewhere" / "products export.csv"
            target.parent.mkdir()
            (folder / "products.csv").symlink_to(target)
        _write_csv(target, table, table_lines, encoding, delimiter, newline)
    if build_name == "declared":
        path = str(folder / "orders.parquet").replace("'", "''")
        with duckdb.connect() as connection:
            connection.execute(f"copy ({DECLARED_ORDERS_SQL}) to '{path}' (format parquet)").fetchall()
    else:
        decoy = root / DECOY_FOLDER
        decoy.mkdir()
        _write_csv(decoy / "orders.csv", "orders", ["decoy,A,2024-01-02 00:00:00,1.00,completed,USD,"], "utf-8",
                   ",", "\n")
    return folder


@pytest.fixture(scope="session")
def case_warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two case folders, each built once for the whole run, whichever xdist worker asks first (staging + audit
    only)."""
    def maker(name: str, vars_: str) -> Callable[[Path], object]:
        return lambda root: build(root, write_case_folder(root, name), [*STAGING_ONLY, "--vars", vars_])

    return {name: built_once(tmp_path_factory, f"cases_{name}", maker(name, vars_)) / "warehouse.duckdb"
            for name, vars_ in (("defaults", DEFAULT_VARS), ("declared", DECLARED_VARS))}


# --- the table -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_case(case: Case, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if case.kind == "row":
        _check_row(case, request.getfixturevalue("case_warehouses")[case.build])
    elif case.kind == "error":
        _check_error(case, tmp_path)
    else:
        _check_read(case, tmp_path)


def _check_row(case: Case, warehouse: Path) -> None:
    expected = dict(case.expect)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        if "rows" in expected:
            [(count,)] = connection.execute(
                f"select count(*) from staging.base_shop__{case.table} where {case.where}").fetchall()
            assert count == expected["rows"]
            return
        columns = list(expected)
        rows = connection.execute(f"select {', '.join(columns)} from staging.base_shop__{case.table} "
                                  f"where {case.where}").fetchall()
    assert len(rows) == 1, f"{case.id}: {len(rows)} rows match {case.where}"
    assert dict(zip(columns, rows[0])) == expected


def _vars(case: Case) -> list[str]:
    return ["--vars", case.expect["vars"]] if case.expect.get("vars") else []


def _check_error(case: Case, tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    if case.setup is not None:
        case.setup(folder)
    with pytest.raises(InputError, match=case.expect["error"]):
        resolve_inputs(folder, dbt_args=_vars(case))


def _check_read(case: Case, tmp_path: Path) -> None:
    folder = tmp_path / case.expect["folder"]
    case.setup(folder)
    work = tmp_path / "work"
    work.mkdir()
    manifest = resolve_inputs(folder, dbt_args=_vars(case), work_dir=work)
    entry = manifest.tables["orders"]
    with duckdb.connect() as connection:
        rows = connection.execute(case.read_sql.format(reader=entry.reader_sql)).fetchall()
    assert rows == case.expect["rows"]
    assert entry.source_rows == len(rows)


def test_the_table_covers_every_class_three_times() -> None:
    from collections import Counter

    counts = Counter(case.klass for case in CASES)
    assert len(CASES) >= 40
    assert min(counts.values()) >= 3, counts
    assert len({case.id for case in CASES}) == len(CASES)


# --- no row lost -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("build_name", ["defaults", "declared"])
def test_every_source_row_is_accounted_for(build_name: str, case_warehouses: dict[str, Path], query) -> None:
    rows = query(case_warehouses[build_name], "select source_table, count_method, raw_rows, read_rows, clean_rows, "
                                              "quarantined_rows from audit.audit_row_accounting")
    for table, method, raw_rows, read_rows, clean, quarantined in rows:
        assert raw_rows == read_rows == clean + quarantined, table
        if table == "orders" and build_name == "defaults":
            assert method == "csv records (byte scan)"
            lines = sum(case.line.count("\n") + 1 for case in DEFAULT_ROWS if case.table == "orders" and case.line)
            newlines_inside_quotes = 1  # reading_quoted_line_break
            assert raw_rows == FILLER_ROWS + lines - newlines_inside_quotes
        if table == "orders" and build_name == "declared":
            assert (method, raw_rows) == ("parquet metadata (row groups)", 5)


def test_a_reader_that_loses_rows_fails_the_audit(tmp_path: Path) -> None:
    """The source count does not come from the reader: a reader told the wrong line ending (DuckDB then returns no
    rows at all, silently) leaves every row unaccounted and the build is refused."""
    import json

    from clvlayer.dbt_inputs import DbtInputs
    from clvlayer.dbt_runner import run_dbt

    folder = tmp_path / "raw"
    shutil.copytree(HANDMADE, folder)
    manifest = json.loads(resolve_inputs(folder).to_json())
    reader = manifest["tables"]["orders"]["reader_sql"]
    manifest["tables"]["orders"]["reader_sql"] = reader.replace("strict_mode = true", "strict_mode = true, "
                                                                "new_line = '\\r\\n'")
    outcome = run_dbt(["build", *STAGING_ONLY, "--exclude", "resource_type:seed", "--target-path",
                       str(tmp_path / "target")],
                      duckdb_path=tmp_path / "lossy.duckdb", inputs=DbtInputs(folder, None, json.dumps(manifest)))
    assert not outcome.success
    assert any("unaccounted_rows" in failure for failure in outcome.failures)
    with duckdb.connect(str(tmp_path / "lossy.duckdb"), read_only=True) as connection:
        assert connection.execute("select raw_rows, read_rows from audit.audit_row_accounting "
                                  "where source_table = 'orders'").fetchall() == [(8, 0)]


# --- say why (a refused build: tests/python/test_publish.py) ------------------------------------------------------

def test_check_input_warns_about_columns_that_will_not_parse_and_refuses(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "orders.csv").write_text("order_id;customer_id;ordered_at;amount\n"
                                       + "".join(f"{i};null;{i}th of May;{i},50\n" for i in range(1, 11)))
    completed = subprocess.run([sys.executable, "-m", "clvlayer.cli", "check-input", str(folder)],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    said = " ".join(completed.stderr.split())
    assert completed.returncode == 1, said  # every row quarantined: the build would refuse the folder
    assert "orders: 10 of 10 rows quarantined (100.0%), above the threshold max_quarantined_share" in said
    assert "delimiter ';' (the header names the contract columns with it)" in said
    assert ("column 'customer_id' is empty or a null token in 10 of the first 10 rows (e.g. 'null'); those rows "
            "will be quarantined") in said
    assert "column 'ordered_at' (timestamp) does not parse in 10 of the first 10 values (e.g. '" in said
    assert "column 'amount' (amount) does not parse in 10 of the first 10 values" in said
    assert "set ',' for decimal commas" in said


# --- builds of their own ---------------------------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(HANDMADE, target)
    return target


def test_optional_tables_absent_still_builds(folder: Path, tmp_path: Path, query) -> None:
    for name in ["customers", "order_items", "products", "refunds", "marketing_spend"]:
        (folder / f"{name}.csv").unlink()
    warehouse = build(tmp_path, folder, ["--select", "+fct_orders", "+dim_customers", "+audit_row_accounting",
                                         "--indirect-selection", "cautious"])
    [(orders, margin_sources, channels)] = query(warehouse, """
        select count(*), string_agg(distinct margin_source, ','),
               (select string_agg(distinct acquisition_channel, ',') from marts.dim_customers)
        from marts.fct_orders""")
    assert orders == 8
    assert margin_sources == "default_rate"  # no costs: the documented gross_margin_rate var, nothing made up
    assert channels == "unknown"
    accounting = query(warehouse, "select source_table, count_method, raw_rows from audit.audit_row_accounting "
                                  "where source_table <> 'orders'")
    assert {(method, rows) for _, method, rows in accounting} == {("absent (optional)", 0)}


def test_refunds_larger_than_the_order_are_capped_and_flagged(folder: Path, tmp_path: Path, query) -> None:
    with (folder / "refunds.csv").open("a") as handle:
        handle.write("R5,2,2024-02-20 10:00:00,30.00\nR6,2,2024-04-01 10:00:00,45.00\n")  # 75 on a 50 order
    warehouse = build(tmp_path, folder, ["--select", "+fct_orders", "--indirect-selection", "cautious"])
    [(refunded, excess, net, completed)] = query(warehouse, "select refunded_amount, excess_refund_amount, "
                                                            "net_revenue, is_completed from marts.fct_orders "
                                                            "where order_id = '2'")
    assert (refunded, excess, net, completed) == (50, 25, 0, False)
