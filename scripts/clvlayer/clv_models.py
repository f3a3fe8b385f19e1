"""Predictive CLV inside the dbt DAG: the logic behind the dbt Python models in models/intermediate/predictive.

The dbt Python models (dbt-duckdb runs them in the dbt process) are thin: they read the RFM summaries and the
one-row settings model, call the functions here and return the DataFrame dbt materialises. Keeping the logic in
this typed module lets pytest call it directly on edge cases (zero customers, no repeat buyers, ...).

The RFM summary exists once, in SQL (macro ``rfm_summary`` -> int_customers_rfm_summarised / _calibrated): this
module takes it as given and never rebuilds it from transactions (``clvfit.rfm_summary`` is a lifetimes-compatible
helper for data outside the warehouse, with lifetimes' 0 instead of null for one-purchase customers' monetary value;
the warehouse does not use it, and the tests keep their own independent summary).

Failure is loud and safe: a fit that cannot run (too few customers, no repeat buyers, invalid data) or does not
converge is a row with ``status`` and ``status_reason`` and null estimates; predictions from it are null with the
reason in ``prediction_status``. A dbt test (severity warn) makes any such row visible in the build output.
Definitions: docs/metrics.md "Predictive CLV".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import roots_jacobi

from clvlayer.clvfit import (
    BgNbdFit,
    ClvFitError,
    GammaGammaFit,
    conditional_expected_average_profit,
    conditional_expected_number_of_purchases_up_to_time,
    conditional_probability_alive,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
)

BGNBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "v")
STATUS_OK = "ok"
STATUS_NOT_CONVERGED = "not_converged"
STATUS_NOT_FITTED = "not_fitted"

FIT_COLUMNS: dict[str, str] = {
    "fit_name": "str",
    "model": "str",
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
}

PREDICTION_COLUMNS: dict[str, str] = {
    "customer_id": "str",
    "p_alive": "Float64",
    "expected_purchases": "Float64",
    "expected_average_spend": "Float64",
    "predicted_clv": "Float64",
    "model_expected_lifetime_months": "Float64",
    "prediction_status": "str",
}

HOLDOUT_COLUMNS: dict[str, str] = {
    "customer_id": "str",
    "predicted_holdout_purchases": "Float64",
    "prediction_status": "str",
}


def _frame(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` and nullable dtypes (pd.NA -> SQL NULL, even when empty)."""
    frame = pd.DataFrame(rows, columns=list(columns))
    return frame.astype(dict(columns))


def _setting(settings: pd.DataFrame, name: str) -> Any:
    if len(settings) != 1:
        raise ClvFitError(f"int_clv_settings_resolved must have exactly one row, got {len(settings)}")
    return settings[name].iloc[0]


def _fit_rows(
    fit_name: str,
    model: str,
    parameters: tuple[str, ...],
    fit: BgNbdFit | GammaGammaFit | None,
    status: str,
    reason: str,
    n_customers: int,
    penalizer: float,
    fit_seconds: float | None,
) -> list[dict[str, Any]]:
    rows = []
    for parameter in parameters:
        row: dict[str, Any] = {
            "fit_name": fit_name,
            "model": model,
            "parameter": parameter,
            "estimate": pd.NA,
            "standard_error": pd.NA,
            "log_likelihood": pd.NA,
            "n_customers": n_customers,
            "n_patterns": pd.NA,
            "converged": pd.NA if fit is None else bool(fit.converged),
            "status": status,
            "status_reason": reason,
            "fit_seconds": pd.NA if fit_seconds is None else fit_seconds,
            "freq_monetary_correlation": pd.NA,
            "penalizer": penalizer,
        }
        if fit is not None:
            row["estimate"] = float(fit.params[parameter])
            se = fit.standard_errors.get(parameter, math.nan)
            row["standard_error"] = se if math.isfinite(se) else pd.NA
            row["log_likelihood"] = float(fit.log_likelihood)
            if isinstance(fit, BgNbdFit):
                row["n_patterns"] = fit.n_patterns
            else:
                corr = fit.freq_monetary_correlation
                row["freq_monetary_correlation"] = corr if math.isfinite(corr) else pd.NA
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
    fit: Callable[[], BgNbdFit | GammaGammaFit],
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


def fit_models(summary: pd.DataFrame, settings: pd.DataFrame, fit_name: str) -> pd.DataFrame:
    """Fit BG/NBD on every customer of ``summary`` and Gamma-Gamma on its repeat customers.

    ``summary`` has the columns of int_customers_rfm_summarised (frequency, recency, T, monetary_value).
    Returns one row per (model, parameter) with the fit's log-likelihood, size, convergence and status.
    """
    min_customers = int(_setting(settings, "min_customers"))
    min_repeat = int(_setting(settings, "min_repeat_customers"))
    penalizer = float(_setting(settings, "penalizer"))
    summary = summary.rename(columns=str.lower)
    frequency = summary["frequency"].to_numpy(float)
    n = len(summary)

    # BG/NBD on every customer
    rows = _model_rows(
        fit_name, "bgnbd", BGNBD_PARAMETERS, "BG/NBD", n,
        None if n >= min_customers else (
            f"{n} customers with a completed order up to the as-of date; the fit needs at least "
            f"clv_min_customers = {min_customers}"
        ),
        penalizer,
        lambda: fit_bgnbd(
            frequency, summary["recency"].to_numpy(float), summary["t"].to_numpy(float),
            penalizer=penalizer, min_customers=min_customers,
        ),
    )

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


def _fitted(parameters: pd.DataFrame, fit_name: str, model: str, names: tuple[str, ...]) -> tuple[list[float] | None, str]:
    """(estimates in ``names`` order, "") for a usable fit, else (None, the reason it is unusable)."""
    rows = parameters[(parameters["fit_name"] == fit_name) & (parameters["model"] == model)]
    if rows.empty:
        return None, f"no {model} fit named {fit_name!r} in the parameters table"
    status = str(rows["status"].iloc[0])
    if status != STATUS_OK:
        return None, f"{model} fit {status}: {rows['status_reason'].iloc[0]}"
    by_name = dict(zip(rows["parameter"], rows["estimate"], strict=True))
    return [float(by_name[name]) for name in names], ""


def score_customers(summary: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """Per customer: P(alive), expected purchases and spend over the horizon, discounted predicted CLV and the
    model's expected lifetime (1 month + E[min(L, horizon - 1 month)], the warehouse's lifetime measure).

    Uses the ``full`` fit. Expected purchases cover ``horizon_months`` months (in time units:
    horizon_months x time_units_per_month); predicted CLV = margin_rate x expected average spend x the
    expected purchases of each month discounted at monthly_discount_rate (clvfit.customer_lifetime_value).
    """
    summary = summary.rename(columns=str.lower)
    if summary.empty:
        return _frame([], PREDICTION_COLUMNS)
    customers = summary["customer_id"].astype(str).to_numpy()
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    tt = summary["t"].to_numpy(float)
    m = summary["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    n = len(summary)
    out = pd.DataFrame({"customer_id": customers})
    for column in ("p_alive", "expected_purchases", "expected_average_spend", "predicted_clv",
                   "model_expected_lifetime_months"):
        out[column] = pd.array([pd.NA] * n, dtype="Float64")
    out["prediction_status"] = STATUS_OK

    bg, bg_reason = _fitted(parameters, "full", "bgnbd", BGNBD_PARAMETERS)
    if bg is None:
        out["prediction_status"] = bg_reason
        return out.astype(PREDICTION_COLUMNS)
    horizon_months = int(_setting(settings, "horizon_months"))
    per_month = float(_setting(settings, "time_units_per_month"))
    out["p_alive"] = conditional_probability_alive(bg, x, tx, tt)
    out["expected_purchases"] = conditional_expected_number_of_purchases_up_to_time(
        bg, horizon_months * per_month, x, tx, tt
    )
    # the warehouse's lifetime credits the first month: E[min(1 month + L, H)] = 1 month + E[min(L, H - 1 month)]
    restricted = expected_restricted_lifetime(bg, x, tx, tt, (horizon_months - 1) * per_month)
    out["model_expected_lifetime_months"] = 1.0 + restricted / per_month

    gg, gg_reason = _fitted(parameters, "full", "gamma_gamma", GAMMA_GAMMA_PARAMETERS)
    if gg is None:
        out["prediction_status"] = gg_reason
        return out.astype(PREDICTION_COLUMNS)
    try:
        spend = conditional_expected_average_profit(gg, x, m)
        clv = customer_lifetime_value(
            bg, gg, x, tx, tt, m,
            months=horizon_months,
            monthly_discount_rate=float(_setting(settings, "monthly_discount_rate")),
            margin=float(_setting(settings, "margin_rate")),
            periods_per_month=per_month,
        )
    except ClvFitError as exc:
        out["prediction_status"] = f"gamma_gamma prediction failed: {exc}"
        return out.astype(PREDICTION_COLUMNS)
    out["expected_average_spend"] = spend
    out["predicted_clv"] = clv
    return out.astype(PREDICTION_COLUMNS)


def expected_restricted_lifetime(
    params: list[float], x: np.ndarray, tx: np.ndarray, tt: np.ndarray, cap: float, nodes: int = 48
) -> np.ndarray:
    """BG/NBD E[min(L, cap) | x, t_x, T] per customer, L = first purchase -> dropout, in the fit's time units.

    Dropout happens right after a repeat purchase, so a customer who is no longer alive dropped out at t_x; one who
    is alive (probability P(alive)) lives T + R with R ~ Exponential(lambda p) given (lambda, p) (a Geometric(p)
    number of Exponential(lambda) gaps), whose posterior given alive is lambda ~ Gamma(r + x, alpha + T),
    p ~ Beta(a, b + x). With s = cap - T and k = r + x, beta = alpha + T:
        E[min(R, s) | p] = beta / (p (k - 1)) [1 - (1 + p s / beta)^(1 - k)]   (beta ln(1 + p s / beta) / p at k = 1)
    integrated over p by Gauss-Jacobi quadrature. The unrestricted mean is infinite when r + x <= 1.
    """
    r, alpha, a, b = params
    x, tx, tt = (np.asarray(v, dtype=float) for v in (x, tx, tt))
    alive = conditional_probability_alive(params, x, tx, tt)
    remaining = np.zeros_like(x)
    s = np.maximum(cap - tt, 0.0)
    for value in np.unique(x):
        rows = (x == value) & (s > 0)
        if not rows.any():
            continue
        # p ~ Beta(a, b + x): nodes u on [-1, 1] with weight (1 - u)^(b + x - 1) (1 + u)^(a - 1), p = (1 + u) / 2
        u, weights = roots_jacobi(nodes, b + value - 1.0, a - 1.0)
        p = (1.0 + u)[None, :] / 2.0
        k = r + value
        beta = (alpha + tt[rows])[:, None]
        y = p * s[rows][:, None] / beta
        if abs(k - 1.0) < 1e-9:
            per_p = beta * np.log1p(y) / p
        else:
            per_p = beta / (k - 1.0) * -np.expm1(-(k - 1.0) * np.log1p(y)) / p
        remaining[rows] = per_p @ (weights / weights.sum())
    return (1.0 - alive) * np.minimum(tx, cap) + alive * (np.minimum(tt, cap) + remaining)


def predict_holdout(calibrated: pd.DataFrame, parameters: pd.DataFrame, settings: pd.DataFrame) -> pd.DataFrame:
    """Per calibration customer: expected purchases in the holdout period from the ``calibration`` fit."""
    calibrated = calibrated.rename(columns=str.lower)
    if calibrated.empty:
        return _frame([], HOLDOUT_COLUMNS)
    n = len(calibrated)
    out = pd.DataFrame({"customer_id": calibrated["customer_id"].astype(str).to_numpy()})
    out["predicted_holdout_purchases"] = pd.array([pd.NA] * n, dtype="Float64")
    bg, reason = _fitted(parameters, "calibration", "bgnbd", BGNBD_PARAMETERS)
    if bg is None:
        out["prediction_status"] = reason
        return out.astype(HOLDOUT_COLUMNS)
    out["predicted_holdout_purchases"] = conditional_expected_number_of_purchases_up_to_time(
        bg,
        float(_setting(settings, "holdout_length")),
        calibrated["frequency"].to_numpy(float),
        calibrated["recency"].to_numpy(float),
        calibrated["t"].to_numpy(float),
    )
    out["prediction_status"] = STATUS_OK
    return out.astype(HOLDOUT_COLUMNS)


def assert_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    """Raise ClvFitError if a numeric prediction column holds NaN/inf (never publish silent nonsense)."""
    for column in columns:
        values = frame[column].dropna().to_numpy(float)
        if values.size and not np.isfinite(values).all():
            raise ClvFitError(f"{column} has {int((~np.isfinite(values)).sum())} non-finite values")
