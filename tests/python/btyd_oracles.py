"""Independent references for the BTYD model library tests (no code shared with clvlayer.btyd).

* simulators of the three generative processes with a calibration window and a holdout window, written
  from the model definitions (event times of a Poisson process, death by coin flips or exponential lifetime);
* textbook closed forms in arbitrary precision (mpmath), e.g. the Fader & Hardie (2005) Pareto/NBD
  likelihood with its two 2F1 branches;
* first-principles numerical integration over the latent rates (scipy quadrature) and Bayes on a grid.
"""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
from scipy import integrate, special, stats


# --------------------------------------------------------------------------- #
# Simulators: calibration (x, t_x, T) and holdout counts in (T, T + t_star]
# --------------------------------------------------------------------------- #
def _events(rng: np.random.Generator, lam: np.ndarray, horizon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All events of Poisson(lam) processes on (0, horizon]: (customer index, time), sorted within customer."""
    n_ev = rng.poisson(lam * horizon)
    cust = np.repeat(np.arange(len(lam)), n_ev)
    times = rng.random(len(cust)) * horizon[cust]
    order = np.lexsort((times, cust))
    return cust[order], times[order]


def _ages(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """Ages T in weeks on a whole-day grid (acquisition dates are days, as in the warehouse)."""
    return rng.integers(int(round(low * 7)), int(round(high * 7)) + 1, n) / 7.0


def _rank(cust: np.ndarray) -> np.ndarray:
    """1-based rank of each event within its customer (events sorted by customer)."""
    starts = np.r_[0, np.flatnonzero(np.diff(cust)) + 1]
    counts = np.diff(np.r_[starts, len(cust)])
    return np.arange(len(cust)) - np.repeat(starts, counts) + 1


def _summarise(n: int, cust: np.ndarray, times: np.ndarray, keep: np.ndarray, T: np.ndarray, t_star: float):
    c, tm = cust[keep], times[keep]
    cal = tm <= T[c]
    x = np.bincount(c[cal], minlength=n).astype(float)
    tx = np.zeros(n)
    np.maximum.at(tx, c[cal], tm[cal])
    hold = (tm > T[c]) & (tm <= T[c] + t_star)
    y = np.bincount(c[hold], minlength=n).astype(float)
    return x, tx, T, y


def simulate_bg(n, seed, r, alpha, a, b, t_star, T_low=20.0, T_high=40.0, modified=False, z_rate=None):
    """BG/NBD (or MBG/NBD when ``modified``): repeat purchases are Poisson(lambda); after each repeat purchase
    (MBG: also right after the first purchase) the customer dies with probability p."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n, T_low, T_high)
    lam = rng.gamma(r, 1.0 / alpha, n) * (1.0 if z_rate is None else z_rate)
    p = rng.beta(a, b, n)
    # number of repeat purchases the customer is allowed before dying
    allowed = rng.geometric(p) - (1 if modified else 0)
    cust, times = _events(rng, lam, T + t_star)
    keep = _rank(cust) <= allowed[cust]
    return _summarise(n, cust, times, keep, T, t_star)


def simulate_pareto(n, seed, r, alpha, s, beta, t_star, T_low=20.0, T_high=40.0):
    """Pareto/NBD: Poisson(lambda) purchases while alive, lifetime ~ Exponential(mu)."""
    rng = np.random.default_rng(seed)
    T = _ages(rng, n, T_low, T_high)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    tau = rng.exponential(1.0 / mu)
    cust, times = _events(rng, lam, T + t_star)
    keep = times <= tau[cust]
    return _summarise(n, cust, times, keep, T, t_star)


# --------------------------------------------------------------------------- #
# Textbook formulas in arbitrary precision
# --------------------------------------------------------------------------- #
def pareto_ll_fader_hardie(r, alpha, s, beta, x, tx, T, dps=40):
    """ln L of the Pareto/NBD, Fader & Hardie (2005) eqs. with A0 from 2F1 (both alpha/beta orderings)."""
    with mp.workdps(dps):
        r, al, s, be, tx, T = (mp.mpf(v) for v in (r, alpha, s, beta, tx, T))
        if al >= be:
            f = lambda t: mp.hyp2f1(r + s + x, s + 1, r + s + x + 1, (al - be) / (al + t)) / (al + t) ** (r + s + x)  # noqa: E731
        else:
            f = lambda t: mp.hyp2f1(r + s + x, r + x, r + s + x + 1, (be - al) / (be + t)) / (be + t) ** (r + s + x)  # noqa: E731
        a0 = f(tx) - f(T)
        lik = mp.gamma(r + x) * al**r * be**s / mp.gamma(r) * (1 / ((al + T) ** (r + x) * (be + T) ** s) + s / (r + s + x) * a0)
        return float(mp.log(lik))


def pareto_p_alive_fader_hardie(r, alpha, s, beta, x, tx, T, dps=40):
    """P(alive) = [(alpha+T)^(r+x) (beta+T)^s L / (Gamma(r+x) alpha^r beta^s / Gamma(r))]^-1."""
    with mp.workdps(dps):
        ll = mp.mpf(pareto_ll_fader_hardie(r, alpha, s, beta, x, tx, T, dps))
        first = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta) - (r + x) * mp.log(alpha + T) - s * mp.log(beta + T)
        return float(mp.exp(first - ll))


# --------------------------------------------------------------------------- #
# First principles: integrate the individual-level model over the latent rates
# --------------------------------------------------------------------------- #
def _quiet_quad(*args, **kwargs):
    """scipy quad without its IntegrationWarning: at the tight tolerances used here quad sometimes reports
    round-off in its extrapolation table although the value is right; the tests assert the accuracy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return integrate.quad(*args, **kwargs)


def pareto_lik_by_integration(r, alpha, s, beta, x, tx, T):
    """L = E_{lambda, mu}[lambda^x e^{-(lambda+mu)T} + mu/(lambda+mu) lambda^x (e^{-(lambda+mu)t_x} - e^{-(lambda+mu)T})]
    by nested scipy quadrature over the Gamma densities (written out: scipy.stats pdf calls cost 100x more)."""
    c_l = alpha**r / math.gamma(r)
    c_m = beta**s / math.gamma(s)

    def inner(mu):
        def f(lam):
            k = lam + mu
            ind = lam**x * (math.exp(-k * T) + mu / k * (math.exp(-k * tx) - math.exp(-k * T)))
            return ind * lam ** (r - 1.0) * math.exp(-alpha * lam)
        return _quiet_quad(f, 0, np.inf, epsabs=0, epsrel=1e-10, limit=200)[0] * mu ** (s - 1.0) * math.exp(-beta * mu)

    return c_l * c_m * _quiet_quad(inner, 0, np.inf, epsabs=0, epsrel=1e-9, limit=200)[0]


def mbg_lik_by_integration(r, alpha, a, b, x, tx, T):
    """L = E_{lambda, p}[lambda^x e^{-lambda t_x} (1-p)^x (p + (1-p) e^{-lambda (T - t_x)})]; factorises."""
    c_g = alpha**r / math.gamma(r)
    c_f = math.gamma(a + b) / (math.gamma(a) * math.gamma(b))
    g = lambda l: c_g * l ** (r - 1.0) * math.exp(-alpha * l)  # noqa: E731  (Gamma density; scipy.stats pdf is slow)
    f = lambda p: c_f * p ** (a - 1.0) * (1.0 - p) ** (b - 1.0)  # noqa: E731  (Beta density)
    q = lambda fn, lo, hi: _quiet_quad(fn, lo, hi, epsabs=0, epsrel=1e-10, limit=400)[0]  # noqa: E731
    lam_tx = q(lambda l: l**x * math.exp(-l * tx) * g(l), 0, np.inf)
    lam_T = q(lambda l: l**x * math.exp(-l * T) * g(l), 0, np.inf)
    p_drop = q(lambda p: p * (1 - p) ** x * f(p), 0, 1)
    p_stay = q(lambda p: (1 - p) ** (x + 1) * f(p), 0, 1)
    return lam_tx * p_drop + lam_T * p_stay


def mbg_p_alive_by_grid(r, alpha, a, b, x, tx, T, n=4000):
    """Bayes on a (lambda, p) quantile grid: P(alive, data) / P(data). The joint grid sums factorise into a
    lambda sum times a p sum (the individual likelihood is a product of a lambda and a p factor per branch),
    which is the same n x n grid at O(n) cost."""
    lam = stats.gamma(r, scale=1 / alpha).ppf((np.arange(n) + 0.5) / n)
    p = stats.beta(a, b).ppf((np.arange(n) + 0.5) / n)
    lam_tx = np.sum(lam**x * np.exp(-lam * tx))  # sum over lambda of lambda^x e^{-lambda t_x}
    lam_T = np.sum(lam**x * np.exp(-lam * T))
    dead = lam_tx * np.sum((1 - p) ** x * p)  # dropped right after the last purchase
    alive = lam_T * np.sum((1 - p) ** (x + 1))
    return float(alive / (alive + dead))


def pareto_expected_by_posterior_mc(r, alpha, s, beta, x, tx, T, t, n=400_000, seed=0):
    """E[Y(t) | data] by importance sampling from the prior and simulating the future (no formula used)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    mu = rng.gamma(s, 1 / beta, n)
    k = lam + mu
    # P(data, alive at T | lam, mu) and P(data, dead | lam, mu)
    alive = lam**x * np.exp(-k * T)
    dead = lam**x * mu / k * (np.exp(-k * tx) - np.exp(-k * T))
    w = alive + dead
    is_alive = rng.random(n) < alive / w
    tau = rng.exponential(1 / mu)
    future = np.where(is_alive, rng.poisson(lam * np.minimum(tau, t)), 0)
    return float(np.sum(w * future) / np.sum(w)), float(np.sqrt(np.sum(w**2 * (future - np.sum(w * future) / np.sum(w)) ** 2)) / np.sum(w))


def pareto_alive_cdf_by_quad(r_post, alpha_post, s, beta_post, t, kmax):
    """P(Y(t) <= k | alive), k = 0..kmax: S(t) NB_cdf(k; t) + int_0^t NB_cdf(k; e) f_tau(e) de by scipy quad in the
    exposure e itself (NB = scipy's negative binomial for the Poisson-Gamma count, Lomax lifetime)."""
    surv = (beta_post / (beta_post + t)) ** s
    dens = lambda e: s * beta_post**s / (beta_post + e) ** (s + 1)  # noqa: E731
    # negative binomial cdf P(N <= k) = I_p(r', k + 1), p = alpha'/(alpha'+e) (regularized incomplete beta;
    # the same as scipy.stats.nbinom.cdf, without its per-call overhead inside quad)
    nb = lambda e, k: special.betainc(r_post, k + 1.0, alpha_post / (alpha_post + e))  # noqa: E731
    kinks = [v for v in (beta_post, alpha_post) if v < t] or None
    out = []
    for k in range(kmax + 1):
        body = integrate.quad(lambda e: nb(e, k) * dens(e), 0, t, epsabs=1e-13, epsrel=1e-12, limit=500, points=kinks)[0]
        out.append(surv * nb(t, k) + body)
    return np.array(out)


def simulate_value(model, n, seed, params, gg, months, periods_per_month, monthly_discount_rate, T_low=20.0, T_high=40.0):
    """Calibration RFM + mean repeat spend and the realised discounted value of the next ``months`` months.

    ``model`` "bgnbd" / "mbgnbd" / "paretonbd" with its 4 parameters; spend per purchase z ~ Gamma(p, rate nu),
    nu ~ Gamma(q, rate v) per customer (``gg`` = (p, q, v)); a purchase u time units after T is discounted by
    (1 + d)^-ceil(u / periods_per_month) (month i of the horizon counts at (1 + d)^-i).
    Returns (x, t_x, T, m, value).
    """
    rng = np.random.default_rng(seed)
    horizon = months * periods_per_month
    T = _ages(rng, n, T_low, T_high)
    r, alpha, d1, d2 = params
    lam = rng.gamma(r, 1.0 / alpha, n)
    cust, times = _events(rng, lam, T + horizon)
    if model == "paretonbd":
        tau = rng.exponential(1.0 / rng.gamma(d1, 1.0 / d2, n))
        keep = times <= tau[cust]
    else:
        allowed = rng.geometric(rng.beta(d1, d2, n)) - (1 if model == "mbgnbd" else 0)
        keep = _rank(cust) <= allowed[cust]
    c, tm = cust[keep], times[keep]
    nu = rng.gamma(gg[1], 1.0 / gg[2], n)
    z = rng.gamma(gg[0], 1.0 / nu[c])
    cal = tm <= T[c]
    x = np.bincount(c[cal], minlength=n).astype(float)
    tx = np.zeros(n)
    np.maximum.at(tx, c[cal], tm[cal])
    m = np.where(x > 0, np.bincount(c[cal], weights=z[cal], minlength=n) / np.maximum(x, 1), 0.0)
    month = np.ceil((tm[~cal] - T[c[~cal]]) / periods_per_month)
    value = np.bincount(c[~cal], weights=z[~cal] * (1.0 + monthly_discount_rate) ** -month, minlength=n)
    return x, tx, T, m, value
