"""Nightly runs in both input shapes publish what a full build of the same export publishes (issue 21).

A small generated shop (clvlayer.generate, 800 customers over 2024, about 3,900 orders) and its next nights
(clvlayer.generate_nightly: +0.1% new orders a day, 0.05% earlier orders turned cancelled or refunded with their
refund rows, a customer who joins the loyalty programme and moves region, a day of marketing spend), in two shapes:

* snapshot (CSV, today's contract): every table rewritten each night;
* batch (Parquet): orders delivered as a folder of batch files (`orders/2024-06-01.parquet`, one per day of history,
  then one per night with the new orders and the changed orders as new versions); the other tables as snapshots.
  Night 2 also brings the fault cases: an old batch file rewritten (three orders in it turned cancelled) and another
  one gone.

For each shape the warehouse is built in full on day 0, then `clv build --incremental` applies the nights one by one
(the data tests run on the last night of each chain: a published incremental warehouse passes them; the earlier
nights only prepare its start), and a full build of the same export is the reference: of night 2 in the snapshot
shape (an incremental run from an incremental run), of night 1 (new batch files only: read alone) and of night 2
(the fault night) in the batch shape. Every relation of the marts,
intermediate, staging, audit and quarantine schemas is compared (clvlayer.warehouse_diff: `except all` both ways, the
floats to 1e-9 relative), except the run's own bookkeeping: the columns in BOOKKEEPING (when a row was loaded or
fitted, an input fingerprint) and the relations in RUN_RECORDS (the record of the run itself).

Fits: where the project fits on a cadence (issue 21: refit every `clv_refit_every_days`, score with the stored
parameters in between; the var `clv_parameters_from` declared), a night may score with earlier parameters, so the
reference full build is given the parameters and the model choice the incremental warehouse scored with
(`clv_parameters_from`, `clv_model`), and the scores are compared against it; the columns saying why and whether a
fit was reused, and the reference's own inputs (GIVEN_INPUTS), are bookkeeping. On a night that reused a fit, the
relations that describe the fit itself (FIT_RELATIONS: holdout predictions and validation, the model choice) are
those of the night the fit was made, and are compared with that night's published warehouse. Where the var is not
declared (main before the cadence), every run refits and the reference is a plain full build.

The batch cases follow the contract "a table may be given as a folder named after the table holding batch files
(.csv/.parquet)"; until staging reads such folders, their day-0 build stops on the input check and they fail with
its message.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from clvlayer.build import build_warehouse
from clvlayer.generate import generate
from clvlayer.generate_nightly import generate_nightly
from clvlayer.project import PROJECT_ROOT
from clvlayer.warehouse_diff import compare
from conftest import built_once, fast_vars

# 800 customers (not 2,500 as before): the fits (most of a build's time) scale with the customers; every night still
# adds orders and customers, changes statuses, adds a refund and reuses the day-0 fit
CUSTOMERS, SEED, START, END = 800, 21, date(2024, 1, 1), date(2024, 12, 31)
SCHEMAS = ["marts", "intermediate", "staging", "audit", "quarantine"]
REL_TOL = 1e-9
# columns that say when or how a row was loaded or fitted, not what it holds (the staging state's and the refit
# cadence's own bookkeeping among them)
BOOKKEEPING = ["batch_loaded_at", "batch_read_at", "input_fingerprint", "row_id", "row_fingerprint", "fit_seconds",
               "fit_reason", "reused_this_run", "decision_detail"]
# what the reference full build was given when the incremental run reused a fit (its settings record them)
GIVEN_INPUTS = ["forced_model", "parameters_from", "selection_rule"]
# relations that describe a fit, not the night's scores: on a night that reused the fit, those of the fit's night
FIT_RELATIONS = {"intermediate.int_customers_holdout_predicted", "marts.fct_clv_holdout_validation",
                 "intermediate.int_clv_model_selected", "marts.fct_churn_risk_calibration"}
# relations that record the runs themselves (the run record; the load ledger: which run loaded which file)
RUN_RECORDS = {"audit.build_run", "audit.audit_load_ledger"}
# every build (chains and references) with the same cheaper predictive settings (conftest.FAST_PREDICTIVE: the
# equivalence holds for any draw count; one backtest date still builds and compares the backtest)
NO_TESTS = ["--exclude", "resource_type:unit_test", "resource_type:test"]
WITH_TESTS = ["--exclude", "resource_type:unit_test"]


def _exports(folder: Path) -> None:
    generate(folder / "shop", customers=CUSTOMERS, seed=SEED, start=START, end=END, fmt="csv")
    generate_nightly(folder / "shop", folder / "csv", days=2, seed=SEED, shapes=["snapshot"])
    generate_nightly(folder / "shop", folder / "parquet", days=2, seed=SEED, shapes=["batch"], fmt="parquet",
                     faults={"changed": 2, "vanished": 2})


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop's nightly exports: csv/snapshot/day0..2, parquet/batch/day0..2 (faults on day 2), nightly.json."""
    return built_once(tmp_path_factory, "nightly_exports", _exports)


def _run(warehouse: Path, raw: Path, target: Path, incremental: bool, args: list[str]) -> dict:
    record = build_warehouse(warehouse, raw, dbt_args=args, target_path=target, incremental=incremental)
    assert record.published, f"{raw}: {record.failures}"
    return asdict(record)


def _nights(folder: Path, days: Path, last: int) -> list[dict]:
    """Day 0 (in full) to day `last` of `days` into folder/incremental, a copy of each night's published warehouse
    kept as folder/night<k>.duckdb; data tests on the last night."""
    warehouse, records = folder / "incremental" / "warehouse.duckdb", []
    for k in range(last + 1):
        records.append(_run(warehouse, days / f"day{k}", folder / f"target_{k}", k > 0,
                            [*(WITH_TESTS if k == last else NO_TESTS), *fast_vars()]))
        shutil.copyfile(warehouse, folder / f"night{k}.duckdb")
    return records


def _given_parameters(folder: Path, night: int) -> dict[str, str]:
    """dbt vars giving a full build the fits night `night` of `folder` scored with, where the project fits on a
    cadence (module docstring); none where every run refits."""
    if "clv_parameters_from" not in yaml.safe_load((PROJECT_ROOT / "settings.yml").read_text()).get("predictive", {}
                                                                                                   ).get("vars", {}):
        return {}
    parameters = folder / f"parameters{night}.parquet"
    with duckdb.connect(str(folder / f"night{night}.duckdb"), read_only=True) as connection:
        connection.execute(f"copy intermediate.int_clv_models_fitted to '{parameters}' (format parquet)")
        chosen = connection.execute("select chosen_model from intermediate.int_clv_model_selected").fetchone()[0]
    model = {"clv_model": chosen} if chosen else {}  # none chosen: no holdout to choose on
    return {"clv_parameters_from": str(parameters), **model}


def _reference(folder: Path, days: Path, night: int) -> None:
    """The full build of night `night`'s export (no data tests: it is compared relation by relation with a night
    that ran them), folder/full<night>/warehouse.duckdb."""
    _run(folder / f"full{night}" / "warehouse.duckdb", days / f"day{night}", folder / f"target_full{night}", False,
         [*NO_TESTS, *fast_vars(**_given_parameters(folder, night))])


def _save(folder: Path, records: list[dict]) -> None:
    (folder / "records.json").write_text(json.dumps(records, default=str))


def _snapshot(exports: Path, folder: Path) -> None:
    days = exports / "csv" / "snapshot"
    _save(folder, _nights(folder, days, 2))
    _reference(folder, days, 2)


def _batch(exports: Path, folder: Path) -> None:
    """Night 1 adds batch files only (compared with a full build: the incremental load), night 2 also rewrites one
    old file and drops another (compared too: the fault night)."""
    days = exports / "parquet" / "batch"
    _save(folder, _nights(folder, days, 2))
    for night in (1, 2):
        _reference(folder, days, night)


@pytest.fixture(scope="module")
def snapshot_runs(tmp_path_factory: pytest.TempPathFactory, exports: Path) -> Path:
    return built_once(tmp_path_factory, "nightly_snapshot", lambda folder: _snapshot(exports, folder))


@pytest.fixture(scope="module")
def batch_runs(tmp_path_factory: pytest.TempPathFactory, exports: Path) -> Path:
    return built_once(tmp_path_factory, "nightly_batch", lambda folder: _batch(exports, folder))


# the night compared with a full build, per shape (the batch shape's fault night 2: its own test below)
COMPARED_NIGHT = {"snapshot": 2, "batch": 1}
FAULT_NIGHT = 2


def _records(folder: Path) -> list[dict]:
    return json.loads((folder / "records.json").read_text())


def _fit_night(folder: Path, night: int) -> Path | None:
    """The published warehouse of the night whose fit night `night` reused (None when it refitted)."""
    with duckdb.connect(str(folder / f"night{night}.duckdb"), read_only=True) as connection:
        columns = {c for (c,) in connection.execute(
            "select column_name from information_schema.columns where table_name = 'fct_clv_model_parameters'"
        ).fetchall()}
        if "reused_this_run" not in columns:
            return None
        reused, fitted = connection.execute("select bool_or(reused_this_run), max(fitted_as_of_date) "
                                            "from marts.fct_clv_model_parameters").fetchone()
    if not reused:
        return None
    for k in range(night):
        earlier = folder / f"night{k}.duckdb"
        with duckdb.connect(str(earlier), read_only=True) as connection:
            if connection.execute("select max(as_of_date) from intermediate.int_clv_settings_resolved"
                                  ).fetchone()[0] == fitted:
                return earlier
    raise AssertionError(f"{folder}: no night's warehouse has the as-of date {fitted} of the reused fit")


def _differences(folder: Path, night: int) -> list[str]:
    given = (folder / f"parameters{night}.parquet").exists()
    ignored = BOOKKEEPING + (GIVEN_INPUTS if given else [])
    incremental = str(folder / f"night{night}.duckdb")
    outcomes = compare(str(folder / f"full{night}" / "warehouse.duckdb"), incremental, SCHEMAS, REL_TOL, ignored)
    fit_night = _fit_night(folder, night)
    if fit_night is not None:  # the fit's own relations: those of the night it was made
        of_fit = {o.relation: o for o in compare(str(fit_night), incremental, SCHEMAS, REL_TOL, ignored)}
        outcomes = [of_fit[o.relation] if o.relation in FIT_RELATIONS else o for o in outcomes]
    compared = [o for o in outcomes if o.relation not in RUN_RECORDS]
    assert len(compared) > 60, [o.relation for o in outcomes]  # every layer was there to compare
    return [f"{o.relation}: {o.detail}" for o in compared if not o.ok]


def test_nightly_exports_change_what_a_night_changes(exports: Path) -> None:
    """The input of the cases below: each night adds orders and customers and changes statuses (a guard that the
    comparisons compare something)."""
    manifest = json.loads((exports / "csv" / "nightly.json").read_text())
    day0, day1, day2 = (night["rows"] for night in manifest["days"])
    assert day0["orders"] < day1["orders"] < day2["orders"] and day1["refunds"] > day0["refunds"]
    assert all(night["status_changes"] and night["changed_customer"] for night in manifest["days"][1:])
    faults = json.loads((exports / "parquet" / "nightly.json").read_text())["days"][FAULT_NIGHT]
    assert faults["changed_file"] != faults["vanished_file"] and len(faults["cancelled_in_changed_file"]) == 3


@pytest.mark.parametrize("shape", ["snapshot", "batch"])
def test_nights_run_incrementally(shape: str, request: pytest.FixtureRequest) -> None:
    records = _records(request.getfixturevalue(f"{shape}_runs"))
    assert [r["mode"] for r in records] == ["full", "incremental", "incremental"]
    assert [r["incremental_from"] for r in records[1:]] == [r["run_id"] for r in records[:-1]]


@pytest.mark.parametrize("shape", ["snapshot", "batch"])
def test_nights_publish_what_a_full_build_publishes(shape: str, request: pytest.FixtureRequest) -> None:
    assert _differences(request.getfixturevalue(f"{shape}_runs"), COMPARED_NIGHT[shape]) == []


def test_batch_folder_holds_what_the_snapshot_holds(exports: Path, query, batch_runs: Path,
                                                    snapshot_runs: Path) -> None:
    """Night 1 as batch files (each order's latest version) and as a snapshot are the same source: the published
    orders and customer facts agree across the two shapes (the batch shape's full build of night 1, the snapshot
    shape's published night 1)."""
    for relation in ("staging.stg_shop__orders", "marts.dim_customers"):
        sql = f"select count(*), count(distinct customer_id) from {relation}"
        assert query(batch_runs / "full1" / "warehouse.duckdb", sql) == query(snapshot_runs / "night1.duckdb", sql)


def test_changed_and_vanished_batch_files_rebuild_what_they_fed(batch_runs: Path) -> None:
    assert _differences(batch_runs, FAULT_NIGHT) == []


def test_changed_and_vanished_batch_files_are_said_in_the_notes(exports: Path, batch_runs: Path) -> None:
    night = json.loads((exports / "parquet" / "nightly.json").read_text())["days"][FAULT_NIGHT]
    notes = " ".join(_records(batch_runs)[FAULT_NIGHT]["notes"])
    assert Path(night["changed_file"]).name in notes and Path(night["vanished_file"]).name in notes, notes
