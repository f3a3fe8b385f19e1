"""Staging state beyond orders (issue 21): customers, order_items and refunds staged incrementally equal a full build
of the same folder, night by night, and the load ledger says what each run read and why a table was rebuilt.

One chain of runs over the hand-made tables (docs/input_contract.md, "Two shapes of input"): order_items delivered
as a folder of batch files, customers and refunds as snapshot files rewritten every night (read by difference: only
the keys whose raw rows changed, came or went are staged again), orders as a snapshot (rebuilt in full when it
changes: orders keeps its own state, tests/python/test_batch_input.py).

  full      day 0: the hand-made tables, order_items/2024-01-01.csv                        (a full build)
  diff      orders: order 3's amount unreadable (quarantined), a new order 9 of a new customer F;
            order_items/2024-01-02.csv: a line of order 9, an exact copy of an earlier line, a line of order 3;
            customers: F added, B's region changed, E gone, a second C that conflicts, an exact copy of A, a
            malformed line; refunds: one for order 9 dated before it, one in the future
            -> order_items reads its new file and judges the lines of order 3 again (their order is quarantined);
               customers and refunds stage only the ids whose rows changed
  unchanged the same folder again -> nothing read, no row rewritten but the refund in the future (judged again on
            every run: the reference date moves)
  reordered customers: the copy of A (its channel spelled Paid_Search) moved before A -> A staged again (a full
            build keeps the first of two copies)
  faults    customers: a customer created 13/02/2024 (the first day-first date: created_at's day/month order
            changes for every row); order_items/2024-01-01.csv gone
            -> both rebuilt in full, said in the ledger and the run's notes
After `diff`, `reordered` and `faults` the staging, quarantine and audit relations equal a full build of the same
folder (the load ledger and the run bookkeeping columns excepted), and rows are accounted per file and in total.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import duckdb
import pytest

from clvlayer.warehouse_diff import compare
from conftest import HANDMADE, build_published, data_tests_in

TABLES = ("customers", "order_items", "refunds")
SELECT = ["-s", "+audit_row_accounting", "+audit_load_ledger", "+audit_quarantine_summary", "+stg_shop__order_items",
          "--indirect-selection", "cautious"]
# small tables quarantine more than the default share
ARGS = [*SELECT, "--vars", "{max_quarantined_share: 0.8}", "--exclude", "resource_type:unit_test"]
# the full builds a night is compared with, relation by relation: no data tests (the night ran them on the relations
# compared; a data test writes no relation, none stores its failures)
REFERENCE_ARGS = [*ARGS, "resource_type:test"]
BOOKKEEPING = ["batch_loaded_at", "batch_read_at", "input_fingerprint", "row_id", "row_fingerprint"]
SCHEMAS = ["staging", "quarantine", "audit"]
ITEMS_HEADER = "order_id,product_id,quantity,unit_price,discount_amount"


def _lines(name: str) -> list[str]:
    return (HANDMADE / name).read_text().splitlines()


ORDERS, CUSTOMERS, ITEMS, REFUNDS = (_lines(f"{t}.csv") for t in ("orders", "customers", "order_items", "refunds"))
DIFF = {
    "orders.csv": [*(line.replace(",80.00,", ",8O.00,") for line in ORDERS),
                   "9,F,2024-03-12 10:00:00,30.00,completed,USD,2024-03-12 10:00:00"],
    "customers.csv": [*(line.replace(",south,", ",west,") for line in CUSTOMERS if not line.startswith("E,")),
                      "F,2024-03-10,email,south,1995,false,", "C,2024-01-31,email,south,,false,",
                      CUSTOMERS[1].replace("paid_search", "Paid_Search"),
                      "G,2024-03-11,email,north,1990,false,,surplus"],
    "refunds.csv": [*REFUNDS, "R3,9,2024-03-01 10:00:00,10.00", "R4,1,2099-01-01 10:00:00,5.00"],
    "order_items/2024-01-01.csv": [ITEMS_HEADER, *ITEMS[1:]],
    "order_items/2024-01-02.csv": [ITEMS_HEADER, "9,P1,1,30.00,0", ITEMS[5], "3,P3,1,5.00,0"],
}
# the copy of A moved before A: the rows of a key are the same, their order is not (a full build keeps the first)
_HEADER, *_ROWS = DIFF["customers.csv"]
REORDERED = {**DIFF, "customers.csv": [_HEADER, _ROWS[-2], *(line for line in _ROWS if line != _ROWS[-2])]}
FAULTS = {**{name: lines for name, lines in DIFF.items() if name != "order_items/2024-01-01.csv"},
          "customers.csv": [*DIFF["customers.csv"], "H,13/02/2024,organic,north,1980,false,"]}
STATES = [("full", {**{f"{t}.csv": _lines(f"{t}.csv") for t in ("orders", "customers", "refunds")},
                    "order_items/2024-01-01.csv": DIFF["order_items/2024-01-01.csv"]}),
          ("diff", DIFF), ("unchanged", DIFF), ("reordered", REORDERED), ("faults", FAULTS)]


def write_folder(folder: Path, files: dict[str, list[str]]) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "order_items").mkdir(parents=True)
    for table in HANDMADE.glob("*.csv"):
        if table.stem not in ("orders", "customers", "refunds", "order_items"):
            shutil.copy(table, folder / table.name)
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


build = functools.partial(build_published, args=ARGS)  # a night of the chain: built and published


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("staging_state")
    warehouse = tmp / "daily" / "warehouse.duckdb"
    runs, ledgers, written, full = {}, {}, {}, {}
    for step, (name, files) in enumerate(STATES):
        raw = write_folder(tmp / "raw" / name, files)
        runs[name] = build(warehouse, raw, tmp / "target", incremental=step > 0)
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            ledgers[name] = connection.execute(
                "select source_table, batch_file, raw_rows, read_rows, clean_rows, quarantined_rows, load_mode, "
                "load_note from audit.audit_load_ledger where clv_run_id = ? and source_table in (select unnest(?)) "
                "order by all", [runs[name].run_id, list(TABLES)]).fetchall()
            written[name] = {table: connection.execute(  # when rows were last written, how many then, of all
                f"select max(batch_loaded_at), count(*) filter (where batch_loaded_at = (select max(batch_loaded_at) "
                f"from staging.base_shop__{table})), count(*) from staging.base_shop__{table}").fetchone()
                for table in TABLES}
        if name in ("diff", "reordered", "faults"):
            shutil.copy(warehouse, tmp / f"daily_{name}.duckdb")
            full[name] = tmp / f"full_{name}" / "warehouse.duckdb"
            build(full[name], raw, tmp / "target_full", incremental=False, args=REFERENCE_ARGS)
    return {"tmp": tmp, "runs": runs, "ledgers": ledgers, "written": written, "full": full}


def test_the_nights_run_the_data_tests_and_the_full_builds_compared_with_them_do_not(chain: dict) -> None:
    assert data_tests_in(chain["tmp"] / "target") > 0  # the chain's last night
    assert data_tests_in(chain["tmp"] / "target_full") == 0  # the last full build: compared relation by relation


@pytest.mark.parametrize("state", ["diff", "reordered", "faults"])
def test_night_by_night_equals_a_full_build_of_the_same_folder(chain: dict, state: str) -> None:
    outcomes = compare(str(chain["full"][state]), str(chain["tmp"] / f"daily_{state}.duckdb"), SCHEMAS, 1e-12,
                       BOOKKEEPING)
    assert len(outcomes) > 15
    own = ("audit.audit_load_ledger", "audit.build_run")
    assert [f"{o.relation}: {o.detail}" for o in outcomes if not o.ok and o.relation not in own] == []


def test_only_the_changed_keys_are_staged_again(chain: dict) -> None:
    written = {table: counts[1:] for table, counts in chain["written"]["diff"].items()}
    # customers: F, B, C (x2: they now conflict), A (x2: an exact copy), the malformed line; E gone (8 rows of 8)
    assert written["customers"] == (7, 8)
    # order_items: the new file's 3 lines, the stored line of 4/P1 its copy touched, order 3's stored line (of 9)
    assert written["order_items"] == (5, 9)
    # refunds: R3 and R4, and R1, whose order 3 is now quarantined (of 4)
    assert written["refunds"] == (3, 4)
    with duckdb.connect(str(chain["tmp"] / "daily_diff.duckdb"), read_only=True) as connection:
        reasons = connection.execute(
            "select 'items', quarantine_reason from staging.base_shop__order_items where order_id = '3' union all "
            "select 'refunds', quarantine_reason from staging.base_shop__refunds where order_id = '3' order by all"
        ).fetchall()
    assert reasons == [("items", "order_quarantined"), ("items", "order_quarantined"),
                       ("refunds", "order_quarantined")]


def test_a_new_batch_file_and_a_changed_snapshot_are_read_alone_and_accounted(chain: dict) -> None:
    assert [r.mode for r in chain["runs"].values()] == ["full", *["incremental"] * 4]
    assert chain["ledgers"]["diff"] == [
        ("customers", "customers.csv", 8, 8, 4, 4, "incremental", None),
        ("order_items", "2024-01-02.csv", 3, 3, 1, 2, "incremental", None),
        ("refunds", "refunds.csv", 4, 4, 1, 3, "incremental", None)]
    for name in ("full", "diff", "faults"):
        assert all(raw == read == clean + quarantined for *_, raw, read, clean, quarantined, _, _
                   in chain["ledgers"][name])
    with duckdb.connect(str(chain["tmp"] / "daily_diff.duckdb"), read_only=True) as connection:
        totals = connection.execute(
            "select source_table, raw_rows = clean_rows + quarantined_rows from audit.audit_row_accounting "
            "where source_table in (select unnest(?)) order by 1", [list(TABLES)]).fetchall()
    assert totals == [(table, True) for table in TABLES]


def test_an_unchanged_folder_reads_and_rewrites_nothing(chain: dict) -> None:
    assert chain["ledgers"]["unchanged"] == []
    unchanged, diff = chain["written"]["unchanged"], chain["written"]["diff"]
    assert {t: unchanged[t] for t in ("customers", "order_items")} == {t: diff[t] for t in ("customers", "order_items")}
    # refunds: only R4 again, quarantined as in the future (a verdict that moves with the reference date)
    assert unchanged["refunds"][0] > diff["refunds"][0] and unchanged["refunds"][1:] == (1, 4)
    assert not any(note.startswith(f"load {table}") for table in TABLES for note in chain["runs"]["unchanged"].notes)


@pytest.mark.parametrize(("table", "said"), [
    ("customers", "customers: the new rows change the day/month order of a date column (created_at=ambiguous "
                  "loyalty_joined_at=ambiguous -> created_at=DMY loyalty_joined_at=ambiguous): rebuilt in full"),
    ("order_items", "order_items: loaded file(s) no longer delivered (2024-01-01.csv): rebuilt in full without them"),
])
def test_a_contradicting_or_vanished_file_rebuilds_the_table_and_says_why(chain: dict, table: str, said: str) -> None:
    ledger = [row for row in chain["ledgers"]["faults"] if row[0] == table]
    assert ledger and {row[6] for row in ledger} == {"full"} and {row[7] for row in ledger} == {said}
    assert any(said in note for note in chain["runs"]["faults"].notes)
