"""Count models fitted per acquisition channel in the build (issue 23; docs/predictive.md "Fits per acquisition
channel"): the warehouse side of :mod:`clvlayer.btyd.strata`.

* :func:`stratum_rows`: besides the pooled fit of every count model, one fit per channel with at least
  clv_stratum_min_customers customers and clv_stratum_min_repeat_customers repeat buyers (``stratum`` = the
  channel; the pooled rows have ``stratum`` = 'pooled'). Gamma-Gamma stays pooled.
* :func:`with_stratification`: per count model, the likelihood-ratio test of its 'calibration' fits (pooled nested in
  stratified) and the choice at clv_stratification_test_level, on every row of the model (both fit names).
* :func:`by_stratum`: the stratum lookup of the scoring and holdout code: a per-customer scorer run once per group of
  customers with the group's fit (the channel's when the test chose stratified and its fit is usable, else pooled),
  the rows back in the input's order. A model scored pooled is one call on the whole frame, as before.

This module reads warehouse frames only; :mod:`clvlayer.clv_models` calls it (and passes its own row builder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvlayer.btyd import MODELS, ModelSpec, StratifiedFit, choose_by_likelihood_ratio, likelihood_ratio_test
from clvlayer.btyd.strata import POOLED, STRATIFIED, strata_to_fit

#: the customer attribute the count models are stratified by (a column of the RFM summaries)
STRATUM_ATTRIBUTE = "acquisition_channel"
#: int_clv_models_fitted's columns of the choice (the same on every row of a count model; null for Gamma-Gamma and
#: when stratification is off)
STRATIFICATION_COLUMNS: dict[str, str] = {
    "stratification": "str",
    "lr_statistic": "Float64",
    "lr_df": "Int64",
    "lr_p_value": "Float64",
}
#: the settings (int_clv_settings_resolved columns) of the stratification; a change refits (clvlayer.clv_refit)
STRATA_SETTINGS = ("stratify_by_channel", "stratum_min_customers", "stratum_min_repeat_customers",
                   "stratification_test_level")

#: (model name, its spec, the rows of the summary to fit) -> the model's parameter rows
RowMaker = Callable[[str, ModelSpec, np.ndarray], list[dict[str, Any]]]
#: (a parameters table, fit_name, model) -> (the stored fit or None, the reason it is unusable)
StoredFit = Callable[[pd.DataFrame, str, str], tuple[Any, str]]


@dataclass(frozen=True)
class StrataSettings:
    min_customers: int
    min_repeat_customers: int
    test_level: float


def strata_settings(settings: pd.DataFrame) -> StrataSettings | None:
    """The stratification settings, or None when it is off (var clv_stratify_by_channel false, or settings from
    before the setting existed)."""
    if not set(STRATA_SETTINGS) <= set(settings.columns) or not bool(settings["stratify_by_channel"].iloc[0]):
        return None
    row = settings.iloc[0]
    return StrataSettings(int(row["stratum_min_customers"]), int(row["stratum_min_repeat_customers"]),
                          float(row["stratification_test_level"]))


def _labels(frame: pd.DataFrame) -> np.ndarray | None:
    if STRATUM_ATTRIBUTE not in frame.columns:
        return None
    return frame[STRATUM_ATTRIBUTE].astype(object).where(frame[STRATUM_ATTRIBUTE].notna(), None).to_numpy(object)


def stratum_rows(summary: pd.DataFrame, settings: pd.DataFrame, make_rows: RowMaker) -> list[dict[str, Any]]:
    """The parameter rows of every count model fitted on each channel of :func:`clvlayer.btyd.strata.strata_to_fit`
    (``make_rows`` fits one model on the given rows), ``stratum`` = the channel. None when stratification is off, the
    summary has no channel, or one channel holds every customer."""
    config, labels = strata_settings(settings), _labels(summary)
    if config is None or labels is None:
        return []
    chosen = strata_to_fit(labels, summary["frequency"].to_numpy(float), min_customers=config.min_customers,
                           min_repeat_customers=config.min_repeat_customers)
    if len(chosen) == 1 and bool((labels == chosen[0]).all()):
        return []  # one channel holding every customer (no customers table: all 'unknown') is the pooled fit itself
    rows: list[dict[str, Any]] = []
    for stratum in chosen:
        in_stratum = labels == stratum
        for name, spec in MODELS.items():
            rows += [{**row, "stratum": stratum} for row in make_rows(name, spec, in_stratum)]
    return rows


def _stratified_fit(fits: pd.DataFrame, fit_name: str, model: str, stored: StoredFit) -> StratifiedFit | None:
    """The stored pooled fit and the usable stratum fits of ``model`` (None without a usable pooled fit)."""
    pooled, _ = stored(fits, fit_name, model)
    if pooled is None:
        return None
    rows = fits[(fits["fit_name"] == fit_name) & (fits["model"] == model) & (fits["stratum"] != POOLED)]
    by_stratum = {stratum: stored(as_pooled(fits, fit_name, model, stratum), fit_name, model)[0]
                  for stratum in rows["stratum"].unique()}
    return StratifiedFit(model, pooled, {s: f for s, f in by_stratum.items() if f is not None})


def with_stratification(fits: pd.DataFrame, calibration: pd.DataFrame, settings: pd.DataFrame,
                        stored: StoredFit) -> pd.DataFrame:
    """``fits`` with STRATIFICATION_COLUMNS: per count model the likelihood-ratio test of its 'calibration' fits on
    the ``calibration`` customers and the choice at the test level; 'pooled' with null figures when stratification
    is off or the pooled calibration fit is unusable, null for Gamma-Gamma."""
    fits = fits.copy()
    for column, dtype in STRATIFICATION_COLUMNS.items():
        fits[column] = pd.Series(pd.NA, index=fits.index, dtype=dtype)
    config, labels = strata_settings(settings), _labels(calibration)
    for model in MODELS:
        rows = fits["model"] == model
        fits.loc[rows, "stratification"] = POOLED
        fit = None if config is None or labels is None else _stratified_fit(fits, "calibration", model, stored)
        if fit is None:
            continue
        x, tx, tt = (calibration[c].to_numpy(float) for c in ("frequency", "recency", "t"))
        test = likelihood_ratio_test(fit, x, tx, tt, labels)
        fits.loc[rows, "stratification"] = choose_by_likelihood_ratio(test, config.test_level)
        fits.loc[rows, "lr_statistic"] = test.statistic
        fits.loc[rows, "lr_df"] = test.df
        fits.loc[rows, "lr_p_value"] = test.p_value
    return fits


def as_pooled(parameters: pd.DataFrame, fit_name: str, model: str, stratum: str) -> pd.DataFrame:
    """``parameters`` with the rows of ``stratum``'s ``fit_name`` fit of ``model`` in place of the pooled ones (so
    code that reads the pooled fit reads the stratum's; Gamma-Gamma and the other fits unchanged)."""
    same_fit = (parameters["fit_name"] == fit_name) & (parameters["model"] == model)
    keep = ~same_fit | (parameters["stratum"] == stratum)
    out = parameters[keep & ~(same_fit & (parameters["stratum"] == POOLED))].copy()
    out.loc[out["stratum"] == stratum, "stratum"] = POOLED
    return out


def scored_strata(parameters: pd.DataFrame, fit_name: str, model: str) -> list[str]:
    """The channels whose own ``fit_name`` fit scores their customers: the test chose stratified and the channel's
    fit is usable (status ok); the customers of every other channel are scored by the pooled fit."""
    if "stratum" not in parameters.columns or "stratification" not in parameters.columns:
        return []
    rows = parameters[(parameters["fit_name"] == fit_name) & (parameters["model"] == model)
                      & (parameters["stratum"] != POOLED)]
    chosen = rows[(rows["stratification"] == STRATIFIED) & (rows["status"] == "ok")]
    return sorted(chosen["stratum"].dropna().unique())


def by_stratum(frame: pd.DataFrame, parameters: pd.DataFrame, fit_name: str, model: str,
               score: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """``score(customers, parameters)`` per group of ``frame``'s customers: each channel of :func:`scored_strata`
    with its own fit (:func:`as_pooled`), the rest with the pooled fit; the output rows in ``frame``'s order."""
    strata, labels = scored_strata(parameters, fit_name, model), _labels(frame)
    if not strata:
        return score(frame, parameters)
    if labels is None:
        raise ValueError(f"the {model} '{fit_name}' fit is stratified by {STRATUM_ATTRIBUTE} ({', '.join(strata)}) "
                         f"but the customers to score have no {STRATUM_ATTRIBUTE} column: read it with the summary "
                         "(int_customers_rfm_summarised / int_customers_rfm_calibrated carry it)")
    groups = [(POOLED, ~np.isin(labels, np.array(strata, dtype=object))), *((s, labels == s) for s in strata)]
    parts, positions = [], []
    for stratum, rows in groups:
        if rows.any():
            where = np.flatnonzero(rows)
            fits = parameters if stratum == POOLED else as_pooled(parameters, fit_name, model, stratum)
            parts.append(score(frame.iloc[where].reset_index(drop=True), fits))
            positions.append(where)
    order = np.argsort(np.concatenate(positions), kind="stable")
    return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)
