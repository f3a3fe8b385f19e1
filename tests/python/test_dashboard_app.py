"""Every dashboard page renders (Streamlit AppTest) on the sample, on an orders-only input and without a warehouse."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from clvlayer.dashboard import APP_SCRIPT, PAGES, charts, kpis

TIMEOUT = 60


def _app(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _render(app: AppTest, script: str) -> AppTest:
    app.switch_page(script).run()
    assert not app.exception, f"{script}: {[e.message for e in app.exception]}"
    assert not app.error, f"{script}: {[e.value for e in app.error]}"
    return app


def _charts(app: AppTest) -> int:
    return len(app.get("vega_lite_chart"))


@pytest.mark.parametrize("url_path, title, script", PAGES)
def test_page_renders_every_chart_on_the_sample(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch,
                                                url_path: str, title: str, script: str) -> None:
    app = _render(_app(sample_warehouse, monkeypatch), script)
    assert [element.value for element in app.title] == [title]
    assert _charts(app) == len(charts.charts_of(url_path))
    assert not app.info, [element.value for element in app.info]  # no empty state on the full sample
    assert not app.warning


def test_overview_tiles_show_numbers_and_changes(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _render(_app(sample_warehouse, monkeypatch), "views/overview.py")
    tiles = {metric.label: metric for metric in app.metric}
    flows, values = ["Net revenue", "Completed orders", "New customers", "Active customers"], \
        [label for label, *_ in kpis.VALUE_TILES]
    ratios = [kpis.POOLED_LABEL, "affiliate", "email", "paid_search", "paid_social", "referral"]  # LTV/CAC 12 mo
    assert list(tiles) == flows + values + ratios  # organic has no spend: no LTV/CAC tile
    assert all(metric.value not in ("", "–") and metric.delta for metric in tiles.values())  # all with a change
    assert (tiles["Customers"].value, tiles["Buyers"].value) == ("4,000", "3,789")
    assert (tiles["Net revenue"].value, tiles["Net revenue"].delta) == ("236,496 USD", "+33,639 USD")
    money = ["Net revenue", "Average check (AOV)", "Realised LTV", "Realised LTV 12 mo", "LTV formula A",
             "LTV formula B"]
    assert all(tiles[label].value.endswith(" USD") and tiles[label].delta.endswith(" USD") for label in money)
    assert not any("USD" in metric.value for label, metric in tiles.items() if label not in money)
    assert tiles["Repeat rate"].value.endswith("%") and tiles["Repeat rate"].delta.endswith(" pp")
    assert any("Money in **USD**" in caption.value for caption in app.caption)
    assert not app.selectbox  # no segment filter: the overall row, nothing to choose


def test_overview_shows_the_segment_the_filters_select(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch,
                                                       query) -> None:
    app = _app(sample_warehouse, monkeypatch)
    app.sidebar.multiselect(key="channels").set_value(["email"]).run()
    _render(app, "views/overview.py")
    (buyers, ratio), = query(sample_warehouse, "select buyers, ltv_to_cac_12m from marts.fct_ltv_by_segment "
                                               "where segment_key = 'current|acquisition_channel:email'")
    tiles = {metric.label: metric.value for metric in app.metric}
    assert tiles["Buyers"] == f"{buyers:,.0f}" and tiles["email"] == f"{ratio:.2f}"
    assert list(tiles)[-1] == "email" and "referral" not in tiles  # the LTV/CAC of the channel shown only
    assert kpis.POOLED_LABEL not in tiles  # the pooled figure is every channel's, not the selection's
    app.sidebar.radio(key="loyalty").set_value("members").run()  # the choice made stays while it is selected
    assert _render(app, "views/overview.py").selectbox(key="overview_segment").value == ("acquisition_channel", "email")
    app = _app(sample_warehouse, monkeypatch)  # two segments from the start: the overall row until one is chosen
    app.sidebar.multiselect(key="channels").set_value(["email"])
    app.sidebar.radio(key="loyalty").set_value("members").run()
    _render(app, "views/overview.py")
    choice = app.selectbox(key="overview_segment")
    assert list(choice.options) == ["all customers", "acquisition channel: email", "loyalty: member"]
    assert choice.value == ("overall", "all")
    assert {metric.label: metric.value for metric in app.metric}["Buyers"] == "3,789"
    choice.set_value(("loyalty", "member")).run()
    (members,), = query(sample_warehouse, "select buyers from marts.fct_ltv_by_segment "
                                          "where segment_key = 'current|loyalty:member'")
    assert {metric.label: metric.value for metric in app.metric}["Buyers"] == f"{members:,.0f}"


@pytest.mark.parametrize("url_path, title, script", PAGES)
def test_page_renders_on_an_orders_only_warehouse(orders_only_warehouse: Path, monkeypatch: pytest.MonkeyPatch,
                                                  url_path: str, title: str, script: str) -> None:
    app = _render(_app(orders_only_warehouse, monkeypatch), script)
    assert [element.value for element in app.title] == [title]
    empty_states = " | ".join(element.value for element in app.info)
    expected = {"acquisition": ["No marketing spend in the input: CAC"],
                "segments": ["No loyalty members in the input", "No customer region in the input",
                             "No order items in the input"],
                "overview": ["no marketing spend in the input: CAC, LTV/CAC and payback unavailable"]}
    for phrase in expected.get(url_path, []):
        assert phrase in empty_states
    # a chart is drawn or its empty state says what is missing
    assert _charts(app) + len(app.info) >= len(charts.charts_of(url_path))


def test_filters_apply_on_every_page(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(sample_warehouse, monkeypatch)
    app.sidebar.multiselect(key="channels").set_value(["email", "paid_social"])
    app.sidebar.multiselect(key="regions").set_value(["north"])
    app.sidebar.radio(key="loyalty").set_value("members")
    app.sidebar.date_input(key="date_range").set_value((date(2024, 1, 1), date(2024, 12, 31))).run()
    narrowed = {}
    for url_path, title, script in PAGES:
        _render(app, script)
        assert [element.value for element in app.title] == [title]
        narrowed[url_path] = app
    overview = _render(app, "views/overview.py")
    header = [element.value for element in overview.subheader]
    assert "2024-10-01 to 2024-12-31 vs 2024-07-01 to 2024-09-30" in header
    revenue = {metric.label: metric.value for metric in overview.metric}["Net revenue"]
    assert revenue.endswith(" USD") and 0 < int(revenue.removesuffix(" USD").replace(",", "")) < 50_000
    for script, ignored in (("views/cohorts.py", "region, loyalty"), ("views/segments.py", "date range"),
                            ("views/acquisition.py", "region, loyalty")):
        page = _render(app, script)
        scopes = [element.value for element in page.caption if "Filters applied" in element.value]
        assert scopes and any(f"Set in the sidebar but ignored here: {ignored}" in scope for scope in scopes), scopes


def test_date_range_without_data_shows_empty_states(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(sample_warehouse, monkeypatch)
    app.sidebar.multiselect(key="channels").set_value(["organic"])
    app.sidebar.date_input(key="date_range").set_value((date(2025, 6, 30), date(2025, 6, 30))).run()
    acquisition = _render(app, "views/acquisition.py")
    assert any("has a CAC" in element.value or "No channel" in element.value for element in acquisition.info)
    for _, _, script in PAGES:
        _render(app, script)


def test_every_page_says_when_there_is_no_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path / "missing.duckdb", monkeypatch)
    for _, _, script in PAGES:
        _render(app, script)
        assert any("No published warehouse" in element.value and "make build" in element.value
                   for element in app.warning)
