"""`clv sql`: SQL on the published warehouse, read-only, with nothing to install beyond `make build`.

    clv sql "select ..."          one or more statements; each result is printed in turn
    clv sql < query.sql           the SQL from stdin (also `clv sql -`)
    clv sql --format csv|json ... machine-readable output (all rows)

The warehouse is opened read-only (DuckDB `read_only=True`): a write is refused by DuckDB, and the dashboard, BI tools
and other readers keep reading while it runs. A build that publishes meanwhile renames a new file over the old one;
this command reads whichever file was live when it opened it."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

FORMATS = ("table", "csv", "json")


class SqlError(Exception):
    """A statement DuckDB refused, with its number and text."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `sql` subcommand to the `clv` parser."""
    parser = commands.add_parser("sql", help='run SQL on the published warehouse, read-only: clv sql "select ..."')
    parser.add_argument("query", nargs="?", default="-",
                        help="SQL (one or more statements); without it, or with -, the SQL is read from stdin")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default), csv or json (an array of records; of such arrays for several "
                             "statements)")
    parser.add_argument("--max-rows", type=int, default=200,
                        help="rows a table shows (default 200; csv and json print every row)")
    parser.add_argument("--warehouse", help="DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    parser.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from clvlayer.project import Settings

    warehouse = Path(args.warehouse).resolve() if args.warehouse else Settings.from_env().warehouse
    if args.query == "-" and sys.stdin.isatty():
        print("clv sql: reading SQL from stdin; end it with Ctrl-D (or pass it: clv sql \"select ...\")",
              file=sys.stderr)
    sql = sys.stdin.read() if args.query == "-" else args.query
    try:
        results = run(warehouse, sql)
    except (FileNotFoundError, SqlError) as error:
        print(f"clv sql: {error}", file=sys.stderr)
        return 2 if isinstance(error, FileNotFoundError) else 1
    if args.format == "json" and len(results) > 1:  # one JSON document: an array of each statement's records
        json.dump([records(columns, rows) for columns, rows in results], sys.stdout, default=_json_value, indent=1)
        print()
        return 0
    for index, (columns, rows) in enumerate(results):
        if index and args.format == "table":
            print()
        write(columns, rows, args.format, sys.stdout, max_rows=args.max_rows)
    return 0


def run(warehouse: Path, sql: str) -> list[tuple[list[str], list[tuple]]]:
    """Every statement of `sql` on `warehouse` opened read-only: (column names, rows) of each statement that returns
    rows, in order."""
    import duckdb

    if not warehouse.exists():
        raise FileNotFoundError(f"no published warehouse at {warehouse}: run `make build` (or `clv build`) first, or "
                                "pass --warehouse FILE")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise SqlError(f"the SQL does not parse: {error}") from None
    if not statements:
        raise SqlError("no SQL given: pass a query (clv sql \"select ...\") or pipe a file (clv sql < query.sql)")
    results = []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for number, statement in enumerate(statements, start=1):
            try:
                cursor = connection.execute(statement)
            except duckdb.Error as error:
                where = f"statement {number} of {len(statements)}: " if len(statements) > 1 else ""
                raise SqlError(f"{where}{error}\n  in: {_first_line(statement.query)}") from None
            if cursor.description is not None:
                results.append(([column[0] for column in cursor.description], cursor.fetchall()))
    return results


def _first_line(sql: str) -> str:
    lines = [line for line in sql.strip().splitlines() if line.strip() and not line.strip().startswith("--")]
    return (lines[0][:100] + (" ..." if len(lines) > 1 or len(lines[0]) > 100 else "")) if lines else sql.strip()


def write(columns: Sequence[str], rows: Sequence[tuple], fmt: str, out: TextIO, max_rows: int = 200) -> None:
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        json.dump(records(columns, rows), out, default=_json_value, indent=1)
        out.write("\n")
    else:
        _table(columns, rows, out, max_rows)


def records(columns: Sequence[str], rows: Sequence[tuple]) -> list[dict]:
    return [dict(zip(columns, row)) for row in rows]


def _json_value(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _cell(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:g}"
    return str(value)


def _table(columns: Sequence[str], rows: Sequence[tuple], out: TextIO, max_rows: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows[:max_rows]:
        table.add_row(*(_cell(value) for value in row))
    console = Console(file=out, width=max(120, Console().width), highlight=False)
    console.print(table)
    more = f"; the first {max_rows} shown (--max-rows, or --format csv for all)" if len(rows) > max_rows else ""
    console.print(f"({len(rows):,} row{'s' if len(rows) != 1 else ''}{more})")
