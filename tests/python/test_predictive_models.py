"""The three count models in the DAG (BG/NBD, MBG/NBD, Pareto/NBD): the model choice on the holdout, the published
model's one-time buyers and per-customer intervals, and the predictive marts' reconciliation.

The likelihoods, predictions and intervals themselves are checked against independent oracles in test_btyd.py; this
file checks what the warehouse does with them (clvlayer.clv_models and the dbt models that call it).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from btyd_oracles import simulate_bg
from clvlayer import clv_models
from clvlayer.btyd import expected_restricted_lifetime

COUNT_MODELS = ["bgnbd", "mbgnbd", "paretonbd"]


def settings(**overrides: object) -> pd.DataFrame:
    row = {"min_customers": 100, "min_repeat_customers": 20, "penalizer": 0.0, "horizon_months": 12,
           "time_units_per_month": 30.4375, "monthly_discount_rate": 0.01, "margin_rate": 0.3,
           "holdout_length": 182.0, "interval_level": 0.8, "interval_draws": 20, "forced_model": None,
           "churn_risk_days": 90, "churn_window_days": 90, "days_per_time_unit": 1.0} | overrides
    return pd.DataFrame([row])


@pytest.fixture(scope="module")
def mbg_world() -> dict[str, pd.DataFrame]:
    """4,000 customers from the MBG/NBD (a one-time buyer drops out right after the first purchase with probability
    p ~ Beta(a, b)), 200-700 days old, with their purchases in the next 182 days; the DAG's steps in process
    (fits, holdout scores, choice, per-customer predictions) on that calibration summary."""
    x, tx, T, y = simulate_bg(4000, 7, r=0.9, alpha=20.0, a=0.8, b=4.0, t_star=182.0, T_low=200.0, T_high=700.0,
                              modified=True)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(x))], "frequency": x, "recency": tx, "T": T,
                          "monetary_value": np.where(x > 0, 40.0 + 0.01 * np.arange(len(x)), np.nan),
                          "holdout_purchases": y})
    fits = pd.concat([clv_models.fit_models(frame, settings(), name) for name in ("full", "calibration")],
                     ignore_index=True)
    holdout = clv_models.predict_holdout(frame, fits, settings())
    selection = clv_models.select_model(holdout, settings())
    scored = clv_models.score_customers(frame, fits, settings(), selection)
    return {"frame": frame, "fits": fits, "holdout": holdout, "selection": selection, "scored": scored}


def test_holdout_rule_picks_a_model_where_one_time_buyers_drop_out(mbg_world: dict[str, pd.DataFrame]) -> None:
    """Data in which one-time buyers do drop out: the holdout log-likelihood prefers a model that lets them
    (BG/NBD cannot), and under it a one-time buyer's P(alive) falls with the time since their purchase."""
    holdout, selection = mbg_world["holdout"], mbg_world["selection"]
    per_customer = holdout.groupby("model")["holdout_log_likelihood"].mean()
    chosen = selection["chosen_model"].iloc[0]
    assert selection["selection_status"].iloc[0] == "ok"
    assert chosen == per_customer.idxmax() and chosen != "bgnbd", per_customer
    scored = mbg_world["scored"].merge(mbg_world["frame"][["customer_id", "frequency", "T"]], on="customer_id")
    once = scored[(scored["model"] == chosen) & (scored["frequency"] == 0)].sort_values("T")
    p = once["p_alive"].to_numpy(float)
    assert len(p) > 300 and np.all(np.diff(p) <= 1e-12) and p[0] - p[-1] > 0.1, (p[0], p[-1])
    bg_once = scored[(scored["model"] == "bgnbd") & (scored["frequency"] == 0)]
    assert (bg_once["p_alive"] == 1.0).all()  # the stripe at 1 that motivated the other models


def test_forced_model_and_unusable_forced_model(mbg_world: dict[str, pd.DataFrame]) -> None:
    holdout = mbg_world["holdout"]
    forced = clv_models.select_model(holdout, settings(forced_model="bgnbd"))
    assert forced.iloc[0].tolist() == ["bgnbd", "forced by var clv_model", "ok"]
    broken = holdout.copy()
    broken.loc[broken["model"] == "paretonbd", "prediction_status"] = "paretonbd fit not_converged: test"
    none = clv_models.select_model(broken, settings(forced_model="paretonbd"))
    assert pd.isna(none["chosen_model"].iloc[0])
    assert none["selection_status"].iloc[0].startswith("no model chosen (forced model 'paretonbd' has no usable")
    assert none["selection_status"].iloc[0].endswith("paretonbd fit not_converged: test")


def test_only_the_chosen_model_carries_intervals(mbg_world: dict[str, pd.DataFrame]) -> None:
    scored, chosen = mbg_world["scored"], mbg_world["selection"]["chosen_model"].iloc[0]
    for model, part in scored.groupby("model"):
        has = part[["expected_purchases_lower", "predicted_clv_lower"]].notna().all().all()
        assert has == (model == chosen), model
        assert part["p_alive"].notna().all() and part["predicted_clv"].notna().all()
    mine = scored[scored["model"] == chosen]
    assert (mine["expected_purchases_lower"] <= mine["expected_purchases_upper"]).all()
    assert (mine["predicted_clv_lower"] <= mine["predicted_clv"]).mean() > 0.99
    assert (mine["predicted_clv_lower"] <= mine["predicted_clv_upper"]).all()


def test_scores_are_the_per_customer_formulas_on_any_thread_count(mbg_world: dict[str, pd.DataFrame],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """score_customers' point columns are the models' formulas evaluated per customer, to the last bit, and its frame
    equals the one-thread frame (the chosen model's intervals run their draws on threads)."""
    from clvlayer.btyd import _core, get_model
    from clvlayer.btyd.churn import probability_no_purchase

    frame, fits, scored = clv_models.in_customer_order(mbg_world["frame"]), mbg_world["fits"], mbg_world["scored"]
    x, tx, T = (frame[c].to_numpy(float) for c in ("frequency", "recency", "t"))
    for model in COUNT_MODELS:
        part, spec = scored[scored["model"] == model], get_model(model)
        assert part["customer_id"].tolist() == frame["customer_id"].tolist()
        point = spec.values(clv_models.stored_fit(fits, "full", model)[0])
        life = 1.0 + expected_restricted_lifetime(model, point, x, tx, T, 11 * 30.4375) / 30.4375
        for column, values in (("p_alive", spec.p_alive(point, x, tx, T)),
                               ("churn_risk", probability_no_purchase(model, point, 90.0, x, tx, T)),
                               ("expected_purchases", spec.expected_purchases(point, 12 * 30.4375, x, tx, T)),
                               ("model_expected_lifetime_months", life)):
            np.testing.assert_array_equal(part[column].to_numpy(float), values, err_msg=f"{model} {column}")
    monkeypatch.setattr(_core, "THREADS", 1)
    serial = clv_models.score_customers(mbg_world["frame"], fits, settings(), mbg_world["selection"])
    pd.testing.assert_frame_equal(serial, scored)


@pytest.mark.parametrize("chunk", [333, 1500])
def test_scoring_in_chunks_of_customers_is_scoring_them_at_once(mbg_world: dict[str, pd.DataFrame],
                                                               chunk: int) -> None:
    """The dbt model scores a chunk of customers at a time (clv_models.prediction_batches): the same rows in the same
    order, every value to the last bit (intervals included: the seeded draws are the same in every chunk)."""
    chunks = list(clv_models.score_in_chunks(mbg_world["frame"], mbg_world["fits"], settings(),
                                             mbg_world["selection"], chunk))
    assert len(chunks) == 3 * -(-len(mbg_world["frame"]) // chunk)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), mbg_world["scored"], check_exact=True)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_a_customers_expected_lifetime_does_not_depend_on_who_else_is_scored(model: str) -> None:
    """The BG-type remaining lifetime's quadrature is each row's own sum (not BLAS gemv, whose rounding changed with
    the number of rows sharing a frequency): a customer scored alone, in a chunk, gets the value scored with all."""
    x = np.repeat([1.0, 2.0, 5.0], 7)
    T = np.linspace(30.0, 400.0, len(x))
    tx = T / 2.0
    point, cap = (0.8, 20.0, 0.9, 4.0), 11 * 30.4375
    together = expected_restricted_lifetime(model, point, x, tx, T, cap)
    alone = [expected_restricted_lifetime(model, point, x[i:i + 1], tx[i:i + 1], T[i:i + 1], cap)[0]
             for i in range(len(x))]
    np.testing.assert_array_equal(together, alone)


def test_prediction_batches_stream_the_scores_into_duckdb(mbg_world: dict[str, pd.DataFrame],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """int_customers_clv_predicted returns an Arrow stream: nothing is scored until DuckDB reads it, one chunk per
    batch, and the table DuckDB makes from it holds score_customers' rows with the column types of the frame's."""
    calls: list[int] = []
    score_model = clv_models._score_model

    def counted(summary: pd.DataFrame, *args: object) -> pd.DataFrame:
        calls.append(len(summary))
        return score_model(summary, *args)

    monkeypatch.setattr(clv_models, "_score_model", counted)
    reader = clv_models.prediction_batches(mbg_world["frame"], mbg_world["fits"], settings(), mbg_world["selection"],
                                           chunk_customers=1500)
    assert calls == []
    with duckdb.connect() as con:
        con.register("scored", reader)
        con.execute("create table t as select * from scored")
        types = dict(con.execute("select column_name, data_type from information_schema.columns "
                                 "where table_name = 't'").fetchall())
        table = con.sql("select * from t").to_arrow_table()
    assert calls == [1500, 1500, 1000] * 3
    assert types == {column: {"str": "VARCHAR", "Float64": "DOUBLE", "Int64": "BIGINT"}[dtype]
                     for column, dtype in clv_models.PREDICTION_COLUMNS.items()}
    expected = pa.Table.from_pandas(mbg_world["scored"], schema=clv_models.PREDICTION_SCHEMA, preserve_index=False)
    assert table.cast(clv_models.PREDICTION_SCHEMA).equals(expected)


def test_prediction_batches_check_every_chunk(mbg_world: dict[str, pd.DataFrame],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-finite prediction in any chunk fails the stream (and so the dbt model), as assert_finite did on the
    whole frame."""
    score_model = clv_models._score_model

    def broken(summary: pd.DataFrame, *args: object) -> pd.DataFrame:
        out = score_model(summary, *args)
        out.loc[len(out) - 1, "predicted_clv"] = np.inf
        return out

    monkeypatch.setattr(clv_models, "_score_model", broken)
    reader = clv_models.prediction_batches(mbg_world["frame"], mbg_world["fits"], settings(), mbg_world["selection"],
                                           chunk_customers=1500)
    with pytest.raises(clv_models.ClvFitError, match="predicted_clv has 1 non-finite values"):
        reader.read_all()


def test_chosen_models_holdout_intervals_are_calibrated_in_process(mbg_world: dict[str, pd.DataFrame]) -> None:
    """Randomized-PIT coverage of the 80% interval on each customer's holdout purchases: 75-85% overall."""
    holdout, chosen = mbg_world["holdout"], mbg_world["selection"]["chosen_model"].iloc[0]
    coverage = holdout.loc[holdout["model"] == chosen, "holdout_interval_coverage"].astype(float)
    assert 0.75 <= coverage.mean() <= 0.85, coverage.mean()


# --------------------------------------------------------------------------- #
# The warehouse
# --------------------------------------------------------------------------- #
def frame(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


@pytest.mark.parametrize("which", ["generated", "sample"])
def test_chosen_models_holdout_intervals_cover_75_to_85_percent(which: str, request: pytest.FixtureRequest) -> None:
    """On generator data (the fixture's 1,500 customers, and the embedded sample), the published model's 80%
    interval on each calibration customer's holdout purchases covers 75-85% of customers (randomized PIT; the
    integer intervals themselves cover more, never less). Per-bucket coverage is in the mart for reading."""
    warehouse = request.getfixturevalue("generated")[1] if which == "generated" else request.getfixturevalue(
        "sample_warehouse")
    rows = frame(warehouse, "select frequency_bucket, customers, interval_level, interval_coverage, "
                            "interval_covered_share from marts.fct_clv_holdout_validation where is_chosen_model "
                            "order by bucket_order")
    total = rows[rows["frequency_bucket"] == "total"].iloc[0]
    assert total["interval_level"] == 0.8 and total["customers"] > 500
    assert 0.75 <= total["interval_coverage"] <= 0.85, rows
    assert total["interval_covered_share"] >= total["interval_coverage"] - 1e-9
    big = rows[(rows["frequency_bucket"] != "total") & (rows["customers"] >= 300)]
    assert ((big["interval_coverage"] > 0.70) & (big["interval_coverage"] < 0.90)).all(), big


def test_predictive_marts_reconcile(generated: tuple[Path, Path]) -> None:
    """One row per grain; the published predictions are exactly the chosen model's rows of the per-model
    predictions; the validation mart shows every model and marks the one the rule picks."""
    _, warehouse = generated
    [chosen, rule, status] = frame(warehouse, "select * from intermediate.int_clv_model_selected").iloc[0].tolist()
    assert status == "ok" and chosen in COUNT_MODELS and rule == "highest holdout log-likelihood per customer"
    published = frame(warehouse, "select * from marts.fct_customer_clv_predictions where is_predicted "
                                 "order by customer_id")
    per_model = frame(warehouse, "select * from intermediate.int_customers_clv_predicted order by customer_id")
    assert len(per_model) == 3 * len(published) and not per_model.duplicated(["customer_id", "model"]).any()
    mine = per_model[per_model["model"] == chosen].reset_index(drop=True)
    assert (published["model"] == chosen).all() and published["customer_id"].tolist() == mine["customer_id"].tolist()
    for column in ("p_alive", "expected_purchases", "expected_purchases_lower", "expected_purchases_upper",
                   "expected_average_spend", "predicted_clv", "predicted_clv_lower", "predicted_clv_upper"):
        np.testing.assert_array_equal(published[column].to_numpy(float), mine[column].to_numpy(float), column)

    validation = frame(warehouse, "select * from marts.fct_clv_holdout_validation")
    assert not validation.duplicated(["model", "frequency_bucket"]).any()
    assert sorted(validation["model"].unique()) == COUNT_MODELS
    totals = validation[validation["frequency_bucket"] == "total"].set_index("model")
    assert totals["customers"].nunique() == 1 and totals["actual_purchases"].nunique() == 1
    assert totals["holdout_log_likelihood_per_customer"].idxmax() == chosen
    assert set(validation.loc[validation["is_chosen_model"], "model"]) == {chosen}
    for model, part in validation[validation["frequency_bucket"] != "total"].groupby("model"):
        assert part["customers"].sum() == totals.loc[model, "customers"]
        assert part["predicted_purchases"].sum() == pytest.approx(totals.loc[model, "predicted_purchases"], rel=1e-9)

    parameters = frame(warehouse, "select * from marts.fct_clv_model_parameters")
    assert not parameters.duplicated(["fit_name", "model", "stratum", "parameter"]).any()
    assert len(parameters[parameters["stratum"] == "pooled"]) == 2 * (4 + 4 + 4 + 3)  # + the channels' own fits
    assert set(parameters.loc[parameters["model"] == "gamma_gamma", "stratum"]) == {"pooled"}
    assert set(parameters.loc[parameters["is_chosen_model"], "model"]) == {chosen, "gamma_gamma"}
    ok = parameters[parameters["status"] == "ok"]
    assert len(ok) == len(parameters) and (ok["standard_error"] > 0).all()


def test_one_time_buyers_p_alive_under_the_published_model(sample_warehouse: Path) -> None:
    """On the sample the rule's choice decides what one-time buyers get: 1 under BG/NBD (the sample's generator is
    BG/NBD, whose one-time buyers cannot drop out), falling with age under MBG/NBD and Pareto/NBD."""
    rows = frame(sample_warehouse, "select model, T, p_alive from marts.fct_customer_clv_predictions "
                                   "where is_predicted and frequency = 0 order by T")
    assert rows["model"].nunique() == 1 and len(rows) > 100
    p = rows["p_alive"].to_numpy(float)
    if rows["model"].iloc[0] == "bgnbd":
        assert (p == 1.0).all()
    else:
        assert np.all(np.diff(p) <= 1e-12) and p[0] - p[-1] > 0.1


@pytest.mark.parametrize("x, tx, T, cap", [(0, 0.0, 200.0, 1065.0), (3, 100.0, 400.0, 1065.0),
                                           (2, 50.0, 300.0, 250.0), (8, 390.0, 400.0, 700.0)])
def test_pareto_expected_lifetime_against_a_grid_over_the_rates(x: int, tx: float, T: float, cap: float) -> None:
    """Pareto/NBD E[min(L, cap) | x, t_x, T] (the model's own expected lifetime) against an independent route:
    for fixed purchase and dropout rates (lambda, mu) the posterior is elementary - alive with weight e^(-(l+m) T),
    then L = T + Exponential(mu); dropped out at tau in (t_x, T) with density mu e^(-(l+m) tau) - and the Gamma
    mixing over (lambda, mu) is a dense trapezoid grid in log-rates (the implementation integrates the rates in
    closed form and tau by Gauss-Legendre)."""
    from scipy import stats

    r, alpha, s, beta = 1.2, 34.0, 0.9, 170.0
    lam_d, mu_d = stats.gamma(r, scale=1 / alpha), stats.gamma(s, scale=1 / beta)
    lam = np.exp(np.linspace(np.log(lam_d.ppf(1e-12)), np.log(lam_d.ppf(1 - 1e-12)), 1500))[:, None, None]
    mu = np.exp(np.linspace(np.log(mu_d.ppf(1e-12)), np.log(mu_d.ppf(1 - 1e-12)), 1500))[None, :, None]
    k = lam + mu
    prior = lam_d.pdf(lam) * lam * mu_d.pdf(mu) * mu * lam**x  # log-grid Jacobian and the purchase term
    alive_w = np.exp(-k * T)
    alive_l = np.minimum(T, cap) + np.where(T < cap, -np.expm1(-mu * max(cap - T, 0.0)) / mu, 0.0)
    # dropped out at tau in (t_x, T), density mu e^(-k tau): weight and E[min(tau, cap)] x weight in closed form
    # (cap >= t_x in every case), with y = k d, d = min(T, cap) - t_x
    assert cap >= tx
    d = min(T, cap) - tx
    y = k * d
    first = -np.expm1(-y) / k  # int_0^d e^(-k u) du
    second = np.where(y < 1e-3, d**2 * (0.5 - y / 3 + y**2 / 8), (-np.expm1(-y) - y * np.exp(-y)) / k**2)  # u e^-ku
    dead_w = mu * np.exp(-k * tx) * -np.expm1(-k * (T - tx)) / k
    beyond = mu * cap * np.exp(-k * min(T, cap)) * -np.expm1(-k * (T - min(T, cap))) / k  # tau in (cap, T)
    dead_l = mu * np.exp(-k * tx) * (tx * first + second) + beyond
    num = prior * (alive_w * alive_l + dead_l)
    den = prior * (alive_w + dead_w)
    grid = [np.log(lam[:, 0, 0]), np.log(mu[0, :, 0])]
    expected = (np.trapezoid(np.trapezoid(num[..., 0], grid[1], axis=1), grid[0])
                / np.trapezoid(np.trapezoid(den[..., 0], grid[1], axis=1), grid[0]))
    got = expected_restricted_lifetime("paretonbd", (r, alpha, s, beta), np.array([x], float),
                                                  np.array([tx]), np.array([T]), cap)[0]
    assert got == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize("vars_, message", [
    ('{"clv_model": "pareto"}', "var clv_model must be empty (chosen on the holdout) or one of bgnbd, mbgnbd, paretonbd"),
    ('{"clv_interval_level": 80}', "var clv_interval_level must be a number strictly between 0 and 1"),
])
def test_bad_predictive_vars_fail_loudly(vars_: str, message: str, tmp_path: Path) -> None:
    from clvlayer.dbt_runner import run_dbt

    outcome = run_dbt(["compile", "--select", "int_clv_settings_resolved", "--vars", vars_,
                       "--target-path", str(tmp_path / "target")], duckdb_path=tmp_path / "w.duckdb", quiet=True)
    assert not outcome.success
    assert any(message in str(failure) for failure in outcome.failures), outcome.failures
