"""The backtest's predictions stored and reused between nights (issue 21; docs/backtest.md "Nightly runs").

The backtest dates are month ends (the last day of the month N months before the as-of date's last complete month),
so they move once a month; int_segments_backtest_predicted keeps a date's predictions while their inputs (the RFM
summary and segment labels as of the date, the chosen model, the settings) are unchanged, and the actuals are joined
after the prediction. Nights built from exports of a quarter of the sample (test_refit_cadence.export_of), only the
backtest's nodes and their parents, incrementally one after the other:

* 2025-05-30 (full build; backtest dates 2025-04-30 - N months) -> 2025-05-31: the as-of date's last complete month
  is now May, every date moves: all recomputed, the old dates' rows gone;
* -> 2025-06-01 (new orders only, the same dates): every prediction reused, the marts equal a full build;
* -> 2025-06-01 with a late partial refund of an order placed before every backtest date: the dates whose RFM rows
  it changes are recomputed, the marts equal a full build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from clvlayer.build import build_warehouse
from test_refit_cadence import REL_TOL, export_of

BACKTEST = ["--select", "+fct_ltv_backtest", "--exclude", "resource_type:unit_test", "resource_type:test"]
# the columns that say which run computed a row: differ between a reusing run and its full-build twin
RUN_COLUMNS = ["fit_seconds", "fit_reason", "reused_this_run", "decision_detail", "batch_loaded_at"]
COMPARED = ["fct_ltv_backtest", "int_segments_backtest_scored", "int_customers_rfm_backtest",
            "int_customers_backtest_observed"]
NIGHTS = (date(2025, 5, 30), date(2025, 5, 31), date(2025, 6, 1))


def run(warehouse: Path, raw: Path, tmp: Path, *, incremental: bool, args: list[str] | None = None) -> None:
    record = build_warehouse(warehouse, raw, dbt_args=[*BACKTEST, *(args or [])], incremental=incremental,
                             target_path=tmp / "target")
    assert record.published, record.failures
    assert record.mode == ("incremental" if incremental else "full"), record.mode


def stored_parameters(night: Path, tmp: Path, shared: Path) -> tuple[Path, str]:
    """The night's stored fit as a Parquet file in `shared` named after its content, and the chosen model: equal
    fits get one path, so the full builds given them pass dbt one --vars text (dbt parses in full for each new text;
    the nights of this module all score with the first night's fit)."""
    written = tmp / "parameters.parquet"
    with duckdb.connect(str(night), read_only=True) as con:
        con.execute(f"copy intermediate.int_clv_models_fitted to '{written}' (format parquet)")
        chosen = con.execute("select chosen_model from intermediate.int_clv_model_selected").fetchone()[0]
    parameters = shared / f"parameters_{hashlib.sha256(written.read_bytes()).hexdigest()[:16]}.parquet"
    os.replace(written, parameters)  # the same bytes when it is there already
    return parameters, chosen


def full_build_like(night: Path, raw: Path, tmp: Path, shared: Path) -> Path:
    """A full build of ``raw`` given the night's stored fit and model choice (the fits are on their own cadence,
    test_refit_cadence: a night that reuses them equals a full build given the same parameters)."""
    parameters, chosen = stored_parameters(night, tmp, shared)
    full = tmp / "full" / "warehouse.duckdb"
    run(full, raw, tmp, incremental=False,
        args=["--vars", f"{{clv_parameters_from: '{parameters}', clv_model: {chosen}}}"])
    return full


def predicted(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.sql("select cast(as_of_date as date) as as_of_date, bool_and(reused_this_run) as reused, "
                        "bool_or(reused_this_run) as any_reused, count(distinct input_fingerprint) as fingerprints, "
                        "min(input_fingerprint) as fingerprint, min(fit_seconds) as fit_seconds, count(*) as rows "
                        "from intermediate.int_segments_backtest_predicted group by 1 order by 1").df()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    assert (frame["fingerprints"] == 1).all(), frame
    return frame.set_index("as_of_date")


def differences(a: Path, b: Path) -> list[str]:
    from clvlayer.warehouse_diff import compare

    outcomes = compare(str(a), str(b), ["marts", "intermediate"], REL_TOL, RUN_COLUMNS)
    picked = [o for o in outcomes if o.relation.split(".")[-1] in COMPARED]
    assert len(picked) == len(COMPARED), [o.relation for o in outcomes]
    return [f"{o.relation}: {o.detail}" for o in picked if not o.ok]


def with_late_refund(export: Path, folder: Path, before: date, refunded_on: date) -> tuple[Path, str]:
    """A copy of ``export`` with a refund of half of one completed order placed before ``before``, made on
    ``refunded_on``; the order's customer."""
    shutil.copytree(export, folder)
    orders = pd.read_csv(folder / "orders.csv", dtype=str, keep_default_na=False)
    placed = pd.to_datetime(orders["ordered_at"], format="mixed", utc=True).dt.date
    order = orders[(orders["status"] == "completed") & (placed < before)].iloc[0]
    refunds = pd.read_csv(folder / "refunds.csv", dtype=str, keep_default_na=False)
    late = {"refund_id": "R_LATE_1", "order_id": order["order_id"], "refunded_at": f"{refunded_on} 12:00:00",
            "amount": f"{float(order['amount']) / 2:.2f}"}
    pd.concat([refunds, pd.DataFrame([late])], ignore_index=True).to_csv(folder / "refunds.csv", index=False)
    return folder, str(order["customer_id"])


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("backtest_reuse")
    exports = {day: export_of(day, tmp / f"export_{day}") for day in NIGHTS}
    refunded, _ = with_late_refund(exports[NIGHTS[2]], tmp / "export_refund", date(2023, 11, 30), NIGHTS[2])
    warehouse = tmp / "chain" / "warehouse.duckdb"
    out: dict[str, Path] = {"tmp": tmp, "refund_export": refunded, "last_export": exports[NIGHTS[2]]}
    for i, day in enumerate(NIGHTS):
        run(warehouse, exports[day], tmp, incremental=i > 0)
        out[str(day)] = tmp / f"{day}.duckdb"
        shutil.copyfile(warehouse, out[str(day)])
    run(warehouse, refunded, tmp, incremental=True)
    out["refund"] = warehouse
    return out


def test_the_dates_move_at_the_month_end_and_the_old_rows_go(nights) -> None:
    first, moved = predicted(nights["2025-05-30"]), predicted(nights["2025-05-31"])
    assert list(first.index) == [date(2023, 10, 31), date(2024, 4, 30), date(2024, 10, 31)]
    assert list(moved.index) == [date(2023, 11, 30), date(2024, 5, 31), date(2024, 11, 30)]
    assert not moved["any_reused"].any()


def test_a_night_of_new_orders_reuses_every_prediction_and_equals_a_full_build(nights, tmp_path: Path) -> None:
    before, after = predicted(nights["2025-05-31"]), predicted(nights["2025-06-01"])
    assert after["reused"].all(), after
    assert after["fingerprint"].equals(before["fingerprint"]) and after["fit_seconds"].equals(before["fit_seconds"])
    full = full_build_like(nights["2025-06-01"], nights["last_export"], tmp_path, nights["tmp"])
    assert not predicted(full)["any_reused"].any()
    assert differences(nights["2025-06-01"], full) == []


def test_a_late_refund_before_the_dates_recomputes_and_equals_a_full_build(nights, tmp_path: Path) -> None:
    before, after = predicted(nights["2025-06-01"]), predicted(nights["refund"])
    assert list(after.index) == list(before.index)
    changed = after["fingerprint"] != before["fingerprint"]
    assert changed.any(), "the refund changes the RFM rows of the dates after the order"
    assert not after.loc[changed, "any_reused"].any() and after.loc[~changed, "reused"].all()
    full = full_build_like(nights["refund"], nights["refund_export"], tmp_path, nights["tmp"])
    assert differences(nights["refund"], full) == []



def test_the_nights_scoring_with_one_fit_give_their_full_builds_one_parameters_file(nights, tmp_path: Path) -> None:
    """What the two full builds above are given: one file, one --vars text (stored_parameters)."""
    given = []
    for night in ("2025-06-01", "refund"):
        (tmp_path / night).mkdir()
        given.append(stored_parameters(nights[night], tmp_path / night, nights["tmp"]))
    assert given[0] == given[1], given

# --- the reuse rule on small frames, without dbt ------------------------------------------------------------------

def _settings(**values) -> pd.DataFrame:
    base = {"penalizer": 0.0, "min_customers": 100, "min_repeat_customers": 20, "interval_level": 0.8,
            "interval_draws": 30, "time_units_per_month": 30.4375, "margin_rate_source": "data", "margin_rate": 0.3}
    return pd.DataFrame([{**base, **values}])


def _fingerprints(**hashes: str) -> pd.DataFrame:
    return pd.DataFrame([{"as_of_date": pd.Timestamp(day), "input_rows": 10, "input_hash": h, "input_spend": 100.0}
                         for day, h in hashes.items()])


def _reuse(monkeypatch: pytest.MonkeyPatch, fingerprints: pd.DataFrame, previous: pd.DataFrame | None,
           settings: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[list[pd.Timestamp]]]:
    from clvlayer import backtest_reuse

    loaded: list[list[pd.Timestamp]] = []

    def predict(rfm, settings, selection, max_buyers, *, horizons):
        return pd.DataFrame([{"as_of_date": day, "horizon_months": h, "model": "bgnbd", "segment_type": "overall",
                              "segment_value": "all", "customers": 10, "predicted_total": 1.0, "fit_seconds": 0.5,
                              "prediction_status": "ok"} for day in sorted(set(rfm["as_of_date"])) for h in horizons])

    monkeypatch.setattr(backtest_reuse, "backtest_segment_predictions", predict)

    def load(dates):
        loaded.append(list(dates))
        return pd.DataFrame({"as_of_date": dates})

    out = backtest_reuse.predictions_reusing(fingerprints, load, _settings() if settings is None else settings,
                                             pd.DataFrame({"chosen_model": ["bgnbd"]}), previous, horizons=[3, 6],
                                             max_buyers=0)
    return out, loaded


def test_the_rule_recomputes_only_the_dates_whose_inputs_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    first, loaded = _reuse(monkeypatch, _fingerprints(**{"2024-05-31": "1", "2024-11-30": "2"}), None)
    assert loaded == [[pd.Timestamp("2024-05-31"), pd.Timestamp("2024-11-30")]] and not first["reused_this_run"].any()
    # the same inputs: nothing loaded, every row kept
    again, loaded = _reuse(monkeypatch, _fingerprints(**{"2024-05-31": "1", "2024-11-30": "2"}), first)
    assert loaded == [] and again["reused_this_run"].all() and len(again) == 4
    # one date's rows changed (a late refund), one date left the backtest, one came in
    moved, loaded = _reuse(monkeypatch, _fingerprints(**{"2024-05-31": "1b", "2024-12-31": "3"}), first)
    assert loaded == [[pd.Timestamp("2024-05-31"), pd.Timestamp("2024-12-31")]]
    assert set(pd.to_datetime(moved["as_of_date"])) == {pd.Timestamp("2024-05-31"), pd.Timestamp("2024-12-31")}
    # a setting the fits read changed: every date recomputed
    _, loaded = _reuse(monkeypatch, _fingerprints(**{"2024-05-31": "1", "2024-11-30": "2"}), first,
                       _settings(penalizer=0.1))
    assert len(loaded[0]) == 2


def test_the_margin_rate_counts_only_where_the_prediction_reads_it() -> None:
    from clvlayer.backtest_reuse import input_fingerprint

    def key(rate: float, source: str, spend: float) -> str:
        return input_fingerprint(10, "h", spend, _settings(margin_rate=rate, margin_rate_source=source), "bgnbd",
                                 [3], 0)

    assert key(0.3, "data", 100.0) == key(0.4, "data", 100.0)  # the date's own margin over spend: in the rows
    assert key(0.3, "var clv_margin_rate", 100.0) != key(0.4, "var clv_margin_rate", 100.0)
    assert key(0.3, "data", 0.0) != key(0.4, "data", 0.0)  # no spend up to the date: the resolved rate is read
