"""The table of bad inputs (tests/python/test_bad_input.py): one row per case, each with its exact outcome.

Three kinds of case:
  * row     - a line in one of two input folders built once per session (staging + audit only): the row, found by
              a predicate on staging.base_shop__<table>, has exactly the expected values (a clean value or a
              quarantine reason);
  * error   - a folder the resolver refuses before dbt runs: the exact error text (regular expression);
  * read    - a folder the resolver accepts: the reader it chose reads exactly the expected rows.

The 'defaults' folder uses the default vars; its name holds ', *, [, ?, a space and non-ASCII letters, next to a
sibling folder the name would match as a glob. The 'declared' folder is built with declared vars (DECLARED_VARS).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

DECLARED_VARS = ('{input_encoding: utf-8, date_order: MDY, input_time_zone: America/New_York, '
                 'decimal_separator: ",", quarantine_threshold_severity: warn}')
DEFAULT_VARS = "{quarantine_threshold_severity: warn}"
DEFAULTS_FOLDER = "shop[1] 'o'*?é"  # a glob matching the sibling DECOY_FOLDER
DECOY_FOLDER = "shop1 'o'xyé"
FILLER_ROWS = 30_000  # unquoted lines before the first quoted field: longer than DuckDB's sniffing sample

HEADERS = {
    "orders": ["order_id", "customer_id", "ordered_at", "amount", "status", "currency", "updated_at"],
    "customers": ["customer_id", "created_at", "acquisition_channel", "region", "birth_year", "is_loyalty_member",
                  "loyalty_joined_at"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price", "discount_amount"],
    "products": ["product_id", "category", "unit_cost", "launched_at"],
    "refunds": ["refund_id", "order_id", "refunded_at", "amount"],
    "marketing_spend": ["spend_date", "channel", "amount"],
}


@dataclass
class Case:
    id: str
    kind: str  # row | error | read
    klass: str  # the class of problem
    build: str = ""  # row: defaults | declared
    table: str = ""
    line: str = ""  # row: the raw line appended to the table's file (already delimited and quoted)
    where: str = ""  # row: predicate locating the row in staging.base_shop__<table>
    expect: dict[str, Any] = field(default_factory=dict)  # row: column -> value; error: {"error": regex}
    setup: Callable[[Path], None] | None = None  # error / read: builds the folder
    read_sql: str = ""  # read: query over {reader} (the resolver's reader of `table`)


def D(text: str) -> datetime:  # noqa: N802 - a short constructor keeps the table readable
    return datetime.fromisoformat(text)


def row(case_id: str, klass: str, build: str, table: str, line: str, where: str, **expect: Any) -> Case:
    return Case(case_id, "row", klass, build, table, line, where, expect)


def reason(value: str) -> dict[str, Any]:
    return {"quarantine_reason": value}


CLEAN = {"quarantine_reason": None}

# --- rows in the 'defaults' folder ------------------------------------------------------------------------------------
# orders.csv: UTF-8 with a byte-order mark, comma, LF; FILLER_ROWS clean orders f00001.. first.
# ordered_at: ISO values plus day-first evidence (13/01/2024, 25/12/2023, 31/01/2024): the column is DMY.
# updated_at: only values that read both ways (05/03/2024 ..., 04/06/2024 ...): ambiguous, date_order = reject.


def _order(order_id: str, ordered_at: str = "2024-01-02 00:00:00", amount: str = "10.00", customer: str = "A",
           status: str = "completed", updated_at: str = "") -> str:
    return f"{order_id},{customer},{ordered_at},{amount},{status},USD,{updated_at}"


def _by_raw_id(order_id: str) -> str:
    return f"raw_order_id = '{order_id}'"


ORDER_TIME_CASES = [
    ("offset_colon", "2024-03-05T10:00:00+02:00", {"ordered_at": D("2024-03-05 08:00"), **CLEAN}),
    ("offset_z", "2024-03-05 10:00:00Z", {"ordered_at": D("2024-03-05 10:00"), **CLEAN}),
    ("offset_compact", "2024-03-05 10:00:00+0200", {"ordered_at": D("2024-03-05 08:00"), **CLEAN}),
    ("zone_warsaw", "2024-03-05 10:00:00 Europe/Warsaw", {"ordered_at": D("2024-03-05 09:00"), **CLEAN}),
    ("zone_new_york_summer", "2024-07-05 10:00:00 America/New_York", {"ordered_at": D("2024-07-05 14:00"), **CLEAN}),
    ("zone_rfc9557", "2024-03-05T10:00:00+01:00[Europe/Warsaw]", {"ordered_at": D("2024-03-05 09:00"), **CLEAN}),
    ("zone_gmt_offset", "2024-03-05 10:00:00 GMT-03:00", {"ordered_at": D("2024-03-05 13:00"), **CLEAN}),
    ("zone_utc_offset", "2024-03-05 10:00:00 UTC+02:00", {"ordered_at": D("2024-03-05 08:00"), **CLEAN}),
    # text after a timestamp that is not read whole quarantines the row; the naive cast would drop it (local time)
    ("offset_with_seconds", "2024-03-05 10:00:00+02:00:00", reason("unparseable_ordered_at")),
    ("zone_then_words", "2024-03-05 10:00:00 +02:00 (CEST)", reason("unparseable_ordered_at")),
    ("trailing_words", "2024-03-05 10:00:00 local time", reason("unparseable_ordered_at")),
    # abbreviations the engine reads otherwise than a shop means (BST = Bangladesh to ICU): never shifted silently
    ("zone_bst_ambiguous", "2024-07-05 10:00:00 BST", reason("unparseable_ordered_at")),
    ("zone_ist_ambiguous", "2024-03-05 10:00:00 IST", reason("unparseable_ordered_at")),
    ("compact_date", "19970101", {"ordered_at": D("1997-01-01 00:00"), **CLEAN}),
    ("month_name", "05 Mar 2024", {"ordered_at": D("2024-03-05 00:00"), **CLEAN}),
    ("dmy_evidence", "13/01/2024", {"ordered_at": D("2024-01-13 00:00"), **CLEAN}),
    ("dmy_evidence_2", "25/12/2023", {"ordered_at": D("2023-12-25 00:00"), **CLEAN}),
    ("dmy_evidence_3", "31/01/2024", {"ordered_at": D("2024-01-31 00:00"), **CLEAN}),
    ("dmy_by_column", "05/03/2024", {"ordered_at": D("2024-03-05 00:00"), **CLEAN}),
    ("mdy_in_dmy_column", "01/13/2024", reason("unparseable_ordered_at")),
    ("infinity", "infinity", reason("ordered_at_out_of_range")),
    ("minus_infinity", "-infinity", reason("ordered_at_out_of_range")),
    ("year_1900", "1900-01-01", reason("ordered_at_out_of_range")),
    ("year_0024", "0024-03-05", reason("ordered_at_out_of_range")),
    ("future", "2099-01-01", reason("ordered_at_in_future")),
    ("feb_30", "2024-02-30", reason("unparseable_ordered_at")),
    ("compact_7_digits", "1997011", reason("unparseable_ordered_at")),
    ("not_a_date", "not a date", reason("unparseable_ordered_at")),
    ("empty_date", "", reason("missing_ordered_at")),
]

ORDER_AMOUNT_CASES = [
    ("amount_1e15", "1e15", reason("amount_out_of_range")),
    ("amount_1e400", "1e400", reason("amount_out_of_range")),
    ("amount_above_max", "1000000000.01", reason("amount_out_of_range")),
    ("amount_inf", "inf", reason("unparseable_amount")),
    ("amount_minus_infinity", "-Infinity", reason("unparseable_amount")),
    ("amount_nan_token", "NaN", reason("missing_amount")),
    ("amount_thousands", '"1,234.50"', reason("unparseable_amount")),
    ("amount_decimal_comma", '"12,50"', reason("unparseable_amount")),
    ("amount_currency_sign", "$12.50", reason("unparseable_amount")),
    ("amount_underscore", "1_000", reason("unparseable_amount")),
    ("amount_spaces", " 12.50 ", {"original_amount": Decimal("12.50"), **CLEAN}),
    ("amount_negative", "-5.00", reason("negative_amount")),
]

ORDER_ID_CASES = [  # (case, raw order_id field, raw customer field, expected)
    ("id_null_token", "NULL", "A", reason("missing_order_id")),
    ("id_nan_token", "nan", "A", reason("missing_order_id")),
    ("id_none_token", "None", "A", reason("missing_order_id")),
    ("id_backslash_n", "\\N", "A", reason("missing_order_id")),
    ("id_na_token", "N/A", "A", reason("missing_order_id")),
    ("customer_null_token", "c-cust-null", "null", reason("missing_customer_id")),
    ("customer_empty", "c-cust-empty", "", reason("missing_customer_id")),
    ("customer_nbsp_trimmed", "c-cust-nbsp", "G", {"customer_id": "G", **CLEAN}),  # customers.csv: ' G ' (NBSP)
]

DEFAULT_ROWS: list[Case] = []
for name, value, expected in ORDER_TIME_CASES:
    DEFAULT_ROWS.append(row(f"time_{name}", "time", "defaults", "orders", _order(f"c-{name}", ordered_at=value),
                            _by_raw_id(f"c-{name}"), **expected))
for name, value, expected in ORDER_AMOUNT_CASES:
    DEFAULT_ROWS.append(row(f"value_{name}", "values", "defaults", "orders", _order(f"c-{name}", amount=value),
                            _by_raw_id(f"c-{name}"), **expected))
for name, order_id, customer, expected in ORDER_ID_CASES:
    DEFAULT_ROWS.append(row(f"ids_{name}", "ids", "defaults", "orders", _order(order_id, customer=customer),
                            _by_raw_id(order_id), **expected))
DEFAULT_ROWS += [
    row("time_ambiguous_column_rejected", "time", "defaults", "orders",
        _order("c-amb-1", updated_at="05/03/2024 10:00:00"), _by_raw_id("c-amb-1"), **reason("ambiguous_updated_at")),
    row("time_ambiguous_column_rejected_2", "time", "defaults", "orders",
        _order("c-amb-2", updated_at="04/06/2024 10:00:00"), _by_raw_id("c-amb-2"), **reason("ambiguous_updated_at")),
    row("ids_quoted_inside_value", "ids", "defaults", "orders", _order('"""1014"""'), "order_id = '1014'",
        raw_order_id='"1014"', **CLEAN),
    row("ids_whitespace", "ids", "defaults", "orders", _order(" 1015 "), "order_id = '1015'", **CLEAN),
    row("ids_float_spelling", "ids", "defaults", "orders", _order("1016.0"), "raw_order_id = '1016.0'",
        order_id="1016", **CLEAN),
    row("ids_leading_zeros_kept", "ids", "defaults", "orders", _order("007"), "raw_order_id = '007'",
        order_id="007", **CLEAN),
    row("reading_too_many_fields", "reading", "defaults", "orders", _order("c-many") + ",EXTRA",
        "raw_row like '%c-many%'", order_id=None, **reason("malformed_line")),
    row("reading_too_few_fields", "reading", "defaults", "orders", "c-few,A,2024-03-05",
        "raw_row like '%c-few%'", **reason("malformed_line")),
    row("reading_quote_then_text", "reading", "defaults", "orders", 'c-qtext,"A"x,2024-03-05,1.00,,,',
        "raw_row like '%c-qtext%'", **reason("malformed_line")),
    row("reading_whitespace_line", "reading", "defaults", "orders", "   ", "raw_row = '   '",
        **reason("malformed_line")),
    row("reading_quoted_line_break", "reading", "defaults", "orders", _order("c-newline", status='"completed\n"'),
        _by_raw_id("c-newline"), status="completed", raw_status="completed\n", **CLEAN),
    row("sniffer_late_quoted_comma", "sniffer", "defaults", "orders",
        _order("c-late-quote", status='"completed, really"'), _by_raw_id("c-late-quote"),
        raw_status="completed, really", **reason("unknown_status")),
    # customers.csv: Windows-1252 (auto-detected), comma, LF
    row("encoding_cp1252_detected", "encoding", "defaults", "customers", "c-zurich,2024-01-05,promo€,Zürich,,,",
        "customer_id = 'c-zurich'", region="zürich", acquisition_channel="promo€", **CLEAN),
    row("reading_quoted_line_break_in_label", "reading", "defaults", "customers",
        'c-multiline,2024-01-05,organic,"north\neast",,,', "customer_id = 'c-multiline'", region="north\neast",
        **CLEAN),
    row("values_birth_year_1850", "values", "defaults", "customers", "c-old,2024-01-05,organic,north,1850,,",
        "customer_id = 'c-old'", **reason("birth_year_out_of_range")),
    row("values_flag_maybe", "values", "defaults", "customers", "c-flag,2024-01-05,organic,north,1990,maybe,",
        "customer_id = 'c-flag'", **reason("unparseable_is_loyalty_member")),
    # order_items.csv: semicolon-delimited (detected from the header), decimal point
    row("values_quantity_zero_fraction", "values", "defaults", "order_items", "f00002;P1;2.0;5.00;0",
        "order_id = 'f00002'", quantity=2, **CLEAN),
    row("values_quantity_fraction", "values", "defaults", "order_items", "f00003;P1;2.5;5.00;0",
        "order_id = 'f00003'", **reason("unparseable_quantity")),
    row("values_quantity_hex", "values", "defaults", "order_items", "f00004;P1;0x10;5.00;0",
        "order_id = 'f00004'", **reason("unparseable_quantity")),
    row("values_quantity_above_max", "values", "defaults", "order_items", "f00005;P1;1000000;5.00;0",
        "order_id = 'f00005'", **reason("quantity_out_of_range")),
    row("values_quantity_overflow", "values", "defaults", "order_items", "f00006;P1;99999999999999999999;5.00;0",
        "order_id = 'f00006'", **reason("unparseable_quantity")),
    row("values_unit_price_1e15", "values", "defaults", "order_items", "f00007;P1;1;1e15;0",
        "order_id = 'f00007'", **reason("unit_price_out_of_range")),
    row("ids_float_id_joins_items", "ids", "defaults", "order_items", "1015.0;P1;1;5.00;0", "raw_order_id = '1015.0'",
        order_id="1015", **CLEAN),
    row("sniffer_semicolon_with_comma_inside_quotes", "sniffer", "defaults", "order_items",
        'f00008;"P,2";1;5.00;0', "order_id = 'f00008'", product_id="P,2", **CLEAN),
    # products.csv: UTF-16 little-endian with a byte-order mark, tab-delimited, read through a symbolic link
    row("encoding_utf16_le", "encoding", "defaults", "products", "P-cafe\tCafé\t1.00\t2023-01-01",
        "product_id = 'P-cafe'", category="café", **CLEAN),
    row("sniffer_stray_quote_literal", "sniffer", "defaults", "products", 'P-tv\tTV 55" LED\t1.00\t',
        "product_id = 'P-tv'", category='tv 55" led', **CLEAN),
    # refunds.csv: pipe-delimited, CRLF; refunded_at has month-first evidence (03/25/2024): the column is MDY
    row("time_mdy_evidence", "time", "defaults", "refunds", "c-r1|1014.00|03/25/2024 10:00:00|1.00",
        "refund_id = 'c-r1'", refunded_at=D("2024-03-25 10:00"), order_id="1014", **CLEAN),
    row("time_mdy_by_column", "time", "defaults", "refunds", "c-r2|1016|04/05/2024 10:00:00|1.00",
        "refund_id = 'c-r2'", refunded_at=D("2024-04-05 10:00"), **CLEAN),
    row("time_mdy_am_pm", "time", "defaults", "refunds", "c-r3|1015|3/5/2024 1:05 PM|1.00", "refund_id = 'c-r3'",
        refunded_at=D("2024-03-05 13:05"), **CLEAN),
    row("ids_leading_zeros_do_not_match", "ids", "defaults", "refunds", "c-r4|7|2024-03-01 00:00:00|1.00",
        "refund_id = 'c-r4'", **reason("unknown_order")),
    row("values_refund_zero", "values", "defaults", "refunds", "c-r5|1014|2024-03-01 00:00:00|0",
        "refund_id = 'c-r5'", **reason("non_positive_amount")),
    # marketing_spend.csv: UTF-16 big-endian with a byte-order mark (read through a UTF-8 copy)
    row("encoding_utf16_be", "encoding", "defaults", "marketing_spend", "05.03.2024,Café TV,10.00",
        "channel = 'café tv'", spend_date=D("2024-03-05").date(), spend_amount=Decimal("10.00"), **CLEAN),
]

# --- rows in the 'declared' folder (DECLARED_VARS) --------------------------------------------------------------------
# orders.parquet (typed: DOUBLE ids and amounts, TIMESTAMPTZ), customers.csv (UTF-8 declared, one Latin-1 byte),
# refunds.csv (decimal commas; refunded_at reads both ways: date_order MDY decides).
DECLARED_ROWS: list[Case] = [
    row("ids_parquet_double_id", "ids", "declared", "orders", "", "raw_order_id = '1014.0'", order_id="1014",
        original_amount=Decimal("12.50"), **CLEAN),
    row("time_parquet_timestamptz", "time", "declared", "orders", "", "order_id = '1014'",
        ordered_at=D("2024-03-05 08:00")),
    row("time_parquet_naive_in_input_time_zone", "time", "declared", "orders", "", "order_id = '5'",
        ordered_at=D("2024-01-15 09:00"), updated_at=D("2024-01-15 15:00"), **CLEAN),
    row("values_parquet_nan", "values", "declared", "orders", "", "order_id = '2'", **reason("missing_amount")),
    row("values_parquet_inf", "values", "declared", "orders", "", "order_id = '3'", **reason("unparseable_amount")),
    row("values_parquet_1e15", "values", "declared", "orders", "", "order_id = '4'", **reason("amount_out_of_range")),
    row("encoding_declared_utf8_undecodable", "encoding", "declared", "customers",
        "c-undecodable,2024-01-15 10:00:00,organic,Z\xfcrich,,,", "raw_row like '%c-undecodable%'",
        **reason("undecodable_line")),
    row("time_naive_in_input_time_zone", "time", "declared", "customers", "c-ny,2024-01-15 10:00:00,organic,,,,",
        "customer_id = 'c-ny'", created_at=D("2024-01-15 15:00"), **CLEAN),
    row("time_ambiguous_column_date_order_mdy", "time", "declared", "refunds", "c-r1,1014,05/03/2024,\"12,50\"",
        "refund_id = 'c-r1'", refunded_at=D("2024-05-03 04:00"), refund_amount=Decimal("12.50"), **CLEAN),
    row("values_decimal_comma_declared", "values", "declared", "refunds", "c-r2,1014,06/04/2024,\"0,99\"",
        "refund_id = 'c-r2'", refund_amount=Decimal("0.99"), **CLEAN),
    row("values_decimal_comma_with_point", "values", "declared", "refunds", "c-r3,1014,06/04/2024,\"1.234,50\"",
        "refund_id = 'c-r3'", **reason("unparseable_amount")),
]

DEFAULT_ROWS += [
    row("values_unknown_status", "values", "defaults", "orders", _order("c-status", status="lost_in_post"),
        _by_raw_id("c-status"), **reason("unknown_status")),
    row("values_unknown_customer", "ids", "defaults", "orders", _order("c-who", customer="ZZZ"), _by_raw_id("c-who"),
        **reason("unknown_customer")),
    row("dup_exact_copy_kept", "duplicates", "defaults", "orders", _order("c-dup") + "\n" + _order("c-dup"),
        "raw_order_id = 'c-dup' and quarantine_reason is null", order_id="c-dup"),
    row("dup_exact_copy_quarantined", "duplicates", "defaults", "orders", "",
        "raw_order_id = 'c-dup' and quarantine_reason is not null", **reason("exact_duplicate")),
    row("dup_float_spelling_is_the_same_row", "duplicates", "defaults", "orders",
        _order("c-dup2") + "\n" + _order("c-dup2", ordered_at="2024-01-02T00:00:00Z"),
        "raw_order_id = 'c-dup2' and quarantine_reason is not null", **reason("exact_duplicate")),
    row("dup_superseded_by_newer_version", "duplicates", "defaults", "orders",
        _order("c-ver", amount="1.00", updated_at="2024-01-03 00:00:00") + "\n"
        + _order("c-ver", amount="2.00", updated_at="2024-01-04 00:00:00"),
        "raw_order_id = 'c-ver' and raw_amount = '1.00'", **reason("superseded_by_newer_version")),
    row("paths_glob_sibling_not_read", "paths", "defaults", "orders", "", "raw_order_id = 'decoy'", rows=0),
]

# --- cases the resolver refuses before dbt runs, and cases it reads --------------------------------------------------

ORDERS_HEADER = ",".join(HEADERS["orders"])
ORDER_LINE = "1,A,2024-01-02 00:00:00,10.00,completed,USD,"


def files(**contents: str | bytes) -> Callable[[Path], None]:
    """A setup writing files named by the keywords (orders_csv -> orders.csv, ORDERS_CSV -> ORDERS.CSV)."""

    def setup(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for key, content in contents.items():
            name = key if "." in key else ".".join(key.rsplit("_", 1))
            data = content.encode() if isinstance(content, str) else content
            (folder / name).write_bytes(data)

    return setup


def orders_csv(*lines: str, header: str = ORDERS_HEADER, newline: str = "\n") -> str:
    return newline.join([header, *lines]) + newline


def _then(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        for step in steps:
            step(folder)

    return setup


def _symlink(name: str, target: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        (folder / name).symlink_to(folder.parent / target)

    return setup


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def _fifo(name: str) -> Callable[[Path], None]:
    return lambda folder: os.mkfifo(folder / name)


def _parquet(name: str, sql: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        import duckdb

        folder.mkdir(parents=True, exist_ok=True)
        path = str(folder / name).replace("'", "''")
        with duckdb.connect() as connection:
            connection.execute(f"copy ({sql}) to '{path}' (format parquet)").fetchall()

    return setup


def error(case_id: str, klass: str, setup: Callable[[Path], None] | None, pattern: str, vars_: str = "") -> Case:
    return Case(case_id, "error", klass, setup=setup, expect={"error": pattern, "vars": vars_})


def read(case_id: str, klass: str, setup: Callable[[Path], None], rows: list[tuple], sql: str = "",
         folder: str = "raw", vars_: str = "") -> Case:
    return Case(case_id, "read", klass, setup=setup, expect={"rows": rows, "folder": folder, "vars": vars_},
                read_sql=sql or "select order_id, customer_id from {reader} order by 1")


ERROR_CASES: list[Case] = [
    error("paths_missing_folder", "paths", None, r"RAW_DATA_DIR=.*raw does not exist\. Fix: point RAW_DATA_DIR"),
    error("paths_folder_is_a_file", "paths", lambda f: f.write_text("x"), r"raw is a file, not a folder"),
    error("paths_folder_is_a_dangling_link", "paths", lambda f: f.symlink_to(f.parent / "gone"),
          r"raw is a symbolic link to .*gone, which does not exist"),
    error("paths_dangling_link_for_optional_table", "paths",
          _then(files(orders_csv=orders_csv(ORDER_LINE)), _symlink("refunds.csv", "missing/refunds.csv")),
          r"refunds\.csv: a symbolic link to .*missing/refunds\.csv, which does not exist\. Fix: point the link"),
    error("paths_directory_in_place_of_file", "paths", _then(files(refunds_csv="x"), _mkdir("orders.csv")),
          r"orders\.csv: a directory, where the orders table's file was expected"),
    error("paths_fifo_in_place_of_file", "paths",
          _then(files(orders_csv=orders_csv(ORDER_LINE)), _fifo("customers.csv")),
          r"customers\.csv: not a regular file \(a pipe or device\)"),
    error("paths_csv_and_parquet", "paths", _then(files(orders_csv=orders_csv(ORDER_LINE)),
                                                  _parquet("orders.parquet", "select 1 as order_id")),
          r"orders\.csv and orders\.parquet both hold table 'orders'\. Fix: keep exactly one"),
    error("paths_two_spellings", "paths", files(orders_csv=orders_csv(ORDER_LINE), ORDERS_CSV=orders_csv(ORDER_LINE)),
          r"ORDERS\.CSV and orders\.csv both hold table 'orders'"),
    error("structure_required_table_missing", "structure", files(customers_csv="customer_id\nA\n"),
          r"required table 'orders' is missing\. Fix: add orders\.parquet or orders\.csv with columns order_id, "),
    error("structure_unsupported_type", "structure", files(orders_xlsx="x"),
          r"orders\.xlsx: unsupported file type for table 'orders'"),
    error("structure_compressed_file", "structure", files(**{"orders.csv.gz": "x"}),
          r"orders\.csv\.gz: unsupported file type for table 'orders'\. Fix: export it as orders\.parquet or"),
    error("structure_empty_file", "structure", files(orders_csv=orders_csv(ORDER_LINE), refunds_csv=""),
          r"refunds\.csv: the file is empty"),
    error("structure_header_only", "structure", files(orders_csv=orders_csv()),
          r"orders\.csv: the required table 'orders' has a header but no rows"),
    error("structure_missing_column", "structure",
          files(orders_csv="order_id,customer_id,ordered_at,status\n1,A,2024-01-02,completed\n"),
          r"orders\.csv: required column 'amount' is missing; found columns: order_id, customer_id, ordered_at, "
          r"status"),
    error("structure_single_column", "structure", files(orders_csv="id;customer;when;total\n1;A;2024-01-02;1\n"),
          r"required column 'order_id' is missing \(the file parsed as a single column: check its delimiter"),
    error("structure_duplicate_column", "structure",
          files(orders_csv=orders_csv(ORDER_LINE + ",1", header=ORDERS_HEADER + ",amount")),
          r"orders\.csv: column 'amount' appears more than once in the header"),
    error("reading_unterminated_quote", "reading",
          files(orders_csv=orders_csv(ORDER_LINE, '2,A,2024-01-02,"10.00,completed,USD,', ORDER_LINE)),
          r"orders\.csv: a quoted field opened on line 3 never closes"),
    error("reading_mixed_line_endings", "reading",
          files(orders_csv=(ORDERS_HEADER + "\r\n" + ORDER_LINE + "\n" + ORDER_LINE + "\n").encode()),
          r"orders\.csv: mixed line endings \(2 LF, 1 CRLF\)"),
    error("encoding_unknown_declared", "encoding", files(orders_csv=orders_csv(ORDER_LINE)),
          r"input_encoding 'klingon' is not a known encoding", vars_="{input_encoding: klingon}"),
    error("config_bad_vars", "structure", files(orders_csv=orders_csv(ORDER_LINE)),
          r'Vars \(dbt_project.yml, --vars\) cannot be used: var decimal_separator must be one of "\.", ",", got ";"; '
          r'var date_order must be one of DMY, MDY, reject \(any case\), got "YMD"; var input_time_zone must be a time '
          r'zone name \(e.g. UTC, Europe/Warsaw\), got "Mars/Olympus"',
          vars_="{date_order: YMD, decimal_separator: ';', input_time_zone: Mars/Olympus}"),
    error("structure_parquet_wrong_schema", "structure",
          _parquet("orders.parquet", "select 1 as id, 'A' as customer, 10.0 as total"),
          r"orders\.parquet: required column 'order_id' is missing; found columns: id, customer, total"),
    error("structure_parquet_corrupt", "structure", files(orders_parquet=b"PAR1 not really parquet"),
          r"orders\.parquet: unreadable as parquet"),
]

DECOY = "1,DECOY,2024-01-02 00:00:00,10.00,completed,USD,"
READ_CASES: list[Case] = [
    read("paths_glob_brackets_read_literally", "paths",
         _then(files(orders_csv=orders_csv(ORDER_LINE)),
               lambda f: files(orders_csv=orders_csv(DECOY))(f.parent / "shop1")), [("1", "A")], folder="shop[1]"),
    read("paths_glob_star_question_read_literally", "paths",
         _then(files(orders_csv=orders_csv(ORDER_LINE)),
               lambda f: files(orders_csv=orders_csv(DECOY))(f.parent / "exports-2024X")),
         [("1", "A")], folder="exp*rts-2024?"),
    read("paths_quote_space_unicode", "paths", files(orders_csv=orders_csv(ORDER_LINE)), [("1", "A")],
         folder="O'Brien & Søn exports"),
    read("paths_upper_case_file_name", "paths", files(ORDERS_CSV=orders_csv(ORDER_LINE)), [("1", "A")]),
    read("paths_symlink_followed", "paths",
         _then(lambda f: f.mkdir(), lambda f: files(export_csv=orders_csv(ORDER_LINE))(f.parent / "real [x]"),
               lambda f: (f / "orders.csv").symlink_to(f.parent / "real [x]" / "export.csv")), [("1", "A")]),
    read("sniffer_quoted_upper_case_header", "sniffer",
         files(orders_csv=orders_csv(ORDER_LINE, header=",".join(f'"{c.title()}"' for c in HEADERS["orders"]))),
         [("1", "A")]),
    read("encoding_latin1_declared_with_c1_bytes", "encoding",
         files(orders_csv=(ORDERS_HEADER + "\n1,A\x80,2024-01-02,10.00,,,\n").encode("latin-1")),
         [("1", "A\x80")], vars_="{input_encoding: latin-1}"),
    read("sniffer_excel_sep_line", "sniffer", files(orders_csv="sep=;\n" + orders_csv(ORDER_LINE.replace(",", ";"),
                                                    header=ORDERS_HEADER.replace(",", ";"))), [("1", "A")]),
    read("encoding_utf8_bom", "encoding", files(orders_csv=codecs.BOM_UTF8 + orders_csv(ORDER_LINE).encode()),
         [("1", "A")]),
]
