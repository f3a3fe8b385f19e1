"""Saved queries exported at build time (clvlayer.exports): every saved query is a table of schema `exports` in the
published warehouse, row for row what `mf query --saved-query` answers; the run record counts them; a saved query
that does not plan fails the build naming it; `clv export` writes a table as CSV or Parquet."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from clvlayer.build import RunRecord, _export_saved_queries
from clvlayer.cli import main
from clvlayer.exports import EXPORT_SCHEMA, Export, ExportError, materialize, plan_exports, write_export_file
from clvlayer.publish import FAILED_FILE, embedded_record
from mf_batch import query_many
from test_metrics_service import _norm, manifest_of

EXPECTED = {"monthly_net_revenue", "ltv_by_acquisition_channel", "cac_by_acquisition_channel",
            "retention_by_cohort_month", "predicted_clv_by_tier"}


def _rows(database: Path, sql: str) -> tuple[list[tuple], list[str]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        result = connection.execute(sql)
        return [tuple(_norm(v) for v in row) for row in result.fetchall()], [d[0] for d in result.description]


def _saved_queries(warehouse: Path) -> dict[str, dict]:
    return {q["name"]: q for q in json.loads(manifest_of(warehouse).read_text())["saved_queries"]}


def test_every_saved_query_is_exported_and_counted(sample_warehouse: Path) -> None:
    saved = _saved_queries(sample_warehouse)
    assert set(saved) == EXPECTED
    record = embedded_record(sample_warehouse)
    assert set(record["exports"]) == {f"{EXPORT_SCHEMA}.{name}" for name in EXPECTED}
    assert all(rows > 0 for rows in record["exports"].values()), record["exports"]
    assert any(note.startswith("exported 5 saved-query tables") for note in record["notes"]), record["notes"]
    for table, count in record["exports"].items():
        assert _rows(sample_warehouse, f"select count(*) from {table}")[0] == [(count,)]


def test_exports_are_mf_query_saved_query_row_for_row(sample_warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / sample_warehouse.name  # the mf CLI opens its file read-write
    shutil.copyfile(sample_warehouse, copy)
    names = sorted(EXPECTED)
    for name, frame in zip(names, query_many(copy, names)):
        rows, columns = _rows(sample_warehouse, f"select * from {EXPORT_SCHEMA}.{name}")
        assert [c.lower() for c in columns] == [c.lower() for c in frame.columns], name
        want = sorted((tuple(_norm(v) for v in row) for row in frame.itertuples(index=False)), key=repr)
        assert sorted(rows, key=repr) == want, name
        assert len(rows) == len(frame) > 0, name


def test_a_saved_query_that_does_not_plan_fails_the_build_naming_it(sample_warehouse: Path, tmp_path: Path) -> None:
    manifest = json.loads(manifest_of(sample_warehouse).read_text())
    broken = {**manifest["saved_queries"][0], "name": "broken_revenue"}
    broken["query_params"] = {**broken["query_params"], "metrics": ["no_such_metric"]}
    broken["exports"] = [{"name": "broken_revenue", "config": {"export_as": "table", "schema_name": "exports"}}]
    manifest["saved_queries"].append(broken)
    target = tmp_path / "target"
    target.mkdir()
    (target / "semantic_manifest.json").write_text(json.dumps(manifest))
    build_file = tmp_path / sample_warehouse.name
    shutil.copyfile(sample_warehouse, build_file)

    record = RunRecord(run_id="test", started_at="")
    assert _export_saved_queries(build_file, record, target) is False
    assert record.error_kind == "exports"
    assert "saved query 'broken_revenue'" in record.failures[0] and "no_such_metric" in record.failures[0]
    assert "Fix:" in record.failures[0]
    assert "broken_revenue" in (tmp_path / FAILED_FILE).read_text()
    with pytest.raises(ExportError, match="broken_revenue"):
        plan_exports(json.dumps(manifest))


def test_a_manifest_is_planned_once_per_process(sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that builds many times (the test suite) plans a manifest's exports once: the second build of the
    same manifest text takes the kept plan (the same exports, the same SQL) without building MetricFlow's engine
    again; another manifest text is planned anew."""
    import clvlayer.serve as serve
    from clvlayer import exports

    text = manifest_of(sample_warehouse).read_text()
    exports._plan.cache_clear()
    engines, planner = [], serve.Planner
    monkeypatch.setattr(serve, "Planner", lambda manifest: engines.append(manifest) or planner(manifest))
    first = plan_exports(text)
    assert plan_exports(text) == first and len(engines) == 1
    assert {export.table for export in first} == EXPECTED and all(export.sql for export in first)
    other = plan_exports(json.dumps(json.loads(text), indent=1))  # the same content, another text: planned anew
    assert len(engines) == 2 and [(e.saved_query, e.table) for e in other] == [(e.saved_query, e.table) for e in first]


def test_stale_exports_are_dropped_and_unbuilt_models_skipped(sample_warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / sample_warehouse.name
    shutil.copyfile(sample_warehouse, database)
    kept = Export("monthly_net_revenue", EXPORT_SCHEMA, "monthly_net_revenue", "select 1 as x union all select 2")
    missing = Export("gone", EXPORT_SCHEMA, "gone", "select * from marts.no_such_model")
    done = materialize(database, [kept, missing])
    assert done.rows == {"exports.monthly_net_revenue": 2}
    assert list(done.skipped) == ["exports.gone"] and "no_such_model" in done.skipped["exports.gone"]
    tables, _ = _rows(database, "select table_name from information_schema.tables where table_schema = 'exports'")
    assert tables == [("monthly_net_revenue",)]


@pytest.mark.parametrize("selected", [False, True])
def test_a_missing_model_fails_a_full_build_and_is_skipped_in_a_selected_one(sample_warehouse: Path, tmp_path: Path,
                                                                            selected: bool) -> None:
    build_file = tmp_path / sample_warehouse.name
    shutil.copyfile(sample_warehouse, build_file)
    with duckdb.connect(str(build_file)) as connection:
        connection.execute("drop table marts.fct_customer_clv_predictions cascade")
    record = RunRecord(run_id="test", started_at="")
    assert _export_saved_queries(build_file, record, manifest_of(sample_warehouse).parent, selected) is selected
    if selected:
        assert set(record.exports) == {f"{EXPORT_SCHEMA}.{name}" for name in EXPECTED - {"predicted_clv_by_tier"}}
        assert any(note.startswith("export exports.predicted_clv_by_tier skipped") for note in record.notes)
    else:
        assert record.error_kind == "exports" and "exports.predicted_clv_by_tier" in record.failures[0]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_files_carry_the_published_table(sample_warehouse: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"retention.{fmt}"
    count = write_export_file(sample_warehouse, "retention_by_cohort_month", fmt, out)
    table, _ = _rows(sample_warehouse, f"select * from {EXPORT_SCHEMA}.retention_by_cohort_month order by all")
    with duckdb.connect() as connection:
        written = [tuple(_norm(v) for v in row) for row in connection.execute(
            f"select * from read_{fmt}('{out}') order by all").fetchall()]
    assert count == len(table) == len(written) > 0
    assert written == table


def test_clv_export_writes_the_file(sample_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "revenue.csv"
    assert main(["export", "monthly_net_revenue", "--warehouse", str(sample_warehouse), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[0] == "metric_time__month,net_revenue,orders"
    assert main(["export", "no_such_export", "--warehouse", str(sample_warehouse), "--out", str(out)]) == 2


def test_export_of_an_unknown_table_names_the_exports(sample_warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="exports.monthly_net_revenue"):
        write_export_file(sample_warehouse, "no_such_export", "csv", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="unknown format"):
        write_export_file(sample_warehouse, "monthly_net_revenue", "xlsx", tmp_path / "x.xlsx")
