"""One interface for every count model, so callers (the dbt Python models, intervals, model choice) loop
over models instead of naming them.

Every function takes ``params``: a fit result of that model or a sequence of its parameters in
``parameters`` order (parameter draws are plain arrays). Conventions shared by all models:
``E[Y(t) | data] = P(alive) * alive_expected_purchases`` and ``P(Y(t) = k | data) = (1 - P(alive)) [k == 0]
+ P(alive) * alive_count_pmf[k]``, where the ``alive_*`` functions depend on (x, T) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from clvlayer.btyd import bgnbd, mbgnbd, paretonbd
from clvlayer.btyd._core import ClvFitError, FloatArray, aggregate_rfm


@dataclass(frozen=True)
class ModelSpec:
    """A count model: its name, parameters and functions (see the module docstring)."""

    name: str
    label: str
    parameters: tuple[str, ...]
    fit: Callable[..., Any]
    log_likelihood_per_row: Callable[..., FloatArray]
    p_alive: Callable[..., FloatArray]
    expected_purchases: Callable[..., FloatArray]
    alive_expected_purchases: Callable[..., FloatArray]
    alive_count_pmf: Callable[..., FloatArray]
    expected_lifetime: Callable[..., FloatArray]
    time_parameters: tuple[str, ...]

    def values(self, params: Any) -> tuple[float, ...]:
        """Parameter values in ``parameters`` order from a fit, a dict or a sequence."""
        if hasattr(params, "params") and isinstance(params.params, dict):
            params = params.params
        if isinstance(params, dict):
            return tuple(float(params[k]) for k in self.parameters)
        return tuple(float(v) for v in params)


MODELS: dict[str, ModelSpec] = {
    "bgnbd": ModelSpec(
        "bgnbd", "BG/NBD", bgnbd.PARAMETERS, bgnbd.fit_bgnbd, bgnbd.bgnbd_log_likelihood_per_row,
        bgnbd.conditional_probability_alive, bgnbd.conditional_expected_number_of_purchases_up_to_time,
        bgnbd.alive_expected_purchases, bgnbd.alive_count_pmf, bgnbd.expected_lifetime, ("alpha",),
    ),
    "mbgnbd": ModelSpec(
        "mbgnbd", "MBG/NBD", mbgnbd.PARAMETERS, mbgnbd.fit_mbgnbd, mbgnbd.mbgnbd_log_likelihood_per_row,
        mbgnbd.conditional_probability_alive, mbgnbd.conditional_expected_number_of_purchases_up_to_time,
        mbgnbd.alive_expected_purchases, mbgnbd.alive_count_pmf, mbgnbd.expected_lifetime, ("alpha",),
    ),
    "paretonbd": ModelSpec(
        "paretonbd", "Pareto/NBD", paretonbd.PARAMETERS, paretonbd.fit_paretonbd,
        paretonbd.paretonbd_log_likelihood_per_row, paretonbd.conditional_probability_alive,
        paretonbd.conditional_expected_number_of_purchases_up_to_time, paretonbd.alive_expected_purchases,
        paretonbd.alive_count_pmf, paretonbd.expected_lifetime, ("alpha", "beta"),
    ),
}


def get_model(name: str) -> ModelSpec:
    """The registered model ``name``; :class:`ClvFitError` naming the valid choices otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ClvFitError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None


def count_pmf(model: str, params: Any, t: float, frequency: Any, recency: Any, T: Any, kmax: int | None = None) -> FloatArray:
    """P(Y(t) = k | x, t_x, T) for k = 0..kmax (customers x (kmax + 1)), the full conditional distribution."""
    spec = get_model(model)
    pa = spec.p_alive(params, frequency, recency, T)
    q = spec.alive_count_pmf(params, t, frequency, T, kmax)
    out = pa[:, None] * q
    out[:, 0] += 1.0 - pa
    return out


def holdout_log_likelihood(model: str, params: Any, t: Any, frequency: Any, recency: Any, T: Any, actual: Any) -> FloatArray:
    """ln P(Y(t) = actual | calibration x, t_x, T) per customer: the model's predictive score on a holdout."""
    spec = get_model(model)
    y = np.asarray(actual, dtype=np.float64)
    if (y < 0).any() or (y != np.round(y)).any() or not np.isfinite(y).all():
        raise ClvFitError("holdout purchase counts must be whole numbers >= 0")
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    tb = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
    pa = spec.p_alive(params, x, recency, tt)
    (ux, uT, ut), _, inv = aggregate_rfm(x, tt, tb)  # q depends on (x, T, t) only
    kmax = int(max(y.max(), 1.0)) if len(y) else 1
    qy = np.empty(len(x))
    for tv in np.unique(ut):
        groups = np.flatnonzero(ut == tv)
        q = spec.alive_count_pmf(params, float(tv), ux[groups], uT[groups], kmax)
        where = np.full(len(ux), -1)
        where[groups] = np.arange(len(groups))
        rows = np.flatnonzero(tb == tv)
        qy[rows] = q[where[inv[rows]], y[rows].astype(np.int64)]
    p = pa * qy + (1.0 - pa) * (y == 0)
    return np.log(np.maximum(p, 1e-300))
