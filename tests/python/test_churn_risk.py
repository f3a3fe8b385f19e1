"""Churn risk: P(no purchase in the next N days | x, t_x, T) (clvlayer.btyd.churn) and what the warehouse publishes.

* the closed forms of the three count models against a Monte Carlo simulation of each model from the parameters the
  sample's build fitted (the simulated customers' own (x, t_x, T) conditioned on, within groups of customers);
* the Pareto/NBD closed form against the library's quadrature of the same integral;
* fct_customer_clv_predictions.churn_risk is the closed form of the chosen model on the published summaries;
* fct_churn_risk_calibration equals an independent pandas computation on the sample (calibration summaries as of the
  split date from the purchase days, the calibration fit's closed form, the bands, the observed no-purchase share).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from clvlayer.btyd import get_model
from clvlayer.btyd.churn import pareto_alive_no_purchase, probability_no_purchase
from clvlayer.settings import default

N_DAYS = 90.0


def frame(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).df()


def fitted(warehouse: Path, fit_name: str) -> dict[str, tuple[float, ...]]:
    """The sample's fitted parameters per count model, in the registry's parameter order."""
    rows = frame(warehouse, "select model, parameter, estimate from intermediate.int_clv_models_fitted "
                            f"where fit_name = '{fit_name}' and status = 'ok' and stratum = 'pooled'")
    out = {}
    for model in ("bgnbd", "mbgnbd", "paretonbd"):
        by_name = dict(rows.loc[rows["model"] == model, ["parameter", "estimate"]].itertuples(index=False))
        out[model] = tuple(float(by_name[p]) for p in get_model(model).parameters)
    return out


def simulate(model: str, params: tuple[float, ...], n: int, t: float, seed: int = 7):
    """n customers of ``model`` with ages T ~ U(30, 730) days: (x, t_x, T, made no purchase in (T, T + t])."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(30.0, 730.0, n)
    r, alpha = params[0], params[1]
    lam = rng.gamma(r, 1.0 / alpha, n)
    if model == "paretonbd":
        death = rng.exponential(1.0 / rng.gamma(params[2], 1.0 / params[3], n))  # tau ~ Exp(mu)
        p = np.zeros(n)
    else:
        p = rng.beta(params[2], params[3], n)
        death = np.full(n, np.inf)
    alive = np.ones(n, bool) if model != "mbgnbd" else rng.random(n) >= p  # MBG/NBD: may leave at the first purchase
    x, tx, now = np.zeros(n), np.zeros(n), np.zeros(n)
    bought = np.zeros(n, bool)
    active = np.ones(n, bool)  # still before T
    while active.any():
        i = np.flatnonzero(active)
        nxt = now[i] + rng.exponential(1.0 / lam[i])
        live = alive[i] & (nxt < death[i])  # Pareto/NBD: an event after tau never happens
        before = live & (nxt <= T[i])
        j = i[before]
        x[j] += 1.0
        tx[j] = nxt[before]
        now[j] = nxt[before]
        alive[j] = rng.random(len(j)) >= p[j]  # BG-type: the dropout chance follows each purchase
        done = ~before
        bought[i[done]] = live[done] & (nxt[done] <= T[i[done]] + t)
        active[i[done]] = False
    return x, tx, T, ~bought


@pytest.fixture(scope="module")
def sample_fits(sample_warehouse: Path) -> dict[str, tuple[float, ...]]:
    return fitted(sample_warehouse, "full")


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "paretonbd"])
def test_closed_form_matches_a_simulation_of_the_model(model: str, sample_fits: dict) -> None:
    x, tx, T, none = simulate(model, sample_fits[model], 120_000, N_DAYS)
    predicted = probability_no_purchase(model, sample_fits[model], N_DAYS, x, tx, T)
    groups = {"all": np.ones(len(x), bool), "x=0": x == 0, "x=1-2": (x >= 1) & (x <= 2), "x>=3": x >= 3,
              "recent": (T - tx) < 60, "lapsed": (T - tx) > 300}
    for decile in range(5):  # by the prediction itself: calibration within quintiles
        low, high = np.quantile(predicted, [decile / 5, (decile + 1) / 5])
        groups[f"q{decile}"] = (predicted >= low) & (predicted <= high)
    for name, rows in groups.items():
        n = rows.sum()
        assert n > 500, (name, n)
        sd = np.sqrt((predicted[rows] * (1 - predicted[rows])).sum()) / n
        gap = none[rows].mean() - predicted[rows].mean()
        assert abs(gap) < 4.5 * sd + 1e-3, \
            f"{model} {name}: observed {none[rows].mean():.4f} vs {predicted[rows].mean():.4f}"


def test_pareto_closed_form_matches_the_quadrature() -> None:
    rng = np.random.default_rng(3)
    for _ in range(60):
        r, s = rng.uniform(0.1, 5, 2)
        alpha, beta = np.exp(rng.uniform(np.log(0.05), np.log(200), 2))
        x = rng.integers(0, 150, 100).astype(float)
        T = rng.uniform(0.5, 700, 100)
        t = float(rng.uniform(1, 180))
        closed = pareto_alive_no_purchase((r, alpha, s, beta), t, x, T)
        quadrature = get_model("paretonbd").alive_moments((r, alpha, s, beta), t, x, T)[0]
        np.testing.assert_allclose(closed, quadrature, atol=1e-8)


def test_bg_models_alive_part_is_the_nbd_zero_term() -> None:
    x, tx, T = np.array([0.0, 1.0, 5.0]), np.array([0.0, 5.0, 300.0]), np.array([10.0, 100.0, 400.0])
    for model in ("bgnbd", "mbgnbd"):
        params = (0.7, 12.0, 0.9, 3.0)
        alive = get_model(model).p_alive(params, x, tx, T)
        expected = 1 - alive * (1 - ((12.0 + T) / (12.0 + T + 30.0)) ** (0.7 + x))
        np.testing.assert_allclose(probability_no_purchase(model, params, 30.0, x, tx, T), expected)


def test_published_churn_risk_is_the_chosen_models_closed_form(sample_warehouse: Path, sample_fits: dict) -> None:
    published = frame(sample_warehouse, "select model, churn_risk_days, frequency, recency, T, churn_risk, "
                                        "churn_risk_band from marts.fct_customer_clv_predictions where is_predicted")
    model = published["model"].iloc[0]
    assert (published["churn_risk_days"] == N_DAYS).all()
    expected = probability_no_purchase(model, sample_fits[model], N_DAYS, published["frequency"],
                                       published["recency"], published["T"])
    np.testing.assert_allclose(published["churn_risk"], expected, rtol=1e-9, atol=1e-12)
    assert (published["churn_risk_band"] == bands(expected)).all()
    # the MetricFlow metric average_churn_risk is this column's mean over the scored customers (its measure's expr)
    assert published["churn_risk"].mean() == pytest.approx(expected.mean(), rel=1e-12)


def bands(p: np.ndarray) -> np.ndarray:
    medium, high = default("churn_risk_medium_from"), default("churn_risk_high_from")
    return np.where(p >= high, "high", np.where(p >= medium, "medium", "low"))


def test_calibration_equals_an_independent_computation(sample_warehouse: Path) -> None:
    days = frame(sample_warehouse,
                 "select customer_id, purchased_on from intermediate.int_orders_merged_to_purchase_days")
    published = frame(sample_warehouse, "select * from marts.fct_churn_risk_calibration")
    split = pd.Timestamp(published["holdout_split_date"].iloc[0])
    end = pd.Timestamp(published["as_of_date"].iloc[0])
    window = min(N_DAYS, (end - split).days)
    assert (published["churn_window_days"] == window).all() and (published["window_status"] == "ok").all()
    days["purchased_on"] = pd.to_datetime(days["purchased_on"])
    before = days[days["purchased_on"] <= split].groupby("customer_id")["purchased_on"].agg(["min", "max", "count"])
    x = (before["count"] - 1).to_numpy(float)
    tx = (before["max"] - before["min"]).dt.days.to_numpy(float)
    T = (split - before["min"]).dt.days.to_numpy(float)
    in_window = days[(days["purchased_on"] > split) & (days["purchased_on"] <= split + pd.Timedelta(days=window))]
    none = ~before.index.isin(in_window["customer_id"])
    calibration = fitted(sample_warehouse, "calibration")
    for model, params in calibration.items():
        p = probability_no_purchase(model, params, window, x, tx, T)
        band = bands(p)
        rows = published[published["model"] == model].set_index("churn_risk_band")
        for name, keep in {"low": band == "low", "medium": band == "medium", "high": band == "high",
                           "total": np.ones(len(p), bool)}.items():
            row = rows.loc[name]
            assert row["customers"] == keep.sum()
            assert row["no_purchase_customers"] == none[keep].sum()
            assert row["mean_predicted_churn_risk"] == pytest.approx(p[keep].mean(), rel=1e-9)
            assert row["observed_no_purchase_share"] == pytest.approx(none[keep].mean(), rel=1e-12)
            z = (none[keep].sum() - p[keep].sum()) / np.sqrt((p[keep] * (1 - p[keep])).sum())
            assert row["calibration_z"] == pytest.approx(z, rel=1e-6)
    chosen = published[published["is_chosen_model"] & (published["churn_risk_band"] == "total")]
    assert len(chosen) == 1 and abs(chosen["calibration_z"].iloc[0]) < 3  # the published model is calibrated
