"""Gamma-Gamma spend model (Colombo & Jiang 1999, "A Stochastic RFM Model", Journal of Interactive Marketing
13(3); as used with BG/NBD in Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves", JMR 42(4);
estimation details in Fader & Hardie 2013, "The Gamma-Gamma Model of Monetary Value", note 025).

Spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, v). Likelihood eq. (1a), conditional expected
average spend eq. (5). Fitted on repeat customers (frequency > 0, monetary_value > 0) only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from clvlayer.btyd._core import ClvFitError, FloatArray, _as_1d_float, _dot, _validate_weights, positive_params
from clvlayer.btyd._optim import _minimize, _sanity, _standard_errors, log_covariance
from clvlayer.btyd._patterns import add_penalty

PARAMETERS = ("p", "q", "v")


@dataclass(frozen=True)
class GammaGammaFit:
    """Result of :func:`fit_gamma_gamma` (``v`` in the caller's currency unit).

    Spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, v). ``n_customers`` counts
    the repeat customers used (frequency > 0 and monetary_value > 0).
    ``freq_monetary_correlation`` is the Pearson correlation between frequency
    and monetary value among them: the model assumes the two are independent,
    so a value far from 0 is a warning sign.
    """

    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    fit_seconds: float
    message: str
    freq_monetary_correlation: float
    penalizer: float = 0.0
    standard_errors: dict[str, float] = field(default_factory=dict)
    #: covariance of the log-parameters (p, q, v) from the Hessian; None if not positive definite
    log_cov: FloatArray | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> dict[str, float]:
        """The parameters as a dict ``{"p", "q", "v"}``."""
        return {"p": self.p, "q": self.q, "v": self.v}

    @property
    def population_mean_spend(self) -> float:
        """E[spend per transaction] = p v / (q - 1); +inf when q <= 1."""
        return self.p * self.v / (self.q - 1.0) if self.q > 1.0 else math.inf


def _gg_params(params: GammaGammaFit | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(params, GammaGammaFit):
        params = (params.p, params.q, params.v)
    return positive_params(params, PARAMETERS, "Gamma-Gamma")  # type: ignore[return-value]


def _gg_prepare(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = _as_1d_float(frequency, "frequency")
    m = _as_1d_float(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise ClvFitError(f"frequency and monetary_value must have the same length, got {len(x)}, {len(m)}")
    for name, arr in (("frequency", x), ("monetary_value", m)):
        if (~np.isfinite(arr)).any():
            raise ClvFitError(f"{name} contains NaN/infinite value(s)")
        if (arr < 0).any():
            raise ClvFitError(f"{name} contains {int((arr < 0).sum())} negative value(s)")
    if (x != np.round(x)).any():
        raise ClvFitError("frequency must be a whole number of repeat purchase periods")
    return x, m


def gamma_gamma_log_likelihood_per_row(
    params: GammaGammaFit | Sequence[float],
    frequency: ArrayLike,
    monetary_value: ArrayLike,
) -> FloatArray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend (Fader & Hardie note 025, eq. 1a).

    ``ln f(m | x) = ln Gamma(px+q) - ln Gamma(px) - ln Gamma(q) + q ln v + (px-1) ln m
    + px ln x - (px+q) ln(v + x m)``; defined for x > 0 and m > 0 only (other rows
    raise :class:`ClvFitError`).
    """
    p, q, v = _gg_params(params)
    x, m = _gg_prepare(frequency, monetary_value)
    if ((x <= 0) | (m <= 0)).any():
        raise ClvFitError("the Gamma-Gamma likelihood is defined for frequency > 0 and monetary_value > 0 only")
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * math.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def gamma_gamma_log_likelihood(
    params: GammaGammaFit | Sequence[float],
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total (weighted) Gamma-Gamma log-likelihood; see :func:`gamma_gamma_log_likelihood_per_row`."""
    per_row = gamma_gamma_log_likelihood_per_row(params, frequency, monetary_value)
    w = _validate_weights(weights, len(per_row))
    return _dot(w, per_row)


class _GammaGammaProblem:
    """Gamma-Gamma mean negative log-likelihood + analytic gradient in log-parameter space.

    Monetary values are divided by their mean internally (``v`` is scaled the same
    way); the penalizer applies to the *unscaled* (p, q, v) as in ``lifetimes``.
    """

    def __init__(self, x: FloatArray, m: FloatArray, penalizer: float):
        self.scale = float(np.mean(m))  # m_scaled = m / scale
        ms = m / self.scale
        self.x = x
        self.W = float(len(x))
        self.penalizer = float(penalizer)
        self.xs, inv = np.unique(x, return_inverse=True)
        self.wx = np.bincount(inv, minlength=len(self.xs)).astype(np.float64)
        self.ms = ms
        self.xm = x * ms
        ln_m = np.log(ms)
        self.sum_x_ln_m = _dot(x, ln_m)
        self.sum_ln_m = float(ln_m.sum())
        self.sum_x_ln_x = _dot(self.wx * self.xs, np.log(self.xs))
        self._b1 = np.empty(len(x))
        self._b2 = np.empty(len(x))
        self.n_evals = 0

    def value_and_grad(self, theta: FloatArray, penalized: bool = True) -> tuple[float, FloatArray]:
        self.n_evals += 1
        p, q, v = (float(t) for t in np.exp(np.clip(theta, -700, 700)))
        xs, wx = self.xs, self.wx
        pxs = p * xs
        b1, ln_xmv = self._b1, self._b2
        np.add(self.xm, v, out=b1)
        np.log(b1, out=ln_xmv)  # ln(x m + v)
        np.divide(1.0, b1, out=b1)  # 1/(x m + v)
        sx_ln = _dot(self.x, ln_xmv)
        s_ln = float(ln_xmv.sum())
        ll = (
            _dot(wx, gammaln(pxs + q) - gammaln(pxs))
            - self.W * gammaln(q)
            + self.W * q * math.log(v)
            + p * self.sum_x_ln_m
            - self.sum_ln_m
            + p * self.sum_x_ln_x
            - p * sx_ln
            - q * s_ln
        )
        dig_pq = digamma(pxs + q)
        d_p = _dot(wx * xs, dig_pq - digamma(pxs)) + self.sum_x_ln_m + self.sum_x_ln_x - sx_ln
        d_q = _dot(wx, dig_pq) - self.W * digamma(q) + self.W * math.log(v) - s_ln
        d_v = self.W * q / v - p * _dot(self.x, b1) - q * float(b1.sum())
        params = np.array([p, q, v])
        f = -ll / self.W
        g = -np.array([d_p, d_q, d_v]) * params / self.W
        if not penalized:
            return f, g
        return add_penalty(f, g, params * np.array([1.0, 1.0, self.scale]), self.penalizer)  # on unscaled v


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary_value: ArrayLike,
    *,
    penalizer: float = 0.0,
    initial: Sequence[float] | None = None,
    min_repeat_customers: int = 10,
    max_iter: int = 2000,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma spend model fit on repeat customers.

    Only customers with ``frequency > 0`` and ``monetary_value > 0`` enter the
    likelihood (others carry no spend information). ``penalizer`` is the
    ``lifetimes`` convention (``penalizer * (p^2 + q^2 + v^2)`` added to the mean
    negative log-likelihood).

    Raises
    ------
    ClvFitError
        invalid inputs or fewer than ``min_repeat_customers`` repeat customers.
    """
    t0 = time.perf_counter()
    x_all, m_all = _gg_prepare(frequency, monetary_value)
    if len(x_all) == 0:
        raise ClvFitError("zero customers: the RFM summary is empty")
    use = (x_all > 0) & (m_all > 0)
    n = int(use.sum())
    if n < min_repeat_customers:
        raise ClvFitError(
            f"only {n} repeat customer(s) with positive spend; the Gamma-Gamma model needs at least "
            f"min_repeat_customers={min_repeat_customers}"
        )
    if penalizer < 0 or not math.isfinite(penalizer):
        raise ClvFitError("penalizer must be a finite number >= 0")
    x, m = x_all[use], m_all[use]
    if np.std(x) > 0 and np.std(m) > 0:
        corr = float(np.corrcoef(x, m)[0, 1])
    else:
        corr = math.nan
    prob = _GammaGammaProblem(x, m, penalizer)
    if initial is not None:
        p0, q0, v0 = _gg_params(initial)
        starts = [np.log([p0, q0, v0 / prob.scale])]
    else:
        # mean spend (scaled) is 1 = p v / (q - 1) -> v = (q - 1) / p
        starts = [np.log([p0, q0, (q0 - 1.0) / p0]) for p0 in (1.0, 4.0, 15.0) for q0 in (2.0, 4.0, 10.0)]
    opt = _minimize(prob.value_and_grad, starts, max_iter=max_iter, gtol=1e-9)
    p, q, v_s = (float(t) for t in np.exp(opt.theta))
    v = v_s * prob.scale
    # LL in the original currency unit: the density of m scales by 1/scale per customer.
    ll = -prob.value_and_grad(opt.theta, penalized=False)[0] * prob.W - prob.W * math.log(prob.scale)
    converged, message = _sanity(("p", "q", "v"), opt.theta, (p, q, v), ll, opt)
    ses = _standard_errors(("p", "q", "v"), (p, q, v), opt.hessian, prob.W)
    return GammaGammaFit(
        p=p,
        q=q,
        v=v,
        log_likelihood=float(ll),
        n_customers=n,
        converged=converged,
        iterations=opt.iterations,
        fit_seconds=time.perf_counter() - t0,
        message=message,
        freq_monetary_correlation=corr,
        penalizer=float(penalizer),
        standard_errors=ses,
        log_cov=log_covariance(opt.hessian, prob.W),
    )


def conditional_expected_average_profit(
    gg_fit: GammaGammaFit | Sequence[float],
    frequency: ArrayLike,
    monetary_value: ArrayLike,
) -> FloatArray:
    """E[mean spend per transaction | x, m] (Fader & Hardie note 025, eq. 5).

    A credibility-weighted average of the customer's own mean spend and the
    population mean ``p v / (q - 1)``: weight ``p x / (p x + q - 1)`` on the
    customer's own value, so customers with ``frequency == 0`` get the
    population mean. Requires q > 1 (otherwise the population mean is infinite).
    """
    p, q, v = _gg_params(gg_fit)
    if q <= 1.0:
        raise ClvFitError(
            f"Gamma-Gamma q = {q:.4g} <= 1: the population mean spend p*v/(q-1) does not exist; "
            "expected spend cannot be computed (refit with a penalizer or check the data)"
        )
    x, m = _gg_prepare(frequency, monetary_value)
    individual_weight = p * x / (p * x + q - 1.0)
    population_mean = v * p / (q - 1.0)
    return (1.0 - individual_weight) * population_mean + individual_weight * m
