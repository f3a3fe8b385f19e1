"""The dashboard's data-access module: marts only, declared in the exposures, read-only, and equal to the marts."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from clvlayer.dashboard import APP_DIR, charts, data, kpis, report
from clvlayer.dashboard.data import Filters, Period, WarehouseUnavailable, comparison_periods
from clvlayer.project import PROJECT_ROOT

SCHEMAS = ("marts", "intermediate", "staging", "audit", "quarantine", "raw", "main")
EVERYTHING = Filters(date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))


def _source(name: str) -> str:
    return inspect.getsource(getattr(data, name))


def _dashboard_datasets() -> set[str]:
    """Loaders the app calls: its charts', `ui.load("<name>"` in the pages and entry script, and the coverage's."""
    scripts = [APP_DIR / "app.py", *sorted((APP_DIR / "views").glob("*.py"))]
    called = {name for script in scripts for name in re.findall(r'ui\.load\("(\w+)"', script.read_text())}
    return called | {spec.dataset for spec in charts.CHARTS.values()} | {"data_coverage", "ltv_snapshots"}


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_loader_reads_only_the_marts_it_declares(name: str) -> None:
    source = _source(name)
    relations = set(re.findall(rf"\b({'|'.join(SCHEMAS)})\.(\w+)\b", source))
    assert {schema for schema, _ in relations} <= {"marts"}, f"{name} reads outside the marts schema: {relations}"
    assert {table for _, table in relations} == set(data.DATASETS[name])


RATIO = re.compile(r"/|\b(avg|mean|median|quantile\w*|percentile\w*|stddev\w*|var_\w+|variance|corr|covar\w*|"
                   r"regr_\w+|fsum|favg|ratio\w*|safe_divide|divide)\s*\(", re.IGNORECASE)


def _computes_a_ratio(function_source: str) -> bool:
    """Whether the SQL a loader sends (the strings passed to _query, its comments and quoted literals left out)
    divides or averages."""
    statements = re.findall(r'_query\(warehouse, f?"""(.*?)"""', function_source, flags=re.DOTALL)
    sql = "\n".join(re.sub(r"--[^\n]*|'[^']*'", "", statement) for statement in statements)
    return bool(RATIO.search(sql))


def test_ratio_detection_can_fail() -> None:
    assert _computes_a_ratio('return _query(warehouse, f"""select a / b from marts.x""")')
    assert _computes_a_ratio('return _query(warehouse, f"""select sum(a)/sum(b) from marts.x""")')
    assert _computes_a_ratio('return _query(warehouse, """select avg(a) from marts.x""")')
    assert _computes_a_ratio('return _query(warehouse, """select median (a), 1 from marts.x""")')
    assert not _computes_a_ratio('return _query(warehouse, """select sum(a) -- a / b\n from marts.x""")')
    assert not _computes_a_ratio("return _query(warehouse, \"\"\"select 'n/a' as x from marts.x\"\"\")")


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_no_loader_computes_a_ratio(name: str) -> None:
    """Every ratio comes finished from a mart: no loader divides or averages (no exception)."""
    assert not _computes_a_ratio(_source(name)), f"{name} computes a ratio: read it from the mart that has it"


def test_no_stand_in_is_left() -> None:
    """Phase 1 marked its stand-ins for the segment-grain marts with an issue marker; none is left anywhere."""
    places = [*(APP_DIR.rglob("*.py")), *(PROJECT_ROOT / "analyses").glob("*.sql"),
              PROJECT_ROOT / "models" / "exposures.yml", PROJECT_ROOT / "docs" / "analyst_guide.md",
              *(PROJECT_ROOT / "tests" / "python").glob("test_*.py")]
    marker = "ISSUE" + "-12"
    assert [str(path.relative_to(PROJECT_ROOT)) for path in places if marker in path.read_text()] == []


def test_every_loader_is_used_and_the_exposures_declare_what_is_read() -> None:
    exposures = {exposure["name"]: exposure for exposure in
                 yaml.safe_load((PROJECT_ROOT / "models" / "exposures.yml").read_text())["exposures"]}

    def declared(name: str) -> set[str]:
        return {re.fullmatch(r"ref\('(\w+)'\)", ref).group(1) for ref in exposures[name]["depends_on"]}

    dashboard = _dashboard_datasets()
    assert dashboard <= set(data.DATASETS)
    assert set(data.DATASETS) == dashboard | report.report_datasets(), "a loader nobody calls"
    assert declared("clv_dashboard") == data.marts_read(sorted(dashboard))
    assert declared("clv_static_report") == data.marts_read(sorted(report.report_datasets()))


@pytest.mark.parametrize("which", ["sample", "orders_only"])
def test_every_loader_runs_with_and_without_filters(which: str, request: pytest.FixtureRequest) -> None:
    warehouse = request.getfixturevalue(f"{which}_warehouse")
    periods = comparison_periods(date(2025, 6, 30), 3)
    narrow = Filters(date_from=date(2024, 1, 1), date_to=date(2024, 6, 30), channels=("email", "organic"),
                     regions=("north",), loyalty="members")
    for filters in (Filters(), narrow, Filters(channels=("no such channel",))):
        for name in data.DATASETS:
            loader = getattr(data, name)
            parameters = inspect.signature(loader).parameters
            kwargs = {"filters": filters} if "filters" in parameters else {}
            if "current" in parameters:
                kwargs.update(current=periods[0], previous=periods[1])
            if "segment_type" in parameters:
                kwargs["segment_type"] = "region"
            if "segment_value" in parameters:
                kwargs["segment_value"] = "north"
            assert loader(warehouse, **kwargs) is not None


def test_filters_narrow_the_customers(sample_warehouse: Path, query) -> None:
    everyone = data.reorder_list(sample_warehouse, Filters())
    email_members = data.reorder_list(sample_warehouse, Filters(channels=("email",), loyalty="members"))
    assert 0 < len(email_members) < len(everyone)
    assert set(email_members["acquisition_channel"]) == {"email"} and email_members["is_loyalty_member"].all()
    assert data.reorder_list(sample_warehouse, Filters(channels=("no such channel",))).empty
    due = query(sample_warehouse, "select count(*) from marts.fct_customer_next_purchase where due_for_reorder")
    assert len(everyone) == due[0][0]
    with pytest.raises(ValueError, match="loyalty"):
        Filters(loyalty="gold")


def test_filters_select_segments_of_the_segment_mart() -> None:
    assert data.selected_segments(Filters()) == []
    both = Filters(channels=("email", "referral"), regions=("north",), loyalty="non_members")
    assert data.selected_segments(both) == [("acquisition_channel", "email"), ("acquisition_channel", "referral"),
                                            ("region", "north"), ("loyalty", "non_member")]
    assert data.filter_values(both, "rfm_segment") == ()  # not a sidebar filter: never narrowed
    assert data.filter_values(Filters(loyalty="members"), "loyalty") == ("member",)


def _mart_segment(warehouse: Path, segment: tuple[str, str]) -> dict[str, dict]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        frame = connection.execute("select * from marts.fct_ltv_by_segment where segment_type = ? and "
                                   "segment_value = ?", list(segment)).df()
    return {row["as_of_snapshot"]: row for row in frame.to_dict("records")}


@pytest.mark.parametrize("segment", [("overall", "all"), ("acquisition_channel", "email"), ("region", "north"),
                                     ("loyalty", "member")])
def test_value_tiles_are_the_segment_mart_rows(sample_warehouse: Path, segment: tuple[str, str]) -> None:
    """Each overview tile is fct_ltv_by_segment's value for the segment at the current snapshot, and its change
    the difference from the previous snapshot's value (nothing aggregated or divided in the app)."""
    coverage = data.Coverage.read(sample_warehouse)
    (previous,) = coverage.previous_snapshots
    assert (previous.name, previous.months_before_current) == ("previous_3m", 3)
    mart = _mart_segment(sample_warehouse, segment)
    tiles = kpis.value_tiles(data.segment_kpis(sample_warehouse, *segment), previous, currency=coverage.currency)
    assert [tile.label for tile in tiles] == [label for label, *_ in kpis.VALUE_TILES]
    for tile, (_, column, _, change, _) in zip(tiles, kpis.VALUE_TILES):
        now, before = mart["current"][column], mart["previous_3m"][column]
        assert tile.value == pytest.approx(now, rel=1e-12) and tile.previous == pytest.approx(before, rel=1e-12)
        unit = " USD" if column in kpis.MONEY_COLUMNS else ""
        assert tile.change == change(now - before) + unit
    assert kpis.value_tiles(data.segment_kpis(sample_warehouse, *segment), None, currency="USD")[0].change is None


def test_overall_tiles_match_the_customer_mart(sample_warehouse: Path, query) -> None:
    """The overall row is the whole customer base (an independent count and sum on fct_customer_ltv)."""
    (customers, buyers, revenue, repeaters), = query(sample_warehouse, """
        select count(*), count(*) filter (where has_completed_order), sum(realised_ltv),
            count(*) filter (where is_repeat_customer) from marts.fct_customer_ltv""")
    tiles = {tile.label: tile for tile in kpis.value_tiles(data.segment_kpis(sample_warehouse), None, currency="USD")}
    assert (tiles["Customers"].value, tiles["Buyers"].value) == (customers, buyers) == (4000, 3789)
    assert tiles["Realised LTV"].value == pytest.approx(float(revenue) / buyers, rel=1e-12)
    assert tiles["Repeat rate"].value == pytest.approx(repeaters / buyers, rel=1e-12)


def test_ltv_to_cac_tiles_are_the_channel_rows(sample_warehouse: Path, query) -> None:
    previous = data.Coverage.read(sample_warehouse).previous_snapshots[0]
    tiles = kpis.ltv_to_cac_tiles(data.channel_ltv_to_cac(sample_warehouse, Filters()), previous)
    rows = dict(query(sample_warehouse, """
        select segment_value, ltv_to_cac_12m from marts.fct_ltv_by_segment
        where as_of_snapshot = 'current' and segment_type = 'acquisition_channel' and cac_status = 'ok'"""))
    assert {tile.label: tile.value for tile in tiles} == pytest.approx(rows, rel=1e-12)
    assert "organic" not in rows and len(rows) == 5  # no spend recorded: no CAC, no tile
    email = data.channel_ltv_to_cac(sample_warehouse, Filters(channels=("email",)))
    assert set(email["channel"]) == {"email"} and set(email["as_of_snapshot"]) == {"current", "previous_3m"}


def test_pooled_ltv_to_cac_tile_is_the_overall_row(sample_warehouse: Path, query) -> None:
    previous = data.Coverage.read(sample_warehouse).previous_snapshots[0]
    tile, = kpis.pooled_ltv_to_cac_tiles(data.pooled_ltv_to_cac(sample_warehouse), previous)
    (now,), (before,) = query(sample_warehouse, """
        select ltv_to_cac_12m from marts.fct_ltv_by_segment
        where segment_type = 'overall' and as_of_snapshot in ('current', 'previous_3m') order by months_before_current""")
    assert (tile.label, tile.value, tile.previous) == (kpis.POOLED_LABEL, pytest.approx(now, rel=1e-12),
                                                      pytest.approx(before, rel=1e-12))


def test_segment_values_apply_only_the_filter_of_their_type(sample_warehouse: Path, query) -> None:
    north = Filters(regions=("north",), channels=("email",), loyalty="members")
    regions = data.segment_values(sample_warehouse, north, "region")
    assert regions["segment_value"].tolist() == ["north"]
    everyone = data.segment_values(sample_warehouse, Filters(), "rfm_segment")
    assert data.segment_values(sample_warehouse, north, "rfm_segment").equals(everyone)  # no RFM x region rows
    lifts = dict(query(sample_warehouse, "select segment_value, ltv_lift from marts.fct_segment_comparison "
                                         "where segment_type = 'rfm_segment' and ltv_lift is not null"))
    shown = everyone.dropna(subset=["ltv_lift"])
    assert dict(zip(shown["segment_value"], shown["ltv_lift"])) == pytest.approx(lifts, rel=1e-12)
    (customers,), = query(sample_warehouse, "select count(*) from marts.dim_customers")
    assert everyone["customers"].sum() == customers
    loyalty = data.segment_values(sample_warehouse, north, "loyalty")
    assert loyalty["segment_value"].tolist() == ["member"] and loyalty["ltv_lift"].iloc[0] > 0


def test_cohorts_read_the_channel_mart_when_a_channel_is_selected(sample_warehouse: Path, query) -> None:
    pooled = data.cohort_retention(sample_warehouse, Filters())
    (rows,), = query(sample_warehouse, "select count(*) from marts.fct_cohort_retention")
    assert set(pooled["acquisition_channel"]) == {"all channels"} and len(pooled) == rows
    email = data.cohort_retention(sample_warehouse, Filters(channels=("email", "referral"),
                                                            date_from=date(2024, 1, 1)))
    (channel_rows,), = query(sample_warehouse, """
        select count(*) from marts.fct_cohort_retention_by_channel
        where acquisition_channel in ('email', 'referral') and cohort_month >= '2024-01-01'""")
    assert set(email["acquisition_channel"]) == {"email", "referral"} and len(email) == channel_rows
    curves = data.cohort_curves(sample_warehouse, Filters(channels=("email",)))
    assert set(curves["curve"]) == {"all_channels", "email"}
    assert curves.groupby("curve")["cohort_ltv_curve"].apply(lambda c: c.is_monotonic_increasing).all()
    assert set(data.cohort_curves(sample_warehouse, Filters())["curve"]) >= {"all_channels", "email", "organic"}


def test_period_flows_add_up_to_the_orders_mart(sample_warehouse: Path, query) -> None:
    current, previous = comparison_periods(date(2025, 6, 30), 3)
    flows = data.period_flows(sample_warehouse, Filters(), current, previous).set_index("period")
    (revenue, orders, new), = query(sample_warehouse, """
        select sum(net_revenue), count(*) filter (where is_completed),
            (select count(*) from marts.dim_customers where first_order_on between '2025-04-01' and '2025-06-30')
        from marts.fct_orders where ordered_on between '2025-04-01' and '2025-06-30'""")
    assert flows.loc["current", "net_revenue"] == pytest.approx(float(revenue))
    assert flows.loc["current", "completed_orders"] == orders
    assert flows.loc["current", "new_customers"] == new
    assert flows.loc["previous", "period_start"].date() == date(2025, 1, 1)


def test_coverage_names_what_the_orders_only_input_lacks(sample_warehouse: Path, orders_only_warehouse: Path) -> None:
    assert data.Coverage.read(sample_warehouse).missing == []
    orders_only = data.Coverage.read(orders_only_warehouse)
    missing = " | ".join(orders_only.missing)
    for phrase in ("no marketing spend in the input: CAC", "no acquisition channel", "no order items",
                   "no loyalty members", "default rate"):
        assert phrase in missing
    assert [snapshot.name for snapshot in orders_only.snapshots] == ["current", "previous_3m"]
    assert kpis.ltv_to_cac_tiles(data.channel_ltv_to_cac(orders_only_warehouse, Filters()), None) == []
    assert kpis.pooled_ltv_to_cac_tiles(data.pooled_ltv_to_cac(orders_only_warehouse), None) == []


@pytest.mark.parametrize("end, months, current, previous", [
    (date(2025, 6, 30), 3, (date(2025, 4, 1), date(2025, 6, 30)), (date(2025, 1, 1), date(2025, 3, 31))),
    (date(2025, 5, 15), 3, (date(2025, 4, 1), date(2025, 5, 15)), (date(2025, 1, 1), date(2025, 2, 15))),
    (date(2024, 3, 31), 1, (date(2024, 3, 1), date(2024, 3, 31)), (date(2024, 2, 1), date(2024, 2, 29))),
    (date(2024, 3, 30), 1, (date(2024, 3, 1), date(2024, 3, 30)), (date(2024, 2, 1), date(2024, 2, 29))),
    (date(2025, 1, 10), 1, (date(2025, 1, 1), date(2025, 1, 10)), (date(2024, 12, 1), date(2024, 12, 10))),
    (date(2024, 2, 29), 12, (date(2024, 1, 1), date(2024, 2, 29)), (date(2023, 1, 1), date(2023, 2, 28))),
])
def test_comparison_periods(end: date, months: int, current: tuple, previous: tuple) -> None:
    assert comparison_periods(end, months) == (Period(*current), Period(*previous))


def test_reads_hold_no_lock_and_see_a_published_replacement(sample_warehouse: Path, tmp_path: Path) -> None:
    live = tmp_path / "customer_value.duckdb"
    shutil.copyfile(sample_warehouse, live)
    before = data.data_coverage(live)
    # nothing stays open: a writer can take the file right after a read
    subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(live)!r}).close()"], check=True)
    replacement = tmp_path / "next.duckdb"
    shutil.copyfile(sample_warehouse, replacement)
    with duckdb.connect(str(replacement)) as connection:  # the next build's dim_customers (a view or a table)
        connection.execute("create temp table moved as "
                           "select * replace (date '2030-01-01' as as_of_date) from marts.dim_customers")
        (kind,), = connection.execute("select table_type from information_schema.tables "
                                      "where table_schema = 'marts' and table_name = 'dim_customers'").fetchall()
        connection.execute(f"drop {'view' if kind == 'VIEW' else 'table'} marts.dim_customers")
        connection.execute("create table marts.dim_customers as select * from moved")
    import os

    os.replace(replacement, live)  # what `clv build` does when it publishes
    assert before["as_of_date"].iloc[0].year == 2025
    assert data.data_coverage(live)["as_of_date"].iloc[0].year == 2030


def test_unreadable_warehouses_raise_a_message_with_the_fix(sample_warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(WarehouseUnavailable, match="make build"):
        data.data_coverage(tmp_path / "missing.duckdb")
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as connection:
        connection.execute("create schema marts; create table marts.dim_customers (customer_id varchar)")
    with pytest.raises(WarehouseUnavailable, match="Rebuild it with `clv build`"):
        data.data_coverage(old)
    locked = tmp_path / "locked.duckdb"
    shutil.copyfile(sample_warehouse, locked)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(60)", str(locked)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseUnavailable, match="read-only"):
            data.data_coverage(locked)
    finally:
        holder.kill()
        holder.wait()


def test_analyst_guide_sample_figures(sample_warehouse: Path, query) -> None:
    """The analyst guide's figures about the sample are the overview's: flows for Q2 2025, the quarter's AOV (an
    independent sum / count on fct_orders) and the overall average-check tile."""
    text = " ".join((PROJECT_ROOT / "docs" / "analyst_guide.md").read_text().split())
    found = re.search(r"Q2 2025 net revenue ([\d,]+ USD) and ([\d,]+) orders, the overview's flow tiles for that "
                      r"quarter, and AOV ([\d.]+) USD over that quarter's orders\. The overview's average-check tile, "
                      r"([\d.]+ USD),", text)
    assert found, "sentence not found in docs/analyst_guide.md"
    current, previous = comparison_periods(date(2025, 6, 30), 3)
    currency = data.Coverage.read(sample_warehouse).currency
    assert currency == "USD"  # the sample's var reporting_currency, which the guide's sentence names
    flows = kpis.flow_tiles(data.period_flows(sample_warehouse, Filters(), current, previous), currency=currency)
    (aov,), = query(sample_warehouse, "select sum(net_revenue) / count(*) filter (where is_completed) "
                                      "from marts.fct_orders where ordered_on between '2025-04-01' and '2025-06-30'")
    check = {tile.label: tile.text for tile in kpis.value_tiles(data.segment_kpis(sample_warehouse), None,
                                                                 currency=currency)}
    assert found.groups() == (flows[0].text, flows[1].text, f"{aov:.2f}", check["Average check (AOV)"])
