"""Fits on a cadence, scores every run (issue 21; docs/predictive.md "When the models are refitted").

int_clv_models_fitted is an incremental model: it keeps the last fit's parameters in the warehouse (an incremental
`clv build` starts from a copy of the published one), and each run decides here whether to refit or to reuse them.
The rule, checked in this order (the first that holds is the fit's reason):

* ``first_fit``        no stored fit (a full build, or a stored table from older code)
* ``on_demand``        var clv_refit (`clv build --refit`, environment variable CLV_REFIT=true)
* ``settings_changed`` a setting the fit depends on differs from the stored fit's (time unit, penalizer, minimum
                       customers), or the as-of date moved before the stored fit's
* ``interval_passed``  clv_refit_every_days or more days between the stored fit's as-of date and this run's
                       (0 = refit on every run)
* ``new_customers``    the share of this run's customers whose first purchase is after the stored fit's as-of date
                       is above clv_refit_new_customer_share
* ``holdout_error``    the stored calibration fits' relative error on this run's holdout window (expected vs actual
                       purchases) grew by more than clv_refit_holdout_error_increase since the fit, for the best
                       usable count model
Otherwise the run reuses the stored parameters (``reused_this_run``), with the measured figures in
``decision_detail``. var clv_parameters_from instead loads the parameters from a file (``given_parameters``): the
path for "a full build given the same parameters", the equivalence contract of a reusing run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from clvlayer.btyd import ClvFitError, get_model
from clvlayer.clv_strata import STRATA_SETTINGS, STRATIFICATION_COLUMNS

REASONS = ("first_fit", "on_demand", "settings_changed", "interval_passed", "new_customers", "holdout_error",
           "given_parameters")
#: the settings a fit depends on: a change refits (a change of anything else only rescoring)
FIT_SETTINGS = ("time_unit", "penalizer", "min_customers", "min_repeat_customers")
RUN_COLUMNS: dict[str, str] = {
    "fitted_as_of_date": "datetime64[us]",
    "fitted_holdout_split_date": "datetime64[us]",
    "fit_reason": "str",
    "fit_settings": "str",
    "holdout_error_at_fit": "Float64",
    "reused_this_run": "boolean",
    "decision_detail": "str",
}
#: what the rule reads of the stored fit
STORED = ("fitted_as_of_date", "fit_settings", "holdout_error_at_fit")


@dataclass(frozen=True)
class Decision:
    """Refit (with one of REASONS) or reuse the stored fit; ``detail`` gives the measured figures."""

    refit: bool
    reason: str
    detail: str


def _setting(settings: pd.DataFrame, name: str) -> Any:
    return settings[name].iloc[0]


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def fit_settings(settings: pd.DataFrame) -> str:
    """The settings the fit depends on (FIT_SETTINGS and, when resolved, the per-channel fits' STRATA_SETTINGS), as
    canonical JSON."""
    names = FIT_SETTINGS + tuple(name for name in STRATA_SETTINGS if name in settings.columns)
    values = {name: _setting(settings, name) for name in names}
    return json.dumps({k: (float(v) if isinstance(v, (int, float, np.number)) else str(v)) for k, v in values.items()},
                      sort_keys=True)


def refit_requested(settings: pd.DataFrame) -> bool:
    value = _setting(settings, "refit_requested") if "refit_requested" in settings.columns else False
    return str(value).strip().lower() in ("true", "1", "yes")


def holdout_errors(parameters: pd.DataFrame, calibrated: pd.DataFrame, settings: pd.DataFrame,
                   fitted: Callable[[pd.DataFrame, str, str], tuple[Any, str]]) -> dict[str, float]:
    """Per usable 'calibration' count fit: (expected - actual) / actual purchases of ``calibrated``'s customers in
    its holdout window (nan without actual purchases)."""
    errors: dict[str, float] = {}
    if calibrated.empty:
        return errors
    x, tx, tt = (calibrated[c].to_numpy(float) for c in ("frequency", "recency", "t"))
    actual = float(calibrated["holdout_purchases"].to_numpy(float).sum())
    t = float(_setting(settings, "holdout_length"))
    for model in parameters.loc[parameters["model"] != "gamma_gamma", "model"].unique():
        fit, _ = fitted(parameters, "calibration", str(model))
        if fit is None:
            continue
        spec = get_model(str(model))
        try:
            predicted = float(np.sum(spec.expected_purchases(spec.values(fit), t, x, tx, tt)))
        except ClvFitError:
            continue
        errors[str(model)] = (predicted - actual) / actual if actual > 0 else float("nan")
    return errors


def best_error(errors: dict[str, float]) -> float:
    """The smallest |relative error| among the models (nan when none is finite)."""
    finite = [abs(e) for e in errors.values() if np.isfinite(e)]
    return min(finite) if finite else float("nan")


def decide(previous: pd.DataFrame | None, settings: pd.DataFrame, summary: pd.DataFrame,
           error_now: Callable[[], float]) -> Decision:
    """Refit or reuse (module docstring); ``error_now`` measures the stored fits' holdout error on this run's data
    (called only when the earlier rules do not already refit)."""
    if previous is None or previous.empty or not set(STORED) <= set(previous.columns) \
            or previous["fitted_as_of_date"].isna().all():
        return Decision(True, "first_fit", "no stored fit" if previous is None or previous.empty
                        else "the stored parameters do not say when they were fitted")
    fitted_on = _day(previous["fitted_as_of_date"].dropna().iloc[0])
    as_of = _day(_setting(settings, "as_of_date"))
    if refit_requested(settings):
        return Decision(True, "on_demand", "var clv_refit (clv build --refit)")
    stored = str(previous["fit_settings"].dropna().iloc[0]) if previous["fit_settings"].notna().any() else ""
    if stored != fit_settings(settings):
        return Decision(True, "settings_changed", f"fit settings {stored} -> {fit_settings(settings)}")
    if as_of < fitted_on:
        return Decision(True, "settings_changed", f"as-of date {as_of} is before the stored fit's ({fitted_on})")
    days, every = (as_of - fitted_on).days, int(_setting(settings, "refit_every_days"))
    said = [f"{days} days since the fit as of {fitted_on} (refit every {every})"]
    if days >= every:
        return Decision(True, "interval_passed", said[0])
    first = pd.to_datetime(summary["first_purchased_on"]) if len(summary) else pd.Series([], dtype="datetime64[us]")
    share = float((first.dt.date > fitted_on).mean()) if len(summary) else 0.0
    limit = float(_setting(settings, "refit_new_customer_share"))
    said.append(f"{share:.2%} of customers new since (threshold {limit:.2%})")
    if share > limit:
        return Decision(True, "new_customers", "; ".join(said))
    at_fit = previous["holdout_error_at_fit"].dropna()
    at_fit_value = float(at_fit.min()) if len(at_fit) else float("nan")
    now, increase = error_now(), float(_setting(settings, "refit_holdout_error_increase"))
    said.append(f"holdout error {now:.2%} vs {at_fit_value:.2%} at the fit (threshold +{increase:.2%})")
    if np.isfinite(now) and np.isfinite(at_fit_value) and now - at_fit_value > increase:
        return Decision(True, "holdout_error", "; ".join(said))
    return Decision(False, "reused", "; ".join(said))


def with_run_columns(fits: pd.DataFrame, settings: pd.DataFrame, decision: Decision, errors: dict[str, float]
                     ) -> pd.DataFrame:
    """Newly fitted rows: the fit's as-of and split dates, reason, settings and holdout error at the fit."""
    fits = fits.copy()
    fits["fitted_as_of_date"] = pd.Timestamp(_setting(settings, "as_of_date"))
    fits["fitted_holdout_split_date"] = pd.Timestamp(_setting(settings, "holdout_split_date"))
    fits["fit_reason"] = decision.reason
    fits["fit_settings"] = fit_settings(settings)
    best = best_error(errors)
    fits["holdout_error_at_fit"] = pd.array([best if np.isfinite(best) else pd.NA] * len(fits), dtype="Float64")
    fits["reused_this_run"] = False
    fits["decision_detail"] = decision.detail
    return fits


def reused(previous: pd.DataFrame, decision: Decision) -> pd.DataFrame:
    """The stored rows, marked as reused by this run."""
    previous = previous.copy()
    previous["reused_this_run"] = True
    previous["decision_detail"] = decision.detail
    return previous


def given(path: str, read: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    """The parameters of var clv_parameters_from (a parquet or CSV file of int_clv_models_fitted rows)."""
    try:
        frame = read(path)
    except Exception as exc:  # duckdb's IOException / BinderException: say which file and what to do
        raise ClvFitError(f"var clv_parameters_from = {path!r}: cannot read it ({exc}); give a parquet or CSV "
                          "file of int_clv_models_fitted rows (e.g. COPY int_clv_models_fitted TO 'p.parquet')"
                          ) from None
    missing = {"fit_name", "model", "parameter", "estimate", "status"} - set(frame.columns)
    if missing:
        raise ClvFitError(f"var clv_parameters_from = {path!r} lacks the columns {sorted(missing)} of "
                          "int_clv_models_fitted")
    frame = frame.copy()
    if "stratum" not in frame.columns:  # a file from before the per-channel fits: every fit pooled
        frame["stratum"] = "pooled"
    for column in [*STRATIFICATION_COLUMNS, *RUN_COLUMNS]:
        if column not in frame.columns:
            frame[column] = pd.NA
    frame["fit_reason"] = "given_parameters"
    frame["reused_this_run"] = False
    frame["decision_detail"] = f"parameters read from {path}"
    return frame
