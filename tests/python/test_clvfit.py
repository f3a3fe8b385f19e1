"""Tests of BG/NBD and Gamma-Gamma in clvlayer.btyd (MLE, predictions) and of the RFM summary reference.

The reference computations here are written independently of the module:
plain-python textbook formulas (math.lgamma, loops), first-principles numerical
integration over the latent (lambda, p) / nu, and a vectorised simulator of the
generative process used for parameter recovery.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

try:
    import clvlayer.btyd  # noqa: F401
except ImportError:  # running without PYTHONPATH=scripts
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from clvlayer.btyd import (
    BgNbdFit,
    ClvFitError,
    aggregate_rfm,
    conditional_expected_average_profit,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
)
from clvlayer.btyd.bgnbd import (
    _BgNbdProblem,
    bgnbd_log_likelihood,
    bgnbd_log_likelihood_per_row,
    conditional_expected_number_of_purchases_up_to_time,
    conditional_probability_alive,
)
from clvlayer.btyd.gammagamma import _GammaGammaProblem, gamma_gamma_log_likelihood, gamma_gamma_log_likelihood_per_row
from rfm_reference import rfm_summary

# CDNOW estimates from Fader, Hardie & Lee (2005) (weeks) and the Gamma-Gamma note.
TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}

# Hand-made (x, t_x, T) rows: frequency-0 customers (incl. T=0), recency == T,
# small and large x, fractional weeks.
HAND_ROWS = [
    (0, 0.0, 10.0),
    (0, 0.0, 0.0),
    (0, 0.0, 38.5),
    (1, 2.0, 5.0),
    (3, 7.5, 8.0),
    (2, 0.3, 40.0),
    (10, 30.0, 31.0),
    (5, 12.0, 12.0),
    (25, 37.9, 38.0),
]
HAND_PARAMS = [(0.5, 3.0, 0.8, 2.5), (2.0, 0.7, 1.5, 0.4), (0.243, 4.414, 0.793, 2.426)]


# --------------------------------------------------------------------------- #
# Independent references
# --------------------------------------------------------------------------- #
def textbook_bgnbd_ll_row(r: float, alpha: float, a: float, b: float, x: int, tx: float, T: float) -> float:
    """Eq. (6) of Fader, Hardie & Lee (2005), evaluated directly."""
    ln_a1 = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    ln_a2 = math.lgamma(a + b) + math.lgamma(b + x) - math.lgamma(b) - math.lgamma(a + b + x)
    a3 = (alpha + T) ** (-(r + x))
    a4 = a / (b + x - 1) * (alpha + tx) ** (-(r + x)) if x > 0 else 0.0
    return ln_a1 + ln_a2 + math.log(a3 + a4)


def first_principles_bgnbd_lik(r: float, alpha: float, a: float, b: float, x: int, tx: float, T: float) -> float:
    """Integrate the individual-level likelihood over lambda ~ Gamma(r, alpha), p ~ Beta(a, b).

    L(lambda, p) = (1-p)^x lambda^x e^{-lambda T} + [x>0] p (1-p)^{x-1} lambda^x e^{-lambda t_x};
    both terms factorise into a lambda integral times a p integral.
    """
    g = stats.gamma(r, scale=1.0 / alpha).pdf
    f = stats.beta(a, b).pdf
    quad = lambda fn, lo, hi: integrate.quad(fn, lo, hi, epsabs=0, epsrel=1e-11, limit=400)[0]  # noqa: E731
    lam_T = quad(lambda lam: lam**x * math.exp(-lam * T) * g(lam), 0, np.inf)
    p_alive = quad(lambda p: (1 - p) ** x * f(p), 0, 1)
    total = p_alive * lam_T
    if x > 0:
        lam_tx = quad(lambda lam: lam**x * math.exp(-lam * tx) * g(lam), 0, np.inf)
        p_drop = quad(lambda p: p * (1 - p) ** (x - 1) * f(p), 0, 1)
        total += p_drop * lam_tx
    return total


def textbook_gg_ll_row(p: float, q: float, v: float, x: int, m: float) -> float:
    """Gamma-Gamma log density of the mean spend m of x transactions (Fader & Hardie note 025, eq. 1a)."""
    return (
        math.lgamma(p * x + q)
        - math.lgamma(p * x)
        - math.lgamma(q)
        + q * math.log(v)
        + (p * x - 1) * math.log(m)
        + p * x * math.log(x)
        - (p * x + q) * math.log(v + x * m)
    )


def first_principles_gg_density(p: float, q: float, v: float, x: int, m: float) -> float:
    """m | nu ~ Gamma(shape p x, rate nu x) integrated over nu ~ Gamma(shape q, rate v)."""
    fn = lambda nu: stats.gamma.pdf(m, p * x, scale=1.0 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1.0 / v)  # noqa: E731
    return integrate.quad(fn, 0, np.inf, epsabs=0, epsrel=1e-11, limit=400)[0]


def simulate(n: int, seed: int, bg: dict[str, float] = TRUE_BG, gg: dict[str, float] = TRUE_GG,
             T_low: float = 20.0, T_high: float = 40.0):
    """Vectorised BG/NBD + Gamma-Gamma simulator (continuous time, weeks).

    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b). After each repeat purchase the
    customer drops out with probability p, so the purchase after which he dies is
    D ~ Geometric(p) (support 1, 2, ...). The underlying Poisson process has
    N ~ Poisson(lambda T) events in (0, T]; observed x = min(D, N) and, given N,
    the x-th event time is T * Beta(x, N - x + 1) (uniform order statistic).
    Spend: nu ~ Gamma(q, rate v); the mean of x purchases ~ Gamma(p x, rate nu x).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(T_low, T_high, n)
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], n)
    p = rng.beta(bg["a"], bg["b"], n)
    D = rng.geometric(p)
    N = rng.poisson(lam * T)
    x = np.minimum(D, N)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = T[pos] * rng.beta(x[pos], N[pos] - x[pos] + 1)
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], n)
    m = np.zeros(n)
    m[pos] = rng.gamma(gg["p"] * x[pos], 1.0 / (nu[pos] * x[pos]))
    return x.astype(float), tx, T, m


@pytest.fixture(scope="module")
def fitted_small():
    x, tx, T, m = simulate(20_000, seed=11)
    return fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m), (x, tx, T, m)


# --------------------------------------------------------------------------- #
# Likelihoods
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("params", HAND_PARAMS)
def test_bgnbd_ll_matches_textbook_eq6(params):
    x, tx, T = (np.array(c, dtype=float) for c in zip(*HAND_ROWS))
    per_row = bgnbd_log_likelihood_per_row(params, x, tx, T)
    expected = [textbook_bgnbd_ll_row(*params, int(xi), txi, Ti) for xi, txi, Ti in HAND_ROWS]
    np.testing.assert_allclose(per_row, expected, rtol=1e-9, atol=1e-12)  # T=0 row: LL is exactly 0
    total = bgnbd_log_likelihood(params, x, tx, T)
    assert total == pytest.approx(math.fsum(expected), rel=1e-9)
    w = np.arange(1, len(HAND_ROWS) + 1, dtype=float)
    assert bgnbd_log_likelihood(params, x, tx, T, weights=w) == pytest.approx(
        math.fsum(wi * e for wi, e in zip(w, expected)), rel=1e-9
    )


@pytest.mark.parametrize("params", HAND_PARAMS[:2])
def test_bgnbd_eq6_matches_first_principles_integral(params):
    rows = [HAND_ROWS[i] for i in (0, 3, 4, 6)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows))
    per_row = bgnbd_log_likelihood_per_row(params, x, tx, T)
    for ll, (xi, txi, Ti) in zip(per_row, rows):
        assert math.exp(ll) == pytest.approx(first_principles_bgnbd_lik(*params, xi, txi, Ti), rel=1e-8)


def test_bgnbd_ll_stable_for_extreme_rows():
    # Huge frequency/time: direct products would under/overflow; logs must not.
    ll = bgnbd_log_likelihood_per_row((0.3, 2.0, 0.5, 3.0), [0, 500, 2000], [0, 900.0, 999.0], [1e4, 1000.0, 1000.0])
    assert np.all(np.isfinite(ll))


def test_gamma_gamma_ll_matches_textbook_and_integral():
    rows = [(1, 3.5), (2, 40.0), (7, 12.25), (30, 18.0)]
    x, m = (np.array(c, dtype=float) for c in zip(*rows))
    for params in [(6.25, 3.74, 15.44), (1.3, 0.8, 2.0)]:
        per_row = gamma_gamma_log_likelihood_per_row(params, x, m)
        expected = [textbook_gg_ll_row(*params, xi, mi) for xi, mi in rows]
        np.testing.assert_allclose(per_row, expected, rtol=1e-9, atol=1e-12)  # T=0 row: LL is exactly 0
        assert gamma_gamma_log_likelihood(params, x, m) == pytest.approx(math.fsum(expected), rel=1e-9)
        for ll, (xi, mi) in zip(per_row, rows):
            assert math.exp(ll) == pytest.approx(first_principles_gg_density(*params, xi, mi), rel=1e-7)


def test_analytic_gradients_match_finite_differences():
    x, tx, T, m = simulate(3_000, seed=3)
    for penalizer in (0.0, 0.05):
        prob = _BgNbdProblem(x, tx, T, np.ones(len(x)), penalizer)
        for theta in (np.log([0.3, 0.2, 0.9, 3.0]), np.log([2.0, 0.05, 0.4, 0.7])):
            _, g = prob.value_and_grad(theta)
            fd = [(prob.value_and_grad(theta + e)[0] - prob.value_and_grad(theta - e)[0]) / 2e-6
                  for e in np.eye(4) * 1e-6]
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
        rep = x > 0
        gprob = _GammaGammaProblem(x[rep], m[rep], penalizer)
        for theta in (np.log([5.0, 3.0, 0.5]), np.log([0.7, 1.2, 3.0])):
            _, g = gprob.value_and_grad(theta)
            fd = [(gprob.value_and_grad(theta + e)[0] - gprob.value_and_grad(theta - e)[0]) / 2e-6
                  for e in np.eye(3) * 1e-6]
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- #
# Fitting
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_parameter_recovery_within_4_standard_errors(seed):
    # 100k simulated customers (CDNOW-like parameters, 20-40 weeks of history).
    # Tolerance: the MLE is asymptotically normal around the truth with the
    # inverse-Hessian covariance, so |estimate - truth| < 4 SE fails with
    # probability ~6e-5 per parameter. a and b are the least identified (drop-out
    # is only seen indirectly): their SEs are ~4-5% of the value at this n, r and
    # alpha ~1-1.5%, so 4 SE is ~5% for r/alpha and ~15-20% for a/b. The check is
    # kept honest by also requiring the SEs themselves to be small.
    x, tx, T, m = simulate(100_000, seed=seed)
    bg = fit_bgnbd(x, tx, T)
    gg = fit_gamma_gamma(x, m)
    assert bg.converged, bg.message
    assert gg.converged, gg.message
    assert bg.n_customers == 100_000
    assert gg.n_customers == int(((x > 0) & (m > 0)).sum())
    for fit, truth in ((bg, TRUE_BG), (gg, TRUE_GG)):
        for name, true in truth.items():
            est, se = fit.params[name], fit.standard_errors[name]
            assert 0 < se < 0.06 * true, (name, se)
            assert abs(est - true) < 4 * se, f"{name}: estimate {est:.4f}, truth {true}, SE {se:.4f}"
    assert abs(gg.freq_monetary_correlation) < 0.05  # independent by construction


def test_fit_equals_fit_on_aggregated_patterns_and_time_unit_invariance():
    # Day-grained data: many identical (x, t_x, T) patterns.
    x, tx, T, _ = simulate(30_000, seed=5, T_low=1, T_high=200)
    tx, T = np.ceil(tx), np.ceil(T)
    tx = np.minimum(tx, T)
    days = fit_bgnbd(x, tx, T)
    assert days.converged and days.n_patterns < 20_000
    (ux, utx, uT), counts, inverse = aggregate_rfm(x, tx, T)
    np.testing.assert_array_equal(ux[inverse], x)
    np.testing.assert_array_equal(uT[inverse], T)
    ref = np.unique(np.column_stack([x, tx, T]), axis=0, return_counts=True)
    assert len(counts) == len(ref[1]) and sorted(counts) == sorted(ref[1])
    agg = fit_bgnbd(ux, utx, uT, weights=counts)
    for k in ("r", "alpha", "a", "b"):
        assert agg.params[k] == pytest.approx(days.params[k], rel=1e-6)
    assert agg.log_likelihood == pytest.approx(days.log_likelihood, rel=1e-12)
    # Weeks = days / 7: r, a, b unchanged, alpha / 7, LL shifted by sum(x) ln 7.
    weeks = fit_bgnbd(x, tx / 7, T / 7)
    for k in ("r", "a", "b"):
        assert weeks.params[k] == pytest.approx(days.params[k], rel=1e-6)
    assert weeks.alpha == pytest.approx(days.alpha / 7, rel=1e-6)
    assert weeks.log_likelihood == pytest.approx(days.log_likelihood + x.sum() * math.log(7), rel=1e-10)
    assert weeks.log_likelihood == pytest.approx(bgnbd_log_likelihood(weeks, x, tx / 7, T / 7), rel=1e-10)


def test_fit_reports_likelihood_at_estimate_and_is_a_maximum(fitted_small):
    bg, gg, (x, tx, T, m) = fitted_small
    assert bg.log_likelihood == pytest.approx(bgnbd_log_likelihood(bg, x, tx, T), rel=1e-12)
    rep = (x > 0) & (m > 0)
    assert gg.log_likelihood == pytest.approx(gamma_gamma_log_likelihood(gg, x[rep], m[rep]), rel=1e-12)
    for k in range(4):
        for eps in (1e-3, -1e-3):
            bumped = np.array([bg.r, bg.alpha, bg.a, bg.b])
            bumped[k] *= 1 + eps
            assert bgnbd_log_likelihood(bumped, x, tx, T) < bg.log_likelihood
    # starting values do not matter
    other = fit_bgnbd(x, tx, T, initial=(3.0, 1.0, 5.0, 1.0))
    assert other.converged
    for k in ("r", "alpha", "a", "b"):
        assert other.params[k] == pytest.approx(bg.params[k], rel=1e-5)


def test_penalizer_shrinks_parameters(fitted_small):
    bg, gg, (x, tx, T, m) = fitted_small
    pen = fit_bgnbd(x, tx, T, penalizer=0.1)
    assert pen.converged and pen.penalizer == 0.1
    assert pen.log_likelihood < bg.log_likelihood
    assert pen.a**2 + pen.b**2 < bg.a**2 + bg.b**2
    gpen = fit_gamma_gamma(x, m, penalizer=0.01)
    assert gpen.converged and gpen.log_likelihood < gg.log_likelihood


def test_boundary_solution_is_reported_not_converged():
    # Every repeat buyer bought on the as-of date: nobody ever looks dropped out,
    # the drop-out probability MLE is 0 (a -> 0 or b -> inf): not identifiable.
    rng = np.random.default_rng(0)
    n = 2_000
    T = rng.uniform(10, 40, n)
    x = rng.poisson(3, n).astype(float)
    tx = np.where(x > 0, T, 0.0)
    fit = fit_bgnbd(x, tx, T)
    assert fit.converged is False
    assert "boundary" in fit.message or "not converge" in fit.message or "definite" in fit.message
    assert isinstance(fit, BgNbdFit)


# --------------------------------------------------------------------------- #
# Loud failures
# --------------------------------------------------------------------------- #
def test_zero_customers_raises():
    with pytest.raises(ClvFitError, match="zero customers"):
        fit_bgnbd([], [], [])
    with pytest.raises(ClvFitError, match="zero customers"):
        fit_gamma_gamma([], [])


def test_too_few_customers_raises():
    with pytest.raises(ClvFitError, match="min_customers=10"):
        fit_bgnbd([1, 0, 2], [3.0, 0.0, 4.0], [5.0, 6.0, 7.0])
    fit = fit_bgnbd([1, 0, 2], [3.0, 0.0, 4.0], [5.0, 6.0, 7.0], min_customers=3)
    assert isinstance(fit, BgNbdFit)


def test_no_repeat_buyers_raises():
    with pytest.raises(ClvFitError, match="no repeat buyers.*not identifiable"):
        fit_bgnbd(np.zeros(50), np.zeros(50), np.linspace(0, 30, 50))


def test_everyone_bought_once_on_the_same_day():
    tx = pd.DataFrame({
        "customer": [f"c{i}" for i in range(40)],
        "ts": pd.Timestamp("2024-03-01 10:00") + pd.to_timedelta(np.arange(40), unit="min"),
        "amount": np.linspace(5, 50, 40),
    })
    summary = rfm_summary(tx, "customer", "ts", "amount", as_of="2024-03-01", time_unit="day")
    assert (summary[["frequency", "recency", "T", "monetary_value"]].to_numpy() == 0).all()
    with pytest.raises(ClvFitError, match="no repeat buyers"):
        fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    with pytest.raises(ClvFitError, match="repeat customer"):
        fit_gamma_gamma(summary["frequency"], summary["monetary_value"])


@pytest.mark.parametrize(
    ("freq", "rec", "T", "match"),
    [
        ([1, -1], [1.0, 0.0], [2.0, 2.0], "negative"),
        ([1, 1], [3.0, 1.0], [2.0, 2.0], "recency > T"),
        ([1, 1], [np.nan, 1.0], [2.0, 2.0], "NaN"),
        ([1.5, 1], [1.0, 1.0], [2.0, 2.0], "whole number"),
        ([0, 1], [1.0, 1.0], [2.0, 2.0], "frequency 0 but recency > 0"),
        ([1, 1], [1.0], [2.0, 2.0], "same length"),
        ([1, 1], [1.0, 1.0], [2.0, -2.0], "negative"),
    ],
)
def test_invalid_inputs_raise(freq, rec, T, match):
    with pytest.raises(ClvFitError, match=match):
        fit_bgnbd(freq * 10, rec * 10, T * 10)
    with pytest.raises(ClvFitError, match=match):
        conditional_probability_alive(TRUE_BG.values(), freq, rec, T)


def test_gamma_gamma_input_errors():
    x = np.array([1, 2, 3] * 5, dtype=float)
    m = np.array([10.0, 20.0, 30.0] * 5)
    with pytest.raises(ClvFitError, match="min_repeat_customers=20"):
        fit_gamma_gamma(x, m, min_repeat_customers=20)
    with pytest.raises(ClvFitError, match="negative"):
        fit_gamma_gamma(x, -m)
    with pytest.raises(ClvFitError, match="NaN"):
        fit_gamma_gamma(x, np.where(x == 2, np.nan, m))
    with pytest.raises(ClvFitError, match="q = 0.9 <= 1"):
        conditional_expected_average_profit((2.0, 0.9, 10.0), [1.0], [10.0])
    with pytest.raises(ClvFitError, match="finite and > 0"):
        conditional_probability_alive((0.2, -1.0, 1.0, 1.0), [1.0], [1.0], [2.0])


# --------------------------------------------------------------------------- #
# Predictions
# --------------------------------------------------------------------------- #
def test_p_alive_textbook_and_edge_cases():
    r, alpha, a, b = HAND_PARAMS[0]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*HAND_ROWS))
    got = conditional_probability_alive((r, alpha, a, b), x, tx, T)
    for g, (xi, txi, Ti) in zip(got, HAND_ROWS):
        expected = 1.0 if xi == 0 else 1.0 / (1.0 + a / (b + xi - 1) * ((alpha + Ti) / (alpha + txi)) ** (r + xi))
        assert g == pytest.approx(expected, rel=1e-12)
    assert got[1] == 1.0  # T == 0 customer


def first_principles_expected_purchases(r, alpha, a, b, t, x, tx, T):
    """E[Y(t) | x, t_x, T] from the model's definition, without any hypergeometric function.

    Alive at T with (lambda, p), the expected purchases in (T, T+t] are
    (1 - e^{-lambda p t}) / p. Weighting by P(alive, data | lambda, p) =
    (1-p)^x lambda^x e^{-lambda T} and the priors, the lambda integral is a Gamma
    integral: int lambda^x e^{-lambda T} (1 - e^{-lambda p t}) g(lambda) dlambda =
    Gamma(r+x) alpha^r / Gamma(r) [(alpha+T)^-(r+x) - (alpha+T+p t)^-(r+x)].
    The p integrals (numerator and the likelihood normaliser, both divided by
    the common factor Gamma(r+x) alpha^r / Gamma(r) (alpha+T)^-(r+x)) are done
    numerically.
    """
    f = stats.beta(a, b).pdf

    def integrand(p):
        # (1-p)^x / p * [1 - (1 + p t / (alpha+T))^-(r+x)] * f(p)
        bracket = -math.expm1(-(r + x) * math.log1p(p * t / (alpha + T)))
        return (1 - p) ** x / p * bracket * f(p)

    brk = [min(1.0, (alpha + T) / t)] if t > 0 else None
    num = integrate.quad(integrand, 0, 1, epsabs=0, epsrel=1e-11, limit=500, points=brk)[0]
    p_stay = integrate.quad(lambda p: (1 - p) ** x * f(p), 0, 1, epsabs=0, epsrel=1e-11, limit=500)[0]
    norm = p_stay
    if x > 0:
        p_drop = integrate.quad(lambda p: p * (1 - p) ** (x - 1) * f(p), 0, 1, epsabs=0, epsrel=1e-11, limit=500)[0]
        norm += ((alpha + T) / (alpha + tx)) ** (r + x) * p_drop
    return num / norm


@pytest.mark.parametrize("params", [(0.5, 3.0, 0.8, 2.5), (2.0, 5.0, 1.5, 4.0)])
def test_expected_purchases_eq10_matches_first_principles(params):
    rows = [(0, 0.0, 0.0), (0, 0.0, 10.0), (3, 7.5, 8.0), (2, 0.3, 40.0), (40, 35.0, 38.0)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows))
    for t in (1.0, 13.0, 52.0, 500.0):
        got = conditional_expected_number_of_purchases_up_to_time(params, t, x, tx, T)
        for g, (xi, txi, Ti) in zip(got, rows):
            assert g == pytest.approx(first_principles_expected_purchases(*params, t, xi, txi, Ti), rel=1e-7)


def test_expected_purchases_in_scipy_hyp2f1_degenerate_case():
    # r == a makes c - a - b of the 2F1 an exact integer; scipy's hyp2f1 returns
    # inf there for large x. The module must still return the right number.
    params = (0.5, 1.0, 0.5, 2.0)
    rows = [(98, 3.0, 4.0), (150, 9.0, 10.0)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows))
    got = conditional_expected_number_of_purchases_up_to_time(params, 10.0, x, tx, T)
    for g, (xi, txi, Ti) in zip(got, rows):
        assert g == pytest.approx(first_principles_expected_purchases(*params, 10.0, xi, txi, Ti), rel=1e-7)


def test_expected_purchases_matches_direct_eq10_form(fitted_small):
    # lifetimes-style direct evaluation of eq. 10 (hyp2f1 in the paper's form)
    # against the module's overflow-free Euler/Pfaff-transformed form.
    from scipy.special import hyp2f1

    bg, _, (x, tx, T, _) = fitted_small
    r, alpha, a, b = bg.r, bg.alpha, bg.a, bg.b
    t = 26.0
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    denom = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + T) / (alpha + tx)) ** (r + x)
    direct = first * second / denom
    got = conditional_expected_number_of_purchases_up_to_time(bg, t, x, tx, T)
    ok = np.isfinite(direct)
    assert ok.mean() > 0.99
    np.testing.assert_allclose(got[ok], direct[ok], rtol=1e-8, atol=1e-12)
    assert np.all(np.isfinite(got))


def test_new_customer_T0_predictions_are_finite(fitted_small):
    bg, gg, _ = fitted_small
    one = np.zeros(1)
    assert conditional_probability_alive(bg, one, one, one)[0] == 1.0
    e = conditional_expected_number_of_purchases_up_to_time(bg, [10.0], one, one, one)
    assert np.isfinite(e[0]) and e[0] > 0
    clv = customer_lifetime_value(bg, gg, one, one, one, one, time_unit="week")
    assert np.isfinite(clv[0]) and clv[0] > 0
    assert conditional_expected_average_profit(gg, one, one)[0] == pytest.approx(gg.population_mean_spend)


def test_expected_average_profit_formula():
    p, q, v = 6.25, 3.74, 15.44
    got = conditional_expected_average_profit((p, q, v), [0, 1, 10], [0.0, 20.0, 50.0])
    pop = p * v / (q - 1)
    assert got[0] == pytest.approx(pop)
    for g, (xi, mi) in zip(got[1:], [(1, 20.0), (10, 50.0)]):
        w = p * xi / (p * xi + q - 1)
        assert g == pytest.approx((1 - w) * pop + w * mi, rel=1e-12)


def test_clv_matches_month_by_month_definition(fitted_small):
    bg, gg, (x, tx, T, m) = fitted_small
    sel = slice(0, 400)
    for unit, k in (("week", 4.345), ("day", 30.0)):
        got = customer_lifetime_value(bg, gg, x[sel], tx[sel], T[sel], m[sel], months=6,
                                      monthly_discount_rate=0.02, margin=0.3, time_unit=unit)
        spend = conditional_expected_average_profit(gg, x[sel], m[sel]) * 0.3
        expected = np.zeros(400)
        for i in range(1, 7):
            e_i = conditional_expected_number_of_purchases_up_to_time(bg, i * k, x[sel], tx[sel], T[sel])
            e_prev = conditional_expected_number_of_purchases_up_to_time(bg, (i - 1) * k, x[sel], tx[sel], T[sel])
            expected += spend * (e_i - e_prev) / 1.02**i
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    with pytest.raises(ClvFitError, match="time_unit"):
        customer_lifetime_value(bg, gg, x[sel], tx[sel], T[sel], m[sel], time_unit="month")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# Property-based
# --------------------------------------------------------------------------- #
positive = st.floats(min_value=0.02, max_value=50.0, allow_nan=False, allow_infinity=False)


@st.composite
def customers(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        T = draw(st.floats(min_value=0.0, max_value=2000.0))
        x = draw(st.integers(0, 300))
        tx = 0.0 if x == 0 else draw(st.floats(min_value=0.0, max_value=1.0)) * T
        rows.append((float(x), tx, T))
    return tuple(np.array(c, dtype=float) for c in zip(*rows))


@settings(max_examples=int(__import__("os").environ.get("CLVFIT_HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=positive, alpha=positive, a=positive, b=positive, data=customers(),
       t1=st.floats(min_value=0.0, max_value=500.0), dt=st.floats(min_value=0.0, max_value=500.0))
def test_properties_of_predictions_and_likelihood(r, alpha, a, b, data, t1, dt):
    x, tx, T = data
    params = (r, alpha, a, b)
    pa = conditional_probability_alive(params, x, tx, T)
    assert np.all((pa >= 0) & (pa <= 1))
    assert np.all(np.isfinite(bgnbd_log_likelihood_per_row(params, x, tx, T)))
    e1 = conditional_expected_number_of_purchases_up_to_time(params, t1, x, tx, T)
    e2 = conditional_expected_number_of_purchases_up_to_time(params, t1 + dt, x, tx, T)
    assert np.all(np.isfinite(e1)) and np.all(np.isfinite(e2))
    tol = 1e-9 * np.maximum(1.0, np.abs(e2))
    assert np.all(e1 >= -tol)
    assert np.all(e2 >= e1 - tol)


# --------------------------------------------------------------------------- #
# RFM summary
# --------------------------------------------------------------------------- #
def test_rfm_summary_semantics():
    tx = pd.DataFrame(
        [
            ("a", "2024-01-01 09:00", 10.0),
            ("a", "2024-01-01 18:00", 5.0),   # same day as first: merges into the first period
            ("a", "2024-01-04 12:00", 20.0),
            ("a", "2024-01-04 13:00", 2.0),   # same day: period spend 22
            ("a", "2024-01-08 08:00", 30.0),
            ("a", "2024-01-15 08:00", 99.0),  # after as_of: dropped
            ("b", "2024-01-10 23:59", 7.0),   # one purchase only
            ("c", "2024-01-09 00:00", 4.0),
            ("c", "2024-01-10 22:00", 6.0),   # on the as-of day: kept
            ("d", "2024-01-11 00:00", 1.0),   # only after as_of: customer absent
        ],
        columns=["cust", "ts", "amount"],
    )
    out = rfm_summary(tx, "cust", "ts", "amount", as_of="2024-01-10 08:00", time_unit="day")
    expected = pd.DataFrame(
        {
            "frequency": [2.0, 0.0, 1.0],
            "recency": [7.0, 0.0, 1.0],
            "T": [9.0, 0.0, 1.0],
            "monetary_value": [(22.0 + 30.0) / 2, 0.0, 6.0],
        },
        index=pd.Index(["a", "b", "c"], name="cust"),
    )
    pd.testing.assert_frame_equal(out, expected)
    weeks = rfm_summary(tx, "cust", "ts", "amount", as_of=pd.Timestamp("2024-01-10"), time_unit="week")
    np.testing.assert_allclose(weeks[["recency", "T"]].to_numpy(), expected[["recency", "T"]].to_numpy() / 7)
    no_money = rfm_summary(tx, "cust", "ts", None, as_of="2024-01-10", time_unit="day")
    assert list(no_money.columns) == ["frequency", "recency", "T"]
    pd.testing.assert_frame_equal(no_money, expected[["frequency", "recency", "T"]])
    empty = rfm_summary(tx, "cust", "ts", "amount", as_of="2023-12-31", time_unit="day")
    assert empty.empty and list(empty.columns) == ["frequency", "recency", "T", "monetary_value"]
