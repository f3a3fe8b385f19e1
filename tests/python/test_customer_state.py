"""Customers as additive state (DECISIONLOG "Customers as additive state: int_customers_aggregated_to_snapshots"): an
incremental run recomputes the order facts of only the customers whose orders changed or crossed a moving snapshot
date, and its warehouse equals a full build of the same input.

Small hand-made inputs (tests/fixtures/handmade plus a few later orders, so that the 3-month-earlier snapshot
exists): built in full, then changed twice and built incrementally after each change; each incremental warehouse is
compared with a full build of the same input (every intermediate relation the selected nodes build: `except all` both
ways on every non-float column, floats to 1e-9 relative).

* next day: new orders (the as-of date, the last order date, moves forward a month: two old orders cross the
  3-month-earlier snapshot's date without being rewritten), a late refund, an order turned cancelled, an order moved
  to another customer, a customer's only order moved to a customer without orders.
* a day later: the newest orders deleted (the as-of date moves back: orders leave both snapshots) and a customer
  whose only order is deleted (the customer leaves the state).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from clvlayer.build import build_warehouse
from clvlayer.warehouse_diff import compare

from conftest import HANDMADE

TABLES = ("orders", "customers", "order_items", "products", "refunds", "marketing_spend")
# the customer models and what they read; no marts, fits or tests of other models
BUILD_ARGS = ["--select", "+int_customers_enriched", "--indirect-selection", "cautious", "--exclude", "resource_type:unit_test"]
# the full builds an incremental warehouse is compared with, relation by relation (that run ran the data tests)
REFERENCE_ARGS = [*BUILD_ARGS, "resource_type:test"]
REL_TOL = 1e-9
BOOKKEEPING = ["batch_loaded_at", "input_fingerprint"]
STATE = "intermediate.int_customers_aggregated_to_snapshots"


def handmade() -> dict[str, pd.DataFrame]:
    return {t: pd.read_csv(HANDMADE / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}


def with_orders(tables: dict[str, pd.DataFrame], *rows: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    columns = list(tables["orders"].columns)
    added = pd.DataFrame([dict(zip(columns, row)) for row in rows], columns=columns)
    return {**tables, "orders": pd.concat([tables["orders"], added], ignore_index=True)}


def states() -> list[tuple[str, dict[str, pd.DataFrame]]]:
    """(name, tables) of the three loads (module docstring). As-of dates: 2024-05-20, 2024-06-20, 2024-05-05."""
    tables = handmade()
    blank = dict.fromkeys(tables["customers"].columns, "")
    known = pd.DataFrame([{**blank, "customer_id": c, "created_at": "2024-02-01", "acquisition_channel": "organic",
                           "region": "west"} for c in "FGH"])
    tables["customers"] = pd.concat([tables["customers"], known], ignore_index=True)
    base = with_orders(tables,
                       ("9", "E", "2024-04-20 10:00:00", "70.00", "completed", "USD", "2024-04-20 10:00:00"),
                       ("10", "A", "2024-05-05 10:00:00", "90.00", "completed", "USD", "2024-05-05 10:00:00"),
                       ("11", "F", "2024-05-20 10:00:00", "25.00", "completed", "USD", "2024-05-20 10:00:00"),
                       ("12", "G", "2024-02-25 10:00:00", "35.00", "completed", "USD", "2024-02-25 10:00:00"))
    next_day = with_orders(base,
                           ("13", "C", "2024-06-10 10:00:00", "45.00", "completed", "USD", "2024-06-10 10:00:00"),
                           ("14", "H", "2024-06-20 10:00:00", "55.00", "completed", "USD", "2024-06-20 10:00:00"))
    orders = next_day["orders"]
    orders.loc[orders["order_id"] == "6", ["status", "updated_at"]] = ["cancelled", "2024-06-12 10:00:00"]
    orders.loc[orders["order_id"] == "7", "customer_id"] = "B"  # moved to another customer
    orders.loc[orders["order_id"] == "12", "customer_id"] = "E"  # G's only order: G leaves
    late_refund = pd.DataFrame([{"refund_id": "R3", "order_id": "2", "refunded_at": "2024-06-15 10:00:00",
                                 "amount": "10.00"}])
    next_day["refunds"] = pd.concat([next_day["refunds"], late_refund], ignore_index=True)
    later = {**next_day, "orders": orders[~orders["order_id"].isin(["11", "13", "14"])]}
    return [("base", base), ("next_day", next_day), ("later", later)]


def write(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def build(warehouse: Path, raw: Path, target: Path, incremental: bool, args: list[str] = BUILD_ARGS) -> None:
    record = build_warehouse(warehouse, raw, dbt_args=args, target_path=target, incremental=incremental)
    assert record.published, f"{raw.name}: {record.failures}"
    assert record.mode == ("incremental" if incremental else "full"), record.notes


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """name -> (incremental warehouse copy after that load, full build of that load)."""
    tmp = tmp_path_factory.mktemp("customer_state")
    incremental, built = tmp / "incremental" / "warehouse.duckdb", {}
    for step, (name, tables) in enumerate(states()):
        raw = write(tmp / name, tables)
        build(incremental, raw, tmp / f"target_incremental_{name}", incremental=step > 0)
        kept = tmp / f"incremental_{name}.duckdb"
        kept.write_bytes(incremental.read_bytes())
        full = tmp / f"full_{name}" / "warehouse.duckdb"
        if step > 0:
            build(full, raw, tmp / f"target_full_{name}", incremental=False, args=REFERENCE_ARGS)
        built[name] = (kept, full)
    return built


@pytest.mark.parametrize("name", ["next_day", "later"])
def test_incremental_customer_state_equals_a_full_build(runs, name: str) -> None:
    incremental, full = runs[name]
    outcomes = compare(str(full), str(incremental), ["intermediate"], REL_TOL, BOOKKEEPING)
    assert {o.relation for o in outcomes} >= {STATE, "intermediate.int_customers_enriched"}
    assert [f"{o.relation}: {o.detail}" for o in outcomes if not o.ok] == []


def test_the_as_of_dates_moved(runs, query) -> None:
    dates = {name: query(runs[name][0], "select as_of_date from intermediate.int_as_of_snapshots order by 1")
             for name in ("base", "next_day", "later")}
    assert [str(d) for (d,) in dates["base"]] == ["2024-02-20", "2024-05-20"]
    assert [str(d) for (d,) in dates["next_day"]] == ["2024-03-20", "2024-06-20"]
    assert [str(d) for (d,) in dates["later"]] == ["2024-02-05", "2024-05-05"]


def test_only_changed_and_boundary_customers_were_recomputed(runs, query) -> None:
    """next day: A (late refund), B and C (moved, cancelled, new order), E (G's order), H (new) were rewritten; D's
    2024-03-01 order crossed the earlier snapshot's date (2024-02-20 -> 2024-03-20) and D was recomputed for it;
    F (no change, no order near a boundary) kept its rows; G left the state."""
    incremental, _ = runs["next_day"]
    recomputed = query(incremental, f"""
        select distinct customer_id from {STATE}
        where batch_loaded_at = (select max(batch_loaded_at) from {STATE}) order by 1""")
    assert [c for (c,) in recomputed] == ["A", "B", "C", "D", "E", "H"]
    assert query(incremental, f"select count(*) from {STATE} where customer_id = 'G'") == [(0,)]
    (d_before,), = query(incremental, f"""
        select orders_placed from {STATE} where customer_id = 'D' and as_of_snapshot = 'previous_3m'""")
    assert d_before == 1  # 0 in the base run: its order is after 2024-02-20


def test_row_level_tests_check_the_rewritten_rows_and_grain_tests_the_whole(runs) -> None:
    """Tests sized to the change (macros/tests/scoped_tests.sql, default__get_where_subquery): a row-level test
    configured with where __rewritten_rows__ reads only the rows this run wrote, a uniqueness test every row of the
    keys it wrote (test_scoped_tests.py); a reconciliation test is not scoped."""
    target = runs["next_day"][0].parent / "target_incremental_next_day" / "run"
    scoped = next(target.rglob("not_null_int_orders_enriched_order_id.sql")).read_text()
    same_key = next(target.rglob("unique_int_orders_enriched_order_id.sql")).read_text()
    whole = [path.read_text() for path in target.rglob("sums_reconcile_int_customers_a*.sql")]
    assert "where int_orders_enriched.batch_loaded_at = cast('" in scoped and "__rewritten_rows__" not in scoped
    assert "where order_id in (" in same_key and "batch_loaded_at = cast('" in same_key
    assert len(whole) == 2 and not any("batch_loaded_at" in sql for sql in whole)


def test_full_tests_check_every_row(runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`clv build --full-tests` (CLV_FULL_TESTS=1): the scoped tests read every row."""
    from clvlayer.dbt_runner import run_dbt

    monkeypatch.setenv("CLV_SCOPED_TESTS", "1")  # as `clv build --incremental` sets it: only --full-tests unscopes
    monkeypatch.setenv("CLV_FULL_TESTS", "1")
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(runs["later"][0].read_bytes())
    outcome = run_dbt(["compile", "--select", "not_null_int_orders_enriched_order_id", "--target-path",
                       str(tmp_path / "target")], duckdb_path=warehouse)
    assert outcome.success, outcome.failures
    compiled = next((tmp_path / "target" / "compiled").rglob("not_null_int_orders_enriched_order_id.sql")).read_text()
    assert "where 1 = 1" in compiled and "batch_loaded_at" not in compiled
