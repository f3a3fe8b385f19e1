"""The per-channel fits in the build's predictive step (clvlayer.clv_strata through clvlayer.clv_models; issue 23).

A scenario-sized shop (8,000 customers) whose channels drop out at different rates (the 'short' channel keeps its
customers about half as long): the warehouse's own functions (fit_or_reuse -> predict_holdout -> score_customers)
must publish, for every channel, mean expected purchases within the 10% target of the truth (the mean over the
channel's customers of what the channel's true parameters predict given each one's history). The pooled fit alone
misses the 'short' channel (so this test fails on code that ignores the channel); with channels alike the
likelihood-ratio test keeps the pooled fit and the scores are exactly the pooled ones."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvlayer import clv_models, clv_strata
from clvlayer.btyd import get_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
import btyd_oracles as oracle  # noqa: E402

CHANNELS = {"long": (3_000, (0.8, 8.0, 0.6, 6.0)), "short": (3_000, (0.8, 8.0, 0.6, 1.5)),
            "mid": (2_000, (0.8, 8.0, 0.6, 3.0))}
HOLDOUT, HORIZON_MONTHS, PER_MONTH, TARGET = 20.0, 12, 52.0 / 12, 0.10


def shop(channels: dict[str, tuple[int, tuple[float, ...]]]) -> pd.DataFrame:
    """Calibration summaries (with the holdout count) of simulated BG/NBD customers, per channel."""
    frames = []
    for seed, (name, (n, params)) in enumerate(channels.items(), start=11):
        x, tx, tt, y = oracle.simulate_bg(n, seed, *params, t_star=HOLDOUT)[:4]
        frames.append(pd.DataFrame({"frequency": x, "recency": tx, "t": tt, "holdout_purchases": y,
                                    "acquisition_channel": name}))
    frame = pd.concat(frames, ignore_index=True)
    frame["customer_id"] = [f"c{i:05d}" for i in range(len(frame))]
    frame["monetary_value"] = np.where(frame["frequency"] > 0, 30.0, np.nan)
    frame["first_purchased_on"] = pd.Timestamp("2024-01-01")
    return frame


def settings(stratify: bool = True) -> pd.DataFrame:
    return pd.DataFrame([{
        "as_of_date": pd.Timestamp("2025-01-01"), "holdout_split_date": pd.Timestamp("2024-07-01"),
        "time_unit": "week", "min_customers": 100, "min_repeat_customers": 20, "penalizer": 0.0,
        "horizon_months": HORIZON_MONTHS, "time_units_per_month": PER_MONTH, "monthly_discount_rate": 0.01,
        "margin_rate": 0.3, "holdout_length": HOLDOUT, "interval_level": 0.8, "interval_draws": 5,
        "forced_model": None, "churn_risk_days": 90, "churn_window_days": 90, "days_per_time_unit": 7.0,
        "refit_every_days": 7, "refit_new_customer_share": 0.05, "refit_holdout_error_increase": 0.05,
        "stratify_by_channel": stratify, "stratum_min_customers": 500, "stratum_min_repeat_customers": 100,
        "stratification_test_level": 0.01}])


def published(frame: pd.DataFrame, config: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The parameters and the BG/NBD scores the build's functions publish (the shop as both summaries)."""
    fitted = clv_models.fit_or_reuse(frame, frame, config)
    selection = pd.DataFrame([{"chosen_model": "bgnbd"}])
    scores = clv_models.score_customers(frame, fitted, config, selection)
    return fitted, scores[scores["model"] == "bgnbd"].reset_index(drop=True)


def channel_errors(frame: pd.DataFrame, scores: pd.DataFrame) -> dict[str, float]:
    spec = get_model("bgnbd")
    errors = {}
    for name, (_, params) in CHANNELS.items():
        rows = (frame["acquisition_channel"] == name).to_numpy()
        truth = spec.expected_purchases(params, HORIZON_MONTHS * PER_MONTH, *(
            frame.loc[rows, c].to_numpy(float) for c in ("frequency", "recency", "t")))
        errors[name] = float(scores.loc[rows, "expected_purchases"].astype(float).mean() / truth.mean() - 1)
    return errors


@pytest.fixture(scope="module")
def differing() -> pd.DataFrame:
    return shop(CHANNELS)


def test_every_channel_is_within_the_target_when_channels_differ(differing: pd.DataFrame) -> None:
    fitted, scores = published(differing, settings())
    assert (scores["customer_id"].to_numpy() == differing["customer_id"].to_numpy()).all()  # the input's order
    bg = fitted[(fitted["model"] == "bgnbd")]
    assert set(bg["stratum"]) == {"pooled", "long", "mid", "short"}
    assert set(bg["stratification"]) == {"stratified"}
    assert float(bg["lr_p_value"].iloc[0]) < 0.01 and int(bg["lr_df"].iloc[0]) == 8
    assert set(fitted.loc[fitted["model"] == "gamma_gamma", "stratum"]) == {"pooled"}
    errors = channel_errors(differing, scores)
    print("stratified", errors)
    assert max(abs(e) for e in errors.values()) < TARGET


def test_the_pooled_fit_alone_misses_a_channel(differing: pd.DataFrame) -> None:
    fitted, scores = published(differing, settings(stratify=False))
    assert set(fitted["stratum"]) == {"pooled"} and set(fitted["stratification"].dropna()) == {"pooled"}
    errors = channel_errors(differing, scores)
    print("pooled", errors)
    assert max(abs(e) for e in errors.values()) > TARGET


def test_alike_channels_keep_the_pooled_scores_exactly() -> None:
    alike = shop({"a": (3_000, (0.8, 8.0, 0.6, 3.0)), "b": (3_000, (0.8, 8.0, 0.6, 3.0))})
    fitted, scores = published(alike, settings())
    bg = fitted[fitted["model"] == "bgnbd"]
    assert set(bg["stratum"]) == {"pooled", "a", "b"} and set(bg["stratification"]) == {"pooled"}
    _, pooled = published(alike, settings(stratify=False))
    pd.testing.assert_frame_equal(scores, pooled)


def test_one_channel_holding_every_customer_is_not_fitted_again() -> None:
    everyone = shop({"unknown": (2_000, (0.8, 8.0, 0.6, 3.0))})  # e.g. built without a customers table
    fitted, _ = published(everyone, settings())
    assert set(fitted["stratum"]) == {"pooled"}
    bg = fitted[fitted["model"] == "bgnbd"]
    assert set(bg["stratification"]) == {"pooled"} and set(bg["lr_df"]) == {0}


def test_by_stratum_scores_each_group_with_its_fit_and_keeps_the_order() -> None:
    frame = pd.DataFrame({"customer_id": list("abcde"), "acquisition_channel": ["x", "y", None, "x", "z"]})
    parameters = pd.DataFrame({
        "fit_name": "full", "model": "bgnbd", "stratum": ["pooled", "x", "y", "z"], "parameter": "r",
        "estimate": [0.0, 1.0, 2.0, 3.0], "status": ["ok", "ok", "ok", "not_converged"],
        "stratification": "stratified"})

    def score(rows: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
        pooled = fits[(fits["stratum"] == "pooled") & (fits["model"] == "bgnbd")]
        return rows.assign(value=float(pooled["estimate"].iloc[0]))

    out = clv_strata.by_stratum(frame, parameters, "full", "bgnbd", score)
    assert out["customer_id"].tolist() == list("abcde")
    assert out["value"].tolist() == [1.0, 2.0, 0.0, 1.0, 0.0]  # z's fit is unusable: pooled
    parameters["stratification"] = "pooled"
    assert clv_strata.by_stratum(frame, parameters, "full", "bgnbd", score)["value"].tolist() == [0.0] * 5


class _DbtStub:
    """The part of dbt's Python-model object int_customers_clv_predicted uses: config and ref over a DuckDB file."""

    def __init__(self, con) -> None:
        self.con = con

    def config(self, **_: object) -> None:
        return None

    def ref(self, name: str):
        return self.con.table(name)


def test_the_dbt_model_scores_each_customer_by_their_channels_fit(differing: pd.DataFrame, tmp_path: Path) -> None:
    """int_customers_clv_predicted.py as dbt runs it (the summary read through its projection, streamed back) gives
    the rows score_customers gives on the whole summary: the projection keeps the channel the stratified fits need
    (without it the model fails: clv_strata.by_stratum's error, never a silent pooled score)."""
    import importlib.util

    import duckdb

    config = settings()
    fitted = clv_models.fit_or_reuse(differing, differing, config)
    assert set(fitted.loc[fitted["model"] == "bgnbd", "stratification"]) == {"stratified"}
    selection = pd.DataFrame([{"chosen_model": "bgnbd"}])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for name, frame in {"int_customers_rfm_summarised": differing, "int_clv_models_fitted": fitted,
                        "int_clv_settings_resolved": config, "int_clv_model_selected": selection}.items():
        con.register("frame", frame)
        con.execute(f"create table {name} as select * from frame")
        con.unregister("frame")
    path = Path(__file__).resolve().parents[2] / "models/intermediate/predictive/int_customers_clv_predicted.py"
    spec = importlib.util.spec_from_file_location("int_customers_clv_predicted", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    streamed = module.model(_DbtStub(con), con).read_all().to_pandas()
    expected = clv_models.score_customers(differing, fitted, config, selection)
    assert len(streamed) == len(expected)
    for column in ("customer_id", "model", "prediction_status"):
        assert (streamed[column].to_numpy() == expected[column].astype(object).to_numpy()).all(), column
    for column in ("p_alive", "expected_purchases", "predicted_clv"):
        assert np.allclose(streamed[column].astype(float), expected[column].astype(float), rtol=1e-12,
                           equal_nan=True), column
    with pytest.raises(ValueError, match="acquisition_channel"):
        clv_models.score_customers(differing.drop(columns="acquisition_channel"), fitted, config, selection)
