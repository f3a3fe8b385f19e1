"""Every README command works after `make build`: each ```sql block of README.md, docs/analyst_guide.md and
docs/tour.md runs with `clv sql` against the sample warehouse, and no command block calls a `duckdb` executable that
`make build` does not install. `clv sql` itself: argument, stdin, csv / json, read-only, clear errors."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from clvlayer.project import PROJECT_ROOT
from clvlayer.sql_cli import SqlError, run

DOCUMENTS = ["README.md", "docs/analyst_guide.md", "docs/tour.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[tuple[str, int, str]]:
    """(document, line, text) of every fenced block of `language` in DOCUMENTS."""
    found = []
    for name in DOCUMENTS:
        text = (PROJECT_ROOT / name).read_text()
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                found.append((name, text[:match.start()].count("\n") + 1, match.group(2)))
    return found


SQL_BLOCKS = blocks("sql")


def test_the_documents_have_sql_blocks() -> None:
    assert {name for name, _, _ in SQL_BLOCKS} == set(DOCUMENTS)
    assert len(SQL_BLOCKS) >= 6


@pytest.mark.parametrize("name, line, sql", SQL_BLOCKS, ids=[f"{n}:{line}" for n, line, _ in SQL_BLOCKS])
def test_every_sql_block_runs_on_the_sample(sample_warehouse: Path, name: str, line: int, sql: str) -> None:
    """Each block's every statement runs and returns rows (an example that answers nothing is stale too)."""
    try:
        results = run(sample_warehouse, sql)
    except SqlError as error:
        pytest.fail(f"{name} line {line}: {error}")
    statements = len(duckdb.extract_statements(sql))
    assert len(results) == statements, f"{name} line {line}: a statement returned no result set"
    empty = [columns for columns, rows in results if not rows]
    assert empty == [], f"{name} line {line}: statements with no rows on the sample: {empty}"


def test_no_command_block_calls_a_duckdb_executable() -> None:
    """`make build` installs the duckdb Python package, not the DuckDB CLI: commands use `clv sql`."""
    calls = [(name, line) for name, line, text in blocks("bash") + blocks("sh") + blocks("")
             for command in text.splitlines() if re.match(r"\s*duckdb\s", command)]
    assert calls == []


def clv_sql(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clvlayer.cli", "sql", *args], input=stdin, capture_output=True,
                          text=True, cwd=PROJECT_ROOT, check=False, timeout=120)


def test_clv_sql_argument_stdin_and_formats(sample_warehouse: Path) -> None:
    warehouse = ["--warehouse", str(sample_warehouse)]
    query = "select segment_type, customers from marts.fct_ltv_by_segment where segment_key = 'current|overall:all'"
    table = clv_sql(*warehouse, query)
    assert table.returncode == 0, table.stderr
    assert "segment_type" in table.stdout and "4000" in table.stdout and "(1 row)" in table.stdout
    piped = clv_sql(*warehouse, "--format", "csv", stdin=query + ";\nselect 2 as two;")
    assert piped.returncode == 0, piped.stderr
    assert list(csv.reader(io.StringIO(piped.stdout))) == [["segment_type", "customers"], ["overall", "4000"],
                                                            ["two"], ["2"]]
    as_json = clv_sql(*warehouse, "--format", "json", "select date '2025-06-30' as d, 1.5::decimal(4, 2) as x")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [{"d": "2025-06-30", "x": 1.5}]


def test_clv_sql_is_read_only_and_says_what_is_wrong(sample_warehouse: Path, tmp_path: Path) -> None:
    warehouse = ["--warehouse", str(sample_warehouse)]
    before = sample_warehouse.stat().st_mtime_ns
    write = clv_sql(*warehouse, "create table marts.scratch as select 1 as x")
    assert write.returncode == 1 and "read-only" in write.stderr.lower(), write.stderr
    assert sample_warehouse.stat().st_mtime_ns == before
    unknown = clv_sql(*warehouse, "select 1;\nselect nope from marts.fct_orders")
    assert unknown.returncode == 1 and "statement 2 of 2" in unknown.stderr and "nope" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    missing = clv_sql("--warehouse", str(tmp_path / "absent.duckdb"), "select 1")
    assert missing.returncode == 2 and "make build" in missing.stderr
    nothing = clv_sql(*warehouse, stdin="-- only a comment\n")
    assert nothing.returncode == 1 and "no SQL given" in nothing.stderr
