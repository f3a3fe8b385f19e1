"""Data tests sized to the change (macros/tests/scoped_tests.sql): every scoped kind still fails on a night that
breaks its assertion, including a break that involves a stored row the night did not write.

The tests are compiled once by dbt against a copy of the sample warehouse, whose rows a full build stamped before the
compile's run started: so every row is stored and the compiled SQL is the incremental night's (scoped) form, with
that run's start as the rewritten rows' stamp. Each case then plays a night on a fresh copy: it stamps the rows the
night "wrote" with that time (and stores whatever state it needs), and runs the compiled test query, as dbt would.

Kinds: uniqueness (the keys a night wrote counted over every row, stored ones included), a row-level test on a
staging view (scoped through its base table's keys), a row-level test on a stamped table, relationships (the
children a night wrote, and the stored children of the parents it rewrote).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from clvlayer.build import SCOPED_TESTS_ENV, RunRecord, scoped_tests
from clvlayer.dbt_runner import run_dbt
from clvlayer.incremental import Start
from clvlayer.incremental import test_filters as filters_of

TESTS = {
    "unique": "unique_stg_shop__order_items_order_item_id",
    "range": "accepted_range_stg_shop__order_items_quantity__1",
    "relationships": "relationships_stg_shop__order_items_order_id__order_id__ref_stg_shop__orders_",
    "unique_stamped": "unique_int_orders_enriched_order_id",
    "not_null_stamped": "not_null_int_order_items_joined_to_completed_orders_customer_id",
}
ITEMS = "staging.base_shop__order_items"


@pytest.fixture(scope="module")
def compiled(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """(the warehouse the tests were compiled on, {kind: compiled query}, the compile run's start)."""
    folder = tmp_path_factory.mktemp("scoped_compile")
    warehouse = folder / "warehouse.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    os.environ[SCOPED_TESTS_ENV] = "1"  # what `clv build --incremental` sets for a run it vouches for (build.py)
    try:
        outcome = run_dbt(["compile", "--select", *TESTS.values(), "--target-path", str(folder / "target")],
                          duckdb_path=warehouse)
    finally:
        os.environ.pop(SCOPED_TESTS_ENV, None)
    assert outcome.success, outcome.failures
    results = json.loads((folder / "target" / "run_results.json").read_text())["results"]
    by_name = {r["unique_id"].split(".")[2]: r["compiled_code"] for r in results}
    queries = {kind: by_name[name] for kind, name in TESTS.items()}
    (stamp,) = set(re.findall(r"batch_loaded_at = cast\('([^']+)' as timestamp\)", queries["unique"]))
    return warehouse, queries, stamp


def failures(warehouse: Path, query: str) -> int:
    with duckdb.connect(str(warehouse)) as connection:
        return connection.execute(f"select count(*) from ({query}) as failures").fetchone()[0]


def night(compiled: tuple[Path, dict[str, str], str], tmp_path: Path, *statements: str) -> Path:
    """A copy of the compiled-on warehouse after `statements` ({T}: the night's stamp)."""
    source, _, stamp = compiled
    tmp_path.mkdir(parents=True, exist_ok=True)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(source, warehouse)
    with duckdb.connect(str(warehouse)) as connection:
        for statement in statements:
            connection.execute(statement.replace("{T}", f"cast('{stamp}' as timestamp)"))
    return warehouse


def a_clean_line(warehouse: Path) -> tuple[str, str]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(f"""select order_id, product_id from {ITEMS} where quarantine_reason is null
                                      order by order_id, product_id limit 1""").fetchone()


def test_the_compiled_tests_are_scoped_and_pass_on_a_quiet_night(compiled, tmp_path: Path) -> None:
    _, queries, _ = compiled
    # a relationship to orders reads every row: orders is read by difference (state_tables diff), so a night can
    # delete an order key without writing a row of it, and its stored children must be checked too
    scoped = {kind for kind, query in queries.items() if "batch_loaded_at = cast(" in query}
    assert scoped == set(TESTS) - {"relationships"}, queries
    warehouse = night(compiled, tmp_path)
    assert {kind: failures(warehouse, query) for kind, query in queries.items()} == dict.fromkeys(TESTS, 0)


def test_unique_fails_when_a_written_key_collides_with_a_stored_one(compiled, tmp_path: Path) -> None:
    """A stored line (o, 'p|q') and a line the night wrote, (o|p, q): another state key, the same order_item_id
    'o|p|q'. Only the written row is stamped: the stored one is found through its key value."""
    order_id, product_id = a_clean_line(compiled[0])
    stored = night(compiled, tmp_path / "stored",
                   f"update {ITEMS} set product_id = '{product_id}|q' where order_id = '{order_id}'"
                   f" and product_id = '{product_id}'")
    assert failures(stored, compiled[1]["unique"]) == 0
    collided = night(compiled, tmp_path / "night",
                     f"update {ITEMS} set product_id = '{product_id}|q' where order_id = '{order_id}'"
                     f" and product_id = '{product_id}'",
                     f"""insert into {ITEMS} by name
                         select * replace ('{order_id}|{product_id}' as order_id, 'q' as product_id,
                                           {{T}} as batch_loaded_at)
                         from {ITEMS} where order_id = '{order_id}' and product_id = '{product_id}|q'""")
    assert failures(collided, compiled[1]["unique"]) == 1


def test_unique_on_a_stamped_table_fails_on_a_written_copy_of_a_stored_key(compiled, tmp_path: Path) -> None:
    table = "intermediate.int_orders_enriched"
    warehouse = night(compiled, tmp_path, f"""insert into {table}
        select * replace ({{T}} as batch_loaded_at) from {table} order by order_id limit 1""")
    assert failures(warehouse, compiled[1]["unique_stamped"]) == 1


def test_a_duplicate_among_stored_rows_only_is_left_to_the_run_that_wrote_them(compiled, tmp_path: Path) -> None:
    """The scope, shown: a night that wrote nothing does not re-read the stored rows (their run checked them)."""
    table = "intermediate.int_orders_enriched"
    warehouse = night(compiled, tmp_path, f"insert into {table} select * from {table} order by order_id limit 1")
    assert failures(warehouse, compiled[1]["unique_stamped"]) == 0


def test_row_level_tests_fail_on_a_written_row(compiled, tmp_path: Path) -> None:
    """A staging view (through its base table's keys) and a stamped table."""
    order_id, product_id = a_clean_line(compiled[0])
    line = f"order_id = '{order_id}' and product_id = '{product_id}'"
    stored_only = night(compiled, tmp_path / "stored", f"update {ITEMS} set quantity = 0 where {line}")
    assert failures(stored_only, compiled[1]["range"]) == 0
    written = night(compiled, tmp_path / "night",
                    f"update {ITEMS} set quantity = 0, batch_loaded_at = {{T}} where {line}")
    assert failures(written, compiled[1]["range"]) == 1
    lines = "intermediate.int_order_items_joined_to_completed_orders"
    no_customer = night(compiled, tmp_path / "lines", f"""update {lines} set customer_id = null,
        batch_loaded_at = {{T}} where order_item_id = (select min(order_item_id) from {lines})""")
    assert failures(no_customer, compiled[1]["not_null_stamped"]) == 1


def test_relationships_fail_on_a_written_orphan_and_on_a_stored_child_of_a_rewritten_parent(compiled,
                                                                                          tmp_path: Path) -> None:
    order_id, product_id = a_clean_line(compiled[0])
    orphan = night(compiled, tmp_path / "orphan", f"""update {ITEMS} set order_id = 'no-such-order',
        batch_loaded_at = {{T}} where order_id = '{order_id}' and product_id = '{product_id}'""")
    assert failures(orphan, compiled[1]["relationships"]) == 1
    # the night quarantined the order (its base row rewritten) and left its clean lines as they were stored
    with duckdb.connect(str(compiled[0]), read_only=True) as connection:
        (stored_lines,) = connection.execute(f"""select count(*) from staging.stg_shop__order_items
                                                 where order_id = '{order_id}'""").fetchone()
    parent_gone = night(compiled, tmp_path / "parent", f"""update staging.base_shop__orders
        set quarantine_reason = 'unknown_status', batch_loaded_at = {{T}} where order_id = '{order_id}'""")
    assert failures(parent_gone, compiled[1]["relationships"]) == stored_lines > 0


def test_outside_an_incremental_clv_build_every_test_reads_every_row(sample_warehouse: Path, tmp_path: Path) -> None:
    """`dbt test`, `clv dbt -- build` or `dbt retry` on a built warehouse: no run vouches that the stored rows passed
    every test, so the scoped tests read the whole table (and a not_null on a staging view matches null keys)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    names = [TESTS["unique"], TESTS["relationships"], TESTS["unique_stamped"]]
    outcome = run_dbt(["compile", "--select", *names, "--target-path", str(tmp_path / "target")],
                      duckdb_path=warehouse)
    assert outcome.success, outcome.failures
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert len(results) == 3
    for result in results:
        assert "batch_loaded_at" not in result["compiled_code"], result["unique_id"]


@pytest.mark.parametrize(("published", "args", "full_tests", "expected"), [
    ([], [], None, True),
    (None, [], None, False),  # a record from before test_filters: not known to have run every test
    (["--exclude", "resource_type:test"], [], None, False),  # the published run left data tests out
    ([], ["--exclude", "test_name:unique_fct_orders_order_id"], None, False),
    ([], ["--exclude", "resource_type:unit_test", "--vars", "{as_of_date: '2025-06-30'}"], None, True),
    (["--indirect-selection", "cautious"], ["-s", "+fct_orders", "--indirect-selection", "cautious"], None, True),
    ([], ["--indirect-selection", "cautious"], None, False),
    ([], [], "1", False),
])
def test_scoped_only_after_a_published_run_with_the_same_tests(monkeypatch: pytest.MonkeyPatch,
                                                               published: list[str] | None, args: list[str],
                                                               full_tests: str | None, expected: bool) -> None:
    if full_tests:
        monkeypatch.setenv("CLV_FULL_TESTS", full_tests)
    else:
        monkeypatch.delenv("CLV_FULL_TESTS", raising=False)
    record = RunRecord(run_id="r", started_at="t", test_filters=filters_of(args))
    assert scoped_tests(record, Start(True, "copied", "p", 0.0, published)) is expected
    assert scoped_tests(record, Start(False, "built in full")) is False
    assert scoped_tests(record, None) is False
