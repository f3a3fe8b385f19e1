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

from clvlayer.dashboard import APP_DIR, charts, data, report
from clvlayer.dashboard.data import Filters, Period, WarehouseUnavailable, comparison_periods
from clvlayer.project import PROJECT_ROOT

SCHEMAS = ("marts", "intermediate", "staging", "audit", "quarantine", "raw", "main")
EVERYTHING = Filters(date_from=date(2000, 1, 1), date_to=date(2100, 1, 1))


def _source(name: str) -> str:
    return inspect.getsource(getattr(data, name))


def _dashboard_datasets() -> set[str]:
    """Loaders the app calls: its charts', `ui.load("<name>"` in the pages and entry script, and the coverage."""
    scripts = [APP_DIR / "app.py", *sorted((APP_DIR / "views").glob("*.py"))]
    called = {name for script in scripts for name in re.findall(r'ui\.load\("(\w+)"', script.read_text())}
    return called | {spec.dataset for spec in charts.CHARTS.values()} | {"data_coverage"}


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_loader_reads_only_the_marts_it_declares(name: str) -> None:
    source = _source(name)
    relations = set(re.findall(rf"\b({'|'.join(SCHEMAS)})\.(\w+)\b", source))
    assert {schema for schema, _ in relations} <= {"marts"}, f"{name} reads outside the marts schema: {relations}"
    assert {table for _, table in relations} == set(data.DATASETS[name])


def _computes_a_ratio(function_source: str) -> bool:
    """Whether the SQL a loader sends (the strings passed to _query, SQL comments left out) divides or averages."""
    statements = re.findall(r'_query\(warehouse, f?"""(.*?)"""', function_source, flags=re.DOTALL)
    sql = "\n".join(re.sub(r"--[^\n]*", "", statement) for statement in statements)
    return bool(re.search(r"\s/\s|\bavg\(", sql))


def test_ratio_detection_can_fail() -> None:
    assert _computes_a_ratio('return _query(warehouse, f"""select a / b from marts.x""")')
    assert _computes_a_ratio('return _query(warehouse, """select avg(a) from marts.x""")')
    assert not _computes_a_ratio('return _query(warehouse, """select sum(a) -- a / b\n from marts.x""")')


@pytest.mark.parametrize("name", sorted(data.DATASETS))
def test_only_issue_12_loaders_compute_ratios(name: str) -> None:
    """A loader divides or averages only when it stands in for the segment-grain mart, and says so."""
    source = _source(name)
    if _computes_a_ratio(source):
        assert "# ISSUE-12:" in source, f"{name} computes a ratio without an ISSUE-12 marker"


def test_issue_12_markers() -> None:
    """The loaders that stand in for issue 12's marts (the list in the report to the lead)."""
    marked = sorted(name for name in data.DATASETS if "# ISSUE-12:" in _source(name))
    assert marked == ["blended_ltv_to_cac", "channel_cohort_margin", "cohort_retention", "customer_value_kpis",
                      "period_kpis", "segment_comparison"]
    assert [name for name in marked if _computes_a_ratio(_source(name))] == [
        "blended_ltv_to_cac", "customer_value_kpis", "period_kpis"]


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


@pytest.mark.parametrize("segment_type, filters", [
    ("loyalty", Filters(loyalty="members")), ("loyalty", Filters(loyalty="non_members")),
    ("region", Filters(regions=("north",))), ("region", Filters(regions=("west",)))])
def test_interim_segment_values_equal_the_segment_mart(sample_warehouse: Path, query, segment_type: str,
                                                        filters: Filters) -> None:
    """The ISSUE-12 readers aggregate with the marts' definitions: same numbers as fct_segment_comparison."""
    value = {"members": "member", "non_members": "non_member"}.get(filters.loyalty) or filters.regions[0]
    (buyers, ltv, aov, orders_per_year), = query(sample_warehouse, f"""
        select buyers, average_realised_ltv, aov, orders_per_year from marts.fct_segment_comparison
        where segment_type = '{segment_type}' and segment_value = '{value}'""")
    kpis = data.customer_value_kpis(sample_warehouse, filters).iloc[0]
    assert kpis["buyers"] == buyers
    assert kpis["average_realised_ltv"] == pytest.approx(ltv, rel=1e-12)
    assert kpis["orders_per_year"] == pytest.approx(orders_per_year, rel=1e-12)
    (first, as_of), = query(sample_warehouse, "select min(first_order_on), max(as_of_date) from marts.dim_customers")
    whole = Period(first, as_of)
    flows = data.period_kpis(sample_warehouse, filters, whole, whole).set_index("period")
    assert flows.loc["current", "aov"] == pytest.approx(aov, rel=1e-12)


def test_unfiltered_customer_value_equals_the_customer_mart(sample_warehouse: Path, query) -> None:
    (formula_a, formula_b, repeat_rate), = query(sample_warehouse, """
        select avg(ltv_formula_a), avg(ltv_formula_b), avg(case when completed_orders > 1 then 1 else 0 end)
        from marts.fct_customer_ltv where has_completed_order""")
    kpis = data.customer_value_kpis(sample_warehouse, Filters()).iloc[0]
    assert kpis["ltv_formula_a"] == pytest.approx(formula_a, rel=1e-12)
    assert kpis["average_ltv_formula_b"] == pytest.approx(formula_b, rel=1e-12)
    assert kpis["repeat_customer_rate"] == pytest.approx(repeat_rate, rel=1e-12)


def test_period_flows_add_up_to_the_orders_mart(sample_warehouse: Path, query) -> None:
    current, previous = comparison_periods(date(2025, 6, 30), 3)
    flows = data.period_kpis(sample_warehouse, Filters(), current, previous).set_index("period")
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
    missing = " | ".join(data.Coverage.read(orders_only_warehouse).missing)
    for phrase in ("no marketing spend in the input: CAC", "no acquisition channel", "no order items",
                   "no loyalty members", "default rate"):
        assert phrase in missing


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
    with duckdb.connect(str(replacement)) as connection:
        connection.execute("update marts.dim_customers set as_of_date = date '2030-01-01'")
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
