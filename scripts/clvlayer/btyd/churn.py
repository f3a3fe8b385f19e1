"""P(no purchase in the next t time units | x, t_x, T): the churn risk a marketer can act on, per count model.

Every registered model buys at a Poisson rate while alive, so with the registry's convention
``P(Y(t) = 0 | data) = (1 - P(alive)) + P(alive) P(Y(t) = 0 | alive)`` and only the alive part differs:

* BG/NBD and MBG/NBD (dropout only right after a purchase): an alive customer who makes no purchase never gets a
  chance to drop out, so ``P(Y(t) = 0 | alive) = ((alpha + T) / (alpha + T + t))^(r + x)``, the NBD zero term of
  lambda ~ Gamma(r + x, alpha + T) (Fader, Hardie & Lee 2005, eq. 13 for P(alive)).
* Pareto/NBD: given alive, lambda ~ Gamma(r', alpha') and the remaining lifetime tau ~ Lomax(s, beta')
  (r' = r + x, alpha' = alpha + T, beta' = beta + T), so
  ``q0 = (beta'/(beta'+t))^s (alpha'/(alpha'+t))^r'
  + s beta'^s alpha'^r' int_0^t (alpha'+e)^-r' (beta'+e)^-(s+1) de``.
  The integral has the closed form of the Pareto/NBD likelihood's A0 term (Fader & Hardie 2005 note; c = r' + s):
  for alpha' >= beta', with H(z) = 2F1(c, s + 1; c + 1; z),
  ``s/c [(beta'/alpha')^s H(1 - beta'/alpha')
  - (beta'/(alpha'+t))^s (alpha'/(alpha'+t))^r' H((alpha'-beta')/(alpha'+t))]``;
  for alpha' < beta', with G(y) = 2F1(c, r'; c + 1; y),
  ``s/c [(alpha'/beta')^r' G(1 - alpha'/beta')
  - (beta'/(beta'+t))^s (alpha'/(beta'+t))^r' G((beta'-alpha')/(beta'+t))]``.
  Rows where scipy's 2F1 is not finite or leaves [0, 1] use the library's quadrature of the same integral
  (:func:`clvlayer.btyd._predict.pareto_alive_pmf`, column k = 0).

tests/python/test_churn_risk.py checks all three against a Monte Carlo simulation of the models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import hyp2f1

from clvlayer.btyd._core import FloatArray, aggregate_rfm, horizon, validate_rfm
from clvlayer.btyd._predict import pareto_alive_pmf
from clvlayer.btyd.registry import get_model


def _nbd_zero(r_post: FloatArray, alpha_post: FloatArray, t: FloatArray) -> FloatArray:
    """((alpha' / (alpha' + t))^r': P(no Poisson event in t) with lambda ~ Gamma(r', alpha')."""
    return np.exp(-r_post * np.log1p(t / alpha_post))


def pareto_alive_no_purchase(params: Any, t: ArrayLike, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(Y(t) = 0 | alive at T, x, T) of the Pareto/NBD in closed form (module docstring)."""
    r, alpha, s, beta = get_model("paretonbd").values(params)
    x, tt = np.asarray(frequency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    rp, ap, bp = r + x, alpha + tt, beta + tt
    c = rp + s
    both_gone = np.exp(-s * np.log1p(tb / bp)) * _nbd_zero(rp, ap, tb)
    with np.errstate(all="ignore"):
        big_a = ap >= bp
        h0 = np.where(big_a, (bp / ap) ** s * hyp2f1(c, s + 1.0, c + 1.0, 1.0 - bp / ap),
                      (ap / bp) ** rp * hyp2f1(c, rp, c + 1.0, 1.0 - ap / bp))
        ht = np.where(
            big_a,
            hyp2f1(c, s + 1.0, c + 1.0, (ap - bp) / (ap + tb)) * (bp / (ap + tb)) ** s * (ap / (ap + tb)) ** rp,
            hyp2f1(c, rp, c + 1.0, (bp - ap) / (bp + tb)) * (bp / (bp + tb)) ** s * (ap / (bp + tb)) ** rp)
        q0 = both_gone + s / c * (h0 - ht)
    bad = ~(np.isfinite(q0) & (q0 >= 0.0) & (q0 <= 1.0 + 1e-12))
    if bad.any():
        q0[bad] = pareto_alive_pmf(rp[bad], ap[bad], s, bp[bad], tb[bad], 0)[:, 0]
    q0[tb <= 0] = 1.0
    return np.minimum(q0, 1.0)


def alive_no_purchase(model: str, params: Any, t: ArrayLike, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(Y(t) = 0 | alive at T, x, T) per row (a function of (x, T) only)."""
    spec = get_model(model)
    if model == "paretonbd":
        return pareto_alive_no_purchase(params, t, frequency, T)
    r, alpha = (spec.values(params)[spec.parameters.index(name)] for name in ("r", "alpha"))
    x, tt = np.asarray(frequency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    return _nbd_zero(r + x, alpha + tt, horizon(t, len(x)))


def probability_no_purchase(model: str, params: Any, t: float, frequency: ArrayLike, recency: ArrayLike,
                            T: ArrayLike) -> FloatArray:
    """P(no purchase in (T, T + t] | x, t_x, T) = 1 - P(alive) (1 - P(Y(t) = 0 | alive)) per customer; the alive
    part is evaluated once per distinct (x, T)."""
    spec = get_model(model)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    alive = spec.p_alive(params, x, tx, tt)
    (ux, uT), _, inv = aggregate_rfm(x, tt)
    q0 = alive_no_purchase(model, params, float(t), ux, uT)[inv] if len(x) else np.zeros(0)
    return 1.0 - alive * (1.0 - q0)
