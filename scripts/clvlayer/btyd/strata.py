"""Count models fitted per stratum (a categorical customer attribute such as the acquisition channel), pooled as the
fallback, and the holdout choice between the pooled and the stratified fit.

A model fitted once over all customers (pooled) cannot know that one channel's customers drop out twice as fast:
its predictions for that channel regress to the pooled dropout. For a categorical attribute a fit per stratum is the
exact form of a time-invariant covariate model (CLVTools' static covariates with one dummy per level and every
parameter free): each stratum gets its own r, alpha, a, b (or r, alpha, s, beta).

* :func:`strata_to_fit`: the strata with at least ``min_customers`` customers and ``min_repeat_customers`` repeat
  buyers; the customers of the other strata are scored by the pooled fit.
* :func:`fit_stratified`: the pooled fit and one fit per stratum to fit (a stratum whose fit fails or does not
  converge falls back to the pooled fit, with the reason kept).
* :meth:`StratifiedFit.apply`: a per-customer function of the parameters (P(alive), expected purchases, holdout
  log-likelihood, CLV, ...) evaluated with each customer's own stratum fit.
* :func:`choose_stratification`: the rule of :func:`clvlayer.btyd.selection.choose_model` applied to pooled vs
  stratified: the higher holdout log-likelihood per customer on the same customers; exact ties go to the pooled fit
  (the simpler one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clvlayer.btyd._core import ClvFitError, FloatArray
from clvlayer.btyd.registry import get_model, holdout_log_likelihood

POOLED = "pooled"
STRATIFIED = "stratified"


@dataclass(frozen=True)
class StratifiedFit:
    """The pooled fit of ``model`` and the fits of the strata that have their own (stratum -> fit);
    ``fallback_reasons``: stratum -> why it is scored by the pooled fit."""

    model: str
    pooled: Any
    fits: Mapping[str, Any]
    fallback_reasons: Mapping[str, str] = field(default_factory=dict)

    def apply(self, strata: ArrayLike, function: Callable[..., ArrayLike], *arrays: ArrayLike) -> FloatArray:
        """``function(params, *arrays)`` per customer with the customer's stratum fit (pooled for the rest)."""
        labels = np.asarray(strata, dtype=object)
        columns = [np.asarray(a) for a in arrays]
        out = np.full(len(labels), np.nan)
        pooled = np.ones(len(labels), dtype=bool)
        groups = [(labels == stratum, fit) for stratum, fit in self.fits.items()]
        for rows, _ in groups:
            pooled &= ~rows
        for rows, fit in [(pooled, self.pooled), *groups]:
            if rows.any():
                out[rows] = function(fit, *(c[rows] for c in columns))
        return out


def strata_to_fit(strata: ArrayLike, frequency: ArrayLike, *, min_customers: int,
                  min_repeat_customers: int) -> list[str]:
    """The strata (sorted) with at least ``min_customers`` customers of whom at least ``min_repeat_customers``
    bought again (frequency > 0); a null stratum is never fitted on its own."""
    labels = np.asarray(strata, dtype=object)
    repeat = np.asarray(frequency, dtype=float) > 0
    chosen = []
    for stratum in sorted({s for s in labels if isinstance(s, str)}):
        rows = labels == stratum
        if rows.sum() >= min_customers and repeat[rows].sum() >= min_repeat_customers:
            chosen.append(stratum)
    return chosen


def fit_stratified(model: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, strata: ArrayLike, *,
                   min_customers: int, min_repeat_customers: int, penalizer: float = 0.0) -> StratifiedFit:
    """The pooled fit over every customer and one fit per stratum of :func:`strata_to_fit`. Raises
    :class:`ClvFitError` when the pooled fit cannot be made (the strata are then moot)."""
    spec = get_model(model)
    x, tx, tt = (np.asarray(a, dtype=float) for a in (frequency, recency, T))
    labels = np.asarray(strata, dtype=object)
    pooled = spec.fit(x, tx, tt, penalizer=penalizer, min_customers=min_customers)
    fits: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    for stratum in strata_to_fit(labels, x, min_customers=min_customers, min_repeat_customers=min_repeat_customers):
        rows = labels == stratum
        try:
            fit = spec.fit(x[rows], tx[rows], tt[rows], penalizer=penalizer, min_customers=min_customers)
        except ClvFitError as exc:
            reasons[stratum] = str(exc)
            continue
        if fit.converged:
            fits[stratum] = fit
        else:
            reasons[stratum] = f"did not converge: {fit.message}"
    return StratifiedFit(model, pooled, fits, reasons)


def stratified_holdout_log_likelihood(fit: StratifiedFit, holdout_length: float, frequency: ArrayLike,
                                      recency: ArrayLike, T: ArrayLike, actual: ArrayLike,
                                      strata: ArrayLike) -> FloatArray:
    """Per customer: the log of the probability the customer's stratum fit gives the holdout count made."""
    return fit.apply(strata, lambda params, x, tx, tt, y: holdout_log_likelihood(
        fit.model, params, holdout_length, x, tx, tt, y), frequency, recency, T, actual)


def choose_stratification(pooled_per_customer: float, stratified_per_customer: float) -> str:
    """POOLED or STRATIFIED: the higher holdout log-likelihood per customer (the model choice's criterion); a
    stratified score that is not finite, or an exact tie, keeps the pooled fit."""
    if not math.isfinite(pooled_per_customer) and not math.isfinite(stratified_per_customer):
        raise ClvFitError("neither the pooled nor the stratified fit has a finite holdout log-likelihood")
    if not math.isfinite(stratified_per_customer):
        return POOLED
    if not math.isfinite(pooled_per_customer):
        return STRATIFIED
    return STRATIFIED if stratified_per_customer > pooled_per_customer else POOLED
