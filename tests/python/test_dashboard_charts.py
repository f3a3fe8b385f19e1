"""Money and charts: every money value of the dashboard and the report carries the reporting currency, every chart
axis has a title, rates are shown as %, and chart titles are words, not table names (drawn on the sample)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from clvlayer.dashboard import charts, currency, data, kpis, report
from clvlayer.dashboard.data import Coverage, Filters, comparison_periods

#: fields that hold a rate or share: wherever one is an axis or a colour legend, it is formatted as %
RATE_FIELDS = {"retention_rate", "cohort_retention_rate", "penetration_rate", "penetration", "p_alive",
               "repeat_customer_rate", "value"}  # value: the loyalty lifts (relative), the only folded field


def specs(node: object, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every (sub)spec of a Vega-Lite dict: itself, its layers, concatenations and facet spec."""
    if isinstance(node, dict):
        if "mark" in node or "encoding" in node or "title" in node:
            yield path, node
        for key, value in node.items():
            if key in ("layer", "hconcat", "vconcat", "concat", "spec"):
                yield from specs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from specs(item, f"{path}[{index}]")


def title_text(title: object) -> str:
    if isinstance(title, dict):
        title = title.get("text", "")
    return " ".join(title) if isinstance(title, list) else str(title or "")


@pytest.fixture(scope="module")
def coverage(sample_warehouse: Path) -> Coverage:
    return Coverage.read(sample_warehouse)


@pytest.fixture(scope="module")
def drawn(sample_warehouse: Path, coverage: Coverage) -> dict[str, dict]:
    """Every chart of the catalog drawn on the sample with the default filters, as Vega-Lite dicts; money in EUR
    (a currency that is not the default, so a label that ignores the argument is caught)."""
    filters = Filters(date_from=coverage.first_order_on, date_to=coverage.as_of_date)
    out = {}
    for key, spec in charts.CHARTS.items():
        frame = spec.load(sample_warehouse, filters)
        if spec.empty(frame, coverage) is None:
            out[key] = spec.figure(frame, "EUR").to_dict()
    return out


def test_every_chart_is_drawn_on_the_sample(drawn: dict[str, dict]) -> None:
    assert set(drawn) == set(charts.CHARTS)


def test_chart_titles_are_words_not_table_names(drawn: dict[str, dict]) -> None:
    named = [(key, spec.title) for key, spec in charts.CHARTS.items() if "fct_" in spec.title or "dim_" in spec.title]
    for key, chart in drawn.items():
        named += [(key, title_text(sub["title"])) for _, sub in specs(chart) if "title" in sub
                  and any(table in title_text(sub["title"]) for table in ("fct_", "dim_", "marts."))]
    assert named == []


def test_every_axis_has_a_title(drawn: dict[str, dict]) -> None:
    untitled = []
    for key, chart in drawn.items():
        for path, sub in specs(chart):
            for channel in ("x", "y"):
                encoding = (sub.get("encoding") or {}).get(channel)
                if encoding and "field" in encoding and not encoding.get("title"):
                    untitled.append(f"{key}{path}.{channel} ({encoding['field']})")
    assert untitled == []


def test_money_charts_say_the_currency(drawn: dict[str, dict]) -> None:
    money = {key for key, spec in charts.CHARTS.items() if spec.money}
    assert {"revenue_trend", "cac_by_channel", "cumulative_revenue_curves", "channel_cohort_curves", "rfm_segments",
            "channel_values", "p_alive_vs_clv", "clv_distribution"} <= money
    # a money axis says the currency in its title, or the chart title does; money only in tooltips: their titles
    money_axis = [key for key in money if "EUR" not in title_text(drawn[key].get("title"))
                  and not any("EUR" in str((sub.get("encoding") or {}).get(c, {}).get("title", ""))
                              for _, sub in specs(drawn[key]) for c in ("x", "y"))]
    assert money_axis == ["channel_ltv_to_cac"]  # LTV/CAC is a ratio; its CAC and spend are in the tooltip
    assert "CAC (EUR)" in str(drawn["channel_ltv_to_cac"])
    assert all("EUR" not in str(chart) for key, chart in drawn.items() if key not in money)


def test_rates_are_shown_as_percent(drawn: dict[str, dict]) -> None:
    fractions = []
    for key, chart in drawn.items():
        for path, sub in specs(chart):
            for channel, encoding in (sub.get("encoding") or {}).items():
                field = encoding.get("field", "") if isinstance(encoding, dict) else ""
                if field not in RATE_FIELDS or channel not in ("x", "y", "color"):
                    continue
                fmt = (encoding.get("axis") or encoding.get("legend") or {}).get("format", "")
                if "%" not in fmt:
                    fractions.append(f"{key}{path}.{channel} ({field})")
    assert fractions == []
    assert any(sub.get("encoding", {}).get("y", {}).get("field") == "cohort_retention_rate"
               for _, sub in specs(drawn["channel_cohort_curves"]))


def test_every_money_tile_carries_the_currency(sample_warehouse: Path, coverage: Coverage) -> None:
    assert coverage.currency == "USD"  # the sample's var reporting_currency (dbt_project.yml)
    current, previous = comparison_periods(date(2025, 6, 30), 3)
    flows = kpis.flow_tiles(data.period_flows(sample_warehouse, Filters(), current, previous), currency="EUR")
    values = kpis.value_tiles(data.segment_kpis(sample_warehouse), coverage.previous_snapshots[0], currency="EUR")
    money = [tile for tile in flows if tile.label == "Net revenue"] + [
        tile for tile, (_, column, *_) in zip(values, kpis.VALUE_TILES) if column in kpis.MONEY_COLUMNS]
    assert len(money) == 1 + len(kpis.MONEY_COLUMNS) == 6
    assert all(tile.text.endswith(" EUR") and tile.change.endswith(" EUR") for tile in money), \
        [(tile.label, tile.text, tile.change) for tile in money]
    others = [tile for tile in flows + values if tile not in money]
    assert not any("EUR" in tile.text for tile in others)
    assert {tile.label: tile.text for tile in values}["Repeat rate"].endswith("%")
    ratios = kpis.ltv_to_cac_tiles(data.channel_ltv_to_cac(sample_warehouse, Filters()), None, currency="EUR")
    assert ratios and all(" EUR;" in tile.help for tile in ratios)  # the CAC quoted in the help


def test_the_report_overview_and_lists_carry_the_currency(sample_warehouse: Path, coverage: Coverage) -> None:
    filters = Filters(date_from=coverage.first_order_on, date_to=coverage.as_of_date)
    overview = report._overview_html(sample_warehouse, filters, coverage)
    assert overview.count(" USD</div>") >= 6
    at_risk = data.at_risk_high_value(sample_warehouse, filters)
    html = report._table_html(at_risk, coverage.currency)
    assert "predicted_clv (USD)" in html and "realised_ltv (USD)" in html and "%" in html


def test_the_build_records_the_currency_the_dashboard_reads(sample_warehouse: Path) -> None:
    from clvlayer.publish import embedded_record

    assert embedded_record(sample_warehouse)["settings"] == {"reporting_currency": "USD"}
    assert currency.reporting_currency(sample_warehouse) == "USD"


def test_the_currency_comes_from_the_run_record_else_the_project_vars(tmp_path: Path) -> None:
    assert currency._recorded({"run_id": "x", "settings": {"reporting_currency": "eur"}}) == "eur"
    assert currency._recorded({"run_id": "x", "vars": {"reporting_currency": "GBP"}}) == "GBP"
    assert currency._recorded({"run_id": "x"}) is None and currency._recorded(None) is None
    assert currency.reporting_currency(tmp_path / "absent.duckdb") == "USD"  # dbt_project.yml


def test_money_and_rate_columns_by_name() -> None:
    money = ["net_revenue", "realised_ltv", "predicted_clv", "predicted_clv_lower", "cac", "blended_cac",
             "marketing_spend", "ltv_formula_a", "average_check", "discounted_clv", "total_predicted_clv",
             "cumulative_net_revenue_per_customer", "margin_per_customer_12m", "gross_margin"]
    not_money = ["ltv_to_cac_12m", "cac_status", "cac_new_customers", "predicted_clv_tier", "ltv_lift",
                 "gross_margin_rate", "repeat_customer_rate", "customers", "p_alive", "margin_source",
                 "has_spend_recorded", "discounted_ltv_to_cac"]
    assert [c for c in money if not currency.is_money(c)] == []
    assert [c for c in not_money if currency.is_money(c)] == []
    assert all(currency.is_rate(c) for c in ["p_alive", "retention_rate", "ltv_lift", "share_of_customers"])
