"""Orders delivered as a folder of batch files (docs/input_contract.md, "Two shapes of input"): a warehouse loaded day
by day with `clv build --incremental` equals a full build of the same folder, and the load ledger says what each run
read and why a table was rebuilt in full.

One chain of runs over a hand-made folder (the hand-made fixture's tables, its orders split into batch files):
  full      2024-01-01.csv, 2024-01-02.csv                       (a full build)
  new       + 2024-01-03.csv: a new order, a newer version of an order of an earlier file, an exact copy of
            another earlier order (duplicates across files)  -> incremental: only that file is read
  dates     + 2024-01-04.csv: an order dated 13/02/2024, the first value of ordered_at that reads only day-first,
            so the column's day/month order changes for every row  -> rebuilt in full, said in the ledger
  changed   2024-01-01.csv rewritten (an amount corrected)  -> rebuilt in full, said
  vanished  2024-01-02.csv removed  -> rebuilt in full, said
  after     + 2024-01-05.csv: a day-first date (no change of order), a newer version of an order  -> incremental
  unchanged the same folder again  -> nothing read, no row rewritten
  early     + 2023-12-31.csv, which sorts before the files loaded  -> rebuilt in full, said
After `new` and after `after`, the staging, quarantine, audit and order marts equal a full build of the same folder
(the load ledger and the run bookkeeping columns excepted). A run killed while it loads leaves the published
warehouse and its ledger as they were.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from clvlayer.build import RunRecord
from clvlayer.project import PROJECT_ROOT
from clvlayer.warehouse_diff import compare
from conftest import HANDMADE, build_published

HEADER = "order_id,customer_id,ordered_at,amount,status,currency,updated_at"
HANDMADE_ORDERS = (HANDMADE / "orders.csv").read_text().splitlines()[1:]
BATCHES = {
    "2024-01-01.csv": HANDMADE_ORDERS[:4],
    "2024-01-02.csv": HANDMADE_ORDERS[4:],
    "2024-01-03.csv": ["9,A,2024-03-15 10:00:00,70.00,completed,USD,2024-03-15 10:00:00",
                       "2,A,2024-02-10 10:00:00,50.00,refunded,USD,2024-03-01 10:00:00",
                       HANDMADE_ORDERS[5]],  # order 6 again: an exact copy
    "2024-01-04.csv": ["10,C,13/02/2024 10:00,25.00,completed,USD,"],
    "2024-01-05.csv": ["11,D,14/03/2024 09:30,15.00,completed,USD,",
                       "9,A,2024-03-15 10:00:00,70.00,cancelled,USD,2024-03-16 10:00:00"],
}
CHANGED_FIRST = [line.replace(",80.00,", ",85.00,") for line in BATCHES["2024-01-01.csv"]]
# the nodes a case needs: staging, quarantine, the audit, and the orders mart with what it reads
SELECT = ["-s", "+fct_orders", "+audit_row_accounting", "+audit_load_ledger", "+audit_quarantine_summary",
          "--indirect-selection", "cautious"]
# small folders quarantine more than the default share (a duplicate is 10% here; 20% on the last night): the
# threshold and its text are those of test_staging_state.py and test_order_items_incremental.py, whose tables need
# 0.8, so the three chains share one dbt parse (dbt parses in full for each new --vars text)
ARGS = [*SELECT, "--vars", "{max_quarantined_share: 0.8}", "--exclude", "resource_type:unit_test"]
# the full builds a day's warehouse is compared with, relation by relation: that day's run ran the data tests
REFERENCE_ARGS = [*ARGS, "resource_type:test"]
BOOKKEEPING = ["batch_loaded_at", "batch_read_at", "input_fingerprint", "fit_seconds", "row_id", "row_fingerprint"]
SCHEMAS = ["staging", "quarantine", "audit", "intermediate", "marts"]


def write_folder(folder: Path, batches: dict[str, list[str]]) -> Path:
    """The hand-made tables, with orders as a folder of the given batch files."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "orders").mkdir(parents=True)
    for table in HANDMADE.glob("*.csv"):
        if table.name != "orders.csv":
            shutil.copy(table, folder / table.name)
    for name, lines in batches.items():
        (folder / "orders" / name).write_text("\n".join([HEADER, *lines]) + "\n")
    return folder


def states() -> list[tuple[str, dict[str, list[str]]]]:
    first_two = {name: BATCHES[name] for name in ("2024-01-01.csv", "2024-01-02.csv")}
    new = {**first_two, "2024-01-03.csv": BATCHES["2024-01-03.csv"]}
    dates = {**new, "2024-01-04.csv": BATCHES["2024-01-04.csv"]}
    changed = {**dates, "2024-01-01.csv": CHANGED_FIRST}
    vanished = {name: lines for name, lines in changed.items() if name != "2024-01-02.csv"}
    after = {**vanished, "2024-01-05.csv": BATCHES["2024-01-05.csv"]}
    early = {**after, "2023-12-31.csv": ["12,B,2023-12-31 10:00:00,10.00,completed,USD,"]}
    return [("full", first_two), ("new", new), ("dates", dates), ("changed", changed), ("vanished", vanished),
            ("after", after), ("unchanged", after), ("early", early)]


build = functools.partial(build_published, args=ARGS)  # a night of the chain: built and published


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("batches")
    warehouse = tmp / "daily" / "warehouse.duckdb"
    runs: dict[str, RunRecord] = {}
    ledgers: dict[str, list[tuple]] = {}
    latest: dict[str, tuple] = {}
    full: dict[str, Path] = {}
    for step, (name, batches) in enumerate(states()):
        raw = write_folder(tmp / "raw" / name, batches)
        runs[name] = build(warehouse, raw, tmp / "target", incremental=step > 0)
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            ledgers[name] = connection.execute(
                "select batch_file, raw_rows, read_rows, clean_rows, quarantined_rows, load_mode, load_note "
                "from audit.audit_load_ledger where clv_run_id = ? and source_table = 'orders' order by batch_file",
                [runs[name].run_id]
            ).fetchall()
            latest[name] = connection.execute(  # when rows were last written, and how many then
                "select batch_loaded_at, count(*) from staging.base_shop__orders group by all order by 1 desc "
                "limit 1").fetchone()
        if name in ("new", "after"):
            shutil.copy(warehouse, tmp / f"daily_{name}.duckdb")
            full[name] = tmp / f"full_{name}" / "warehouse.duckdb"
            build(full[name], raw, tmp / "target_full", incremental=False, args=REFERENCE_ARGS)
    return {"tmp": tmp, "warehouse": warehouse, "runs": runs, "ledgers": ledgers, "latest": latest,
            "full": full}


def _differences(daily: Path, full: Path) -> list[str]:
    outcomes = compare(str(full), str(daily), SCHEMAS, 1e-12, BOOKKEEPING)
    assert len(outcomes) > 20
    own = ("audit.audit_load_ledger", "audit.build_run")  # what each run loaded, and its run record
    return [f"{o.relation}: {o.detail}" for o in outcomes if not o.ok and o.relation not in own]


@pytest.mark.parametrize("state", ["new", "after"])
def test_day_by_day_equals_a_full_build_of_the_same_folder(chain: dict, state: str) -> None:
    assert _differences(chain["tmp"] / f"daily_{state}.duckdb", chain["full"][state]) == []


def test_a_new_file_is_read_alone_and_accounted_per_batch(chain: dict) -> None:
    assert [r.mode for r in chain["runs"].values()] == ["full"] + ["incremental"] * 7
    assert chain["ledgers"]["full"] == [("2024-01-01.csv", 4, 4, 4, 0, "full", None),
                                        ("2024-01-02.csv", 4, 4, 4, 0, "full", None)]
    # the exact copy of order 6 is quarantined; the older version of order 2 (an earlier file) is superseded
    assert chain["ledgers"]["new"] == [("2024-01-03.csv", 3, 3, 2, 1, "incremental", None)]
    assert any(note.startswith("load orders: incremental, 1 file(s) read (2024-01-03.csv")
               for note in chain["runs"]["new"].notes)
    assert chain["ledgers"]["after"] == [("2024-01-05.csv", 2, 2, 2, 0, "incremental", None)]


def test_the_new_rows_reclassify_the_rows_of_the_ids_they_touch(chain: dict) -> None:
    with duckdb.connect(str(chain["tmp"] / "daily_new.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select order_id, batch_file, quarantine_reason, batch_loaded_at = (select max(batch_loaded_at) "
            "from staging.base_shop__orders) from staging.base_shop__orders where order_id in ('2', '6', '1') "
            "order by order_id, batch_file").fetchall()
    assert rows == [("1", "2024-01-01.csv", None, False),  # untouched: not rewritten
                    ("2", "2024-01-01.csv", "superseded_by_newer_version", True),
                    ("2", "2024-01-03.csv", None, True),
                    ("6", "2024-01-02.csv", None, True),
                    ("6", "2024-01-03.csv", "exact_duplicate", True)]


@pytest.mark.parametrize(("state", "said"), [
    ("dates", "orders: the new rows change the day/month order of a date column (ordered_at=ambiguous "
              "updated_at=ambiguous -> ordered_at=DMY updated_at=ambiguous): rebuilt in full"),
    ("changed", "orders: loaded file(s) changed since they were loaded (checksum: 2024-01-01.csv): rebuilt in full"),
    ("vanished", "orders: loaded file(s) no longer delivered (2024-01-02.csv): rebuilt in full without them"),
    ("early", "orders: new file(s) 2023-12-31.csv sort before the loaded 2024-01-05.csv (rows are read in file-name "
              "order): rebuilt in full"),
])
def test_a_contradicting_changed_or_vanished_file_rebuilds_the_table_and_says_why(chain: dict, state: str,
                                                                                   said: str) -> None:
    ledger = chain["ledgers"][state]
    assert {row[5] for row in ledger} == {"full"} and {row[6] for row in ledger} == {said}
    assert sorted(row[0] for row in ledger) == sorted(dict(states())[state])  # every file read again
    assert any(said in note for note in chain["runs"][state].notes)
    assert all(raw == clean + quarantined for _, raw, _, clean, quarantined, *_ in ledger)


def test_a_run_without_new_files_reads_and_rewrites_nothing(chain: dict) -> None:
    assert chain["ledgers"]["unchanged"] == []
    assert not any(note.startswith("load orders") for note in chain["runs"]["unchanged"].notes)
    assert chain["latest"]["unchanged"] == chain["latest"]["after"]  # no row written since the run before
    assert chain["latest"]["after"][1] == 3  # its 2 new rows and the stored row of order 9, which one touched


def test_the_day_first_date_is_typed_as_a_full_build_types_it(chain: dict) -> None:
    with duckdb.connect(str(chain["warehouse"]), read_only=True) as connection:
        rows = connection.execute("select order_id, ordered_at, quarantine_reason from staging.base_shop__orders "
                                  "where order_id in ('10', '11') order by order_id").fetchall()
    assert [(o, str(at), reason) for o, at, reason in rows] == [("10", "2024-02-13 10:00:00", None),
                                                                ("11", "2024-03-14 09:30:00", None)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_killed_incremental_run_leaves_the_warehouse_and_its_ledger(chain: dict) -> None:
    warehouse, tmp = chain["warehouse"], chain["tmp"]
    before = _sha(warehouse)
    raw = write_folder(tmp / "raw" / "killed", {**states()[-1][1],
                                                "2024-01-06.csv": ["12,A,2024-03-20 10:00:00,5.00,completed,USD,"]})
    env = dict(os.environ, DUCKDB_PATH=str(warehouse))
    command = [sys.executable, "-m", "clvlayer.cli", "build", "--incremental", "--raw-dir", str(raw), "--",
               *ARGS, "--target-path", str(tmp / "target")]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the build ended before it loaded the ledger"
            if "START sql incremental model audit.audit_load_ledger" in line:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert _sha(warehouse) == before
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        files = connection.execute("select count(*) from audit.audit_load_ledger where batch_file = '2024-01-06.csv'"
                                   ).fetchone()
    assert files == (0,)
