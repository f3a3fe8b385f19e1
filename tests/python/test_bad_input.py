"""Bad input: structural problems fail before dbt with a message naming file, column and fix; bad rows are
quarantined with a reason, and every raw row is accounted for."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clvlayer.build import build_warehouse
from clvlayer.contract import InputError, check_input_folder
from conftest import HANDMADE, build


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(HANDMADE, target)
    return target


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        check_input_folder(tmp_path / "nope")


def test_missing_required_orders(folder: Path) -> None:
    (folder / "orders.csv").unlink()
    with pytest.raises(InputError, match="required table 'orders' is missing"):
        check_input_folder(folder)


def test_missing_required_column_names_file_and_column(folder: Path) -> None:
    path = folder / "orders.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 4)[0] + "," + ",".join(line.split(",")[4:])
                              for line in lines) + "\n")  # drop the amount column
    with pytest.raises(InputError, match=r"orders.csv: required column 'amount' is missing"):
        check_input_folder(folder)


def test_wrong_file_type(folder: Path) -> None:
    (folder / "orders.csv").rename(folder / "orders.xlsx")
    with pytest.raises(InputError, match="unsupported file type"):
        check_input_folder(folder)


def test_empty_file(folder: Path) -> None:
    (folder / "refunds.csv").write_text("")
    with pytest.raises(InputError, match="refunds.csv: the file is empty"):
        check_input_folder(folder)


def test_optional_tables_absent_still_builds(folder: Path, tmp_path: Path, query) -> None:
    for name in ["customers", "order_items", "products", "refunds", "marketing_spend"]:
        (folder / f"{name}.csv").unlink()
    warehouse = build(tmp_path, folder)
    [(orders, margin_sources, channels)] = query(warehouse, """
        select count(*), string_agg(distinct margin_source, ','),
               (select string_agg(distinct acquisition_channel, ',') from marts.dim_customers)
        from marts.fct_orders""")
    assert orders == 8
    assert margin_sources == "default_rate"  # no costs: the documented gross_margin_rate var, nothing made up
    assert channels == "unknown"


BAD_ORDERS = """\
9,A,2024-03-05 10:00:00,-5.00,completed,USD,
10,A,not a date,10.00,completed,USD,
11,A,2024-03-05 10:00:00,"1,234.50",completed,USD,
12,A,2024-03-05 10:00:00,10.00,lost_in_post,USD,
13,A,2024-03-05 10:00:00,10.00,completed,XYZ,
14,ZZZ,2024-03-05 10:00:00,10.00,completed,USD,
15,A,2099-01-01 10:00:00,10.00,completed,USD,
16,A,2024-03-05 10:00:00,10.00,completed,USD,2024-03-05 10:00:00
16,A,2024-03-05 10:00:00,10.00,completed,USD,2024-03-05 10:00:00
17,A,2024-03-05 10:00:00,10.00,completed,USD,2024-03-05 10:00:00
17,A,2024-03-05 10:00:00,99.00,completed,USD,2024-03-05 10:00:00
18,A,2024-03-05 10:00:00,10.00,completed,USD,2024-03-05 10:00:00
18,A,2024-03-05 10:00:00,12.00,completed,USD,2024-03-06 10:00:00
,A,2024-03-05 10:00:00,10.00,completed,USD,
19,A,05/03/2024,10.00,Canceled,usd,
"""


def test_bad_rows_are_quarantined_with_reasons(folder: Path, tmp_path: Path, query) -> None:
    with (folder / "orders.csv").open("a") as handle:
        handle.write(BAD_ORDERS)
    with (folder / "refunds.csv").open("a") as handle:
        handle.write("R3,999,2024-03-20 10:00:00,5.00\nR4,1,2024-03-20 10:00:00,abc\n")
    warehouse = build(tmp_path, folder, ["--vars", '{"quarantine_threshold_severity": "warn"}'])
    reasons = sorted(query(warehouse, "select order_id, quarantine_reason from quarantine.quarantine_shop__orders"),
                     key=lambda r: (r[0] or "~", r[1]))
    assert reasons == [
        ("10", "unparseable_ordered_at"),
        ("11", "unparseable_amount"),  # thousands separators are ambiguous: quarantined, not guessed
        ("12", "unknown_status"),
        ("13", "unknown_currency"),
        ("14", "unknown_customer"),
        ("15", "ordered_at_in_future"),
        ("16", "exact_duplicate"),  # one copy kept
        ("17", "conflicting_duplicate_order_id"),  # same version, different amounts: both quarantined
        ("17", "conflicting_duplicate_order_id"),
        ("18", "superseded_by_newer_version"),  # the newer updated_at wins
        ("9", "negative_amount"),
        (None, "missing_order_id"),
    ]
    clean = dict(query(warehouse, "select order_id, status from staging.stg_shop__orders where order_id in "
                                  "('16', '18', '19')"))
    assert clean == {"16": "completed", "18": "completed", "19": "cancelled"}  # d/m/Y date and synonyms parse
    [(amount_18,)] = query(warehouse, "select order_amount from marts.fct_orders where order_id = '18'")
    assert amount_18 == 12
    refunds = dict(query(warehouse, "select refund_id, quarantine_reason from quarantine.quarantine_shop__refunds"))
    assert refunds == {"R3": "unknown_order", "R4": "unparseable_amount"}
    for table, raw_rows, clean_rows, quarantined in query(
            warehouse, "select source_table, raw_rows, clean_rows, quarantined_rows from audit.audit_row_accounting"):
        assert raw_rows == clean_rows + quarantined, table
    [(raw_orders,)] = query(warehouse, "select raw_rows from audit.audit_row_accounting where source_table='orders'")
    assert raw_orders == 8 + BAD_ORDERS.count("\n")


def test_malformed_csv_line_is_an_error_naming_the_line(folder: Path) -> None:
    with (folder / "orders.csv").open("a") as handle:
        handle.write("10,A,2024-03-05 10:00:00,10.00,completed,USD,,EXTRA,MORE\n")
    with pytest.raises(InputError, match=r"orders.csv: malformed CSV \(line 10: Expected Number of Columns: 7"):
        check_input_folder(folder)


def test_parquet_with_wrong_schema(folder: Path) -> None:
    import duckdb

    (folder / "orders.csv").unlink()
    duckdb.sql(f"copy (select 1 as id, 'A' as customer, 10.0 as total) to '{folder / 'orders.parquet'}'")
    with pytest.raises(InputError, match=r"orders.parquet: required column 'order_id' is missing; found columns: "
                                         r"id, customer, total"):
        check_input_folder(folder)


def test_refunds_larger_than_the_order_are_capped_and_flagged(folder: Path, tmp_path: Path, query) -> None:
    with (folder / "refunds.csv").open("a") as handle:
        handle.write("R5,2,2024-02-20 10:00:00,30.00\nR6,2,2024-04-01 10:00:00,45.00\n")  # 75 on a 50 order
    warehouse = build(tmp_path, folder)
    [(refunded, excess, net, completed)] = query(warehouse, "select refunded_amount, excess_refund_amount, "
                                                            "net_revenue, is_completed from marts.fct_orders "
                                                            "where order_id = '2'")
    assert (refunded, excess, net, completed) == (50, 25, 0, False)


def test_too_many_quarantined_rows_fails_the_audit_and_keeps_the_warehouse(folder: Path, tmp_path: Path) -> None:
    warehouse = build(tmp_path, folder)
    before = warehouse.read_bytes()
    with (folder / "orders.csv").open("a") as handle:
        handle.write(BAD_ORDERS)
    record = build_warehouse(warehouse, folder, target_path=tmp_path / "target2")
    assert not record.published
    assert any("quarantined_share" in failure for failure in record.failures)
    assert warehouse.read_bytes() == before
