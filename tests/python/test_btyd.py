"""Tests of the BTYD model library (clvlayer.btyd): MBG/NBD, Pareto/NBD, intervals, model choice, covariates.

References live in btyd_oracles.py and share no code with the library: mpmath closed forms, scipy
quadrature over the latent rates, Bayes on a grid, posterior Monte Carlo and simulators of the processes.
"""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import btyd_oracles as oracle  # noqa: E402
from btyd_covariates import fit_bgnbd_covariates, fit_paretonbd_covariates, likelihood_ratio_test  # noqa: E402

from clvlayer.btyd import (  # noqa: E402
    BUCKETS,
    MODELS,
    ClvFitError,
    choose_model,
    clv_intervals,
    count_pmf,
    customer_lifetime_value,
    fit_gamma_gamma,
    frequency_bucket,
    get_model,
    holdout_log_likelihood,
    model_lifetime_value,
    purchase_intervals,
    score_models,
)
from clvlayer.btyd import bgnbd, mbgnbd, paretonbd  # noqa: E402
from clvlayer.btyd._patterns import prepare_fit_data  # noqa: E402
from clvlayer.btyd._predict import alive_pmf_kmax, gauss_jacobi, nbd_tail_bound, pareto_alive_pmf  # noqa: E402

PNBD_CDNOW = (0.55, 10.58, 0.61, 11.67)  # Schmittlein et al. / Fader & Hardie CDNOW estimates (weeks)
BG_CDNOW = (0.243, 4.414, 0.793, 2.426)
MBG_TRUE = (0.25, 4.0, 0.8, 2.5)

# Pareto/NBD parameter sets: alpha ~ beta, alpha >> beta, alpha << beta (the 2F1 ordering flip), and
# extreme ratios (near-singular 2F1 argument); customers: new, one-time, heavy, recency == T, tiny T.
PNBD_PARAMS = [PNBD_CDNOW, (0.2, 100.0, 2.0, 0.5), (3.0, 0.5, 0.3, 80.0), (0.55, 10.58, 0.61, 0.05), (1.0, 0.05, 1.0, 50.0)]
PNBD_ROWS = [(0, 0.0, 39.0), (1, 2.0, 39.0), (5, 20.0, 39.0), (50, 10.0, 300.0), (500, 30.0, 1000.0),
             (2, 38.99, 39.0), (30, 0.5, 78.0), (0, 0.0, 0.01), (200, 999.5, 1000.0), (3, 5.0, 5.0)]


TRUTH = {"bgnbd": BG_CDNOW, "mbgnbd": MBG_TRUE, "paretonbd": PNBD_CDNOW}


def _simulate(model, n, seed, holdout, truth=None):
    params = truth or TRUTH[model]
    if model == "paretonbd":
        return oracle.simulate_pareto(n, seed, *params, holdout)
    return oracle.simulate_bg(n, seed, *params, holdout, modified=model == "mbgnbd")


@pytest.fixture(scope="session")
def holdout_set():
    """Per model, 20,000 customers simulated from the model (seed 5) with a 39-week holdout and the model's fit
    on the calibration part: shared by the pmf histogram, recovery and interval calibration tests."""
    cache = {}

    def get(model):
        if model not in cache:
            x, tx, T, y = _simulate(model, 20_000, 5, 39.0)
            cache[model] = (x, tx, T, y, get_model(model).fit(x, tx, T))
        return cache[model]

    return get


@pytest.fixture(scope="session")
def choice_set():
    """20,000 MBG/NBD customers (seed 21) with a 39-week holdout and all three models fitted on them."""
    x, tx, T, y = _simulate("mbgnbd", 20_000, 21, 39.0)
    return x, tx, T, y, {name: spec.fit(x, tx, T) for name, spec in MODELS.items()}


# --------------------------------------------------------------------------- #
# Likelihood oracles
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("params", PNBD_PARAMS)
def test_pareto_likelihood_matches_fader_hardie_2f1_in_mpmath(params):
    x, tx, T = (np.array(c, dtype=float) for c in zip(*PNBD_ROWS))
    got = paretonbd.paretonbd_log_likelihood_per_row(params, x, tx, T)
    ratio = max(params[1], params[3]) / min(params[1], params[3])
    tol = 1e-9 if ratio < 50 else 1e-7  # documented accuracy: ~1e-10 usually, ~1e-7 at alpha/beta ratios ~1000
    for g, (xi, txi, Ti) in zip(got, PNBD_ROWS):
        ref = oracle.pareto_ll_fader_hardie(*params, xi, txi, Ti)
        assert abs(g - ref) <= tol * max(1.0, abs(ref)), (params, xi, txi, Ti, g, ref)


def test_pareto_likelihood_matches_double_integral_over_rates():
    rows = [(0, 0.0, 30.0), (2, 10.0, 30.0), (7, 29.5, 30.0), (15, 3.0, 52.0)]
    for params in (PNBD_CDNOW, (3.0, 0.5, 0.3, 80.0)):
        got = paretonbd.paretonbd_log_likelihood_per_row(params, *(np.array(c, dtype=float) for c in zip(*rows)))
        for g, (xi, txi, Ti) in zip(got, rows):
            assert math.exp(g) == pytest.approx(oracle.pareto_lik_by_integration(*params, xi, txi, Ti), rel=1e-8), (params, xi)


def test_mbg_likelihood_matches_integral_and_p_alive_matches_grid_bayes():
    rows = [(0, 0.0, 30.0), (1, 3.0, 30.0), (4, 12.0, 35.0), (12, 38.0, 39.0)]
    for params in (MBG_TRUE, (1.5, 0.7, 2.0, 0.6)):
        x, tx, T = (np.array(c, dtype=float) for c in zip(*rows))
        ll = mbgnbd.mbgnbd_log_likelihood_per_row(params, x, tx, T)
        pa = mbgnbd.conditional_probability_alive(params, x, tx, T)
        for l_i, p_i, (xi, txi, Ti) in zip(ll, pa, rows):
            assert math.exp(l_i) == pytest.approx(oracle.mbg_lik_by_integration(*params, xi, txi, Ti), rel=1e-8)
            assert p_i == pytest.approx(oracle.mbg_p_alive_by_grid(*params, xi, txi, Ti, n=20000), abs=2e-3)


def test_pareto_p_alive_matches_textbook_and_is_stable_for_extreme_customers():
    x, tx, T = (np.array(c, dtype=float) for c in zip(*PNBD_ROWS))
    for params in PNBD_PARAMS[:3]:
        got = paretonbd.conditional_probability_alive(params, x, tx, T)
        assert np.all((got >= 0) & (got <= 1))
        for g, (xi, txi, Ti) in zip(got, PNBD_ROWS):
            assert g == pytest.approx(oracle.pareto_p_alive_fader_hardie(*params, xi, txi, Ti), rel=1e-7, abs=1e-12)
    # recency == T: nobody can be sure he is gone; huge x long ago: certainly gone (no overflow)
    pa = paretonbd.conditional_probability_alive(PNBD_CDNOW, [3, 3000], [5.0, 1.0], [5.0, 1000.0])
    assert pa[0] == 1.0 and 0 <= pa[1] < 1e-100


@pytest.mark.parametrize("model", ["mbgnbd", "paretonbd"])
def test_analytic_gradients_match_finite_differences(model):
    x, tx, T, _ = oracle.simulate_pareto(3000, 1, *PNBD_CDNOW, 10.0)
    problem = {"mbgnbd": mbgnbd.MbgNbdProblem, "paretonbd": paretonbd.ParetoNbdProblem}[model]
    for penalizer in (0.0, 0.05):
        prob = problem(prepare_fit_data(x, tx, T, None, 10, penalizer, model), penalizer)
        for theta in (np.log([0.5, 0.3, 0.6, 0.4]), np.log([2.0, 0.05, 0.3, 3.0]), np.log([0.3, 5.0, 2.0, 0.02])):
            _, g = prob(theta)
            fd = np.array([(prob(theta + e)[0] - prob(theta - e)[0]) / 2e-6 for e in np.eye(4) * 1e-6])
            np.testing.assert_allclose(g, fd, rtol=2e-6, atol=1e-9)
            if hasattr(prob, "value_grad_hess"):  # Pareto/NBD: analytic Hessian (Newton) vs differences of the gradient
                f, g2, h = prob.value_grad_hess(theta)
                assert f == pytest.approx(prob(theta)[0], rel=1e-14) and np.allclose(g2, g, rtol=1e-13, atol=1e-16)
                fd_h = np.array([(prob(theta + e)[1] - prob(theta - e)[1]) / 2e-5 for e in np.eye(4) * 1e-5])
                np.testing.assert_allclose(h, fd_h, rtol=1e-6, atol=1e-7 * np.abs(h).max())


# --------------------------------------------------------------------------- #
# Prediction oracles
# --------------------------------------------------------------------------- #
def test_pareto_expected_purchases_match_posterior_simulation():
    for xi, txi, Ti in [(0, 0.0, 30.0), (3, 25.0, 30.0), (3, 5.0, 30.0)]:
        got = paretonbd.conditional_expected_number_of_purchases_up_to_time(PNBD_CDNOW, 39.0, [xi], [txi], [Ti])[0]
        ref, se = oracle.pareto_expected_by_posterior_mc(*PNBD_CDNOW, xi, txi, Ti, 39.0)
        assert abs(got - ref) < 4 * se + 1e-9, (xi, txi, Ti, got, ref, se)


def test_nbd_tail_bound_holds_for_heavy_and_light_tails():
    from scipy import stats

    for r in (0.05, 0.3, 1.0, 5.0, 80.0):
        for ratio in (0.1, 10.0, 1000.0):
            k = nbd_tail_bound(np.array([r]), np.array([1.0]), np.array([ratio]))[0]
            assert stats.nbinom.sf(k, r, 1.0 / (1.0 + ratio)) < 1e-9, (r, ratio, k)


def test_pareto_alive_pmf_matches_quadrature_in_the_exposure():
    # (r', alpha', s, beta', t): CDNOW-like, a frequent buyer, a brand-new customer whose lifetime scale beta' is
    # tiny against the horizon (the old 32-node rule in e was off by 0.19 in the CDF there), a tiny alpha'.
    rows = [(0.55, 10.6, 0.61, 11.7, 39.0), (100.55, 110.6, 0.61, 111.7, 52.0), (0.55, 10.59, 0.61, 0.06, 104.0),
            (1.0, 0.06, 1.0, 50.06, 26.0), (3.2, 45.0, 2.5, 3.0, 4.3)]
    for rp, ap, s, bp, t in rows:
        kmax = alive_pmf_kmax(np.array([rp]), np.array([ap]), np.array([t]))
        got = np.cumsum(pareto_alive_pmf(np.array([rp]), np.array([ap]), s, np.array([bp]), np.array([t]), kmax)[0])
        kk = min(kmax, 25)
        np.testing.assert_allclose(got[: kk + 1], oracle.pareto_alive_cdf_by_quad(rp, ap, s, bp, t, kk), rtol=0, atol=1e-10)
        assert got[-1] == pytest.approx(1.0, abs=1e-9)  # the default k range holds all but 1e-9


@pytest.mark.parametrize("model", sorted(MODELS))
def test_count_pmf_is_a_distribution_with_the_expected_mean(model):
    x, tx, T, _ = oracle.simulate_pareto(500, 2, *PNBD_CDNOW, 10.0)
    params = {"bgnbd": BG_CDNOW, "mbgnbd": MBG_TRUE, "paretonbd": PNBD_CDNOW}[model]
    pmf = count_pmf(model, params, 26.0, x, tx, T, kmax=150)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-10)
    mean = pmf @ np.arange(151)
    np.testing.assert_allclose(mean, get_model(model).expected_purchases(params, 26.0, x, tx, T), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_count_pmf_matches_simulated_holdout_histogram(model, holdout_set):
    # True parameters, simulated calibration + holdout: sum_i P_i(k) must match #customers with k purchases.
    x, tx, T, y, _ = holdout_set(model)
    pmf = count_pmf(model, TRUTH[model], 39.0, x, tx, T, kmax=60)
    for k in range(5):
        expected = pmf[:, k].sum()
        sd = math.sqrt(np.sum(pmf[:, k] * (1 - pmf[:, k])))
        assert abs((y == k).sum() - expected) < 4 * sd, (k, (y == k).sum(), expected, sd)


def test_mbg_one_time_buyers_p_alive_falls_with_age_while_bg_stays_one():
    T = np.array([5.0, 20.0, 60.0])
    zeros = np.zeros(3)
    mbg = mbgnbd.conditional_probability_alive(MBG_TRUE, zeros, zeros, T)
    assert np.all(np.diff(mbg) < 0) and mbg[0] < 1
    assert np.all(bgnbd.conditional_probability_alive(BG_CDNOW, zeros, zeros, T) == 1.0)
    assert np.all(np.diff(paretonbd.conditional_probability_alive(PNBD_CDNOW, zeros, zeros, T)) < 0)


def test_expected_lifetime_by_simulation_and_limits():
    # P(alive) E[min(tau, cap)]: for a customer with T = 0 (just acquired) the prior lifetime applies.
    rng = np.random.default_rng(0)
    r, alpha, s, beta = PNBD_CDNOW
    tau = rng.exponential(1 / rng.gamma(s, 1 / beta, 400_000))
    got = paretonbd.expected_lifetime(PNBD_CDNOW, 52.0, [0], [0.0], [0.0])[0]
    assert got == pytest.approx(np.minimum(tau, 52.0).mean(), rel=0.01)
    lam, p = rng.gamma(BG_CDNOW[0], 1 / BG_CDNOW[1], 400_000), rng.beta(BG_CDNOW[2], BG_CDNOW[3], 400_000)
    tau_bg = rng.exponential(1 / (lam * p))  # death at the Geometric(p)-th purchase of a Poisson(lambda)
    got_bg = bgnbd.expected_lifetime(BG_CDNOW, 52.0, [0], [0.0], [0.0])[0]
    assert got_bg == pytest.approx(np.minimum(tau_bg, 52.0).mean(), rel=0.01)
    for model in MODELS.values():
        params = {"bgnbd": BG_CDNOW, "mbgnbd": MBG_TRUE, "paretonbd": PNBD_CDNOW}[model.name]
        life = model.expected_lifetime(params, 52.0, [0, 4, 4], [0.0, 30.0, 2.0], [35.0, 35.0, 35.0])
        assert np.all((life >= 0) & (life <= 52.0)) and life[1] > life[2]


def test_clv_of_bgnbd_through_the_registry_equals_the_published_function():
    x, tx, T, _ = oracle.simulate_bg(3000, 3, *BG_CDNOW, 10.0)
    m = np.where(x > 0, 20.0 + x, 0.0)
    gg = (6.25, 3.74, 15.44)
    a = customer_lifetime_value(BG_CDNOW, gg, x, tx, T, m, months=6, monthly_discount_rate=0.02, time_unit="week")
    b = model_lifetime_value("bgnbd", BG_CDNOW, gg, x, tx, T, m, months=6, monthly_discount_rate=0.02, time_unit="week")
    np.testing.assert_allclose(a, b, rtol=1e-12)
    for model in ("mbgnbd", "paretonbd"):
        params = {"mbgnbd": MBG_TRUE, "paretonbd": PNBD_CDNOW}[model]
        v = model_lifetime_value(model, params, gg, x, tx, T, m, months=6, time_unit="week")
        assert np.all(np.isfinite(v)) and np.all(v > 0)


# --------------------------------------------------------------------------- #
# Fitting: recovery within 4 standard errors, loud failures
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("model", "data"), [("mbgnbd", "holdout"), ("mbgnbd", "choice"), ("paretonbd", "holdout")])
def test_parameter_recovery_within_4_standard_errors(model, data, holdout_set, choice_set):
    # two independent MBG/NBD samples (the shared holdout set and the model-choice set), one Pareto/NBD sample
    x, tx, T, _, fit = holdout_set(model) if data == "holdout" else (*choice_set[:4], choice_set[4][model])
    assert fit.converged, fit.message
    for name, true in zip(get_model(model).parameters, TRUTH[model]):
        est, se = fit.params[name], fit.standard_errors[name]
        assert 0 < se < 0.5 * true, (name, se)  # Pareto/NBD's beta is weakly identified at 20-40 weeks
        assert abs(est - true) < 4 * se, f"{model} {name}: {est:.4f} vs {true} (SE {se:.4f})"
    assert fit.log_likelihood == pytest.approx(float(np.sum(get_model(model).log_likelihood_per_row(fit, x, tx, T))), rel=1e-10)


@pytest.mark.parametrize("model", ["mbgnbd", "paretonbd"])
def test_fit_is_unit_invariant_and_equal_on_aggregated_patterns(model):
    x, tx, T, _ = oracle.simulate_pareto(4000, 7, *PNBD_CDNOW, 1.0)
    tx, T = np.ceil(tx * 7), np.ceil(T * 7)  # days, many repeated patterns
    spec = get_model(model)
    days = spec.fit(x, tx, T)
    weeks = spec.fit(x, tx / 7, T / 7)
    for name in spec.parameters:
        factor = 7.0 if name in spec.time_parameters else 1.0
        assert weeks.params[name] * factor == pytest.approx(days.params[name], rel=1e-5)
    assert weeks.log_likelihood == pytest.approx(days.log_likelihood + x.sum() * math.log(7), rel=1e-9)
    frame = pd.DataFrame({"x": x, "tx": tx, "T": T}).value_counts().reset_index()
    agg = spec.fit(frame["x"], frame["tx"], frame["T"], weights=frame["count"])
    assert agg.log_likelihood == pytest.approx(days.log_likelihood, rel=1e-10)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_loud_failures(model):
    fit = get_model(model).fit
    with pytest.raises(ClvFitError, match="zero customers"):
        fit([], [], [])
    with pytest.raises(ClvFitError, match="no repeat buyers"):
        fit(np.zeros(50), np.zeros(50), np.linspace(1, 30, 50))
    with pytest.raises(ClvFitError, match="recency > T"):
        fit([1] * 20, [5.0] * 20, [4.0] * 20)
    with pytest.raises(ClvFitError, match="min_customers"):
        fit([1, 0, 2], [3.0, 0.0, 4.0], [5.0, 6.0, 7.0])
    with pytest.raises(ClvFitError, match="unknown model"):
        get_model("pareto")


def test_boundary_solution_is_not_converged_for_new_models():
    rng = np.random.default_rng(0)
    T = rng.uniform(10, 40, 2000)
    x = rng.poisson(3, 2000).astype(float)
    tx = np.where(x > 0, T, 0.0)  # every repeat buyer bought on the as-of date: no dropout is ever seen
    fit = paretonbd.fit_paretonbd(x, tx, T)
    assert not fit.converged and fit.message


# --------------------------------------------------------------------------- #
# Intervals: calibration is the acceptance criterion
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("model", sorted(MODELS))
def test_holdout_count_intervals_are_calibrated_by_frequency_bucket(model, holdout_set):
    x, tx, T, y, fit = holdout_set(model)
    segments = np.array(["a", "b", "c"])[np.arange(len(x)) % 3]
    res = purchase_intervals(model, fit, 39.0, x, tx, T, level=0.8, n_draws=30, actual=y, segments=segments)
    assert 0.75 <= res.coverage.mean() <= 0.85
    assert res.covered_integer.mean() >= res.coverage.mean() - 1e-12  # integer intervals are conservative
    buckets = frequency_bucket(x)
    for b in BUCKETS:
        sel = buckets == b
        if sel.sum() >= 300:
            assert 0.72 <= res.coverage[sel].mean() <= 0.88, (b, res.coverage[sel].mean())
    # randomized PIT is uniform
    hist = np.histogram(res.pit, bins=10, range=(0, 1))[0] / len(x)
    assert np.all(np.abs(hist - 0.1) < 0.02)
    assert np.all(res.lower <= res.upper) and np.all(res.expected_lower <= res.expected_upper + 1e-12)
    assert res.segments is not None and len(res.segments) == 3
    np.testing.assert_allclose(res.expected, get_model(model).expected_purchases(fit, 39.0, x, tx, T), rtol=0.05)


def test_segment_sum_intervals_cover_at_the_stated_rate_over_seeds():
    # 12 seeds x 4 segments of a BG/NBD population, each a fresh fit: 48 intervals at 80%.
    covered = []
    for seed in range(12):
        x, tx, T, y = oracle.simulate_bg(4000, 200 + seed, *BG_CDNOW, 39.0)
        fit = bgnbd.fit_bgnbd(x, tx, T)
        seg = np.array(list("wxyz"))[np.random.default_rng(seed).integers(0, 4, len(x))]
        res = purchase_intervals("bgnbd", fit, 39.0, x, tx, T, n_draws=20, seed=seed, actual=y, segments=seg)
        covered += list(res.segments["covered"])
    rate = float(np.mean(covered))
    assert 0.62 <= rate <= 0.95, rate  # binomial(48, 0.8): 4 SD band around 0.8 is ~0.57..1.0


def test_clv_intervals_contain_the_point_estimate_and_widen_with_less_data():
    x, tx, T, _ = oracle.simulate_bg(3000, 9, *BG_CDNOW, 1.0)
    m = np.where(x > 0, np.random.default_rng(0).gamma(6.0, 5.0, len(x)), 0.0)
    bg, gg = bgnbd.fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)
    res = clv_intervals("bgnbd", bg, gg, x, tx, T, m, periods_per_month=4.345, segments=np.where(x > 2, "hi", "lo"))
    np.testing.assert_allclose(res.clv, customer_lifetime_value(bg, gg, x, tx, T, m, time_unit="week"), rtol=1e-9)
    inside = (res.expected_lower <= res.clv) & (res.clv <= res.expected_upper)
    assert inside.mean() > 0.95
    # the predictive interval of the realised value holds the expected-value interval's spread and more
    assert np.all(res.lower <= res.upper) and np.all((res.p_zero >= 0) & (res.p_zero <= 1))
    assert np.median(res.upper - res.lower) > np.median(res.expected_upper - res.expected_lower)
    small = slice(0, 300)
    bg_s, gg_s = bgnbd.fit_bgnbd(x[small], tx[small], T[small]), fit_gamma_gamma(x[small], m[small], min_repeat_customers=5)
    res_s = clv_intervals("bgnbd", bg_s, gg_s, x[small], tx[small], T[small], m[small], periods_per_month=4.345)
    rel = lambda r: np.median((r.expected_upper - r.expected_lower) / np.maximum(r.clv, 1e-9))  # noqa: E731
    assert rel(res_s) > 1.5 * rel(res)
    seg = res.segments.set_index("segment")
    assert set(seg.index) == {"hi", "lo"} and (seg["expected_lower"] <= seg["expected"]).all()
    assert ((seg["lower"] <= seg["expected_lower"]) & (seg["expected_upper"] <= seg["upper"])).all()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_clv_predictive_intervals_cover_realised_values(model):
    # Realised 12-month discounted value of simulated customers (count process + Gamma-Gamma spend per purchase):
    # the 80% predictive interval (parameter + process) covers 75-85% by the randomized-PIT rule.
    truth = {"bgnbd": BG_CDNOW, "mbgnbd": MBG_TRUE, "paretonbd": PNBD_CDNOW}[model]
    x, tx, T, m, value = oracle.simulate_value(model, 8000, 31, truth, (6.25, 3.74, 15.44), 12, 4.345, 0.01)
    fit, gg = get_model(model).fit(x, tx, T), fit_gamma_gamma(x, m)
    res = clv_intervals(model, fit, gg, x, tx, T, m, periods_per_month=4.345, seed=3)
    assert 0.75 <= res.coverage(value).mean() <= 0.85
    assert np.mean((res.lower <= value) & (value <= res.upper)) >= 0.8  # the atom at 0 makes plain intervals conservative


@pytest.mark.parametrize("model", sorted(MODELS))
def test_alive_moments_match_the_pmf_tables(model):
    params = {"bgnbd": (1.5, 0.7, 2.0, 0.6), "mbgnbd": MBG_TRUE, "paretonbd": (0.55, 10.58, 0.61, 0.05)}[model]
    x, T = np.array([0, 1, 3, 10, 50, 2.0]), np.array([0.01, 5, 20, 40, 100, 1.0])
    spec = get_model(model)
    for t in (4.3, 52.0):
        q0, m1, m2 = spec.alive_moments(params, t, x, T)
        pmf = spec.alive_count_pmf(params, t, x, T)
        k = np.arange(pmf.shape[1], dtype=float)
        np.testing.assert_allclose(q0, pmf[:, 0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(m1, pmf @ k, rtol=1e-8)
        np.testing.assert_allclose(m2, pmf @ k**2, rtol=1e-7)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_restricted_remaining_lifetime_is_the_models_expected_lifetime(model):
    """Each model's remaining lifetime with a cap per customer (the alive part of expected_restricted_lifetime),
    at cap = T + c for customers of one age T, is the model's own expected_lifetime(c) / P(alive): BG/NBD by a
    different quadrature, so a model wired to another model's lifetime (b + x vs b + x + 1) fails."""
    params = {"bgnbd": BG_CDNOW, "mbgnbd": MBG_TRUE, "paretonbd": PNBD_CDNOW}[model]
    x, tx, T = np.array([0, 1, 3, 10, 2.0]), np.array([0, 5, 20, 29, 1.0]), np.full(5, 30.0)
    spec = get_model(model)
    for c in (4.3, 52.0):
        want = spec.expected_lifetime(params, c, x, tx, T) / spec.p_alive(params, x, tx, T)
        np.testing.assert_allclose(spec.restricted_remaining_lifetime(params, 30.0 + c, x, T), want, rtol=1e-6)
    assert (spec.restricted_remaining_lifetime(params, 20.0, x, T) == 0).all()  # cap before T: nothing remains


def test_no_private_btyd_name_is_imported_outside_the_library():
    """The dbt glue and the CLI use clvlayer.btyd's public API only (its __all__)."""
    import clvlayer.btyd as btyd

    assert all(hasattr(btyd, name) for name in btyd.__all__)
    root = Path(__file__).resolve().parents[2]
    library = root / "scripts" / "clvlayer" / "btyd"
    sources = [*(root / "scripts" / "clvlayer").rglob("*.py"), *(root / "models").rglob("*.py")]
    offenders = []
    for source in (f for f in sources if library not in f.parents):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clvlayer.btyd"):
                names = node.module.split(".") + [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [part for alias in node.names if alias.name.startswith("clvlayer.btyd")
                         for part in alias.name.split(".")]
            else:
                continue
            offenders += [f"{source.relative_to(root)}:{node.lineno}" for name in names if name.startswith("_")][:1]
    assert not offenders, offenders


def test_gauss_jacobi_rules_match_scipy():
    from scipy.special import roots_jacobi

    alpha, beta = np.array([-0.7, 0.0, 1.4, 60.0]), np.array([-0.2, 3.0, -0.5, -0.9])
    for n in (24, 96):
        nodes, weights = gauss_jacobi(n, alpha, beta)
        for i in range(len(alpha)):
            ref_x, ref_w = roots_jacobi(n, alpha[i], beta[i])
            np.testing.assert_allclose(nodes[i], ref_x, atol=1e-10)
            np.testing.assert_allclose(weights[i], ref_w / ref_w.sum(), atol=1e-10)


def test_interval_inputs_fail_loudly():
    x, tx, T, y = oracle.simulate_bg(500, 1, *BG_CDNOW, 10.0)
    fit = bgnbd.fit_bgnbd(x, tx, T)
    with pytest.raises(ClvFitError, match="level"):
        purchase_intervals("bgnbd", fit, 10.0, x, tx, T, level=1.2)
    with pytest.raises(ClvFitError, match="one whole"):
        purchase_intervals("bgnbd", fit, 10.0, x, tx, T, actual=y[:-1])
    with pytest.raises(ClvFitError, match="one label"):
        purchase_intervals("bgnbd", fit, 10.0, x, tx, T, segments=["a"])
    with pytest.raises(ClvFitError, match="positive-definite"):
        purchase_intervals("bgnbd", BG_CDNOW, 10.0, x, tx, T)  # plain parameters carry no uncertainty


# --------------------------------------------------------------------------- #
# Model choice
# --------------------------------------------------------------------------- #
def test_model_choice_picks_the_generating_model_and_honours_a_forced_one(choice_set):
    x, tx, T, y, fits = choice_set
    models, buckets = score_models(fits, 39.0, x, tx, T, y)
    assert set(models["model"]) == set(MODELS) and models["usable"].all()
    assert choose_model(models) == "mbgnbd"
    assert choose_model(models, forced="paretonbd") == "paretonbd"
    # the scorer's numbers are the registry's predictions and log-likelihoods
    row = models.set_index("model").loc["bgnbd"]
    assert row["predicted_purchases"] == pytest.approx(MODELS["bgnbd"].expected_purchases(fits["bgnbd"], 39.0, x, tx, T).sum())
    assert row["holdout_log_likelihood"] == pytest.approx(holdout_log_likelihood("bgnbd", fits["bgnbd"], 39.0, x, tx, T, y).sum())
    assert row["actual_purchases"] == y.sum()
    per = buckets[buckets["model"] == "bgnbd"].set_index("bucket")
    assert per["customers"].sum() == len(x) and per.loc["0", "actual"] == y[x == 0].sum()
    models.loc[models["model"] == "mbgnbd", "usable"] = False
    assert choose_model(models) != "mbgnbd"
    with pytest.raises(ClvFitError, match="no usable"):
        choose_model(models, forced="mbgnbd")


# --------------------------------------------------------------------------- #
# Covariates
# --------------------------------------------------------------------------- #
def _simulate_covariates(n, seed):
    rng = np.random.default_rng(seed)
    z = np.column_stack([rng.random(n) < 0.3, rng.random(n) < 0.4]).astype(float)  # loyalty, paid_social
    gp, gb = np.array([math.log(1.25), math.log(0.85)]), np.array([0.0, math.log(0.6)])
    r, alpha, a, b = 0.9, 20.0, 0.8, 4.0
    T = rng.uniform(30, 900, n)
    lam = rng.gamma(r, 1 / (alpha * np.exp(-z @ gp)))
    p = rng.beta(a, b * np.exp(z @ gb))
    allowed = rng.geometric(p)
    N = rng.poisson(lam * T)
    x = np.minimum(allowed, N).astype(float)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(N - x + 1, 1)), 0.0)
    return x, tx, T, z, {"purchase:loyal": gp[0], "purchase:paid_social": gp[1], "dropout_a:loyal": 0.0,
                         "dropout_a:paid_social": 0.0, "dropout_b:loyal": 0.0, "dropout_b:paid_social": gb[1]}


def test_covariate_effects_recovered_within_4_standard_errors_and_lrt():
    x, tx, T, z, truth = _simulate_covariates(5_000, 3)  # LRT statistic 140 on 6 df at this size
    names = ["loyal", "paid_social"]
    fit = fit_bgnbd_covariates(x, tx, T, z, z, purchase_names=names, dropout_names=names)
    assert fit.converged, fit.message
    for name, true in truth.items():
        assert abs(fit.params[name] - true) < 4 * fit.standard_errors[name], (name, fit.params[name], true)
    base = bgnbd.fit_bgnbd(x, tx, T)
    lrt = likelihood_ratio_test(fit, base)
    assert lrt.df == 6 and lrt.p_value < 1e-10
    # a covariate with no effect: the test does not reject (pure noise column)
    noise = np.random.default_rng(1).random(len(x)) < 0.5
    null = fit_bgnbd_covariates(x, tx, T, noise[:, None], noise[:, None], purchase_names=["noise"], dropout_names=["noise"])
    assert likelihood_ratio_test(null, base).p_value > 0.001
    with pytest.raises(ClvFitError, match="collinear"):
        fit_bgnbd_covariates(x, tx, T, np.ones((len(x), 1)), z, purchase_names=["one"], dropout_names=names)


def _simulate_pareto_covariates(n, seed):
    """Pareto/NBD with covariates as CLVTools' pnbd: lambda ~ Gamma(r, alpha0 exp(-gp'z)), mu ~ Gamma(s, beta0 exp(-gd'z))."""
    rng = np.random.default_rng(seed)
    z = np.column_stack([rng.random(n) < 0.3, rng.random(n) < 0.4]).astype(float)  # loyalty, paid_social
    gp, gd = np.array([math.log(1.25), math.log(0.85)]), np.array([0.0, math.log(1.6)])
    r, alpha, s, beta = 0.8, 12.0, 0.7, 10.0
    T = rng.integers(20 * 7, 80 * 7 + 1, n) / 7.0
    lam = rng.gamma(r, 1 / (alpha * np.exp(-z @ gp)))
    tau = rng.exponential(1 / rng.gamma(s, 1 / (beta * np.exp(-z @ gd))))
    active = np.minimum(tau, T)
    x = rng.poisson(lam * active).astype(float)
    tx = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)  # the largest of x uniform times
    truth = {"purchase:loyal": gp[0], "purchase:paid_social": gp[1], "dropout:loyal": gd[0], "dropout:paid_social": gd[1]}
    return x, tx, T, z, truth


def test_pareto_covariate_effects_recovered_within_4_standard_errors_and_lrt():
    x, tx, T, z, truth = _simulate_pareto_covariates(5_000, 3)
    names = ["loyal", "paid_social"]
    base = paretonbd.fit_paretonbd(x, tx, T)
    fit = fit_paretonbd_covariates(x, tx, T, z, z, purchase_names=names, dropout_names=names, initial=base)
    assert fit.converged, fit.message
    for name, true in truth.items():
        assert abs(fit.params[name] - true) < 4 * fit.standard_errors[name], (name, fit.params[name], true)
    lrt = likelihood_ratio_test(fit, base)
    assert lrt.df == 4 and lrt.p_value < 1e-8
    assert fit.log_likelihood >= base.log_likelihood  # nested: the covariate model cannot fit worse
    r, alpha_i, s, beta_i = fit.customer_params(z, z)
    np.testing.assert_allclose(alpha_i[(z == 0).all(axis=1)], fit.params["alpha"])
    noise = np.random.default_rng(1).random(len(x)) < 0.5
    null = fit_paretonbd_covariates(x, tx, T, noise[:, None], noise[:, None], purchase_names=["noise"],
                                    dropout_names=["noise"], initial=base)
    assert likelihood_ratio_test(null, base).p_value > 0.001
    with pytest.raises(ClvFitError, match="collinear"):
        fit_paretonbd_covariates(x, tx, T, np.ones((len(x), 1)), z, purchase_names=["one"], dropout_names=names)
    with pytest.raises(ClvFitError, match="covariate combinations"):
        fit_paretonbd_covariates(x, tx, T, T[:, None], z, purchase_names=["age"], dropout_names=names)


def test_segment_partitions_scored_once_equal_the_long_form():
    """Several partitions of the same customers (a label array each, e.g. one per segment type) give the table the
    customers repeated once per partition give: the same sums and intervals, from one scoring of each customer."""
    x, tx, T, _ = oracle.simulate_bg(800, 9, *BG_CDNOW, 1.0)
    m = np.where(x > 0, np.random.default_rng(1).gamma(6.0, 5.0, len(x)), 0.0)
    bg, gg = bgnbd.fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)
    kinds = [np.where(x > 2, "freq\x1fhi", "freq\x1flo"), np.array([f"id\x1f{i % 3}" for i in range(len(x))])]
    actual = np.random.default_rng(2).gamma(1.0, 20.0, len(x))
    args = dict(periods_per_month=4.345, n_draws=20, actual=None)
    once = clv_intervals("bgnbd", bg, gg, x, tx, T, m, segments=kinds, **{**args, "actual": actual}).segments
    twice = clv_intervals("bgnbd", bg, gg, np.tile(x, 2), np.tile(tx, 2), np.tile(T, 2), np.tile(m, 2),
                          segments=np.concatenate(kinds), **{**args, "actual": np.tile(actual, 2)}).segments
    assert list(once["segment"]) == list(twice["segment"]) == sorted(set(np.concatenate(kinds)))
    assert list(once["customers"]) == [sum(x > 2), sum(x <= 2)] + [len(range(i, len(x), 3)) for i in range(3)]
    pd.testing.assert_frame_equal(once, twice, rtol=1e-9)
    alone = clv_intervals("bgnbd", bg, gg, x, tx, T, m, segments=kinds, per_customer=False,
                          **{**args, "actual": actual})
    pd.testing.assert_frame_equal(alone.segments, once)  # the segment table does not need the customers' bounds
    assert np.isnan(alone.lower).all() and np.isnan(alone.clv).all()  # nor their point CLV
    with pytest.raises(ClvFitError, match="more than one partition"):  # summed together, they would double count
        clv_intervals("bgnbd", bg, gg, x, tx, T, m, segments=[kinds[0], np.where(x > 2, "freq\x1fhi", "other")])


@pytest.mark.parametrize("model", ["bgnbd", "paretonbd"])
def test_threads_over_the_draws_give_the_serial_numbers(model, monkeypatch):
    """The draws' work on two threads (clvlayer.btyd._core.THREADS, env CLV_THREADS) is combined in draw order:
    every interval, segment sum and moment is bit-identical to the one-thread run."""
    from clvlayer.btyd import _core

    truth = {"bgnbd": BG_CDNOW, "paretonbd": PNBD_CDNOW}[model]
    x, tx, T, m, _ = oracle.simulate_value(model, 1500, 11, truth, (6.25, 3.74, 15.44), 6, 4.345, 0.01)
    fit, gg = get_model(model).fit(x, tx, T), fit_gamma_gamma(x, m)
    kinds = [np.where(x > 2, "freq\x1fhi", "freq\x1flo"), np.array([f"id\x1f{i % 3}" for i in range(len(x))])]
    y = np.random.default_rng(4).poisson(1.0, len(x)).astype(float)

    def run() -> list[np.ndarray]:
        value = clv_intervals(model, fit, gg, x, tx, T, m, months=6, periods_per_month=4.345, n_draws=12,
                              segments=kinds, actual=m)
        alone = clv_intervals(model, fit, gg, x, tx, T, m, months=6, periods_per_month=4.345, n_draws=12,
                              segments=kinds, per_customer=False)
        counts = purchase_intervals(model, fit, 26.0, x, tx, T, n_draws=12, actual=y, segments=kinds[0])
        moments = get_model(model).alive_moments_draws(np.array([get_model(model).values(fit)] * 3), 26.0, x, T)
        return ([value.clv, value.lower, value.upper, value.expected_lower, value.expected_upper, counts.lower,
                 counts.upper, counts.coverage, *moments]
                + [frame[c].to_numpy(float) for frame in (value.segments, alone.segments, counts.segments)
                   for c in frame.columns if c not in ("segment", "covered")])

    monkeypatch.setattr(_core, "THREADS", 1)
    serial = run()
    monkeypatch.setattr(_core, "THREADS", 2)
    threaded = run()
    assert len(serial) == len(threaded) > 20
    for one, two in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(one, two)
