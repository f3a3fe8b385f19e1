"""Every analysis in analyses/ compiles (dbt, read-only) and runs on the sample warehouse, so none of them rots.

The analyses are compiled by the docs site's `dbt docs generate` (fixture `docs_site`: one dbt invocation compiles
every node, analyses included, for both this module and the docs tests).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from clvlayer.dashboard import data
from clvlayer.docs_site import run_dbt_read_only
from clvlayer.project import PROJECT_ROOT

ANALYSES = sorted(path.stem for path in (PROJECT_ROOT / "analyses").glob("*.sql"))
RATIO = re.compile(r"/|\b(avg|mean|median\w*|quantile\w*|percentile\w*|stddev\w*|safe_divide|divide)\s*\(",
                   re.IGNORECASE)


@pytest.fixture(scope="session")
def results(docs_site: Path, sample_warehouse: Path) -> dict[str, pd.DataFrame]:
    compiled = {path.stem: path.read_text()
                for path in (docs_site / "compiled" / "customer_value" / "analyses").glob("*.sql")}
    assert sorted(compiled) == ANALYSES
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        return {name: connection.execute(sql).df() for name, sql in compiled.items()}


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_returns_rows(results: dict[str, pd.DataFrame], name: str) -> None:
    assert len(results[name]) > 0


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_computes_no_ratio(name: str) -> None:
    """Ratios come finished from the marts (fct_ltv_by_segment has every segment-grain one): no analysis divides or
    averages (SQL comments and quoted literals left out)."""
    sql = re.sub(r"--[^\n]*|'[^']*'", "", (PROJECT_ROOT / "analyses" / f"{name}.sql").read_text())
    assert not RATIO.search(re.sub(r"\{#.*?#\}", "", sql, flags=re.DOTALL)), name


def test_ltv_to_cac_by_channel_is_the_dashboards_channel_rows(results: dict[str, pd.DataFrame],
                                                              sample_warehouse: Path) -> None:
    rows = results["ltv_to_cac_by_channel"].set_index("channel")
    assert pd.isna(rows.loc["organic", "cac"]) and rows.loc["organic", "cac_status"] == "no_spend_recorded"
    assert rows.loc["email", "ltv_to_cac_12m"] == pytest.approx(15.15, abs=0.01)
    dashboard = data.channel_ltv_to_cac(sample_warehouse, data.Filters())
    current = dashboard[dashboard["months_before_current"] == 0].set_index("channel")
    assert sorted(rows.index) == sorted(current.index)
    for column in ("cac", "ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m", "ltv_to_cac"):
        pd.testing.assert_series_equal(rows[column].sort_index(), current[column].sort_index(), check_names=False)
    assert (rows.loc["email", "paid_back_cohorts"] <= rows.loc["email", "paid_cohorts"]) and \
        rows.loc["email", "paid_cohorts"] > 0


def test_cohort_ltv_12m_channel_value_is_its_mature_cohorts_weighted(results: dict[str, pd.DataFrame]) -> None:
    """An independent check of the mart's channel value: the mean of the cohorts' margin per customer weighted by
    their new customers (the analysis itself reads the finished value)."""
    rows = results["cohort_ltv_12m_by_channel"]
    for channel, cohorts in rows.groupby("channel"):
        weighted = (cohorts["margin_per_customer_12m"] * cohorts["new_customers"]).sum() / \
            cohorts["new_customers"].sum()
        assert cohorts["channel_realised_margin_ltv_12m"].iloc[0] == pytest.approx(weighted, rel=1e-9), channel
        assert cohorts["channel_mature_buyers_12m"].iloc[0] == cohorts["new_customers"].sum()


def test_reorder_analysis_lists_due_customers_of_the_segment(results: dict[str, pd.DataFrame], query,
                                                             sample_warehouse: Path) -> None:
    rows = results["customers_due_for_reorder_in_segment"]
    assert set(rows["segment_value"]) == {"active"}
    (due_active,), = query(sample_warehouse, """
        select count(*) from marts.fct_customer_next_purchase as n
        inner join marts.fct_customer_segments as s using (customer_id)
        where n.due_for_reorder and s.cvm_stage = 'active'""")
    assert len(rows) == due_active


def test_top_customers_are_the_highest_predictions(results: dict[str, pd.DataFrame], query,
                                                   sample_warehouse: Path) -> None:
    rows = results["top_customers_by_predicted_clv"]
    (top,), = query(sample_warehouse, "select max(predicted_clv) from marts.fct_customer_clv_predictions")
    assert len(rows) == 100 and rows["predicted_clv"].iloc[0] == pytest.approx(top)
    assert rows["predicted_clv"].is_monotonic_decreasing


def test_ltv_by_channel_is_the_segment_mart(results: dict[str, pd.DataFrame], query,
                                            sample_warehouse: Path) -> None:
    rows = results["ltv_by_channel"].set_index("acquisition_channel")
    mart = dict(query(sample_warehouse, "select segment_value, ltv_formula_a from marts.fct_ltv_by_segment "
                                        "where segment_key like 'current|acquisition_channel:%'"))
    assert rows["ltv_formula_a"].to_dict() == pytest.approx(mart, rel=1e-12)


def test_reorder_analysis_refuses_an_unknown_segment_column(sample_warehouse: Path, tmp_path: Path) -> None:
    """A var outside the allowed columns fails while dbt parses the analysis (a few seconds, no compile)."""
    failures = run_dbt_read_only(["compile", "--select", "customers_due_for_reorder_in_segment", "--target-path",
                                  str(tmp_path), "--vars", "{reorder_segment_column: 'x; drop table y'}"],
                                 sample_warehouse)
    assert any("reorder_segment_column must be one of" in failure for failure in failures), failures
