"""Calibration rules of the predicted-CLV segment intervals compared on built warehouses (issue 23).

For each warehouse (read-only; a built backtest: int_customers_rfm_backtest, int_segments_backtest_scored,
int_orders_merged_to_purchase_days): per backtest date, the chosen model fitted at the date and its segment sums with
the library's interval over each horizon (clvlayer.backtest.segment_sums, the forward cells), and the same model
fitted at the splits of --windows holdout windows of clv_holdout_days ending 0, 1, 2, ... holdouts before the date
(all ended by the date) with their segment sums scored against the margin the buyers made in the window (the holdout
cells). Every rule then widens the same forward cells, so only the calibration differs; coverage = share of forward
cells with an actual whose widened interval holds it (target 0.75-0.85).

A replica, for measurement only: the RFM summary at a split is recomputed here from the purchase days (as macro
rfm_summary does) and the value tier at the split ranked among the date's sampled buyers (macro value_tier ranks
every buyer), because the earlier windows are in no model. Window 0 with the rule ``chosen`` is the rule the models
use (clvlayer.interval_calibration.segment_model_errors); the replica reproduces the builds' coverage to about 0.005.

Usage: .venv/bin/python benchmarks/bench_interval_rules.py NAME=WAREHOUSE [NAME=WAREHOUSE ...] [--windows 3]
       [--level 0.8] [--holdout-days 182]
Prints one row per rule: coverage per warehouse and the number of warehouse x segment type cells in 0.75-0.85.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from clvlayer import backtest as bt
from clvlayer import interval_calibration as ic
from clvlayer.clv_models import in_customer_order, setting

HORIZONS = (3, 6, 12)
VALUE_TIER_SHARES = {"top": 0.10, "high": 0.30, "medium": 0.60, "low": 1.0}  # var value_tier_shares' default
MIN_BUYERS = 200
KEY = ["as_of_date", "horizon_months", "segment_type", "segment_value"]


@dataclass(frozen=True)
class Rule:
    """A calibration: ``windows`` pooled holdouts; the shared shift as the root mean square of the windows' overall
    misses (``net``: less the overall cell's library variance; ``student``: times t(n)/z for n windows); per type
    its own quantile over the pooled cells shrunk towards the fixed types' by ``shrink`` cells (``per_type`` False:
    one quantile of every fixed type's cells, no shift: the previous rule)."""

    windows: int = 1
    per_type: bool = True
    net: bool = False
    student: bool = False
    shrink: float = 0.0


RULES: dict[str, Rule] = {
    "previous: one quantile over the own holdout's cells": Rule(per_type=False),
    "chosen: own holdout, shared shift + own type quantile": Rule(),
    "same, type error shrunk by 5 cells": Rule(shrink=5),
    "same, shift net of the library's noise": Rule(net=True),
    "pooled 2 windows": Rule(windows=2),
    "pooled 3 windows": Rule(windows=3),
    "pooled 3 windows, Student-t on the shift": Rule(windows=3, student=True),
    "one quantile over 3 pooled windows' cells": Rule(windows=3, per_type=False),
}


def rfm_at(days: pd.DataFrame, buyers: pd.Series, split: pd.Timestamp, unit_days: float) -> pd.DataFrame:
    """The RFM summary of ``buyers`` as of ``split`` (macro rfm_summary's columns), with their value tier then."""
    rows = days[(days["purchased_on"] <= split) & days["customer_id"].isin(buyers)]
    by = rows.groupby("customer_id")
    out = pd.DataFrame({
        "frequency": by.size() - 1,
        "recency": (by["purchased_on"].max() - by["purchased_on"].min()).dt.days / unit_days,
        "t": (split - by["purchased_on"].min()).dt.days / unit_days,
        "monetary_value": rows[rows["purchase_number"] > 1].groupby("customer_id")["spend"].mean(),
        "total_spend": by["spend"].sum(), "total_margin": by["gross_margin"].sum(),
    }).reset_index()
    share = out["total_spend"].rank(method="min", ascending=False) / len(out)
    out["segment_value_tier"] = np.select([share <= v for v in VALUE_TIER_SHARES.values()], list(VALUE_TIER_SHARES),
                                          "low")
    return out


def warehouse_cells(path: str, windows: int, holdout_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(forward cells with the library's interval and the actual, holdout cells with their window)."""
    with duckdb.connect(path, read_only=True) as con:
        rfm = con.sql("select * from intermediate.int_customers_rfm_backtest order by as_of_date, customer_id").df()
        settings = con.sql("select * from intermediate.int_clv_settings_resolved").df()
        model = bt._chosen(con.sql("select * from intermediate.int_clv_model_selected").df())
        days = con.sql("select customer_id, purchased_on, purchase_number, spend, gross_margin "
                       "from intermediate.int_orders_merged_to_purchase_days").df()
        actual = con.sql(f"select {', '.join(KEY)}, actual_total from intermediate.int_segments_backtest_scored").df()
    if model is None:
        raise SystemExit(f"{path}: no chosen model")
    rfm = rfm.rename(columns=str.lower)
    unit_days = float(setting(settings, "days_per_time_unit"))
    level, draws = float(setting(settings, "interval_level")), int(setting(settings, "interval_draws"))
    days["purchased_on"] = pd.to_datetime(days["purchased_on"])
    forward, holdout = [], []
    for day, rows in rfm.groupby("as_of_date", sort=True):
        day, rows = pd.Timestamp(day), in_customer_order(rows)
        fit, gg = bt._fit_at(rows, model, settings)
        margin = bt._margin_rate(rows, settings)
        for h in HORIZONS:
            cells = bt.segment_sums(rows, model, fit, gg, months=h, discount=0.0, margin=margin,
                                    per_month=float(setting(settings, "time_units_per_month")), level=level,
                                    draws=draws)
            forward.append(cells.assign(as_of_date=day, horizon_months=h))
        labels = rows[["customer_id", *(f"segment_{t}" for t in ic.HOLDOUT_SEGMENT_TYPES)]]
        for k in range(windows):
            split, end = day - pd.Timedelta(days=holdout_days * (k + 1)), day - pd.Timedelta(days=holdout_days * k)
            calibration = rfm_at(days, rows["customer_id"], split, unit_days)
            if len(calibration) < MIN_BUYERS:
                continue
            calibration = in_customer_order(calibration.merge(labels, on="customer_id", how="left"))
            made = days[(days["purchased_on"] > split) & (days["purchased_on"] <= end)]
            made = made.groupby("customer_id")["gross_margin"].sum()
            cells = bt._holdout_sums(calibration, calibration["customer_id"].map(made).fillna(0.0).to_numpy(float),
                                     holdout_days / unit_days, model, settings, level, draws)
            holdout.append(cells.assign(as_of_date=day, window=k))
    actual["as_of_date"] = pd.to_datetime(actual["as_of_date"])
    forward_cells = pd.concat(forward).merge(actual, on=KEY, how="inner")
    return forward_cells[forward_cells["actual_total"].notna()], pd.concat(holdout)


def _shift(cells: pd.DataFrame, rule: Rule, level: float) -> tuple[float, pd.DataFrame]:
    """The shared shift of the pooled windows and their cells with each window's own shift taken out."""
    overall = cells[cells["segment_type"] == "overall"].set_index("window")
    miss = overall["actual_total"] / overall["predicted_total"] - 1
    spread = (overall["predicted_upper"] - overall["predicted_lower"]) / (2 * ic._z(level) * overall["predicted_total"])
    square = float(np.mean(miss ** 2 - (spread ** 2 if rule.net else 0)))
    shared = np.sqrt(max(square, 0.0)) * (stats.t.ppf((1 + level) / 2, len(miss)) / ic._z(level) if rule.student else 1)
    ratio = cells["window"].map(1 + miss)
    return float(shared), cells.assign(**{c: cells[c] * ratio for c in
                                          ("predicted_total", "predicted_lower", "predicted_upper")})


def errors_of(cells: pd.DataFrame, rule: Rule, level: float) -> Callable[[str], float]:
    """segment type -> the relative model error ``rule`` gives it from one date's holdout ``cells``."""
    cells = cells[cells["window"] < rule.windows]
    if cells.empty:
        return lambda kind: 0.0
    if not rule.per_type:
        s = ic.relative_model_error(cells[cells["segment_type"].isin(ic.HOLDOUT_SEGMENT_TYPES)], level)
        return lambda kind: s
    if rule == Rule():  # the models' rule itself
        return ic.segment_model_errors(cells, level).of
    shared, shifted = _shift(cells, rule, level)
    shifted = shifted[shifted["segment_type"] != "overall"]
    base = ic.relative_model_error(shifted[shifted["segment_type"].isin(ic.HOLDOUT_SEGMENT_TYPES)], level)
    own = {kind: (len(g) * ic.relative_model_error(g, level) + rule.shrink * base) / (len(g) + rule.shrink)
           for kind, g in shifted.groupby("segment_type")}
    return lambda kind: float(np.hypot(shared, own.get(kind, base)))


def covered(forward: pd.DataFrame, holdout: pd.DataFrame, rule: Rule, level: float) -> pd.DataFrame:
    out = []
    for day, cells in forward.groupby("as_of_date"):
        error = errors_of(holdout[holdout["as_of_date"] == day], rule, level)
        widened = ic.widen(cells, np.array([error(kind) for kind in cells["segment_type"]]), level)
        out.append(cells.assign(covered=(widened["predicted_lower"] <= cells["actual_total"])
                                & (cells["actual_total"] <= widened["predicted_upper"])))
    return pd.concat(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouses", nargs="+", help="NAME=PATH of a built warehouse")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--level", type=float, default=0.8, help="var clv_interval_level of the builds")
    parser.add_argument("--holdout-days", type=int, default=182, help="var clv_holdout_days of the builds")
    args = parser.parse_args()
    data = {name: warehouse_cells(path, args.windows, args.holdout_days)
            for name, path in (item.split("=", 1) for item in args.warehouses)}
    print("| rule | " + " | ".join(data) + " | types in 0.75-0.85 |\n|---|" + "---:|" * (len(data) + 1))
    for name, rule in RULES.items():
        shares, inside, total = [], 0, 0
        for forward, holdout in data.values():
            cells = covered(forward, holdout, rule, args.level)
            by_type = cells.groupby("segment_type")["covered"].mean()
            shares.append(cells["covered"].mean())
            inside, total = inside + int(by_type.between(0.75, 0.85).sum()), total + len(by_type)
        print(f"| {name} | " + " | ".join(f"{s:.3f}" for s in shares) + f" | {inside}/{total} |")


if __name__ == "__main__":
    main()
