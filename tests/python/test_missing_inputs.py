"""Missing inputs never look like values (issue 23; docs/input_contract.md, "Optional tables that are absent"). The
generator's data of conftest.generated (1,500 customers, every table given) is built once more per optional table,
without that table: each mart column that depends on the table must read null or 'unknown' (never 0, false or a
made-up category), with its status where it has one, and the same column with the table given must hold a real
value on some rows (so each case can fail). The dependencies are declared once below (DEPENDS) and checked against
dbt's lineage: every mart downstream of a table's source is either declared there or named in UNAFFECTED with the
reason.

Cost: five builds of the checked marts and their parents only (no data or unit tests: they are the build's own
tests), about 60 s of CPU together; the table-given side is the shared generated warehouse (conftest.generated),
built once per run."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from conftest import build, built_once, fast_vars

# no data tests; the cheaper predictive settings (conftest.FAST_PREDICTIVE: what a column reads without a table does
# not depend on the draw count or the number of backtest dates; no case reads an interval or the backtest marts)
NO_DATA_TESTS = ["--exclude", "test_type:data", *fast_vars()]


@dataclass(frozen=True)
class Reads:
    """Without the table, `column` of `model` reads `expect` ('null', 'unknown', or a documented value such as 0)
    on every row matching `where`, and `status` (column, value) says why; with the table some such row differs."""

    model: str
    column: str
    expect: str = "null"
    where: str = "true"
    status: tuple[str, str] | None = None


CUSTOMERS_STATUS = ("customer_attributes_status", "no_customers_table")
NO_ITEMS = ("preferred_category_source", "no_order_items_table")
NO_SPEND = ("cac_status", "no_spend_table")
CHANNEL_ROWS = "segment_type in ('acquisition_channel', 'overall')"
BUYERS = "has_completed_order"


def _segments(model: str, types: list[str], expect: str = "unknown", where: str = "true") -> list[Reads]:
    return [Reads(model, "segment_value", expect, f"segment_type = '{t}' and {where}") for t in types]


DEPENDS: dict[str, list[Reads]] = {
    "customers": [
        *[Reads("dim_customers", c, "unknown", status=CUSTOMERS_STATUS)
          for c in ["acquisition_channel", "region", "age_band"]],
        *[Reads("dim_customers", c, status=CUSTOMERS_STATUS)
          for c in ["created_at", "birth_year", "is_loyalty_member", "loyalty_joined_at"]],
        *[Reads("fct_customer_segments", c, "unknown") for c in ["acquisition_channel", "region", "age_band"]],
        Reads("fct_customer_segments", "is_loyalty_member"),
        *[Reads("fct_customer_ltv", c, "unknown") for c in ["acquisition_channel", "region", "age_band"]],
        Reads("fct_customer_ltv", "is_loyalty_member"),
        *[Reads("fct_customer_clv_predictions", c, "unknown") for c in ["acquisition_channel", "region"]],
        Reads("fct_customer_clv_predictions", "is_loyalty_member"),
        Reads("fct_customer_next_purchase", "acquisition_channel", "unknown"),
        Reads("fct_customer_next_purchase", "is_loyalty_member"),
        Reads("fct_cohort_retention_by_channel", "acquisition_channel", "unknown"),
        Reads("fct_cohort_curves", "curve", "unknown", "curve <> 'all_channels'"),
        # channel-months of spend alone keep the spend table's channel
        Reads("fct_channel_economics", "channel", "unknown", "new_customers > 0"),
        Reads("fct_channel_predicted_ltv_to_cac", "channel", "unknown", "new_customers > 0"),
        *_segments("fct_ltv_by_segment", ["acquisition_channel", "region", "age_band", "loyalty"]),
        *_segments("fct_predicted_clv_by_segment", ["acquisition_channel", "region", "age_band", "loyalty"]),
        *_segments("fct_segment_comparison", ["region", "age_band", "loyalty"]),
        *[Reads("fct_launch_penetration", c)
          for c in ["active_loyalty_members", "loyalty_member_buyers", "loyalty_member_launch_penetration"]],
    ],
    "order_items": [
        *[Reads("fct_orders", c) for c in ["item_lines", "item_units", "has_items", "distinct_categories",
                                           "has_addon_category", "main_category"]],
        Reads("dim_customers", "own_items_per_order"),
        Reads("fct_customer_segments", "preferred_category", where=BUYERS, status=NO_ITEMS),
        Reads("fct_customer_segments", "preferred_category_spend", where=BUYERS, status=NO_ITEMS),
        Reads("fct_customer_ltv", "preferred_category", "unknown", BUYERS),
        *_segments("fct_ltv_by_segment", ["preferred_category"], where="buyers > 0"),
        *_segments("fct_predicted_clv_by_segment", ["preferred_category"], where="segment_value <> 'no_purchases'"),
        *_segments("fct_segment_comparison", ["preferred_category"], where="buyers > 0"),
        *[Reads("fct_launch_penetration", c) for c in ["launch_buyers", "launch_penetration", "loyalty_member_buyers",
                                                       "loyalty_member_launch_penetration"]],
        *[Reads("fct_category_penetration", c) for c in ["category_buyers", "penetration_rate"]],
        # no item costs: the documented default margin rate, labelled (a value, by decision; see products)
        Reads("fct_orders", "margin_source", "default_rate"),
        Reads("dim_customers", "margin_source", "default_rate", BUYERS),
    ],
    "products": [
        Reads("fct_orders", "main_category", "unknown", "has_items"),
        *[Reads("fct_orders", c) for c in ["distinct_categories", "has_addon_category"]],
        # margin without costs is the documented default rate, labelled as such (a value, by decision)
        Reads("fct_orders", "margin_source", "default_rate"),
        Reads("dim_customers", "margin_source", "default_rate", BUYERS),
        Reads("fct_customer_segments", "preferred_category", "unknown", "preferred_category_source = 'item_spend'"),
        Reads("fct_customer_ltv", "preferred_category", "unknown", "preferred_category not in "
              "('no_purchases', 'no_item_data')"),
        *[segment for model in ["fct_ltv_by_segment", "fct_predicted_clv_by_segment", "fct_segment_comparison"]
          for segment in _segments(model, ["preferred_category"],
                                   where="segment_value not in ('no_purchases', 'no_item_data')")],
        Reads("fct_category_penetration", "category", "unknown"),
    ],
    "refunds": [
        # no refunds table: the shop's amounts are taken as given (zero refunds recorded is a value, by decision);
        # a status 'refunded' still refunds the whole order, a 'partially_refunded' one is flagged unknown
        Reads("fct_orders", "refund_count", "0"),
        Reads("fct_orders", "refund_amount_recorded", "0"),
        Reads("fct_orders", "is_refund_amount_unknown", "true", "status = 'partially_refunded'"),
    ],
    "marketing_spend": [
        *[Reads("fct_channel_economics", c, status=("cac_status", "no_spend_table"))
          for c in ["marketing_spend", "cac", "blended_cac", "ltv_to_cac_3m", "discounted_ltv_to_cac"]],
        Reads("fct_channel_economics", "payback_months", status=("payback_status", "no_cac")),
        *[Reads("fct_ltv_by_segment", c, where=CHANNEL_ROWS, status=NO_SPEND)
          for c in ["marketing_spend", "cac_new_customers", "cac", "ltv_to_cac", "ltv_to_cac_3m",
                    "discounted_ltv_to_cac"]],
        *[Reads("fct_channel_predicted_ltv_to_cac", c, status=NO_SPEND) for c in ["cac", "predicted_ltv_to_cac"]],
    ],
}

# Marts downstream of a table (dbt lineage) that publish nothing built on it, with the reason.
DEFAULT_MARGIN = ("margins from the documented default rate, labelled margin_source = 'default_rate' (checked on "
                  "fct_orders and dim_customers); nothing else depends on it")
NET_REVENUE = ("revenue as the shop's amounts give it: no refund rows is zero refunds recorded (checked on "
               "fct_orders); statuses still refund")
AUDIENCES = {mart: "audiences filter the customer marts (their columns checked there) and the lift compares the "
                   "contacts' orders: no column of their own reads the table"
             for mart in ["fct_audiences", "fct_audience_members", "fct_audience_lift"]}
BACKTEST = {mart: "the backtest compares each estimate with what the same customers then spent, per segment of "
                   "fct_ltv_by_segment's types (their labels and values checked on the segment marts): no column "
                   "of its own reads the table"
            for mart in ["fct_ltv_backtest", "fct_ltv_backtest_verdicts"]}
CHURN_CALIBRATION = ("the churn-risk calibration counts purchase days of completed orders before and after the split "
                     "date (orders alone); the predictive parameters' margin never enters it")
UNAFFECTED: dict[str, dict[str, str]] = {
    "customers": {
        **AUDIENCES,
        **BACKTEST,
        "fct_orders": "orders only; customers join no order column",
        "fct_cohort_retention": "cohorts of all customers, no attribute",
        "fct_category_penetration": "active customers and buyers counted from orders and items, no attribute",
        "fct_clv_model_parameters": "fitted on orders alone, and per acquisition channel: without customers every "
                                    "channel is 'unknown', one stratum holding every customer, which is the pooled "
                                    "fit itself and is not fitted again (stratum 'pooled' only, lr_df 0)",
        "fct_clv_holdout_validation": "validated on orders alone (per channel only when the channels' fits are chosen; "
                                      "without customers there is one channel, so the pooled fit)",
        "fct_churn_risk_calibration": CHURN_CALIBRATION,
        "metricflow_time_spine": "a calendar",
    },
    "order_items": {
        **AUDIENCES,
        **BACKTEST,
        "fct_audience_lift": DEFAULT_MARGIN,
        "fct_channel_economics": DEFAULT_MARGIN,
        "fct_channel_predicted_ltv_to_cac": DEFAULT_MARGIN,
        "fct_cohort_curves": DEFAULT_MARGIN,
        "fct_cohort_retention": DEFAULT_MARGIN,
        "fct_cohort_retention_by_channel": DEFAULT_MARGIN,
        "fct_customer_clv_predictions": DEFAULT_MARGIN,
        "fct_customer_next_purchase": DEFAULT_MARGIN,
        "fct_clv_model_parameters": DEFAULT_MARGIN,
        "fct_clv_holdout_validation": DEFAULT_MARGIN,
        "fct_churn_risk_calibration": CHURN_CALIBRATION,
    },
    "products": {
        **AUDIENCES,
        **BACKTEST,
        "fct_audience_lift": DEFAULT_MARGIN,
        **{mart: DEFAULT_MARGIN for mart in [
            "fct_channel_economics", "fct_channel_predicted_ltv_to_cac", "fct_cohort_curves", "fct_cohort_retention",
            "fct_cohort_retention_by_channel", "fct_customer_clv_predictions", "fct_customer_next_purchase",
            "fct_clv_model_parameters", "fct_clv_holdout_validation"]},
        "fct_churn_risk_calibration": CHURN_CALIBRATION,
        "fct_launch_penetration": "a launch is a product's launch date: without products no launch row is published",
    },
    "refunds": {mart: NET_REVENUE for mart in [
        "dim_customers", "fct_category_penetration", "fct_channel_economics", "fct_channel_predicted_ltv_to_cac",
        "fct_clv_holdout_validation", "fct_clv_model_parameters", "fct_cohort_curves", "fct_cohort_retention",
        "fct_cohort_retention_by_channel", "fct_customer_clv_predictions", "fct_customer_ltv",
        "fct_customer_next_purchase", "fct_customer_segments", "fct_launch_penetration", "fct_ltv_by_segment",
        "fct_predicted_clv_by_segment", "fct_segment_comparison", "fct_churn_risk_calibration", *AUDIENCES,
        *BACKTEST]},
    "marketing_spend": {
        "fct_segment_comparison": "compares segment types other than channels: no spend or CAC column",
        "fct_predicted_clv_by_segment": "predicted CLV and P(alive) per segment: no spend or CAC column",
    },
}

CASES = [pytest.param(table, reads, id=f"{table}-{reads.model}.{reads.column}"
                      + (f"[{reads.where}]" if reads.where != "true" else ""))
         for table, list_ in DEPENDS.items() for reads in list_]


@pytest.fixture(scope="module")
def present(generated: tuple[Path, Path]) -> Path:
    return generated[1]


@pytest.fixture(scope="module")
def without(tmp_path_factory: pytest.TempPathFactory, generated: tuple[Path, Path]):
    """The folder of the warehouse (and dbt target) built from the generated data without `table`, once per run."""
    def get(table: str) -> Path:
        def make(folder: Path) -> None:
            (folder / "raw").mkdir()
            for name in DEPENDS.keys() - {table} | {"orders"}:
                shutil.copyfile(generated[0] / f"{name}.csv", folder / "raw" / f"{name}.csv")
            build(folder, folder / "raw", ["--select", *_selection(table), *NO_DATA_TESTS])

        return built_once(tmp_path_factory, f"without_{table}", make)

    return get


def _selection(table: str) -> list[str]:
    """The nodes a table's cases read: its declared marts and their parents (every mart without marketing spend:
    the dashboard check renders the acquisition page, which reads the warehouse-wide coverage too)."""
    if table == "marketing_spend":
        return ["+marts"]
    return sorted({f"+{reads.model}" for reads in DEPENDS[table]})


def _one(database: Path, sql: str) -> tuple:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchone()


def _differs(reads: Reads) -> str:
    """SQL: the row's column is not what the absent table makes it read."""
    if reads.expect == "null":
        return f"{reads.column} is not null"
    return f"{reads.column} is distinct from {_literal(reads.expect)}"


def _literal(value: str) -> str:
    return value if value in {"0", "true", "false"} else f"'{value}'"


@pytest.mark.parametrize(("table", "reads"), CASES)
def test_absent_table_reads_unknown(table: str, reads: Reads, without, present: Path) -> None:
    absent = without(table) / "warehouse.duckdb"
    relation = f"marts.{reads.model}"
    rows, wrong, example = _one(absent, f"""
        select count(*), count(*) filter (where {_differs(reads)}),
               min(cast({reads.column} as varchar)) filter (where {_differs(reads)})
        from {relation} where {reads.where}""")
    assert rows > 0, f"{relation} has no row where {reads.where} without {table}: nothing is checked"
    assert wrong == 0, (f"without {table}, {relation}.{reads.column} reads {example!r} on {wrong} of {rows} rows "
                        f"(expected {reads.expect})")
    if reads.status is not None:
        column, value = reads.status
        [(off,)] = [_one(absent, f"select count(*) from {relation} where {reads.where} "
                                 f"and {column} is distinct from '{value}'")]
        assert off == 0, f"without {table}, {relation}.{column} is not {value!r} on {off} rows"
    [(real,)] = [_one(present, f"select count(*) from {relation} where {reads.where} "
                                          f"and {_differs(reads)}")]
    assert real > 0, f"with {table} given, {relation}.{reads.column} never differs from {reads.expect}: the case " \
                     "cannot fail"


def _mart_descendants(manifest: dict, table: str) -> set[str]:
    children, seen = manifest["child_map"], set()
    stack = [f"source.customer_value.shop.{table}"]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    nodes = manifest["nodes"]
    return {nodes[n]["name"] for n in seen
            if n.startswith("model.") and nodes[n]["config"].get("schema") == "marts"}


@pytest.mark.parametrize("table", list(DEPENDS))
def test_declared_dependencies_match_lineage(table: str, without) -> None:
    manifest = json.loads((without(table) / "target" / "manifest.json").read_text())
    downstream = _mart_descendants(manifest, table)
    declared = {reads.model for reads in DEPENDS[table]}
    assert declared <= downstream, f"declared on {table} but not downstream of it: {sorted(declared - downstream)}"
    assert set(UNAFFECTED[table]) <= downstream, f"{table}: UNAFFECTED names marts not downstream of it"
    undeclared = downstream - declared - set(UNAFFECTED[table])
    assert not undeclared, f"marts downstream of {table} neither declared in DEPENDS nor UNAFFECTED: {undeclared}"


def test_dashboard_says_why_there_is_no_cac(without, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without marketing spend the acquisition page's tables show the reason where CAC is null, never a 0."""
    from streamlit.testing.v1 import AppTest

    from clvlayer.dashboard import APP_SCRIPT
    from clvlayer.dashboard.ui import CAC_REASONS

    monkeypatch.setenv("DUCKDB_PATH", str(without("marketing_spend") / "warehouse.duckdb"))
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    app.run()
    app.switch_page("views/acquisition.py").run()
    assert not app.exception, [e.message for e in app.exception]
    tables = [frame.value for frame in app.dataframe]
    assert len(tables) == 2  # the channel rows of fct_ltv_by_segment and fct_channel_economics
    for table in tables:
        assert set(table["cac"]) == {CAC_REASONS["no_spend_table"]}, table[["cac", "cac_status"]]
        assert table["marketing_spend"].isna().all()
    assert tables[1]["blended_cac"].isna().all()
    assert any("No marketing spend in the input" in element.value for element in app.info)


def test_the_unit_tests_hold_on_an_input_without_the_optional_tables(orders_only_warehouse: Path) -> None:
    """A user's folder build runs every unit test: a unit test's inputs are its given rows, so input_given and
    column_given answer true whenever dbt runs one that pins no var input_manifest (macro given_inputs_manifest),
    so an orders-only input builds. Before, seven failed on such an input
    (`clv build --raw-dir` of an orders-only folder was refused) while the fixtures, which skip unit tests, passed.
    The orders-only fixture is such a build (conftest.orders_only_warehouse: every unit test in its dbt run; a failed
    unit test fails it, named); here: every unit test of the project ran in it and passed."""
    target = orders_only_warehouse.parent / "target"
    unit_tests = set(json.loads((target / "manifest.json").read_text())["unit_tests"])
    results = {r["unique_id"]: r["status"] for r in json.loads((target / "run_results.json").read_text())["results"]}
    assert len(unit_tests) > 30
    assert {uid: results.get(uid, "did not run") for uid in unit_tests} == dict.fromkeys(unit_tests, "pass")
