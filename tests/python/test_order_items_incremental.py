"""The order lines' nightly cost (issue 21): base_shop__order_items read by difference, and
int_order_items_aggregated_to_orders / int_order_items_joined_to_completed_orders recomputed only for the orders whose
lines, order or products changed (macros/order_lines_state.sql), equal a full build of the same export night by night.

One chain of runs over the hand-made tables, every table a snapshot file rewritten each night:

  full      day 0: the hand-made tables                                                   (a full build)
  lines     order_items only: a late change to an old order's line (2/P1 quantity), a line removed from an order
            that keeps another (1/P2), the only line of an order removed (3/P2), a new line of an old order (7/P2)
            -> the order totals recompute orders 1, 2, 3 and 7 only (1 and 3 found by their line count: a removed
               line writes nothing), the completed orders' lines those of the customers int_orders_enriched rewrote
  status    orders only: order 2 turned cancelled -> its lines leave the completed orders' lines
  products  products: P3 gone (the line 6/P3 is quarantined: unknown product), P2's category changed
            -> every order recomputed (the products changed)
  snapshot  orders and order lines read by difference (only the keys whose raw rows changed, came or went are
            staged again): order 6 turned refunded with the same updated_at, order 7 gone (its line 7/P2 becomes an
            unknown order's), order 8's row turned into an exact copy of order 4's, order 3's amount unreadable; line
            4/P1's quantity unreadable, 2/P1 gone, an exact copy of 1/P1 added
  fixed     the two unreadable values fixed -> only order 3 and line 4/P1 staged again, now clean
After each night the staging and intermediate relations built equal a full build of the same folder (bookkeeping
columns excepted).

A second chain delivers orders as a folder of batch files, so that base_shop__orders rewrites only the orders a new
file touches and base_shop__order_items rejudges only their lines: day 0 orders/2024-01-01.csv; the next night
+ orders/2024-01-02.csv, a newer version of order 1 whose amount is unreadable (order 1 is quarantined, its lines
with it: order_quarantined).
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import duckdb
import pytest

from clvlayer.warehouse_diff import compare
from conftest import HANDMADE, build_published, data_tests_in

MODELS = ("int_order_items_aggregated_to_orders", "int_order_items_joined_to_completed_orders")
SELECT = ["-s", *(f"+{model}" for model in MODELS), "+audit_load_ledger", "--indirect-selection", "cautious"]
# small tables quarantine more than the default share
ARGS = [*SELECT, "--vars", "{max_quarantined_share: 0.8}", "--exclude", "resource_type:unit_test"]
# the full builds a night is compared with, relation by relation: no data tests (the night ran them on the relations
# compared; a data test writes no relation, none stores its failures)
REFERENCE_ARGS = [*ARGS, "resource_type:test"]
BOOKKEEPING = ["batch_loaded_at", "batch_read_at", "input_fingerprint", "row_id", "row_fingerprint"]
SCHEMAS = ["staging", "intermediate"]


def _lines(name: str) -> list[str]:
    return (HANDMADE / f"{name}.csv").read_text().splitlines()


DAY0 = {name: _lines(name) for name in ("orders", "order_items", "products")}
LINES = {**DAY0, "order_items": [*(line.replace("2,P1,1,", "2,P1,2,") for line in DAY0["order_items"]
                                   if not line.startswith(("1,P2,", "3,P2,"))), "7,P2,1,30.00,0"]}
STATUS = {**LINES, "orders": [line.replace("completed", "cancelled") if line.startswith("2,") else line
                              for line in DAY0["orders"]]}
PRODUCTS = {**STATUS, "products": [line.replace(",toys,", ",games,") for line in DAY0["products"]
                                   if not line.startswith("P3,")]}
# the orders and order lines snapshots read by difference (macros/staging/load_state.sql, snapshot_diff): a row
# changed without its updated_at changing (6 turned refunded), an order gone (7: its line becomes an unknown order's),
# a row changed into a duplicate (8's row now an exact copy of 4's: 8 gone, 4 twice), a row quarantined (3's amount
# unreadable); lines: one quarantined (4/P1's quantity), one gone (2/P1), an exact copy added (1/P1)
SNAPSHOT = {**PRODUCTS,
            "orders": [line.replace(",completed,", ",refunded,") if line.startswith("6,")
                       else line.replace(",80.00,", ",8O.00,") if line.startswith("3,")
                       else STATUS["orders"][4] if line.startswith("8,") else line
                       for line in STATUS["orders"] if not line.startswith("7,")],
            "order_items": [*(line.replace("4,P1,5,", "4,P1,five,") for line in PRODUCTS["order_items"]
                              if not line.startswith("2,P1,")), PRODUCTS["order_items"][1]]}
# the next night fixes the two quarantined rows
FIXED = {**SNAPSHOT, "orders": [line.replace(",8O.00,", ",80.00,") for line in SNAPSHOT["orders"]],
         "order_items": [line.replace("4,P1,five,", "4,P1,5,") for line in SNAPSHOT["order_items"]]}
STATES = [("full", DAY0), ("lines", LINES), ("status", STATUS), ("products", PRODUCTS), ("snapshot", SNAPSHOT),
          ("fixed", FIXED)]
STAGED = {"orders": "order_id", "order_items": "order_id || '/' || product_id"}


ORDERS_DAY0 = {"orders/2024-01-01": DAY0["orders"]}
ORDERS_NEXT = {**ORDERS_DAY0, "orders/2024-01-02": [
    DAY0["orders"][0], "1,A,2024-01-10 10:00:00,1OO.00,completed,USD,2024-01-11 10:00:00"]}


def write_folder(folder: Path, files: dict[str, list[str]]) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for table in HANDMADE.glob("*.csv"):
        if not (table.stem == "orders" and "orders/2024-01-01" in files):
            shutil.copy(table, folder / table.name)
    for name, lines in files.items():
        (folder / f"{name}.csv").parent.mkdir(exist_ok=True)
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return folder


build = functools.partial(build_published, args=ARGS)  # a night of the chain: built and published


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("order_items_incremental")
    warehouse = tmp / "daily" / "warehouse.duckdb"
    written, full, last, staged, loads = {}, {}, {model: "epoch" for model in MODELS}, {}, {}
    for step, (name, files) in enumerate(STATES):
        raw = write_folder(tmp / "raw" / name, files)
        record = build(warehouse, raw, tmp / "target", incremental=step > 0)
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            staged[name] = {table: connection.execute(  # the staged rows this run (re)wrote, and all rows
                f"select list({key} order by {key}) filter (where batch_loaded_at = (select max(batch_loaded_at) "
                f"from staging.base_shop__{table})), count(*) from staging.base_shop__{table}").fetchone()
                for table, key in STAGED.items()}
            loads[name] = connection.execute(
                "select source_table, load_mode from audit.audit_load_ledger where clv_run_id = ? and source_table "
                "in ('orders', 'order_items') order by all", [record.run_id]).fetchall()
            written[name] = {model: connection.execute(  # the orders this run (re)wrote, of how many
                f"select list(distinct order_id order by order_id) filter (where batch_loaded_at > "
                f"'{last[model]}'::timestamp), count(distinct order_id) from intermediate.{model}").fetchone()
                for model in MODELS}
            last = {model: connection.execute(f"select max(batch_loaded_at) from intermediate.{model}").fetchone()[0]
                    for model in MODELS}
        if step > 0:
            shutil.copy(warehouse, tmp / f"daily_{name}.duckdb")
            full[name] = tmp / f"full_{name}" / "warehouse.duckdb"
            build(full[name], raw, tmp / "target_full", incremental=False, args=REFERENCE_ARGS)
    return {"tmp": tmp, "written": written, "full": full, "staged": staged, "loads": loads}


def test_the_nights_run_the_data_tests_and_the_full_builds_compared_with_them_do_not(chain: dict) -> None:
    assert data_tests_in(chain["tmp"] / "target") > 0  # the chain's last night
    assert data_tests_in(chain["tmp"] / "target_full") == 0  # the last full build: compared relation by relation


@pytest.mark.parametrize("state", ["lines", "status", "products", "snapshot", "fixed"])
def test_night_by_night_equals_a_full_build_of_the_same_export(chain: dict, state: str) -> None:
    outcomes = compare(str(chain["full"][state]), str(chain["tmp"] / f"daily_{state}.duckdb"), SCHEMAS, 1e-12,
                       BOOKKEEPING)
    assert {f"intermediate.{model}" for model in MODELS} <= {o.relation for o in outcomes}
    assert [f"{o.relation}: {o.detail}" for o in outcomes if not o.ok] == []


def test_only_the_changed_orders_are_recomputed(chain: dict) -> None:
    written = chain["written"]
    # lines: 1 and 3 lost a line (3 its only one: gone from both), 2's line changed, 7 has a new line; 4, 6 kept
    assert written["lines"]["int_order_items_aggregated_to_orders"] == (["1", "2", "7"], 5)
    # completed orders only (4 is refunded): and 6, whose customer C int_orders_enriched recomputed (7 changed)
    assert written["lines"]["int_order_items_joined_to_completed_orders"] == (["1", "2", "6", "7"], 4)
    # status: order 2 cancelled -> its customer A's orders are recomputed, 2 leaves the completed orders' lines
    assert written["status"]["int_order_items_joined_to_completed_orders"] == (["1"], 3)
    assert written["status"]["int_order_items_aggregated_to_orders"][0] is None
    # products changed: every order
    assert written["products"]["int_order_items_aggregated_to_orders"][0] == ["1", "2", "4", "7"]


def test_orders_in_batch_files_rejudge_only_the_lines_of_the_orders_rewritten(tmp_path: Path) -> None:
    warehouse = tmp_path / "daily" / "warehouse.duckdb"
    build(warehouse, write_folder(tmp_path / "raw0", ORDERS_DAY0), tmp_path / "target", incremental=False)
    raw = write_folder(tmp_path / "raw1", ORDERS_NEXT)
    record = build(warehouse, raw, tmp_path / "target", incremental=True)
    full = tmp_path / "full" / "warehouse.duckdb"
    build(full, raw, tmp_path / "target_full", incremental=False, args=REFERENCE_ARGS)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        orders_load = connection.execute(
            "select distinct load_mode from audit.audit_load_ledger where clv_run_id = ? and source_table = 'orders'",
            [record.run_id]).fetchall()
        reasons = connection.execute("select distinct quarantine_reason from staging.base_shop__order_items "
                                     "where order_id = '1'").fetchall()
    assert orders_load == [("incremental",)]  # only order 1 rewritten: the narrowed rejudge ran
    assert reasons == [("order_quarantined",)]
    outcomes = compare(str(full), str(warehouse), SCHEMAS, 1e-12, BOOKKEEPING)
    assert [f"{o.relation}: {o.detail}" for o in outcomes if not o.ok] == []


def test_changed_snapshots_stage_only_the_keys_whose_rows_changed(chain: dict) -> None:
    staged, loads = chain["staged"], chain["loads"]
    # status: only order 2's row changed (its lines are rejudged: order 2 is clean, their verdict stays)
    assert staged["status"]["orders"] == (["2"], 8)
    assert loads["status"] == [("orders", "incremental")]
    # snapshot: 3 (quarantined), 4 (an exact copy: two rows), 6 (refunded, same updated_at); 7 and 8 gone
    assert staged["snapshot"]["orders"] == (["3", "4", "4", "6"], 7)
    # lines: 1/P1 (an exact copy added), 4/P1 (quarantined), 7/P2 (rejudged: its order is gone); 2/P1 gone
    assert staged["snapshot"]["order_items"] == (["1/P1", "1/P1", "4/P1", "7/P2"], 5)
    assert loads["snapshot"] == [("order_items", "incremental"), ("orders", "incremental")]
    # fixed: only the two rows fixed
    assert staged["fixed"]["orders"] == (["3"], 7)
    assert staged["fixed"]["order_items"][0] == ["4/P1"]
    with duckdb.connect(str(chain["tmp"] / "daily_snapshot.duckdb"), read_only=True) as connection:
        reasons = connection.execute(
            "select order_id, quarantine_reason from staging.base_shop__orders where order_id in ('3', '4') union all "
            "select order_id || '/' || product_id, quarantine_reason from staging.base_shop__order_items "
            "where order_id in ('1', '4', '7') order by all").fetchall()
    assert reasons == [("1/P1", "exact_duplicate"), ("1/P1", None), ("3", "unparseable_amount"),
                       ("4", "exact_duplicate"), ("4", None), ("4/P1", "unparseable_quantity"),
                       ("7/P2", "unknown_order")]
