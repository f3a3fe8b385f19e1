"""The backtest's predictions stored and reused between runs (model int_segments_backtest_predicted, incremental).

A backtest date's predictions (clvlayer.backtest.backtest_segment_predictions: the fits at the date and the
segment sums over each horizon) depend only on what the prediction reads: the date's rows of
int_customers_rfm_backtest (the RFM summary as of the date and the segment labels of the sampled buyers), the
chosen count model, the horizons, the sample cap and the settings the fits and sums read. The model stores beside
each date's rows ``input_fingerprint``: canonical JSON of all of these, the rows as their count and the sum of
DuckDB's hash() of every row, computed in SQL (:func:`fingerprint_sql`; floating-point columns hashed at 12
significant digits, so that the last-bit noise of a sum recomputed in another order - an incremental run against a
full one - does not read as a change, while a refund or a status change, orders of magnitude larger, does). A run
recomputes a date when its fingerprint differs from the stored one (a new date, a late refund or status change of an
order before the date, a relabelled buyer, another chosen model or setting), and keeps the stored rows of the
other dates (``reused_this_run``). Dates no longer in the backtest are not returned (and the model's post-hook
deletes them). The actuals after the date, which grow every night, are not an input: int_segments_backtest_scored
joins them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import pandas as pd

from clvlayer.backtest import BACKTEST_COLUMNS, _chosen, _frame, backtest_segment_predictions
from clvlayer.clv_models import setting

#: settings of int_clv_settings_resolved the backtest's fits and segment sums read (clvlayer.backtest)
PREDICTION_SETTINGS = ("penalizer", "min_customers", "min_repeat_customers", "interval_level", "interval_draws",
                       "time_units_per_month", "margin_rate_source")
REUSE_COLUMNS: dict[str, str] = {**BACKTEST_COLUMNS, "input_fingerprint": "str", "reused_this_run": "boolean"}
ORDER = ["as_of_date", "horizon_months", "segment_type", "segment_value"]


FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
SIGNIFICANT_DIGITS = 12


def _hashed(column: str, kind: object) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    if str(kind).upper() in FLOAT_TYPES:
        return f"format('{{:.{SIGNIFICANT_DIGITS}g}}', {quoted})"
    return quoted


def fingerprint_sql(relation: str, columns: Sequence[str], types: Sequence[object]) -> str:
    """Per as_of_date of ``relation``: its rows, the sum of hash() of every row's ``columns`` (of DuckDB ``types``:
    floating-point ones at 12 significant digits; the sum as text: a HUGEINT does not survive pandas) and the spend
    up to the date (the margin rate's denominator)."""
    quoted = ", ".join(_hashed(c, t) for c, t in zip(columns, types, strict=True))
    return (f"select as_of_date, count(*) as input_rows, cast(sum(hash({quoted})) as varchar) as input_hash, "
            f"sum(total_spend) as input_spend from {relation} group by as_of_date")


def _plain(value: object) -> object:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def input_fingerprint(rows: int, row_hash: str, spend: float, settings: pd.DataFrame, model: str | None,
                      horizons: list[int], max_buyers: int) -> str:
    """Canonical JSON of everything one date's predictions read (module docstring). The resolved margin rate is in
    it only when the prediction reads it: var clv_margin_rate set, or no spend up to the date (else the rate is the
    date's own margin over spend, which the rows' hash covers)."""
    values = {name: _plain(setting(settings, name)) for name in PREDICTION_SETTINGS}
    if str(setting(settings, "margin_rate_source")) == "var clv_margin_rate" or not spend:
        values["margin_rate"] = _plain(setting(settings, "margin_rate"))
    return json.dumps({"rows": int(rows), "row_hash": str(row_hash), "model": model, "horizons": horizons,
                       "max_buyers": int(max_buyers), "settings": values}, sort_keys=True)


def _stored(previous: pd.DataFrame | None, wanted: dict[pd.Timestamp, str]) -> pd.DataFrame:
    """The stored rows of the dates whose every row carries the date's wanted fingerprint."""
    if previous is None or previous.empty or "input_fingerprint" not in previous.columns:
        return _frame(pd.DataFrame(), REUSE_COLUMNS)
    previous = previous.rename(columns=str.lower)
    dates = pd.to_datetime(previous["as_of_date"])
    matches = previous["input_fingerprint"].astype("string") == dates.map(wanted).astype("string")
    whole = matches.groupby(dates).transform("all").fillna(False).astype(bool)
    return _frame(previous[whole & matches.fillna(False).astype(bool)], REUSE_COLUMNS)


def predictions_reusing(fingerprints: pd.DataFrame, load: Callable[[list[pd.Timestamp]], pd.DataFrame],
                        settings: pd.DataFrame, selection: pd.DataFrame, previous: pd.DataFrame | None, *,
                        horizons: list[int], max_buyers: int) -> pd.DataFrame:
    """Every current backtest date's predictions: the stored rows of the dates whose inputs did not change
    (reused_this_run true), recomputed for the others from ``load(dates)`` (their rows of
    int_customers_rfm_backtest). ``fingerprints``: fingerprint_sql's rows; ``previous``: the stored table (None on
    a full build)."""
    model = _chosen(selection)
    wanted = {pd.Timestamp(r.as_of_date): input_fingerprint(r.input_rows, r.input_hash, r.input_spend, settings,
                                                            model, horizons, max_buyers)
              for r in fingerprints.itertuples(index=False)}
    kept = _stored(previous, wanted)
    todo = sorted(set(wanted) - set(pd.to_datetime(kept["as_of_date"])))
    fresh = _frame(pd.DataFrame(), BACKTEST_COLUMNS)
    if todo:
        fresh = backtest_segment_predictions(load(todo), settings, selection, max_buyers, horizons=horizons)
    fresh["input_fingerprint"] = pd.to_datetime(fresh["as_of_date"]).map(wanted)
    fresh["reused_this_run"] = False
    kept["reused_this_run"] = True
    frames = [f for f in (_frame(kept, REUSE_COLUMNS), _frame(fresh, REUSE_COLUMNS)) if len(f)]
    if not frames:
        return _frame(pd.DataFrame(), REUSE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return _frame(out.sort_values(ORDER, kind="stable", na_position="first").reset_index(drop=True), REUSE_COLUMNS)
