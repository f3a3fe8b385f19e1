"""Model choice on a calibration / holdout split.

:func:`score_models` scores every fitted model on the holdout period: total and per-frequency-bucket
predicted vs actual purchases, and the holdout log-likelihood (the log of each model's predicted probability
of the count each customer actually made, :func:`clvlayer.btyd.registry.holdout_log_likelihood`).

The rule (:func:`choose_model`): a forced model wins if it is given (it must be registered and have a
usable fit); otherwise, among the models whose calibration fit converged, the one with the highest holdout
log-likelihood per customer. The log-likelihood is a proper scoring rule for the whole predictive
distribution (it rewards the right P(alive) for one-time buyers, not only the right totals), and it is what
the intervals use. Exact ties go to the simpler model in registry order (bgnbd, mbgnbd, paretonbd).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvlayer.btyd._core import ClvFitError
from clvlayer.btyd.registry import MODELS, get_model, holdout_log_likelihood

BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+")


def frequency_bucket(frequency: ArrayLike) -> np.ndarray:
    """Calibration-frequency bucket labels "0".."6" and "7+"."""
    x = np.asarray(frequency, dtype=np.float64)
    return np.where(x >= 7, "7+", np.minimum(x, 7).astype(np.int64).astype(str))


def score_models(
    fits: Mapping[str, Any],
    holdout_length: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    actual: ArrayLike,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per model, one row per model and frequency bucket) for calibration ``fits`` by model name.

    Model rows: customers, predicted and actual holdout purchases, error and relative error of the total,
    mean absolute error per bucket, holdout log-likelihood (total and per customer), calibration converged.
    A model whose fit is missing or did not converge gets NaN scores and ``usable = False``.
    """
    x = np.asarray(frequency, dtype=np.float64)
    y = np.asarray(actual, dtype=np.float64)
    if len(y) != len(x):
        raise ClvFitError("actual must hold one holdout purchase count per calibration customer")
    buckets = frequency_bucket(x)
    model_rows, bucket_rows = [], []
    for name, fit in fits.items():
        spec = get_model(name)
        usable = fit is not None and bool(getattr(fit, "converged", False))
        pred = spec.expected_purchases(fit, holdout_length, x, recency, T) if usable else np.full(len(x), np.nan)
        ll = holdout_log_likelihood(name, fit, holdout_length, x, recency, T, y) if usable else np.full(len(x), np.nan)
        frame = pd.DataFrame({"bucket": buckets, "predicted": pred, "actual": y})
        per_bucket = frame.groupby("bucket").agg(customers=("actual", "size"), predicted=("predicted", "sum"), actual=("actual", "sum"))
        per_bucket = per_bucket.reindex(list(BUCKETS)).dropna(subset=["customers"]).reset_index()
        per_bucket.insert(0, "model", name)
        per_bucket["error"] = per_bucket["predicted"] - per_bucket["actual"]
        bucket_rows.append(per_bucket)
        total_pred, total_act = float(np.sum(pred)), float(np.sum(y))
        model_rows.append({
            "model": name,
            "usable": usable,
            "customers": len(x),
            "predicted_purchases": total_pred,
            "actual_purchases": total_act,
            "total_error": total_pred - total_act,
            "total_relative_error": (total_pred - total_act) / total_act if total_act > 0 else math.nan,
            "bucket_mean_abs_error": float(per_bucket["error"].abs().mean()) if usable else math.nan,
            "holdout_log_likelihood": float(np.sum(ll)),
            "holdout_log_likelihood_per_customer": float(np.mean(ll)) if len(x) else math.nan,
        })
    return pd.DataFrame(model_rows), pd.concat(bucket_rows, ignore_index=True)


def choose_model(scores: pd.DataFrame, forced: str | None = None) -> str:
    """The model to publish (module docstring): ``forced`` if given, else the best holdout LL per customer."""
    if forced:
        get_model(forced)
        row = scores[scores["model"] == forced]
        if row.empty or not bool(row["usable"].iloc[0]):
            raise ClvFitError(f"forced model {forced!r} has no usable (converged) calibration fit")
        return forced
    usable = scores[scores["usable"] & np.isfinite(scores["holdout_log_likelihood_per_customer"])]
    if usable.empty:
        raise ClvFitError("no model has a usable calibration fit: nothing to choose from")
    order = {name: i for i, name in enumerate(MODELS)}
    ranked = usable.assign(_order=usable["model"].map(order)).sort_values(
        ["holdout_log_likelihood_per_customer", "_order"], ascending=[False, True]
    )
    return str(ranked["model"].iloc[0])
