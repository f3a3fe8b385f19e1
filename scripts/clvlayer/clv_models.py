"""Predictive CLV inside the dbt DAG: the logic behind the dbt Python models in models/intermediate/predictive.

The dbt Python models (dbt-duckdb runs them in the dbt process) are thin: they read the RFM summaries and the
one-row settings model, call the functions here and return the DataFrame dbt materialises (int_customers_clv_predicted:
an Arrow stream scored a chunk of customers at a time, :func:`prediction_batches`). The models themselves live in the
model library :mod:`clvlayer.btyd` (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma; fitting, standard errors,
intervals, holdout model choice); this module only turns warehouse tables into library calls and library results
into warehouse rows, so pytest can call it directly on edge cases (zero customers, no repeat buyers, ...).

Every count model of the registry (:data:`clvlayer.btyd.registry.MODELS`) is fitted twice ('full' and
'calibration'), scored on the holdout, and scored per customer; :func:`select_model` applies the documented rule
(:func:`clvlayer.btyd.selection.choose_model`, docs block predictive_model_choice) and the marts publish the
chosen model.

The RFM summary exists once, in SQL (macro ``rfm_summary`` -> int_customers_rfm_summarised / _calibrated): this
module takes it as given and never rebuilds it from transactions.

Failure is loud and safe: a fit that cannot run (too few customers, no repeat buyers, invalid data) or does not
converge is a row with ``status`` and ``status_reason`` and null estimates; predictions from it are null with the
reason in ``prediction_status``. A dbt test (severity warn) makes any such row visible in the build output.
Definitions: docs/metrics.md "Predictive CLV".
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from clvlayer.btyd import (
    MODELS,
    BgNbdFit,
    ClvFitError,
    CountFit,
    GammaGammaFit,
    choose_model,
    clv_intervals,
    conditional_expected_average_profit,
    expected_restricted_lifetime,
    fit_gamma_gamma,
    get_model,
    holdout_log_likelihood,
    model_lifetime_value,
    purchase_intervals,
)
from clvlayer.btyd.churn import probability_no_purchase
from clvlayer.btyd.gammagamma import PARAMETERS as GAMMA_GAMMA_PARAMETERS
from clvlayer.clv_refit import RUN_COLUMNS, best_error, decide, given, holdout_errors, reused, with_run_columns
from clvlayer.clv_strata import POOLED, STRATIFICATION_COLUMNS, by_stratum, stratum_rows, with_stratification

COUNT_MODELS: tuple[str, ...] = tuple(MODELS)  # bgnbd, mbgnbd, paretonbd (registry order = tie-break order)
STATUS_OK = "ok"
STATUS_NOT_CONVERGED = "not_converged"
STATUS_NOT_FITTED = "not_fitted"

FIT_COLUMNS: dict[str, str] = {
    "fit_name": "str",
    "model": "str",
    # 'pooled' (every customer) or the acquisition channel the fit was made on (clvlayer.clv_strata)
    "stratum": "str",
    "parameter": "str",
    "estimate": "Float64",
    "standard_error": "Float64",
    "log_likelihood": "Float64",
    "n_customers": "Int64",
    "n_patterns": "Int64",
    "converged": "boolean",
    "status": "str",
    "status_reason": "str",
    "fit_seconds": "Float64",
    "freq_monetary_correlation": "Float64",
    "penalizer": "Float64",
    # JSON list: covariance of ln(this parameter) with ln(each parameter of the model, in order) -- the interval
    # layer's parameter draws; null without a positive-definite Hessian
    "log_covariance": "str",
}

#: int_clv_models_fitted: the fit rows, the pooled-vs-stratified choice (clvlayer.clv_strata) and when, on what and
#: why each fit was made (clvlayer.clv_refit)
FITTED_COLUMNS: dict[str, str] = {**FIT_COLUMNS, **STRATIFICATION_COLUMNS, **RUN_COLUMNS}

PREDICTION_COLUMNS: dict[str, str] = {
    "customer_id": "str",
    "model": "str",
    "p_alive": "Float64",
    "churn_risk": "Float64",  # P(no purchase in the next churn_risk_days days) (clvlayer.btyd.churn)
    "expected_purchases": "Float64",
    "expected_purchases_lower": "Int64",
    "expected_purchases_upper": "Int64",
    "expected_average_spend": "Float64",
    "predicted_clv": "Float64",
    "predicted_clv_lower": "Float64",
    "predicted_clv_upper": "Float64",
    "model_expected_lifetime_months": "Float64",
    "prediction_status": "str",
}

HOLDOUT_COLUMNS: dict[str, str] = {
    "customer_id": "str",
    "model": "str",
    # the calibration summary the predictions were made on (kept with them: they change only with a refit)
    "frequency": "Int64",
    "holdout_purchases": "Int64",
    "predicted_holdout_purchases": "Float64",
    "holdout_log_likelihood": "Float64",
    "holdout_purchases_lower": "Int64",
    "holdout_purchases_upper": "Int64",
    "holdout_interval_coverage": "Float64",
    "prediction_status": "str",
    # churn risk on the holdout: P(no purchase in the first churn_window_days days after the split) and the count
    "churn_window_days": "Int64",
    "churn_window_purchases": "Int64",
    "holdout_churn_risk": "Float64",
}

SELECTION_COLUMNS: dict[str, str] = {
    "chosen_model": "str",
    "selection_rule": "str",
    "selection_status": "str",
}


def _frame(rows: list[dict[str, Any]] | pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` and nullable dtypes (pd.NA -> SQL NULL, even when empty)."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=list(columns))
    return frame[list(columns)].astype(dict(columns))


def empty_frame(columns: Mapping[str, str]) -> pd.DataFrame:
    """No rows, the columns and dtypes of ``columns`` (an incremental model's "nothing changed")."""
    return _frame([], columns)


def _nulls(n: int, dtype: str) -> pd.api.extensions.ExtensionArray:
    """``n`` nulls of a nullable dtype (a Series of one scalar: ~10x faster than a list of pd.NA on a million rows)."""
    return pd.Series(pd.NA, index=pd.RangeIndex(n), dtype=dtype).array


def _ids(frame: pd.DataFrame) -> pd.api.extensions.ExtensionArray:
    """The customer ids as the output's "str" column, kept in their string array (not a Python string per customer
    made and converted back: ~1 s per model at 1.3M customers)."""
    return frame["customer_id"].astype("str").array


def setting(settings: pd.DataFrame, name: str) -> Any:
    """The value of setting ``name`` (a column) in the one row of int_clv_settings_resolved; a loud
    :class:`ClvFitError` when ``settings`` is not exactly one row."""
    if len(settings) != 1:
        raise ClvFitError(f"int_clv_settings_resolved must have exactly one row, got {len(settings)}")
    return settings[name].iloc[0]


def _forced_model(settings: pd.DataFrame) -> str | None:
    value = setting(settings, "forced_model") if "forced_model" in settings.columns else None
    return None if value is None or pd.isna(value) or str(value) == "" else str(value)


# --------------------------------------------------------------------------------------------------------- #
# Fits
# --------------------------------------------------------------------------------------------------------- #
def _fit_rows(
    fit_name: str,
    model: str,
    parameters: tuple[str, ...],
    fit: BgNbdFit | CountFit | GammaGammaFit | None,
    status: str,
    reason: str,
    n_customers: int,
    penalizer: float,
    fit_seconds: float | None,
) -> list[dict[str, Any]]:
    rows = []
    cov = None if fit is None else getattr(fit, "log_cov", None)
    for i, parameter in enumerate(parameters):
        row: dict[str, Any] = {
            "fit_name": fit_name, "model": model, "stratum": POOLED, "parameter": parameter, "estimate": pd.NA,
            "standard_error": pd.NA, "log_likelihood": pd.NA, "n_customers": n_customers, "n_patterns": pd.NA,
            "converged": pd.NA if fit is None else bool(fit.converged), "status": status, "status_reason": reason,
            "fit_seconds": pd.NA if fit_seconds is None else fit_seconds, "freq_monetary_correlation": pd.NA,
            "penalizer": penalizer,
            "log_covariance": pd.NA if cov is None else json.dumps([float(v) for v in np.asarray(cov)[i]]),
        }
        if fit is not None:
            row["estimate"] = float(fit.params[parameter])
            se = fit.standard_errors.get(parameter, math.nan)
            row["standard_error"] = se if math.isfinite(se) else pd.NA
            row["log_likelihood"] = float(fit.log_likelihood)
            if isinstance(fit, GammaGammaFit):
                corr = fit.freq_monetary_correlation
                row["freq_monetary_correlation"] = corr if math.isfinite(corr) else pd.NA
            else:
                row["n_patterns"] = fit.n_patterns
        rows.append(row)
    return rows


def _model_rows(
    fit_name: str,
    model: str,
    parameters: tuple[str, ...],
    label: str,
    n: int,
    too_few_reason: str | None,
    penalizer: float,
    fit: Callable[[], BgNbdFit | CountFit | GammaGammaFit],
) -> list[dict[str, Any]]:
    """The parameter rows of one model: not_fitted with ``too_few_reason`` (when given) or the fit's
    ClvFitError, else ok / not_converged from the fit."""
    if too_few_reason is not None:
        return _fit_rows(fit_name, model, parameters, None, STATUS_NOT_FITTED, too_few_reason, n, penalizer, None)
    started = time.perf_counter()
    try:
        result = fit()
    except ClvFitError as exc:
        return _fit_rows(
            fit_name, model, parameters, None, STATUS_NOT_FITTED, str(exc), n, penalizer,
            time.perf_counter() - started,
        )
    status = STATUS_OK if result.converged else STATUS_NOT_CONVERGED
    reason = "" if result.converged else f"{label} did not converge: {result.message}"
    return _fit_rows(
        fit_name, model, parameters, result, status, reason, result.n_customers, penalizer, result.fit_seconds
    )


def in_customer_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Lower-case column names, rows by customer_id: the fits' float sums, and so the estimates to the last bit,
    must not depend on the order an engine returns the rows in (DuckDB after an incremental run, Spark). Rows read
    already ordered (the dbt models ask DuckDB to order them) are not sorted again."""
    frame = frame.rename(columns=str.lower)
    if "customer_id" not in frame.columns or frame["customer_id"].is_monotonic_increasing:
        return frame.reset_index(drop=True)
    return frame.sort_values("customer_id", kind="stable", ignore_index=True)


def fit_models(summary: pd.DataFrame, settings: pd.DataFrame, fit_name: str) -> pd.DataFrame:
    """Fit every count model of the registry on every customer of ``summary`` and Gamma-Gamma on its repeat
    customers.

    ``summary`` has the columns of int_customers_rfm_summarised (frequency, recency, T, monetary_value).
    Returns one row per (model, stratum, parameter) with the fit's log-likelihood, size, convergence and status:
    the pooled fits and the count models' fits per acquisition channel (:func:`clvlayer.clv_strata.stratum_rows`).
    """
    min_customers = int(setting(settings, "min_customers"))
    min_repeat = int(setting(settings, "min_repeat_customers"))
    penalizer = float(setting(settings, "penalizer"))
    summary = in_customer_order(summary)
    frequency = summary["frequency"].to_numpy(float)
    recency, T = summary["recency"].to_numpy(float), summary["t"].to_numpy(float)
    n = len(summary)
    too_few = None if n >= min_customers else (
        f"{n} customers with a completed order up to the as-of date; the fit needs at least "
        f"clv_min_customers = {min_customers}"
    )
    rows: list[dict[str, Any]] = []
    for name, spec in MODELS.items():
        rows += _model_rows(
            fit_name, name, spec.parameters, spec.label, n, too_few, penalizer,
            lambda spec=spec: spec.fit(frequency, recency, T, penalizer=penalizer, min_customers=min_customers),
        )
    rows += stratum_rows(summary, settings, lambda name, spec, part: _model_rows(
        fit_name, name, spec.parameters, spec.label, int(part.sum()), None, penalizer,
        lambda: spec.fit(frequency[part], recency[part], T[part], penalizer=penalizer, min_customers=min_customers)))

    # Gamma-Gamma on repeat customers with positive mean repeat spend
    monetary = summary["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    n_repeat = int(((frequency > 0) & (monetary > 0)).sum())
    rows += _model_rows(
        fit_name, "gamma_gamma", GAMMA_GAMMA_PARAMETERS, "Gamma-Gamma", n_repeat,
        None if n_repeat >= min_repeat else (
            f"{n_repeat} repeat customers with positive repeat spend; the Gamma-Gamma fit needs at least "
            f"clv_min_repeat_customers = {min_repeat}"
        ),
        penalizer,
        lambda: fit_gamma_gamma(frequency, monetary, penalizer=penalizer, min_repeat_customers=min_repeat),
    )
    return _frame(rows, FIT_COLUMNS)


def fit_or_reuse(full: pd.DataFrame, calibration: pd.DataFrame, settings: pd.DataFrame,
                 previous: pd.DataFrame | None = None,
                 read_parameters: Callable[[str], pd.DataFrame] | None = None) -> pd.DataFrame:
    """int_clv_models_fitted: refit ('full' on ``full``, 'calibration' on ``calibration``) when the refit rule of
    :mod:`clvlayer.clv_refit` says so, else the ``previous`` rows (the stored table) marked reused; with var
    clv_parameters_from (``parameters_from`` setting) the rows of that file, read by ``read_parameters``."""
    source = setting(settings, "parameters_from") if "parameters_from" in settings.columns else None
    if source is not None and not pd.isna(source) and str(source) != "":
        if read_parameters is None:
            raise ClvFitError("var clv_parameters_from needs a reader of the parameters file")
        return _frame(given(str(source), read_parameters), FITTED_COLUMNS)
    full, calibration = in_customer_order(full), in_customer_order(calibration)
    if previous is not None and "stratum" not in previous.columns:
        previous = None  # stored by code without per-channel fits: fit again

    def errors(parameters: pd.DataFrame) -> dict[str, float]:
        return holdout_errors(parameters, calibration, settings, stored_fit)

    decision = decide(previous, settings, full, lambda: best_error(errors(previous)))
    if not decision.refit:
        return _frame(reused(previous, decision), FITTED_COLUMNS)
    fits = pd.concat([fit_models(full, settings, "full"), fit_models(calibration, settings, "calibration")],
                     ignore_index=True)
    fits = with_stratification(fits, calibration, settings, stored_fit)
    return _frame(with_run_columns(fits, settings, decision, errors(fits)), FITTED_COLUMNS)


def stored_fit(parameters: pd.DataFrame, fit_name: str, model: str) -> tuple[Any, str]:
    """(the stored fit, "") for a usable pooled fit of ``model``, else (None, the reason it is unusable); a
    channel's fit through :func:`clvlayer.clv_strata.as_pooled`.

    The stored fit is a :class:`CountFit` (count models) or :class:`GammaGammaFit` with the estimates and the
    log-parameter covariance (None when a stored row has none: point predictions only)."""
    rows = parameters[(parameters["fit_name"] == fit_name) & (parameters["model"] == model)]
    if "stratum" in rows.columns:
        rows = rows[rows["stratum"] == POOLED]
    if rows.empty:
        return None, f"no {model} fit named {fit_name!r} in the parameters table"
    status = str(rows["status"].iloc[0])
    if status != STATUS_OK:
        return None, f"{model} fit {status}: {rows['status_reason'].iloc[0]}"
    names = GAMMA_GAMMA_PARAMETERS if model == "gamma_gamma" else get_model(model).parameters
    by_name = {p: row for p, row in zip(rows["parameter"], rows.to_dict("records"), strict=True)}
    values = {name: float(by_name[name]["estimate"]) for name in names}
    covariance = [by_name[name].get("log_covariance") for name in names]
    cov = None if any(c is None or pd.isna(c) for c in covariance) else np.array([json.loads(c) for c in covariance])
    ll = float(rows["log_likelihood"].iloc[0])
    if model == "gamma_gamma":
        return GammaGammaFit(**values, log_likelihood=ll, n_customers=int(rows["n_customers"].iloc[0]),
                             converged=True, iterations=0, fit_seconds=0.0, message="",
                             freq_monetary_correlation=math.nan, log_cov=cov), ""
    return CountFit(model=model, params=values, log_likelihood=ll, n_customers=int(rows["n_customers"].iloc[0]),
                    converged=True, iterations=0, fit_seconds=0.0, message="", n_patterns=0, log_cov=cov), ""


def _days(settings: pd.DataFrame, name: str) -> float:
    """The day-count setting ``name`` in the fits' time units."""
    return float(setting(settings, name)) / float(setting(settings, "days_per_time_unit"))


def _interval_settings(settings: pd.DataFrame) -> tuple[float, int]:
    return float(setting(settings, "interval_level")), int(setting(settings, "interval_draws"))


# --------------------------------------------------------------------------------------------------------- #
# Per-customer predictions
# --------------------------------------------------------------------------------------------------------- #
def score_customers(
    summary: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame, selection: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per customer and count model: P(alive), expected purchases and spend over the horizon, discounted
    predicted CLV, the model's expected lifetime (1 month + E[min(L, horizon - 1 month)], the warehouse's lifetime
    measure, :func:`clvlayer.btyd.expected_restricted_lifetime`) and, for the chosen model of ``selection``
    (:func:`select_model`; every model when None), the per-customer intervals. Intervals cost most of the scoring
    time (tables of the count distribution over the whole horizon per parameter draw), so the models that are not
    published get point predictions only.

    Uses the ``full`` fits: each customer's channel's when the likelihood-ratio test chose the stratified fit for the
    model (:func:`clvlayer.clv_strata.by_stratum`), else the pooled one. Expected purchases cover ``horizon_months``
    months (horizon_months x time_units_per_month time units); predicted CLV = margin_rate x expected average spend
    x the expected purchases of each month discounted at monthly_discount_rate
    (:func:`clvlayer.btyd.clv.model_lifetime_value`). Intervals at ``interval_level`` (:mod:`clvlayer.btyd.intervals`):
    the predictive interval of the number of purchases and of the realised discounted CLV, parameter uncertainty
    (``interval_draws`` draws) and process uncertainty.
    """
    return pd.concat(list(score_in_chunks(summary, parameters, settings, selection)), ignore_index=True)


#: customers scored at once by the dbt model int_customers_clv_predicted (:func:`prediction_batches`): its memory is
#: one chunk's frames and temporaries (~0.8 KB per customer at 10M), not the whole population's (12.8M customers at
#: 100M). Every per-customer value is the same in any chunk (given the stored fits and the seeded parameter draws);
#: a warehouse with more customers than this recomputes the chosen model's draws' group quantities per chunk.
SCORE_CHUNK_CUSTOMERS = 2_000_000

#: PREDICTION_COLUMNS' dtypes as Arrow types (the table's column types: VARCHAR, DOUBLE, BIGINT)
_ARROW_TYPES: dict[str, pa.DataType] = {"str": pa.large_string(), "Float64": pa.float64(), "Int64": pa.int64()}
PREDICTION_SCHEMA = pa.schema([(column, _ARROW_TYPES[dtype]) for column, dtype in PREDICTION_COLUMNS.items()])
#: prediction columns that must be finite where not null (:func:`assert_finite`)
FINITE_PREDICTIONS = ["p_alive", "expected_purchases", "expected_average_spend", "predicted_clv",
                      "predicted_clv_lower", "model_expected_lifetime_months"]


def score_in_chunks(
    summary: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame, selection: pd.DataFrame | None = None,
    chunk_customers: int | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`score_customers`' rows, model by model and within a model ``chunk_customers`` customers (in customer
    order) at a time (all at once when None): the same rows in the same order, each chunk scored alone."""
    summary = in_customer_order(summary)
    if summary.empty:
        yield _frame([], PREDICTION_COLUMNS)
        return
    with_intervals = set(COUNT_MODELS) if selection is None else set(selection["chosen_model"].dropna())
    n = len(summary)
    step = n if chunk_customers is None else max(1, int(chunk_customers))
    for model in COUNT_MODELS:
        for lo in range(0, n, step):
            part = summary if step >= n else summary.iloc[lo:lo + step].reset_index(drop=True)
            yield by_stratum(part, parameters, "full", model, lambda rows, fits, model=model: _score_model(
                rows, fits, settings, model, model in with_intervals))


def prediction_batches(
    summary: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame, selection: pd.DataFrame | None = None,
    chunk_customers: int = SCORE_CHUNK_CUSTOMERS,
) -> pa.RecordBatchReader:
    """int_customers_clv_predicted as a stream: :func:`score_in_chunks`' frames, each checked by
    :func:`assert_finite` and converted to an Arrow batch only when DuckDB reads it (dbt-duckdb registers the
    returned reader and creates the table from it), so the dbt process never holds more than one chunk's rows."""

    def batches() -> Iterator[pa.RecordBatch]:
        for frame in score_in_chunks(summary, parameters, settings, selection, chunk_customers):
            assert_finite(frame, FINITE_PREDICTIONS)
            yield pa.RecordBatch.from_pandas(frame, schema=PREDICTION_SCHEMA, preserve_index=False)

    return pa.RecordBatchReader.from_batches(PREDICTION_SCHEMA, batches())


def _score_model(
    summary: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame, model: str, intervals: bool
) -> pd.DataFrame:
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    tt = summary["t"].to_numpy(float)
    m = summary["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    n = len(summary)
    out = pd.DataFrame({"customer_id": _ids(summary), "model": model})
    for column, dtype in PREDICTION_COLUMNS.items():
        if column not in out:
            out[column] = _nulls(n, dtype)
    out["prediction_status"] = STATUS_OK

    fit, reason = stored_fit(parameters, "full", model)
    if fit is None:
        out["prediction_status"] = reason
        return _frame(out, PREDICTION_COLUMNS)
    spec = get_model(model)
    horizon_months = int(setting(settings, "horizon_months"))
    per_month = float(setting(settings, "time_units_per_month"))
    level, draws = _interval_settings(settings)
    point = spec.values(fit)  # plain parameters: every model function takes a sequence
    out["p_alive"] = spec.p_alive(point, x, tx, tt)
    out["churn_risk"] = probability_no_purchase(model, point, _days(settings, "churn_risk_days"), x, tx, tt)
    out["expected_purchases"] = spec.expected_purchases(point, horizon_months * per_month, x, tx, tt)
    # the warehouse's lifetime credits the first month: E[min(1 month + L, H)] = 1 month + E[min(L, H - 1 month)]
    restricted = expected_restricted_lifetime(model, point, x, tx, tt, (horizon_months - 1) * per_month)
    out["model_expected_lifetime_months"] = 1.0 + restricted / per_month
    intervals = intervals and fit.log_cov is not None
    if intervals:
        counts = purchase_intervals(model, fit, horizon_months * per_month, x, tx, tt, level=level, n_draws=draws)
        out["expected_purchases_lower"], out["expected_purchases_upper"] = counts.lower, counts.upper
        del counts  # its draws x patterns P(alive), before the CLV intervals make theirs

    gg, gg_reason = stored_fit(parameters, "full", "gamma_gamma")
    if gg is None:
        out["prediction_status"] = gg_reason
        return _frame(out, PREDICTION_COLUMNS)
    margin = float(setting(settings, "margin_rate"))
    discount = float(setting(settings, "monthly_discount_rate"))
    try:
        spend = conditional_expected_average_profit(gg, x, m)
        clv = model_lifetime_value(model, point, gg, x, tx, tt, m, months=horizon_months,
                                   monthly_discount_rate=discount, margin=margin, periods_per_month=per_month)
        if intervals and gg.log_cov is not None:
            value = clv_intervals(model, fit, gg, x, tx, tt, m, months=horizon_months, monthly_discount_rate=discount,
                                  margin=margin, periods_per_month=per_month, level=level, n_draws=draws,
                                  expected=False, share_draws=True)  # int_segments_clv_intervals reuses the draws
            out["predicted_clv_lower"], out["predicted_clv_upper"] = value.lower, value.upper
    except ClvFitError as exc:
        out["prediction_status"] = f"gamma_gamma prediction failed: {exc}"
        return _frame(out, PREDICTION_COLUMNS)
    out["expected_average_spend"] = spend
    out["predicted_clv"] = clv
    return _frame(out, PREDICTION_COLUMNS)


# --------------------------------------------------------------------------------------------------------- #
# Holdout and model choice
# --------------------------------------------------------------------------------------------------------- #
def predict_holdout(calibrated: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """Per calibration customer and count model: expected purchases in the holdout period from the
    ``calibration`` fit (the customer's channel's when stratified, :func:`clvlayer.clv_strata.by_stratum`), the log
    of the model's probability of the count actually made (holdout log-likelihood), the interval on the holdout
    count and its randomized-PIT coverage of the actual count (:func:`clvlayer.btyd.intervals.purchase_intervals`)."""
    calibrated = in_customer_order(calibrated)
    if calibrated.empty:
        return _frame([], HOLDOUT_COLUMNS)
    frames = []
    for model in COUNT_MODELS:
        frames.append(by_stratum(calibrated, parameters, "calibration", model, lambda rows, fits, model=model:
                                 _holdout_model(rows, fits, settings, model)))
    return pd.concat(frames, ignore_index=True)


def _holdout_model(
    calibrated: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame, model: str
) -> pd.DataFrame:
    n = len(calibrated)
    out = pd.DataFrame({"customer_id": _ids(calibrated), "model": model,
                        "frequency": calibrated["frequency"].to_numpy(), "holdout_purchases":
                        calibrated["holdout_purchases"].to_numpy(),
                        "churn_window_days": int(setting(settings, "churn_window_days")),
                        "churn_window_purchases": calibrated.get("churn_window_purchases", pd.NA)})
    for column, dtype in HOLDOUT_COLUMNS.items():
        if column not in out:
            out[column] = _nulls(n, dtype)
    fit, reason = stored_fit(parameters, "calibration", model)
    if fit is None:
        out["prediction_status"] = reason
        return _frame(out, HOLDOUT_COLUMNS)
    spec = get_model(model)
    t = float(setting(settings, "holdout_length"))
    x, tx, tt = (calibrated[c].to_numpy(float) for c in ("frequency", "recency", "t"))
    y = calibrated["holdout_purchases"].to_numpy(float)
    point = spec.values(fit)
    out["predicted_holdout_purchases"] = spec.expected_purchases(point, t, x, tx, tt)
    out["holdout_log_likelihood"] = holdout_log_likelihood(model, point, t, x, tx, tt, y)
    out["holdout_churn_risk"] = probability_no_purchase(model, point, _days(settings, "churn_window_days"), x, tx, tt)
    if fit.log_cov is not None:
        level, draws = _interval_settings(settings)
        counts = purchase_intervals(model, fit, t, x, tx, tt, level=level, n_draws=draws, actual=y)
        out["holdout_purchases_lower"], out["holdout_purchases_upper"] = counts.lower, counts.upper
        out["holdout_interval_coverage"] = counts.coverage
    out["prediction_status"] = STATUS_OK
    return _frame(out, HOLDOUT_COLUMNS)


def select_model(holdout: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """One row: the model the marts publish (docs block predictive_model_choice). var clv_model forces one;
    otherwise the usable model with the highest holdout log-likelihood per customer
    (:func:`clvlayer.btyd.selection.choose_model`). No usable model: chosen_model null with the reason."""
    holdout = holdout.rename(columns=str.lower)
    by_model = holdout.groupby("model").agg(
        usable=("prediction_status", lambda s: bool(len(s)) and bool((s == STATUS_OK).all())),
        holdout_log_likelihood=("holdout_log_likelihood", "sum"),
        holdout_log_likelihood_per_customer=("holdout_log_likelihood", "mean"),
    )
    reasons = sorted(set(holdout.loc[holdout["prediction_status"] != STATUS_OK, "prediction_status"].dropna()))
    return select_from_scores(by_model, reasons, settings)


#: select_model's per-model scores, aggregated in SQL by the dbt model over int_customers_holdout_predicted
HOLDOUT_SCORES_SQL = """
select
    model,
    count(*) > 0 and bool_and(prediction_status = 'ok') as usable,
    sum(holdout_log_likelihood) as holdout_log_likelihood,
    avg(holdout_log_likelihood) as holdout_log_likelihood_per_customer,
    coalesce(list_sort(list(distinct prediction_status) filter (where prediction_status <> 'ok')), [])
        as reasons
from holdout
group by model
"""


def select_from_scores(by_model: pd.DataFrame, reasons: list[str], settings: pd.DataFrame) -> pd.DataFrame:
    """:func:`select_model` from per-model scores (index model; usable, holdout_log_likelihood,
    holdout_log_likelihood_per_customer) and the sorted reasons of the unusable predictions."""
    forced = _forced_model(settings)
    scores = pd.DataFrame({"model": list(COUNT_MODELS)})
    scores = scores.join(by_model[["usable", "holdout_log_likelihood", "holdout_log_likelihood_per_customer"]],
                         on="model")
    scores["usable"] = scores["usable"].astype("boolean").fillna(False).astype(bool)
    scores["holdout_log_likelihood_per_customer"] = scores["holdout_log_likelihood_per_customer"].astype(float)
    rule = "forced by var clv_model" if forced else "highest holdout log-likelihood per customer"
    try:
        chosen, status = choose_model(scores, forced), STATUS_OK
    except ClvFitError as exc:
        why = "; ".join(reasons) if reasons else "no customer bought on or before the holdout split date"
        chosen, status = pd.NA, f"no model chosen ({exc}): {why}"
    return _frame([{"chosen_model": chosen, "selection_rule": rule, "selection_status": status}], SELECTION_COLUMNS)


def assert_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    """Raise ClvFitError if a numeric prediction column holds NaN/inf (never publish silent nonsense)."""
    for column in columns:
        values = frame[column].dropna().to_numpy(float)
        if values.size and not np.isfinite(values).all():
            raise ClvFitError(f"{column} has {int((~np.isfinite(values)).sum())} non-finite values")
