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
from clvlayer.btyd._core import ClvFitError, FloatArray, aggregate_rfm, map_draws, validate_rfm
from clvlayer.btyd._predict import nbd_upper


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
    #: E[min(R, max(cap - T, 0)) | alive at T] per (x, T) row, R the remaining lifetime: (params, cap, frequency, T)
    restricted_remaining_lifetime: Callable[..., FloatArray]
    #: E[min(L, cap) | no longer alive at T], L the lifetime from the first purchase: (params, cap, x, t_x, T)
    dead_lifetime: Callable[..., FloatArray]
    #: P(alive) for many parameter vectors at once (draws x customers); None = loop over ``p_alive``
    p_alive_batch: Callable[..., FloatArray] | None = None
    #: (P(Y=0 | alive), E[Y | alive], E[Y^2 | alive]) in closed form / quadrature; None = from pmf tables
    alive_moments_fn: Callable[..., tuple[FloatArray, FloatArray, FloatArray]] | None = None
    #: the same for many parameter draws at once (draws x rows); None = loop over ``alive_moments``
    alive_moments_batch: Callable[..., tuple[FloatArray, FloatArray, FloatArray]] | None = None

    def alive_moments_draws(self, draws: FloatArray, t: float, frequency: Any, T: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`alive_moments` per parameter draw (rows of ``draws``): three draws x rows arrays."""
        if self.alive_moments_batch is not None:
            return self.alive_moments_batch(draws, t, frequency, T)
        parts = [self.alive_moments(d, t, frequency, T) for d in np.atleast_2d(draws)]
        return tuple(np.stack([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]

    def alive_moments(self, params: Any, t: float, frequency: Any, T: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """P(Y(t) = 0 | alive), E[Y(t) | alive] and E[Y(t)^2 | alive] per (x, T) row.

        Without a model-specific implementation the pmf is tabulated up to a k that every row exceeds with
        negligible probability (:func:`clvlayer.btyd._predict.nbd_upper`), rows bucketed by that k.
        """
        if self.alive_moments_fn is not None:
            return self.alive_moments_fn(params, t, frequency, T)
        x = np.asarray(frequency, dtype=np.float64)
        tt = np.asarray(T, dtype=np.float64)
        vals = self.values(params)
        r, alpha = vals[self.parameters.index("r")], vals[self.parameters.index("alpha")]
        kmax = np.maximum(nbd_upper(r + x, alpha + tt, np.full(len(x), float(t))), 1.0)
        bucket = (2 ** np.ceil(np.log2(kmax + 1))).astype(np.int64)
        q0, m1, m2 = np.empty(len(x)), np.empty(len(x)), np.empty(len(x))
        for kb in np.unique(bucket):
            rows = np.flatnonzero(bucket == kb)
            pmf = self.alive_count_pmf(params, float(t), x[rows], tt[rows], int(kb))
            k = np.arange(kb + 1, dtype=np.float64)
            q0[rows], m1[rows], m2[rows] = pmf[:, 0], np.einsum("gk,k->g", pmf, k), np.einsum("gk,k->g", pmf, k**2)
        return q0, m1, m2

    def p_alive_draws(self, draws: FloatArray, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """P(alive) per parameter draw (rows of ``draws``) and customer: draws x customers (each row computed
        alone, on the draws' threads: the same numbers on any thread count)."""
        if self.p_alive_batch is not None:
            return self.p_alive_batch(draws, frequency, recency, T)
        return np.stack(map_draws(lambda d: self.p_alive(d, frequency, recency, T), list(np.atleast_2d(draws))))

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
        bgnbd.restricted_remaining_lifetime, bgnbd.dead_lifetime,
        alive_moments_fn=bgnbd.alive_moments, alive_moments_batch=bgnbd.alive_moments_draws,
    ),
    "mbgnbd": ModelSpec(
        "mbgnbd", "MBG/NBD", mbgnbd.PARAMETERS, mbgnbd.fit_mbgnbd, mbgnbd.mbgnbd_log_likelihood_per_row,
        mbgnbd.conditional_probability_alive, mbgnbd.conditional_expected_number_of_purchases_up_to_time,
        mbgnbd.alive_expected_purchases, mbgnbd.alive_count_pmf, mbgnbd.expected_lifetime, ("alpha",),
        mbgnbd.restricted_remaining_lifetime, bgnbd.dead_lifetime,
        alive_moments_fn=mbgnbd.alive_moments, alive_moments_batch=mbgnbd.alive_moments_draws,
    ),
    "paretonbd": ModelSpec(
        "paretonbd", "Pareto/NBD", paretonbd.PARAMETERS, paretonbd.fit_paretonbd,
        paretonbd.paretonbd_log_likelihood_per_row, paretonbd.conditional_probability_alive,
        paretonbd.conditional_expected_number_of_purchases_up_to_time, paretonbd.alive_expected_purchases,
        paretonbd.alive_count_pmf, paretonbd.expected_lifetime, ("alpha", "beta"),
        paretonbd.restricted_remaining_lifetime, paretonbd.dead_lifetime,
        p_alive_batch=paretonbd.probability_alive_draws, alive_moments_fn=paretonbd.alive_moments,
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


def expected_restricted_lifetime(
    model: str, params: Any, frequency: Any, recency: Any, T: Any, cap: float
) -> FloatArray:
    """E[min(L, cap) | x, t_x, T] per customer, L = first purchase -> dropout, in the fit's time units.

    A customer alive at T (probability P(alive)) lives T + R, with E[min(R, cap - T) | alive] the model's
    remaining-lifetime expectation (``restricted_remaining_lifetime``: the models' ``expected_lifetime`` with a cap
    per customer); a customer who is no longer alive dropped out at t_x under the BG-type models (dropout happens
    right after a purchase) and at a time in (t_x, T) under Pareto/NBD (``dead_lifetime``). Evaluated once per
    distinct (x, t_x, T) pattern.
    """
    spec = get_model(model)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    (px, ptx, pT), _, inv = aggregate_rfm(x, tx, tt)  # a function of (x, t_x, T): once per distinct pattern
    values = spec.values(params)  # a fit, a dict or a sequence
    alive = spec.p_alive(values, px, ptx, pT)
    remaining = alive * spec.restricted_remaining_lifetime(values, cap, px, pT)
    dead = spec.dead_lifetime(values, cap, px, ptx, pT)
    return ((1.0 - alive) * dead + alive * np.minimum(pT, cap) + remaining)[inv]
