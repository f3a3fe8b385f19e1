"""fct_ltv_backtest against an independent computation: one bias/error cell of each descriptive estimator recomputed
by hand from the orders mart and the as-of-date customer facts, horizons past the data's end null with their status,
the verdicts and the segment-grain intervals of predicted CLV (docs/backtest.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest


def frame(warehouse: Path, sql: str, **params: object) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params).df()


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the month's end (DuckDB's date + interval)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    return date(year, month, min(day.day, last))


def horizon_end(day: date, months: int) -> date:
    """The last day of the `months`-th month after a backtest date's month (macro backtest_horizon_end)."""
    later = add_months(day.replace(day=1), months + 1)
    return later - pd.Timedelta(days=1)


def backtest_date(as_of: date, months: int) -> date:
    """The backtest date `months` before `as_of` (macro backtest_as_of_date): the last day of the month that many
    months before the as-of date's last complete month."""
    next_day = as_of + pd.Timedelta(days=1)
    return add_months(next_day.replace(day=1), -months) - pd.Timedelta(days=1)


def by_hand(warehouse: Path, as_of: date, horizon: int) -> dict[str, float]:
    """Formula A and B's forward values and the actuals of the overall segment, from fct_orders and
    int_customers_valued as of `as_of`, in pandas."""
    customers = frame(warehouse, """
        select customer_id, realised_ltv, realised_margin_ltv, completed_orders, observed_alive_months,
               expected_remaining_lifetime_months
        from intermediate.int_customers_valued where as_of_date = $as_of and has_completed_order""", as_of=as_of)
    orders = frame(warehouse, """
        select customer_id, ordered_on, net_revenue, gross_margin from marts.fct_orders where is_completed""")
    end = horizon_end(as_of, horizon)
    ahead = orders[(orders["ordered_on"].dt.date > as_of) & (orders["ordered_on"].dt.date <= end)
                   & orders["customer_id"].isin(customers["customer_id"])]
    buyers = len(customers)
    monthly_revenue = customers["realised_ltv"].sum() / customers["observed_alive_months"].sum()
    forward_months = customers["expected_remaining_lifetime_months"].clip(upper=horizon).mean()
    check = customers["realised_ltv"].sum() / customers["completed_orders"].sum()
    per_month = customers["completed_orders"].sum() / customers["observed_alive_months"].sum()
    margin = customers["realised_margin_ltv"].sum() / customers["realised_ltv"].sum()
    return {
        "formula_a": monthly_revenue * forward_months, "actual_revenue": ahead["net_revenue"].sum() / buyers,
        "formula_b": check * per_month * forward_months * margin, "actual_margin": ahead["gross_margin"].sum() / buyers,
    }


def test_a_bias_and_error_cell_by_hand(sample_warehouse: Path) -> None:
    cells = frame(sample_warehouse, """
        select * from marts.fct_ltv_backtest
        where segment_type = 'overall' and backtest_status = 'ok' and estimator in ('formula_a', 'formula_b')
        order by as_of_date, horizon_months""")
    assert len(cells) >= 4
    for (as_of, horizon), pair in cells.groupby(["as_of_date", "horizon_months"]):
        expected = by_hand(sample_warehouse, pd.Timestamp(as_of).date(), int(horizon))
        for row in pair.itertuples():
            actual = expected["actual_revenue" if row.estimator == "formula_a" else "actual_margin"]
            estimate = expected[row.estimator]
            assert row.actual_forward_value == pytest.approx(actual, rel=1e-9), (as_of, horizon, row.estimator)
            assert row.estimated_forward_value == pytest.approx(estimate, rel=1e-9), (as_of, horizon, row.estimator)
            assert row.bias == pytest.approx(estimate - actual, rel=1e-9)
            assert row.absolute_error == pytest.approx(abs(estimate - actual), rel=1e-9)
            assert row.relative_absolute_error == pytest.approx(abs(estimate - actual) / abs(actual), rel=1e-9)


@pytest.mark.parametrize("fixture", ["sample_warehouse", "handmade_warehouse", "orders_only_warehouse"])
def test_horizons_past_the_data_end_are_null_with_status(fixture: str, request: pytest.FixtureRequest) -> None:
    warehouse = request.getfixturevalue(fixture)
    [[data_end]] = frame(warehouse, "select as_of_date from intermediate.int_as_of_dates").to_numpy()
    data_end = pd.Timestamp(data_end).date()
    cells = frame(warehouse, "select * from marts.fct_ltv_backtest")
    if cells.empty:  # allowed only when every backtest date falls before the first order (the handmade fixture)
        [[first]] = frame(warehouse, "select first_order_on from intermediate.int_as_of_dates").to_numpy()
        backtest = frame(warehouse, "select * from intermediate.int_as_of_snapshots where is_backtest")
        assert backtest.empty and backtest_date(data_end, 6) < pd.Timestamp(first).date(), fixture
        return
    past = cells.apply(lambda r: horizon_end(pd.Timestamp(r["as_of_date"]).date(), int(r["horizon_months"])) > data_end,
                       axis=1)
    dates = {pd.Timestamp(d).date() for d in cells["as_of_date"]}
    assert dates <= {backtest_date(data_end, n) for n in (6, 12, 18)}, "month-end backtest dates (docs/backtest.md)"
    assert past.any() and (~past).any(), "the backtest should have cells on both sides of the data end"
    assert (cells.loc[past, "backtest_status"] == "horizon_past_data_end").all()
    for column in ("actual_forward_value", "bias", "absolute_error", "relative_bias", "is_covered"):
        assert cells.loc[past, column].isna().all(), column
    assert (cells.loc[~past, "backtest_status"] != "horizon_past_data_end").all()
    assert cells.loc[~past, "actual_forward_value"].notna().all()


def test_verdicts_and_intervals(sample_warehouse: Path) -> None:
    verdicts = frame(sample_warehouse, "select * from marts.fct_ltv_backtest_verdicts")
    assert set(verdicts["question"]) == {"compare_channels", "forecast_cohort", "cac_ceiling", "forward_value"}
    assert (verdicts.groupby("question")["is_verdict"].sum() == 1).all()
    assert set(verdicts.loc[verdicts["question"] == "cac_ceiling", "compared_with"]) == {"margin"}
    segments = frame(sample_warehouse, """
        select * from marts.fct_predicted_clv_by_segment where predicted_clv_interval_status = 'ok'""")
    assert len(segments) > 20
    assert (segments["predicted_clv_lower"] <= segments["average_predicted_clv"]).all()
    assert (segments["average_predicted_clv"] <= segments["predicted_clv_upper"]).all()
    coverage = segments["predicted_clv_interval_backtest_coverage"].dropna()
    assert len(coverage) and coverage.between(0, 1).all()
    chosen = verdicts.loc[(verdicts["question"] == "forward_value") & verdicts["is_verdict"], "estimator"].item()
    assert (segments["best_forward_value_estimator"] == chosen).all()


def test_the_backtest_sample_of_buyers_is_fixed_by_customer_not_by_row_order() -> None:
    import pandas as pd

    from clvlayer.backtest import hash_sample

    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(1000)], "x": range(1000)})
    sample = hash_sample(frame, 100)
    assert len(sample) == 100 and sample["customer_id"].is_unique
    shuffled = hash_sample(frame.sample(frac=1, random_state=3), 100)
    assert set(shuffled["customer_id"]) == set(sample["customer_id"])
    assert set(hash_sample(frame, 200)["customer_id"]) >= set(sample["customer_id"])  # a larger cap adds buyers
    assert hash_sample(frame, 0) is frame and hash_sample(frame, 5000) is frame
    assert sample["x"].is_monotonic_increasing  # the rows keep their order
