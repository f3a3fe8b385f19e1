"""Every analysis in analyses/ compiles (dbt, read-only) and runs on the sample warehouse, so none of them rots."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from clvlayer.dashboard import data
from clvlayer.docs_site import run_dbt_read_only
from clvlayer.project import PROJECT_ROOT

ANALYSES = sorted(path.stem for path in (PROJECT_ROOT / "analyses").glob("*.sql"))


@pytest.fixture(scope="module")
def results(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    target = tmp_path_factory.mktemp("analyses")
    assert run_dbt_read_only(["compile", "--select", "resource_type:analysis", "--target-path", str(target)],
                             sample_warehouse) == []
    compiled = {path.stem: path.read_text() for path in target.glob("compiled/customer_value/analyses/*.sql")}
    assert sorted(compiled) == ANALYSES
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        return {name: connection.execute(sql).df() for name, sql in compiled.items()}


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_returns_rows(results: dict[str, pd.DataFrame], name: str) -> None:
    assert len(results[name]) > 0


def test_ltv_to_cac_by_channel_agrees_with_the_dashboard(results: dict[str, pd.DataFrame],
                                                         sample_warehouse: Path) -> None:
    rows = results["ltv_to_cac_by_channel"].set_index("channel")
    assert pd.isna(rows.loc["organic", "cac"])  # no spend recorded: null as in the mart, not 0
    assert rows.loc["email", "ltv_to_cac_12m"] == pytest.approx(14.09, abs=0.01)
    for channel in ("affiliate", "email", "paid_search", "paid_social", "referral"):
        dashboard = data.blended_ltv_to_cac(sample_warehouse, data.Filters(channels=(channel,)))
        for horizon, ratio in zip(dashboard["horizon_months"], dashboard["ltv_to_cac"]):
            assert rows.loc[channel, f"ltv_to_cac_{horizon}m"] == pytest.approx(ratio, rel=1e-12)


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


def test_reorder_analysis_refuses_an_unknown_segment_column(sample_warehouse: Path, tmp_path: Path) -> None:
    failures = run_dbt_read_only(["compile", "--select", "customers_due_for_reorder_in_segment", "--target-path",
                                  str(tmp_path), "--vars", "{reorder_segment_column: 'x; drop table y'}"],
                                 sample_warehouse)
    assert any("reorder_segment_column must be one of" in failure for failure in failures), failures
