"""Where an incremental run starts (clvlayer.incremental): a copy of the published warehouse only when its code,
settings and node selection are this run's; a published run that built another selection (or the whole graph when
this run selects) makes the run build in full (the incremental tables find changes by what their inputs rewrote in
the same run: a table a selective run left out would miss that run's changes)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from clvlayer.incremental import node_selection, start_from_published


def _published(path: Path, record: dict) -> Path:
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema audit")
        connection.execute("create table audit.build_run as select ? as run_id, ? as record",
                           [record["run_id"], json.dumps(record)])
    return path


@pytest.mark.parametrize("args, expected", [
    (None, []),
    (["--vars", "{a: 1}", "--threads", "2"], []),
    (["-s", "base_shop__orders", "fct_orders", "--vars", "{a: 1}"], ["-s", "base_shop__orders", "fct_orders"]),
    (["--select=+fct_orders", "--exclude", "tag:slow"], ["--select", "+fct_orders", "--exclude", "tag:slow"]),
    (["--full-refresh", "-m", "x"], ["-m", "x"]),
    # excluding tests leaves every model built
    (["--exclude", "resource_type:unit_test", "resource_type:test"], []),
    (["--exclude", "test_type:unit", "fct_orders"], ["--exclude", "fct_orders"]),
])
def test_node_selection(args, expected):
    assert node_selection(args) == expected


def test_a_published_whole_graph_run_is_copied(tmp_path):
    warehouse = _published(tmp_path / "w.duckdb", {"run_id": "r1", "state_fingerprint": "f", "selection": []})
    start = start_from_published(warehouse, tmp_path / "build.duckdb", "f")
    assert start.copied and start.from_run == "r1"
    assert (tmp_path / "build.duckdb").exists()


def test_a_published_selection_makes_a_whole_graph_run_full(tmp_path):
    warehouse = _published(tmp_path / "w.duckdb", {"run_id": "r2", "state_fingerprint": "f",
                                                   "selection": ["-s", "base_shop__order_items"]})
    start = start_from_published(warehouse, tmp_path / "build.duckdb", "f")
    assert not start.copied
    assert "r2" in start.note and "-s base_shop__order_items" in start.note and "built in full" in start.note
    assert not (tmp_path / "build.duckdb").exists()


def test_a_published_whole_graph_makes_a_selective_run_full(tmp_path):
    warehouse = _published(tmp_path / "w.duckdb", {"run_id": "r4", "state_fingerprint": "f"})
    start = start_from_published(warehouse, tmp_path / "build.duckdb", "f", ["-s", "+fct_orders"])
    assert not start.copied and "the whole graph" in start.note


def test_the_same_selection_again_is_copied(tmp_path):
    selection = ["-s", "+fct_ltv_backtest"]
    warehouse = _published(tmp_path / "w.duckdb", {"run_id": "r5", "state_fingerprint": "f", "selection": selection})
    assert start_from_published(warehouse, tmp_path / "build.duckdb", "f", list(selection)).copied


def test_other_code_makes_the_next_run_full(tmp_path):
    warehouse = _published(tmp_path / "w.duckdb", {"run_id": "r3", "state_fingerprint": "f"})
    start = start_from_published(warehouse, tmp_path / "build.duckdb", "g")
    assert not start.copied and "changed" in start.note
