"""Nightly runs in both input shapes publish what a full build of the same export publishes (issue 21).

A small generated shop (clvlayer.generate, 2,500 customers over 2024, about 13k orders) and its next nights
(clvlayer.generate_nightly: +0.1% new orders a day, 0.05% earlier orders turned cancelled or refunded with their
refund rows, a customer who joins the loyalty programme and moves region, a day of marketing spend), in two shapes:

* snapshot (CSV, today's contract): every table rewritten each night;
* batch (Parquet): orders delivered as a folder of batch files (`orders/2024-06-01.parquet`, one per day of history,
  then one per night with the new orders and the changed orders as new versions); the other tables as snapshots.
  Night 3 also brings the fault cases: an old batch file rewritten (three orders in it turned cancelled) and another
  one gone.

For each shape the warehouse is built in full on day 0, then `clv build --incremental` applies the nights one by one
(the data tests run on the last night of each comparison: a published incremental warehouse passes them; the earlier
nights only prepare its start), and a full build of the final export is the reference. Every relation of the marts,
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
from conftest import built_once

CUSTOMERS, SEED, START, END = 2_500, 21, date(2024, 1, 1), date(2024, 12, 31)
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
NO_TESTS = ["--exclude", "resource_type:unit_test", "resource_type:test"]
WITH_TESTS = ["--exclude", "resource_type:unit_test"]


def _exports(folder: Path) -> None:
    generate(folder / "shop", customers=CUSTOMERS, seed=SEED, start=START, end=END, fmt="csv")
    generate_nightly(folder / "shop", folder / "csv", days=2, seed=SEED, shapes=["snapshot"])
    generate_nightly(folder / "shop", folder / "parquet", days=3, seed=SEED, shapes=["batch"], fmt="parquet",
                     faults={"changed": 3, "vanished": 3})


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop's nightly exports: csv/snapshot/day0..2, parquet/batch/day0..3, their nightly.json."""
    return built_once(tmp_path_factory, "nightly_exports", _exports)


def _run(warehouse: Path, raw: Path, target: Path, incremental: bool, args: list[str]) -> dict:
    record = build_warehouse(warehouse, raw, dbt_args=args, target_path=target, incremental=incremental)
    assert record.published, f"{raw}: {record.failures}"
    return asdict(record)


def _nights(folder: Path, days: Path, last: int, first: int = 0) -> list[dict]:
    """Day `first` (in full when 0) to day `last` of `days` into folder/incremental, a copy of each night's published
    warehouse kept as folder/night<k>.duckdb; data tests on the last night."""
    warehouse, records = folder / "incremental" / "warehouse.duckdb", []
    for k in range(first, last + 1):
        records.append(_run(warehouse, days / f"day{k}", folder / f"target_{k}", k > 0,
                            WITH_TESTS if k == last else NO_TESTS))
        shutil.copyfile(warehouse, folder / f"night{k}.duckdb")
    return records


def _given_parameters(folder: Path) -> list[str]:
    """dbt args giving a full build the fits the incremental warehouse of `folder` scored with, where the project
    fits on a cadence (module docstring); none where every run refits."""
    if "clv_parameters_from" not in yaml.safe_load((PROJECT_ROOT / "settings.yml").read_text()).get("predictive", {}
                                                                                                   ).get("vars", {}):
        return []
    parameters = folder / "parameters.parquet"
    with duckdb.connect(str(folder / "incremental" / "warehouse.duckdb"), read_only=True) as connection:
        connection.execute(f"copy intermediate.int_clv_models_fitted to '{parameters}' (format parquet)")
        chosen = connection.execute("select chosen_model from intermediate.int_clv_model_selected").fetchone()[0]
    model = f", clv_model: {chosen}" if chosen else ""  # none chosen: no holdout to choose on
    return ["--vars", f"{{clv_parameters_from: '{parameters}'{model}}}"]


def _reference(folder: Path, raw: Path) -> None:
    _run(folder / "full" / "warehouse.duckdb", raw, folder / "target_full", False,
         [*NO_TESTS, *_given_parameters(folder)])


def _save(folder: Path, records: list[dict]) -> None:
    (folder / "records.json").write_text(json.dumps(records, default=str))


def _snapshot(exports: Path, folder: Path) -> None:
    _save(folder, _nights(folder, exports / "csv" / "snapshot", 2))
    _reference(folder, exports / "csv" / "snapshot" / "day2")


def _batch(exports: Path, folder: Path) -> None:
    _save(folder, _nights(folder, exports / "parquet" / "batch", 2))
    _reference(folder, exports / "parquet" / "batch" / "day2")


@pytest.fixture(scope="module")
def snapshot_runs(tmp_path_factory: pytest.TempPathFactory, exports: Path) -> Path:
    return built_once(tmp_path_factory, "nightly_snapshot", lambda folder: _snapshot(exports, folder))


@pytest.fixture(scope="module")
def batch_runs(tmp_path_factory: pytest.TempPathFactory, exports: Path) -> Path:
    return built_once(tmp_path_factory, "nightly_batch", lambda folder: _batch(exports, folder))


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory: pytest.TempPathFactory, exports: Path, batch_runs: Path) -> Path:
    """Night 3 of the batch shape (a new batch, a changed old file, a vanished old file) applied to a copy of the
    night-2 warehouse, and the full build of night 3's export."""
    def make(folder: Path) -> None:
        shutil.copytree(batch_runs / "incremental", folder / "incremental")
        for night in batch_runs.glob("night*.duckdb"):
            shutil.copyfile(night, folder / night.name)
        _save(folder, _nights(folder, exports / "parquet" / "batch", 3, first=3))
        _reference(folder, exports / "parquet" / "batch" / "day3")

    return built_once(tmp_path_factory, "nightly_faults", make)


def _records(folder: Path) -> list[dict]:
    return json.loads((folder / "records.json").read_text())


def _fit_night(folder: Path) -> Path | None:
    """The published warehouse of the night whose fit the last night reused (None when it refitted)."""
    incremental = str(folder / "incremental" / "warehouse.duckdb")
    with duckdb.connect(incremental, read_only=True) as connection:
        columns = {c for (c,) in connection.execute(
            "select column_name from information_schema.columns where table_name = 'fct_clv_model_parameters'"
        ).fetchall()}
        if "reused_this_run" not in columns:
            return None
        reused, fitted = connection.execute("select bool_or(reused_this_run), max(fitted_as_of_date) "
                                            "from marts.fct_clv_model_parameters").fetchone()
    if not reused:
        return None
    for night in sorted(folder.glob("night*.duckdb")):
        with duckdb.connect(str(night), read_only=True) as connection:
            if connection.execute("select max(as_of_date) from intermediate.int_clv_settings_resolved"
                                  ).fetchone()[0] == fitted:
                return night
    raise AssertionError(f"{folder}: no night's warehouse has the as-of date {fitted} of the reused fit")


def _differences(folder: Path) -> list[str]:
    given = (folder / "parameters.parquet").exists()
    ignored = BOOKKEEPING + (GIVEN_INPUTS if given else [])
    incremental = str(folder / "incremental" / "warehouse.duckdb")
    outcomes = compare(str(folder / "full" / "warehouse.duckdb"), incremental, SCHEMAS, REL_TOL, ignored)
    fit_night = _fit_night(folder)
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
    faults = json.loads((exports / "parquet" / "nightly.json").read_text())["days"][3]
    assert faults["changed_file"] != faults["vanished_file"] and len(faults["cancelled_in_changed_file"]) == 3


@pytest.mark.parametrize("shape", ["snapshot", "batch"])
def test_nights_run_incrementally(shape: str, request: pytest.FixtureRequest) -> None:
    records = _records(request.getfixturevalue(f"{shape}_runs"))
    assert [r["mode"] for r in records] == ["full", "incremental", "incremental"]
    assert [r["incremental_from"] for r in records[1:]] == [r["run_id"] for r in records[:-1]]


@pytest.mark.parametrize("shape", ["snapshot", "batch"])
def test_nights_publish_what_a_full_build_publishes(shape: str, request: pytest.FixtureRequest) -> None:
    assert _differences(request.getfixturevalue(f"{shape}_runs")) == []


def test_batch_folder_holds_what_the_snapshot_holds(exports: Path, query, batch_runs: Path,
                                                    snapshot_runs: Path) -> None:
    """Night 2 as batch files (each order's latest version) and as a snapshot are the same source: the published
    orders and customer facts agree across the two shapes."""
    for relation in ("staging.stg_shop__orders", "marts.dim_customers"):
        sql = f"select count(*), count(distinct customer_id) from {relation}"
        assert query(batch_runs / "full" / "warehouse.duckdb", sql) == \
            query(snapshot_runs / "full" / "warehouse.duckdb", sql)


def test_changed_and_vanished_batch_files_rebuild_what_they_fed(fault_runs: Path) -> None:
    assert _differences(fault_runs) == []


def test_changed_and_vanished_batch_files_are_said_in_the_notes(exports: Path, fault_runs: Path) -> None:
    night = json.loads((exports / "parquet" / "nightly.json").read_text())["days"][3]
    notes = " ".join(_records(fault_runs)[-1]["notes"])
    assert Path(night["changed_file"]).name in notes and Path(night["vanished_file"]).name in notes, notes
