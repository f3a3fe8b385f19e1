"""The semantic layer validates, and `mf query` answers agree with plain SQL on the marts."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from clvlayer.cli import run_metricflow


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("mf") / "warehouse.duckdb"  # mf opens the file read-write: use a copy
    shutil.copyfile(sample_warehouse, copy)
    return copy


def test_mf_validate_configs(warehouse: Path) -> None:
    assert run_metricflow(["validate-configs"], warehouse) == 0


def test_mf_query_matches_sql(warehouse: Path, tmp_path: Path, query) -> None:
    out = tmp_path / "aov.csv"
    assert run_metricflow(["query", "--metrics", "aov,orders,ltv_formula_a", "--group-by",
                           "customer__acquisition_channel", "--csv", str(out)], warehouse) == 0
    with out.open() as handle:
        mf = {row["customer__acquisition_channel"]: row for row in csv.DictReader(handle)}
    sql = query(warehouse, """
        select c.acquisition_channel, sum(o.net_revenue) / sum(case when o.is_completed then 1 else 0 end),
               sum(case when o.is_completed then 1 else 0 end),
               (select avg(monthly_revenue) * avg(lifetime_months) from marts.fct_customer_ltv l
                where l.acquisition_channel = c.acquisition_channel)
        from marts.fct_orders o join marts.fct_customer_ltv c using (customer_id)
        group by 1""")
    assert len(sql) == len(mf) == 6
    for channel, aov, orders, ltv_a in sql:
        assert float(mf[channel]["aov"]) == pytest.approx(float(aov), rel=1e-9)
        assert int(float(mf[channel]["orders"])) == orders
        assert float(mf[channel]["ltv_formula_a"]) == pytest.approx(ltv_a, rel=1e-9)


def test_mf_predicted_clv_metrics_match_sql(warehouse: Path, tmp_path: Path, query) -> None:
    out = tmp_path / "predicted.csv"
    assert run_metricflow(["query", "--metrics", "average_predicted_clv,average_p_alive,expected_purchases",
                           "--group-by", "customer__acquisition_channel", "--csv", str(out)], warehouse) == 0
    with out.open() as handle:
        mf = {row["customer__acquisition_channel"]: row for row in csv.DictReader(handle)}
    sql = query(warehouse, """
        select acquisition_channel, avg(predicted_clv), avg(p_alive), sum(expected_purchases)
        from marts.fct_customer_clv_predictions where is_predicted group by 1""")
    assert len(sql) == len(mf) == 6
    for channel, clv, p_alive, purchases in sql:
        assert float(mf[channel]["average_predicted_clv"]) == pytest.approx(clv, rel=1e-9)
        assert float(mf[channel]["average_p_alive"]) == pytest.approx(p_alive, rel=1e-9)
        assert float(mf[channel]["expected_purchases"]) == pytest.approx(purchases, rel=1e-9)


def test_mf_cac_and_ltv_to_cac_match_sql(warehouse: Path, tmp_path: Path, query) -> None:
    out = tmp_path / "cac.csv"
    assert run_metricflow(["query", "--metrics", "cac,ltv_to_cac_12m", "--group-by", "channel_cohort__channel",
                           "--csv", str(out)], warehouse) == 0
    with out.open() as handle:
        mf = {row["channel_cohort__channel"]: row for row in csv.DictReader(handle)}
    sql = query(warehouse, """
        select channel, sum(marketing_spend) / sum(new_customers),
               sum(case when is_mature_12m and cac > 0 then margin_per_customer_12m * new_customers end)
               / sum(case when is_mature_12m and cac > 0 then marketing_spend end)
        from marts.fct_channel_economics group by channel""")
    assert len(sql) == len(mf) == 6
    for channel, cac, ratio in sql:
        assert float(mf[channel]["cac"]) == pytest.approx(float(cac), rel=1e-9)
        if ratio is None:
            assert mf[channel]["ltv_to_cac_12m"] == ""
        else:
            assert float(mf[channel]["ltv_to_cac_12m"]) == pytest.approx(float(ratio), rel=1e-9)
