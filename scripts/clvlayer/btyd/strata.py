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
  (the simpler one). Kept for the benchmark; the build uses the likelihood-ratio test.
* :func:`likelihood_ratio_test` and :func:`choose_by_likelihood_ratio`: the build's choice (DECISIONLOG "Criterion
  for the wiring"): the pooled fit is the stratified one with the strata's parameters equal (nested), so
  stratified is chosen when the likelihood-ratio test rejects pooling at ``level``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scipy.stats import chi2

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


@dataclass(frozen=True)
class LikelihoodRatio:
    """The likelihood-ratio test of the stratified against the pooled fit: ``statistic`` = 2 (ln L stratified -
    ln L pooled), chi-square with ``df`` degrees of freedom under pooling, ``p_value`` = P(chi2_df >= statistic);
    df 0 (nothing stratified) has statistic 0 and p-value 1."""

    statistic: float
    df: int
    p_value: float


def likelihood_ratio_test(fit: StratifiedFit, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                          strata: ArrayLike) -> LikelihoodRatio:
    """The test on the customers the fits were made on. ln L stratified = the strata fits' log-likelihoods plus the
    pooled parameters' log-likelihood of the customers of the other strata (scored by the pooled fit, as the
    stratified fit publishes them); df = parameters x (groups - 1), a group being each stratum with its own fit and
    the rest when it has customers. The rest is not refitted, so the statistic is at most the full model's: the test
    errs towards pooled."""
    labels = np.asarray(strata, dtype=object)
    spec = get_model(fit.model)
    rest = np.ones(len(labels), dtype=bool)
    for stratum in fit.fits:
        rest &= labels != stratum
    groups = len(fit.fits) + int(rest.any())
    if not fit.fits or groups < 2:
        return LikelihoodRatio(0.0, 0, 1.0)
    x, tx, tt = (np.asarray(a, dtype=float)[rest] for a in (frequency, recency, T))
    rest_ll = float(np.sum(spec.log_likelihood_per_row(spec.values(fit.pooled), x, tx, tt))) if rest.any() else 0.0
    stratified = sum(float(f.log_likelihood) for f in fit.fits.values()) + rest_ll
    statistic = max(0.0, 2.0 * (stratified - float(fit.pooled.log_likelihood)))
    df = len(spec.parameters) * (groups - 1)
    return LikelihoodRatio(statistic, df, float(chi2.sf(statistic, df)))


def choose_by_likelihood_ratio(test: LikelihoodRatio, level: float) -> str:
    """STRATIFIED when the test rejects pooling at ``level`` (p-value below it), else POOLED."""
    return STRATIFIED if test.df > 0 and test.p_value < level else POOLED
