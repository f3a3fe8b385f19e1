"""Compatibility module: the BG/NBD + Gamma-Gamma API the warehouse has always imported.

The models now live in the model library :mod:`clvlayer.btyd` (one module per model, a shared fitting /
standard-error / interval layer, a registry). This module re-exports the original public functions
unchanged -- same code, same results -- so ``clv_models.py``, the tests and the benchmarks keep working.
New code should import from :mod:`clvlayer.btyd`.
"""

from __future__ import annotations

from clvlayer.btyd._core import (
    DAYS_PER_UNIT,
    PERIODS_PER_MONTH,
    ClvFitError,
    FloatArray,
    TimeUnit,
    _dot,
    _validate_rfm,
    _validate_weights,
    aggregate_rfm,
)
from clvlayer.btyd._optim import _fd_hessian, _minimize, _OptResult, _sanity, _standard_errors
from clvlayer.btyd.bgnbd import (
    BgNbdFit,
    _bg_params,
    _BgNbdProblem,
    _future_fraction,
    _log_dropout_odds,
    bgnbd_log_likelihood,
    bgnbd_log_likelihood_per_row,
    conditional_expected_number_of_purchases_up_to_time,
    conditional_probability_alive,
    fit_bgnbd,
)
from clvlayer.btyd.clv import customer_lifetime_value
from clvlayer.btyd.gammagamma import (
    GammaGammaFit,
    _gg_params,
    _gg_prepare,
    _GammaGammaProblem,
    conditional_expected_average_profit,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    gamma_gamma_log_likelihood_per_row,
)
from clvlayer.btyd.rfm import rfm_summary

__all__ = [
    "DAYS_PER_UNIT",
    "PERIODS_PER_MONTH",
    "BgNbdFit",
    "ClvFitError",
    "FloatArray",
    "GammaGammaFit",
    "TimeUnit",
    "aggregate_rfm",
    "bgnbd_log_likelihood",
    "bgnbd_log_likelihood_per_row",
    "conditional_expected_average_profit",
    "conditional_expected_number_of_purchases_up_to_time",
    "conditional_probability_alive",
    "customer_lifetime_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "gamma_gamma_log_likelihood_per_row",
    "rfm_summary",
]
# private helpers kept importable for tests written against the old single module
_PRIVATE = (_dot, _validate_rfm, _validate_weights, _fd_hessian, _minimize, _OptResult, _sanity, _standard_errors,
            _bg_params, _future_fraction, _log_dropout_odds, _gg_params, _gg_prepare, _BgNbdProblem, _GammaGammaProblem)
