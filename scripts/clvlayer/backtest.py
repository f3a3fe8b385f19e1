"""Predicted CLV at segment grain with its interval, for the backtest and for the published segment mart.

The library's segment sums (:func:`clvlayer.btyd.intervals.clv_intervals` with ``segments``) give, per segment,
the expected sum of the customers' realised value over a horizon and an interval of that sum carrying parameter
and process uncertainty. Customers are scored once, and each segment type is one partition of them (labels
``<type>\x1f<value>``) summed into the same table (each segment type's segments partition the same customers).

* :func:`backtest_segment_predictions` (model int_segments_backtest_predicted): per backtest as-of date, the chosen
  count model and Gamma-Gamma fitted on the RFM summary as of that date (the fit the build would have made then),
  then per horizon the segment sums of the margin predicted over the horizon (undiscounted, so comparable with the
  margin actually made). The predictions read nothing after the date: the actual margin and the interval's coverage
  are joined in SQL afterwards (int_segments_backtest_scored), so the stored predictions are reused while only the
  actuals grow (clvlayer.backtest_reuse).
* :func:`current_segment_intervals` (model int_segments_clv_intervals): the published predicted CLV (the 'full'
  fits, the published horizon, discount and margin) summed per segment with its interval.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pandas as pd

from clvlayer.btyd import ClvFitError, clv_intervals, fit_gamma_gamma, get_model, unique_codes
from clvlayer.clv_models import STATUS_OK, in_customer_order, setting, stored_fit
from clvlayer.interval_calibration import current_holdout_inputs, holdout_inputs, holdout_model_errors, widen_segments

SEPARATOR = "\x1f"
SEGMENT_PREFIX = "segment_"

SEGMENT_COLUMNS: dict[str, str] = {
    "segment_type": "str",
    "segment_value": "str",
    "customers": "Int64",
    "predicted_total": "Float64",
    "predicted_lower": "Float64",
    "predicted_upper": "Float64",
}
BACKTEST_COLUMNS: dict[str, str] = {
    "as_of_date": "datetime64[ns]",
    "horizon_months": "Int64",
    "model": "str",
    **SEGMENT_COLUMNS,
    "relative_model_error": "Float64",  # added to the interval (clvlayer.interval_calibration); null: none estimated
    "fit_seconds": "Float64",
    "prediction_status": "str",
}


def _frame(rows: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    out = rows.reindex(columns=list(columns))
    return out.astype(columns)


def segment_types(frame: pd.DataFrame) -> list[str]:
    """The segment types of a frame with columns segment_<type> (macro segment_label_columns)."""
    return [c[len(SEGMENT_PREFIX):] for c in frame.columns if c.startswith(SEGMENT_PREFIX)]


def _partitions(frame: pd.DataFrame, types: list[str]) -> list[pd.Categorical]:
    """Per segment type, each customer's label ``<type>\x1f<value>``; a missing value reads 'unknown'. Each distinct
    label is built once: a Categorical whose categories are the type's labels in sorted order (every one used), so
    the segment codes come from its integer codes instead of hashing a string per customer. A Categorical column
    (:func:`segmented_frame`) is read by its codes."""
    out = []
    for t in types:
        codes, values = _value_codes(frame[SEGMENT_PREFIX + t])
        labels = np.array([t + SEPARATOR + str(v) for v in values], dtype=object)
        order = np.argsort(labels, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        out.append(pd.Categorical.from_codes(rank[codes], categories=labels[order]))
    return out


def _value_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(each row's index into the distinct values, the distinct values as strings, missing -> 'unknown', each once and
    used): ``pd.factorize`` of the column as strings, from a Categorical's codes when the column is one."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, values = pd.factorize(column.astype("string").fillna("unknown"))
        return codes, [str(v) for v in values]
    names = [str(v) for v in column.cat.categories.astype("string")] + ["unknown"]
    raw = np.where(column.cat.codes.to_numpy() < 0, len(names) - 1, column.cat.codes.to_numpy())
    distinct, merged = np.unique(np.array(names, dtype=object), return_inverse=True)  # a value 'unknown' and NULL
    used, codes = unique_codes(merged[raw])  # np.unique's, without sorting a code per customer
    return codes, [str(v) for v in distinct[used]]


def segmented_frame(relation: Any, order: str | None = None) -> pd.DataFrame:
    """A DuckDB relation's rows as a DataFrame whose segment_<type> columns are Categoricals (each cast to an ENUM
    of its distinct values in SQL): a code per customer instead of a Python string per customer and type, which
    would hold most of the node's memory (14 types: ~1.8 GB of 2.5 at 1.3M customers). ``order``: the rows'
    order by (SQL)."""
    by = f" order by {order}" if order else ""
    types = [c for c, kind in zip(relation.columns, relation.types)
             if c.startswith(SEGMENT_PREFIX) and str(kind) == "VARCHAR"]
    if not types:
        return relation.query("segmented", f"select * from segmented{by}").df()
    quoted = ['"' + c.replace('"', '""') + '"' for c in types]
    listed = relation.query("segmented", "select " + ", ".join(
        f"coalesce(list_sort(list(distinct {q}) filter (where {q} is not null)), [])" for q in quoted)
        + " from segmented").fetchall()[0]

    def enum(values: list[str]) -> str:
        return "ENUM(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"

    casts = [f"cast({q} as {enum(v)}) as {q}" for q, v in zip(quoted, listed) if v]  # no values: stays VARCHAR
    replace = f" replace ({', '.join(casts)})" if casts else ""
    return relation.query("segmented", f"select *{replace} from segmented{by}").df()


def _segment_rows(table: pd.DataFrame) -> pd.DataFrame:
    split = table["segment"].str.split(SEPARATOR, n=1, expand=True)
    out = pd.DataFrame({
        "segment_type": split[0], "segment_value": split[1], "customers": table["customers"],
        "predicted_total": table["expected"], "predicted_lower": table["lower"], "predicted_upper": table["upper"],
    })
    if "actual" in table:
        out["actual_total"] = table["actual"]
        out["is_covered"] = table["covered"]
    return out


def segment_sums(
    summary: pd.DataFrame, model: str, fit: Any, gg_fit: Any, *, months: int, discount: float, margin: float,
    per_month: float, level: float, draws: int, actual: np.ndarray | None = None, share_draws: bool = False,
) -> pd.DataFrame:
    """Per segment of every type in ``summary`` (RFM columns + segment_<type>): the sum of the customers' realised
    value over ``months`` (expected, and its interval at ``level``), with the actual sum and whether the interval
    covers it when ``actual`` (one value per customer) is given; ``share_draws``: see
    :func:`clvlayer.btyd.clv_intervals`."""
    x, tx, tt = (summary[c].to_numpy(float) for c in ("frequency", "recency", "t"))
    m = summary["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    result = clv_intervals(model, fit, gg_fit, x, tx, tt, m, months=months, monthly_discount_rate=discount,
                           margin=margin, periods_per_month=per_month, level=level, n_draws=draws,
                           segments=_partitions(summary, segment_types(summary)), actual=actual,
                           per_customer=False, share_draws=share_draws)
    assert result.segments is not None
    return _segment_rows(result.segments)


def _fit_at(summary: pd.DataFrame, model: str, settings: pd.DataFrame) -> tuple[Any, Any]:
    """The count model ``model`` and Gamma-Gamma fitted on ``summary`` (the build's own settings)."""
    penalizer = float(setting(settings, "penalizer"))
    x, tx, tt = (summary[c].to_numpy(float) for c in ("frequency", "recency", "t"))
    m = summary["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    fit = get_model(model).fit(x, tx, tt, penalizer=penalizer, min_customers=int(setting(settings, "min_customers")))
    gg = fit_gamma_gamma(x, m, penalizer=penalizer, min_repeat_customers=int(setting(settings, "min_repeat_customers")))
    if fit.log_cov is None or gg.log_cov is None:
        raise ClvFitError("a fit has no positive-definite Hessian: no interval")
    return fit, gg


def _margin_rate(summary: pd.DataFrame, settings: pd.DataFrame) -> float:
    """The margin rate as of the backtest date: var clv_margin_rate when set, else the margin of the purchases up
    to the date (as int_clv_settings_resolved does at the current date)."""
    if str(setting(settings, "margin_rate_source")) == "var clv_margin_rate":
        return float(setting(settings, "margin_rate"))
    spend = float(summary["total_spend"].sum())
    return float(summary["total_margin"].sum()) / spend if spend else float(setting(settings, "margin_rate"))


def _chosen(selection: pd.DataFrame) -> str | None:
    chosen = selection.rename(columns=str.lower)["chosen_model"].dropna()
    return str(chosen.iloc[0]) if len(chosen) else None


def _holdout_sums(calibration: pd.DataFrame, actual: np.ndarray, length: float, model: str, settings: pd.DataFrame,
                  level: float, draws: int) -> pd.DataFrame:
    """The date's own holdout (clvlayer.interval_calibration): the fit on the RFM summary as of the split and its
    segment sums of the margin over the holdout's ``length`` time units, scored against the buyers' ``actual``."""
    fit, gg = _fit_at(calibration, model, settings)
    return segment_sums(calibration, model, fit, gg, months=1, discount=0.0, margin=_margin_rate(calibration, settings),
                        per_month=length, level=level, draws=draws, actual=actual)


def _one_date(summary: pd.DataFrame, settings: pd.DataFrame, model: str, horizons: list[int]) -> list[pd.DataFrame]:
    level, draws = float(setting(settings, "interval_level")), int(setting(settings, "interval_draws"))
    per_month = float(setting(settings, "time_units_per_month"))
    started = time.perf_counter()
    fit, gg = _fit_at(summary, model, settings)
    margin = _margin_rate(summary, settings)
    errors = holdout_model_errors(holdout_inputs(summary), level, lambda calibration, actual, length: _holdout_sums(
        calibration, actual, length, model, settings, level, draws))
    frames = []
    for h in horizons:
        rows = widen_segments(segment_sums(summary, model, fit, gg, months=h, discount=0.0, margin=margin,
                                           per_month=per_month, level=level, draws=draws), errors, level)
        rows["horizon_months"] = h
        rows["prediction_status"] = STATUS_OK
        frames.append(rows)
    seconds = time.perf_counter() - started
    for frame in frames:
        frame["fit_seconds"] = seconds
    return frames


def backtest_horizons(config: str) -> list[int]:
    """The horizons of the model's config ``horizons`` (var ltv_backtest_horizons_months joined by commas),
    ascending, each once; a clear error when an entry is not a whole number."""
    try:
        return sorted({int(part) for part in re.split(r"[,\s\[\]]+", str(config)) if part})
    except ValueError:
        raise ClvFitError(f"var ltv_backtest_horizons_months = {config!r}: give whole numbers of months, "
                          "e.g. [3, 6, 12]") from None


def hash_sample(summary: pd.DataFrame, max_buyers: int) -> pd.DataFrame:
    """At most `max_buyers` rows (0 = all): those whose customer id hashes lowest, the same customers on every run
    and machine (pandas' fixed-key hash), whichever rows come in."""
    if max_buyers <= 0 or len(summary) <= max_buyers:
        return summary
    keys = pd.util.hash_pandas_object(summary["customer_id"].astype(str), index=False).to_numpy()
    return summary.iloc[np.sort(np.argsort(keys, kind="stable")[:max_buyers])]


def backtest_segment_predictions(rfm: pd.DataFrame, settings: pd.DataFrame, selection: pd.DataFrame,
                                 max_buyers: int = 0, *, horizons: list[int]) -> pd.DataFrame:
    """Per backtest as-of date x horizon (`horizons`, months) x segment: the predicted margin sum with its interval
    (module docstring), over at most `max_buyers` buyers per date (hash_sample; int_customers_rfm_backtest already
    holds only its SQL sample of at most that many). A date whose fit fails is one row per horizon with the
    reason."""
    rfm = rfm.rename(columns=str.lower)
    model = _chosen(selection)
    frames = []
    for as_of_date, summary in rfm.groupby("as_of_date", sort=True):
        summary = in_customer_order(hash_sample(summary, max_buyers))
        try:
            if model is None:
                raise ClvFitError("no count model chosen (int_clv_model_selected)")
            dated = _one_date(summary, settings, model, horizons)
        except ClvFitError as exc:
            dated = [pd.DataFrame({"horizon_months": horizons, "prediction_status": f"fit failed: {exc}"})]
        for frame in dated:
            frame["as_of_date"] = pd.Timestamp(as_of_date)
            frame["model"] = model
        frames += dated
    if not frames:
        return _frame(pd.DataFrame(), BACKTEST_COLUMNS)
    return _frame(pd.concat(frames, ignore_index=True), BACKTEST_COLUMNS)


def _stored_holdout_sums(calibration: pd.DataFrame, actual: np.ndarray, length: float, model: str,
                         parameters: pd.DataFrame, level: float, draws: int) -> pd.DataFrame:
    """The current holdout (clvlayer.interval_calibration): the stored 'calibration' fits' segment sums of the spend
    over the holdout's ``length`` time units, scored against the customers' ``actual`` spend."""
    fit, reason = stored_fit(parameters, "calibration", model)
    gg, gg_reason = stored_fit(parameters, "calibration", "gamma_gamma")
    if fit is None or gg is None or fit.log_cov is None or gg.log_cov is None:
        raise ClvFitError(reason or gg_reason or "a calibration fit has no positive-definite Hessian")
    return segment_sums(calibration, model, fit, gg, months=1, discount=0.0, margin=1.0, per_month=length,
                        level=level, draws=draws, actual=actual)


def current_segment_intervals(summary: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame,
                              selection: pd.DataFrame, calibrated: pd.DataFrame | None = None,
                              tiers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per segment: the published predicted CLV (chosen model, 'full' fits, horizon_months, the monthly discount
    and margin rate of the settings) summed over the segment's customers, with the interval of the sum, widened by
    the model error per segment type the 'calibration' fits make on the holdout (``calibrated``:
    int_customers_rfm_calibrated, ``tiers``: int_customers_holdout_tiered, the value tier at the split;
    clvlayer.interval_calibration; without ``calibrated`` the library's interval)."""
    summary = in_customer_order(summary)
    model = _chosen(selection)
    columns = {**SEGMENT_COLUMNS, "relative_model_error": "Float64", "prediction_status": "str"}
    if summary.empty or model is None:
        return _frame(pd.DataFrame(), columns)
    fit, reason = stored_fit(parameters, "full", model)
    gg, gg_reason = stored_fit(parameters, "full", "gamma_gamma")
    if fit is None or gg is None or fit.log_cov is None or gg.log_cov is None:
        why = reason or gg_reason or "a fit has no positive-definite Hessian"
        return _frame(pd.DataFrame({"prediction_status": [f"no interval: {why}"]}), columns)
    level, draws = float(setting(settings, "interval_level")), int(setting(settings, "interval_draws"))
    rows = segment_sums(summary, model, fit, gg, months=int(setting(settings, "horizon_months")),
                        discount=float(setting(settings, "monthly_discount_rate")),
                        margin=float(setting(settings, "margin_rate")),
                        per_month=float(setting(settings, "time_units_per_month")),
                        level=level, draws=draws, share_draws=True)  # those of the scores
    holdout = current_holdout_inputs(calibrated, summary, float(setting(settings, "holdout_length")), tiers)
    errors = holdout_model_errors(holdout, level, lambda calibration, actual, length: _stored_holdout_sums(
        calibration, actual, length, model, parameters, level, draws))
    rows = widen_segments(rows, errors, level)
    rows["prediction_status"] = STATUS_OK
    return _frame(rows, columns)
