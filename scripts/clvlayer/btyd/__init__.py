"""clvlayer.btyd: buy-till-you-die models of customer purchasing, fitted by maximum likelihood.

Count models (how many purchases, and whether the customer is still "alive"), one module each with its paper:

* :mod:`.bgnbd` BG/NBD (Fader, Hardie & Lee 2005): the dropout chance follows each repeat purchase;
* :mod:`.mbgnbd` MBG/NBD (Batislam, Denizel & Filiztekin 2007): the dropout chance follows every purchase;
* :mod:`.paretonbd` Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 note): exponential
  lifetime, dropout at any time.

Spend model: :mod:`.gammagamma` Gamma-Gamma (Colombo & Jiang 1999; Fader, Hardie & Lee 2005 "RFM and CLV"; Fader &
Hardie 2013 note).

Inputs are the RFM summary of ``lifetimes.utils.summary_data_from_transaction_data``: ``frequency`` (repeat
purchase periods), ``recency`` (first to last purchase), ``T`` (first purchase to the as-of date), all in one time
unit, and ``monetary_value`` (mean repeat spend). Bad inputs raise :class:`ClvFitError` naming the problem.

The API, as lifetimes' ``BetaGeoFitter`` (fit, then predict from the fit), with every count model behind one
interface so callers loop over models instead of naming them::

    from clvlayer.btyd import conditional_expected_average_profit, fit_gamma_gamma, get_model, model_lifetime_value

    spec = get_model("paretonbd")                   # or "bgnbd", "mbgnbd"; MODELS lists them in tie-break order
    fit = spec.fit(frequency, recency, T)           # a CountFit / BgNbdFit: params, standard_errors, log_cov, ...
    p_alive = spec.p_alive(fit, frequency, recency, T)
    expected = spec.expected_purchases(fit, 30.0, frequency, recency, T)   # purchases in the next 30 time units
    gg = fit_gamma_gamma(frequency, monetary_value)
    spend = conditional_expected_average_profit(gg, frequency, monetary_value)
    clv = model_lifetime_value("paretonbd", fit, gg, frequency, recency, T, monetary_value, months=12,
                               monthly_discount_rate=0.01, periods_per_month=30.0)

* **fit**: :func:`fit_bgnbd`, :func:`fit_mbgnbd`, :func:`fit_paretonbd` (= ``get_model(name).fit``) and
  :func:`fit_gamma_gamma`; a fit that does not converge returns ``converged=False`` with the reason.
* **predict**: ``ModelSpec.expected_purchases``, :func:`count_pmf` (the whole distribution of the count),
  :func:`conditional_expected_average_profit` (spend), :func:`model_lifetime_value` (discounted CLV of any count
  model; :func:`customer_lifetime_value` the BG/NBD one with lifetimes' month lengths).
* **P(alive)**: ``ModelSpec.p_alive``.
* **restricted lifetime**: :func:`expected_restricted_lifetime`, E[min(lifetime, cap) | x, t_x, T].
* **intervals**: :func:`purchase_intervals` and :func:`clv_intervals` (parameter and process uncertainty, drawn
  from each fit's ``log_cov``), returning :class:`PurchaseIntervals` / :class:`ClvIntervals`.
* **holdout choice**: :func:`holdout_log_likelihood` (a model's score of the counts made in a holdout period),
  :func:`score_models` (every model's holdout scores), :func:`choose_model` (the documented rule).
* **per stratum**: :func:`fit_stratified` (a fit per level of a categorical attribute such as the acquisition
  channel, pooled for small levels; :class:`StratifiedFit`), :func:`choose_stratification` (pooled vs stratified by
  the same holdout rule).

Parameters may be passed as a fit, a dict or a sequence in ``ModelSpec.parameters`` order. Modules with a leading
underscore (shared fitting layer, pattern aggregation, prediction building blocks) are internal.
"""

from clvlayer.btyd._core import PERIODS_PER_MONTH, ClvFitError, TimeUnit, aggregate_rfm, unique_codes, validate_rfm
from clvlayer.btyd._fit import CountFit
from clvlayer.btyd.bgnbd import BgNbdFit, fit_bgnbd
from clvlayer.btyd.clv import customer_lifetime_value, model_lifetime_value
from clvlayer.btyd.gammagamma import GammaGammaFit, conditional_expected_average_profit, fit_gamma_gamma
from clvlayer.btyd.intervals import ClvIntervals, PurchaseIntervals, clv_intervals, purchase_intervals
from clvlayer.btyd.mbgnbd import fit_mbgnbd
from clvlayer.btyd.paretonbd import fit_paretonbd
from clvlayer.btyd.registry import (
    MODELS,
    ModelSpec,
    count_pmf,
    expected_restricted_lifetime,
    get_model,
    holdout_log_likelihood,
)
from clvlayer.btyd.selection import BUCKETS, choose_model, frequency_bucket, score_models
from clvlayer.btyd.strata import (
    LikelihoodRatio,
    StratifiedFit,
    choose_by_likelihood_ratio,
    choose_stratification,
    fit_stratified,
    likelihood_ratio_test,
    stratified_holdout_log_likelihood,
)

__all__ = [
    # inputs, errors and fit results
    "ClvFitError",
    "TimeUnit",
    "PERIODS_PER_MONTH",
    "validate_rfm",
    "aggregate_rfm",
    "unique_codes",
    "BgNbdFit",
    "CountFit",
    "GammaGammaFit",
    # the count models behind one interface
    "MODELS",
    "ModelSpec",
    "get_model",
    # fit
    "fit_bgnbd",
    "fit_mbgnbd",
    "fit_paretonbd",
    "fit_gamma_gamma",
    # predict
    "count_pmf",
    "conditional_expected_average_profit",
    "expected_restricted_lifetime",
    "model_lifetime_value",
    "customer_lifetime_value",
    # intervals
    "purchase_intervals",
    "clv_intervals",
    "PurchaseIntervals",
    "ClvIntervals",
    # holdout choice
    "holdout_log_likelihood",
    "score_models",
    "choose_model",
    "frequency_bucket",
    "BUCKETS",
    # per stratum
    "StratifiedFit",
    "fit_stratified",
    "choose_stratification",
    "stratified_holdout_log_likelihood",
    "LikelihoodRatio",
    "likelihood_ratio_test",
    "choose_by_likelihood_ratio",
]
