"""Fits on a cadence, scores every run (issue 21; docs/predictive.md "When the models are refitted").

The sample is cut at earlier days to make nightly exports: the warehouse is built in full on the export of day D
(the first fit), then incrementally on D + 1 (the stored fit is reused, the customers scored as of D + 1), then on
D + 9 (the refit interval of 7 days has passed). A run that reuses the parameters must equal a full build of the same
export given the same parameters (var clv_parameters_from, the model of the fit forced with clv_model); a run that
refits must equal a full build. On demand (CLV_REFIT=true, what `clv build --refit` sets) and the share of new
customers refit too. Only the predictive marts and their parents are built, from a quarter of the sample's customers
(CUSTOMER_SHARE: the fits, most of a build's time, scale with the customers; the quarter still has a customer whose
first order is on D + 1, and the reasons above do not depend on the number of customers). The decision rule itself
(every reason, the thresholds) is tested on small frames, without dbt.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from clvlayer import clv_refit
from clvlayer.build import build_warehouse
from clvlayer.project import PROJECT_ROOT
from clvlayer.warehouse_diff import compare

SEEDS = PROJECT_ROOT / "seeds"
TABLES = ("orders", "customers", "order_items", "products", "refunds", "marketing_spend")
LAST_DAY = date(2025, 6, 30)  # the sample's last order day
FIRST = LAST_DAY - timedelta(days=10)
# the predictive nodes and their parents only (fct_customer_clv_predictions is int_customers_clv_predicted joined to
# dim_customers, whose parents would double the build)
PREDICTIVE = ["--select", "+int_customers_clv_predicted", "+fct_clv_model_parameters", "+fct_clv_holdout_validation",
              "--exclude", "resource_type:unit_test", "resource_type:test"]
# what says which run made or reused the fit: differs between a reusing/refitting run and its full-build twin
RUN_COLUMNS = ["fit_seconds", "fit_reason", "reused_this_run", "decision_detail", "batch_loaded_at",
               "input_fingerprint"]
REL_TOL = 1e-9
CUSTOMER_SHARE = 4  # the customers whose id's number is a multiple of 4 (module docstring)


def _kept(customer_ids: pd.Series) -> pd.Series:
    number = pd.to_numeric(customer_ids.str.replace(r"\D", "", regex=True), errors="coerce").fillna(0)
    return number % CUSTOMER_SHARE == 0


def export_of(day: date, folder: Path) -> Path:
    """A quarter of the sample's customers as exported at the end of ``day``: their orders, items and refunds made
    up to it."""
    tables = {t: pd.read_csv(SEEDS / f"raw_{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}
    tables["customers"] = tables["customers"][_kept(tables["customers"]["customer_id"])]
    orders = tables["orders"][_kept(tables["orders"]["customer_id"])]
    kept = pd.to_datetime(orders["ordered_at"], format="mixed", errors="coerce", utc=True).dt.date <= day
    tables["orders"] = orders[kept.fillna(False).astype(bool)]
    ids = set(tables["orders"]["order_id"])
    tables["order_items"] = tables["order_items"][tables["order_items"]["order_id"].isin(ids)]
    refunds = tables["refunds"]
    refunded = pd.to_datetime(refunds["refunded_at"], format="mixed", errors="coerce", utc=True).dt.date <= day
    tables["refunds"] = refunds[refunds["order_id"].isin(ids) & refunded.fillna(False).astype(bool)]
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def run(warehouse: Path, raw: Path, tmp: Path, *, incremental: bool, args: list[str] | None = None):
    record = build_warehouse(warehouse, raw, dbt_args=[*PREDICTIVE, *(args or [])], incremental=incremental,
                             target_path=tmp / "target")
    assert record.published, record.failures
    return record


def fits(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.sql("select distinct fit_reason, reused_this_run, fitted_as_of_date, scored_as_of_date, "
                        "decision_detail from marts.fct_clv_model_parameters").df()
    for column in ("fitted_as_of_date", "scored_as_of_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame


def one(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1, frame
    return frame.iloc[0]


def scalar(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def same_marts(a: Path, b: Path, relations: list[str]) -> list[str]:
    """Differences of ``relations`` (marts and intermediate) between two warehouses, run columns ignored."""
    outcomes = compare(str(a), str(b), ["marts", "intermediate"], REL_TOL, RUN_COLUMNS)
    picked = [o for o in outcomes if o.relation.split(".")[-1] in relations]
    assert len(picked) == len(relations), [o.relation for o in outcomes]
    return [f"{o.relation}: {o.detail}" for o in picked if not o.ok]


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Warehouses: D (full), D+1 (incremental from D), D+9 (incremental from D+1), and copies of D's."""
    tmp = tmp_path_factory.mktemp("refit")
    exports = {n: export_of(FIRST + timedelta(days=n), tmp / f"export_{n}") for n in (0, 1, 9)}
    warehouse = tmp / "chain" / "warehouse.duckdb"
    out: dict[str, Path] = {"exports": tmp}
    run(warehouse, exports[0], tmp, incremental=False)
    out["day0"] = tmp / "day0.duckdb"
    shutil.copyfile(warehouse, out["day0"])
    run(warehouse, exports[1], tmp, incremental=True)
    out["day1"] = tmp / "day1.duckdb"
    shutil.copyfile(warehouse, out["day1"])
    run(warehouse, exports[9], tmp, incremental=True)
    out["day9"] = warehouse
    return out


def test_first_build_fits(nightly) -> None:
    fit = one(fits(nightly["day0"]))
    assert (fit.fit_reason, bool(fit.reused_this_run)) == ("first_fit", False)
    assert fit.fitted_as_of_date == fit.scored_as_of_date == FIRST


def test_next_day_reuses_the_fit_and_scores_as_of_the_new_day(nightly) -> None:
    fit = one(fits(nightly["day1"]))
    assert (fit.fit_reason, bool(fit.reused_this_run)) == ("first_fit", True)
    assert fit.fitted_as_of_date == FIRST and fit.scored_as_of_date == FIRST + timedelta(days=1)
    assert "1 days since the fit" in fit.decision_detail
    assert scalar(nightly["day1"], "select max(as_of_date) from intermediate.int_clv_settings_resolved") == \
        FIRST + timedelta(days=1)
    assert scalar(nightly["day1"], "select count(*) from intermediate.int_customers_clv_predicted") > \
        scalar(nightly["day0"], "select count(*) from intermediate.int_customers_clv_predicted")
    # the holdout rows and the model choice are those of the fit, not recomputed
    assert same_marts(nightly["day0"], nightly["day1"], ["fct_clv_holdout_validation"]) == []


def test_refit_after_the_interval(nightly) -> None:
    fit = one(fits(nightly["day9"]))
    assert (fit.fit_reason, bool(fit.reused_this_run)) == ("interval_passed", False)
    assert fit.fitted_as_of_date == fit.scored_as_of_date == FIRST + timedelta(days=9)


def test_reusing_run_equals_a_full_build_given_the_same_parameters(nightly, tmp_path: Path) -> None:
    """The equivalence contract of a reusing run: the D + 1 warehouse (scored with D's fit) equals a full build of
    the D + 1 export given D's parameters (var clv_parameters_from) and D's model choice (clv_model)."""
    parameters = tmp_path / "parameters.parquet"
    with duckdb.connect(str(nightly["day0"]), read_only=True) as con:
        con.execute(f"copy intermediate.int_clv_models_fitted to '{parameters}' (format parquet)")
        chosen = con.execute("select chosen_model from intermediate.int_clv_model_selected").fetchone()[0]
    given = tmp_path / "given" / "warehouse.duckdb"
    run(given, nightly["exports"] / "export_1", tmp_path, incremental=False,
        args=["--vars", f"{{clv_parameters_from: '{parameters}', clv_model: {chosen}}}"])
    assert one(fits(given)).fit_reason == "given_parameters"
    assert same_marts(nightly["day1"], given, ["int_customers_clv_predicted"]) == []


def test_refitting_run_equals_a_full_build(nightly, tmp_path: Path) -> None:
    full = tmp_path / "full" / "warehouse.duckdb"
    run(full, nightly["exports"] / "export_9", tmp_path, incremental=False)
    assert same_marts(nightly["day9"], full, ["int_customers_clv_predicted", "int_clv_model_selected",
                                              "fct_clv_holdout_validation", "fct_clv_model_parameters"]) == []


def test_refit_on_demand(nightly, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(nightly["day0"], warehouse)
    monkeypatch.setenv("CLV_REFIT", "true")  # what `clv build --refit` sets
    record = run(warehouse, nightly["exports"] / "export_1", tmp_path, incremental=True)
    assert record.mode == "incremental"
    fit = one(fits(warehouse))
    assert (fit.fit_reason, bool(fit.reused_this_run)) == ("on_demand", False)
    assert fit.fitted_as_of_date == FIRST + timedelta(days=1)


def test_refit_when_the_share_of_new_customers_passes_the_threshold(nightly, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    strict = ["--vars", "{clv_refit_new_customer_share: 0}"]  # any new customer refits
    run(warehouse, nightly["exports"] / "export_0", tmp_path, incremental=False, args=strict)
    new = scalar(nightly["day1"], f"select count(*) from intermediate.int_customers_rfm_summarised "
                                  f"where first_purchased_on > date '{FIRST}'")
    assert new > 0  # the export of D + 1 has new customers
    run(warehouse, nightly["exports"] / "export_1", tmp_path, incremental=True, args=strict)
    fit = one(fits(warehouse))
    assert (fit.fit_reason, bool(fit.reused_this_run)) == ("new_customers", False)


# --- the rule on small frames -------------------------------------------------------------------------------------

def settings(**values) -> pd.DataFrame:
    base = {"as_of_date": pd.Timestamp("2025-06-10"), "holdout_split_date": pd.Timestamp("2025-01-01"),
            "time_unit": "day", "penalizer": 0.0, "min_customers": 100, "min_repeat_customers": 20,
            "refit_every_days": 7, "refit_new_customer_share": 0.05, "refit_holdout_error_increase": 0.05,
            "refit_requested": False}
    return pd.DataFrame([{**base, **values}])


def stored(fitted_on: str = "2025-06-08", error_at_fit: float = 0.10, **values) -> pd.DataFrame:
    return pd.DataFrame([{"fitted_as_of_date": pd.Timestamp(fitted_on), "holdout_error_at_fit": error_at_fit,
                          "fit_settings": clv_refit.fit_settings(settings(**values))}])


def customers(first_days: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"first_purchased_on": pd.to_datetime(first_days)})


OLD = customers(["2024-01-01"] * 99 + ["2025-06-09"])  # 1% new since the fit


@pytest.mark.parametrize(("previous", "run_settings", "summary", "error", "reason"), [
    (None, settings(), OLD, 0.1, "first_fit"),
    (pd.DataFrame([{"estimate": 1.0}]), settings(), OLD, 0.1, "first_fit"),  # a table of older code: no dates
    (stored(), settings(refit_requested=True), OLD, 0.1, "on_demand"),
    (stored(penalizer=0.1), settings(), OLD, 0.1, "settings_changed"),
    (stored(fitted_on="2025-06-11"), settings(), OLD, 0.1, "settings_changed"),  # as-of date moved back
    (stored(fitted_on="2025-06-03"), settings(), OLD, 0.1, "interval_passed"),  # 7 days
    (stored(), settings(refit_every_days=0), OLD, 0.1, "interval_passed"),
    (stored(), settings(refit_new_customer_share=0.009), OLD, 0.1, "new_customers"),
    (stored(), settings(), OLD, 0.1501, "holdout_error"),  # grew 5.01 points
    (stored(), settings(), OLD, 0.15, "reused"),
    (stored(fitted_on="2025-06-04"), settings(), OLD, 0.02, "reused"),  # 6 days, error fell
])
def test_refit_rule(previous, run_settings, summary, error, reason) -> None:
    decision = clv_refit.decide(previous, run_settings, summary, lambda: error)
    assert (decision.reason, decision.refit) == (reason, reason != "reused"), decision.detail
