"""Count models fitted per stratum (clvlayer.btyd.strata, issue 23): the selection logic on edge cases, and a
scenario-sized shop (8,000 customers) whose channels drop out at different rates, where the pooled fit misses a
channel's expected purchases by more than the 10% target and the stratified fit is within it.

The truth of a channel is noise-free: the mean over its customers of the purchases the true parameters of their
channel predict given each one's history (x, t_x, T), the quantity both fits estimate."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from clvlayer.btyd import ClvFitError, get_model, strata
from clvlayer.btyd.strata import POOLED, STRATIFIED, LikelihoodRatio, StratifiedFit, fit_stratified

choose_by_likelihood_ratio, choose_stratification = strata.choose_by_likelihood_ratio, strata.choose_stratification
likelihood_ratio_test, strata_to_fit = strata.likelihood_ratio_test, strata.strata_to_fit
stratified_holdout_log_likelihood = strata.stratified_holdout_log_likelihood

sys.path.insert(0, str(Path(__file__).resolve().parent))
import btyd_oracles as oracle  # noqa: E402

#: per channel: customers and the true BG/NBD parameters (r, alpha, a, b); 'short' keeps customers half as long
CHANNELS = {"long": (3_000, (0.8, 8.0, 0.6, 6.0)), "short": (3_000, (0.8, 8.0, 0.6, 1.5)),
            "mid": (2_000, (0.8, 8.0, 0.6, 3.0))}
HOLDOUT, HORIZON, TARGET = 20.0, 52.0, 0.10


@pytest.fixture(scope="module")
def shop() -> dict[str, np.ndarray]:
    parts = [(name, *oracle.simulate_bg(n, seed, *params, t_star=HOLDOUT))
             for seed, (name, (n, params)) in enumerate(CHANNELS.items(), start=11)]
    columns = dict(zip(("x", "tx", "T", "y"), (np.concatenate([p[i] for p in parts]) for i in range(1, 5))))
    columns["channel"] = np.concatenate([np.full(len(p[1]), p[0], dtype=object) for p in parts])
    return columns


def _channel_errors(fit: StratifiedFit, shop: dict[str, np.ndarray]) -> dict[str, float]:
    """Per channel: mean expected purchases over HORIZON from ``fit`` / the true parameters' - 1."""
    spec = get_model("bgnbd")
    predicted = fit.apply(shop["channel"], lambda p, x, tx, tt: spec.expected_purchases(
        spec.values(p), HORIZON, x, tx, tt), shop["x"], shop["tx"], shop["T"])
    errors = {}
    for name, (_, params) in CHANNELS.items():
        rows = shop["channel"] == name
        truth = spec.expected_purchases(params, HORIZON, shop["x"][rows], shop["tx"][rows], shop["T"][rows])
        errors[name] = float(predicted[rows].mean() / truth.mean() - 1)
    return errors


def test_pooled_misses_a_channel_the_stratified_fit_does_not(shop: dict[str, np.ndarray]) -> None:
    fit = fit_stratified("bgnbd", shop["x"], shop["tx"], shop["T"], shop["channel"], min_customers=500,
                         min_repeat_customers=100)
    assert sorted(fit.fits) == ["long", "mid", "short"]
    pooled = _channel_errors(StratifiedFit("bgnbd", fit.pooled, {}), shop)
    stratified = _channel_errors(fit, shop)
    print("pooled", pooled, "stratified", stratified)
    assert max(abs(e) for e in pooled.values()) > TARGET
    assert max(abs(e) for e in stratified.values()) < TARGET


def test_the_holdout_chooses_the_stratified_fit_when_channels_differ(shop: dict[str, np.ndarray]) -> None:
    args = (shop["x"], shop["tx"], shop["T"])
    fit = fit_stratified("bgnbd", *args, shop["channel"], min_customers=500, min_repeat_customers=100)
    pooled = stratified_holdout_log_likelihood(StratifiedFit("bgnbd", fit.pooled, {}), HOLDOUT, *args, shop["y"],
                                               shop["channel"])
    stratified = stratified_holdout_log_likelihood(fit, HOLDOUT, *args, shop["y"], shop["channel"])
    assert choose_stratification(pooled.mean(), stratified.mean()) == STRATIFIED


def test_small_strata_are_scored_by_the_pooled_fit(shop: dict[str, np.ndarray]) -> None:
    fit = fit_stratified("bgnbd", shop["x"], shop["tx"], shop["T"], shop["channel"], min_customers=2_500,
                         min_repeat_customers=100)
    assert sorted(fit.fits) == ["long", "short"]  # 'mid' (2,000 customers) falls back to the pooled fit
    probe = fit.apply(shop["channel"], lambda p, x: np.full(len(x), p.params["b"]), shop["x"])
    mid = shop["channel"] == "mid"
    assert np.all(probe[mid] == fit.pooled.params["b"])
    assert np.all(probe[shop["channel"] == "short"] == fit.fits["short"].params["b"])


def test_apply_scores_unknown_and_missing_strata_with_the_pooled_fit() -> None:
    fit = StratifiedFit("bgnbd", {"b": 0.0}, {"all": {"b": 1.0}, "x": {"b": 2.0}})  # a channel may be named 'all'
    labels = np.array(["x", None, "all", "y", "x"], dtype=object)
    values = fit.apply(labels, lambda p, v: p["b"] + v, np.arange(5.0))
    np.testing.assert_array_equal(values, [2.0, 1.0, 3.0, 3.0, 6.0])


def test_strata_to_fit_needs_customers_and_repeat_buyers() -> None:
    strata = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 2 + [None] * 9, dtype=object)
    frequency = np.array([1, 1, 0, 0, 0] + [1, 1, 1, 0, 0] + [3, 3] + [1] * 9)
    assert strata_to_fit(strata, frequency, min_customers=5, min_repeat_customers=3) == ["b"]
    assert strata_to_fit(strata, frequency, min_customers=2, min_repeat_customers=2) == ["a", "b", "c"]
    assert strata_to_fit(strata, frequency, min_customers=6, min_repeat_customers=0) == []


@pytest.mark.parametrize(("pooled", "stratified", "expected"), [
    (-1.10, -1.05, STRATIFIED),
    (-1.05, -1.10, POOLED),
    (-1.05, -1.05, POOLED),  # an exact tie keeps the simpler fit
    (-1.05, math.nan, POOLED),
    (-math.inf, -1.05, STRATIFIED),
])
def test_choose_stratification(pooled: float, stratified: float, expected: str) -> None:
    assert choose_stratification(pooled, stratified) == expected


def test_choose_stratification_without_any_finite_score() -> None:
    with pytest.raises(ClvFitError):
        choose_stratification(math.nan, -math.inf)


def test_the_likelihood_ratio_test_rejects_pooling_when_channels_differ(shop: dict[str, np.ndarray]) -> None:
    args = (shop["x"], shop["tx"], shop["T"])
    fit = fit_stratified("bgnbd", *args, shop["channel"], min_customers=500, min_repeat_customers=100)
    test = likelihood_ratio_test(fit, *args, shop["channel"])
    # every customer in a fitted stratum: the statistic is the textbook one, 4 parameters x (3 strata - 1) df
    expected = 2 * (sum(f.log_likelihood for f in fit.fits.values()) - fit.pooled.log_likelihood)
    assert test.df == 8
    assert test.statistic == pytest.approx(expected, rel=1e-12)
    assert test.p_value == pytest.approx(chi2.sf(expected, 8), rel=1e-9)
    assert choose_by_likelihood_ratio(test, 0.01) == STRATIFIED


def test_the_likelihood_ratio_test_keeps_pooled_when_channels_are_alike() -> None:
    parts = [oracle.simulate_bg(3_000, seed, 0.8, 8.0, 0.6, 3.0, t_star=HOLDOUT) for seed in (21, 22)]
    x, tx, tt = (np.concatenate([p[i] for p in parts]) for i in range(3))
    channel = np.repeat(np.array(["a", "b"], dtype=object), [len(parts[0][0]), len(parts[1][0])])
    fit = fit_stratified("bgnbd", x, tx, tt, channel, min_customers=500, min_repeat_customers=100)
    test = likelihood_ratio_test(fit, x, tx, tt, channel)
    assert test.df == 4
    assert test.p_value > 0.01
    assert choose_by_likelihood_ratio(test, 0.01) == POOLED


def test_the_likelihood_ratio_test_counts_the_pooled_rest_as_a_group(shop: dict[str, np.ndarray]) -> None:
    args = (shop["x"], shop["tx"], shop["T"])
    fit = fit_stratified("bgnbd", *args, shop["channel"], min_customers=2_500, min_repeat_customers=100)
    test = likelihood_ratio_test(fit, *args, shop["channel"])
    spec = get_model("bgnbd")
    mid = shop["channel"] == "mid"  # scored by the pooled fit: its log-likelihood at the pooled parameters
    rest = spec.log_likelihood_per_row(spec.values(fit.pooled), shop["x"][mid], shop["tx"][mid], shop["T"][mid]).sum()
    expected = 2 * (fit.fits["long"].log_likelihood + fit.fits["short"].log_likelihood + rest
                    - fit.pooled.log_likelihood)
    assert test.df == 8  # long, short and the rest
    assert test.statistic == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("test", "level", "expected"), [
    (LikelihoodRatio(30.0, 8, 0.0002), 0.01, STRATIFIED),
    (LikelihoodRatio(12.0, 8, 0.15), 0.01, POOLED),
    (LikelihoodRatio(0.0, 0, 1.0), 0.01, POOLED),  # nothing stratified
    (LikelihoodRatio(20.0, 8, 0.0103), 0.01, POOLED),
    (LikelihoodRatio(20.0, 8, 0.0103), 0.05, STRATIFIED),
])
def test_choose_by_likelihood_ratio(test: LikelihoodRatio, level: float, expected: str) -> None:
    assert choose_by_likelihood_ratio(test, level) == expected


def test_one_stratum_holding_every_customer_is_no_test() -> None:
    fit = StratifiedFit("bgnbd", {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0}, {"all": object()})
    test = likelihood_ratio_test(fit, [1.0], [1.0], [2.0], ["all"])
    assert (test.df, test.p_value) == (0, 1.0)
