"""Cost of counting raw rows at the source, against reading the same file with DuckDB.

    .venv/bin/python benchmarks/bench_input.py [--rows 1000000 10000000] [--repeat 3]

For each size it writes two orders CSVs (plain, and every field quoted with a line break inside one field per row)
and one Parquet file, then times (median of --repeat runs, seconds):
  scan      - clvlayer.csvscan.scan_csv, the record count the audit compares with staging (CSV)
  resolve   - clvlayer.inputs.resolve_inputs on the folder (the scan, the header, the UTF-8 check)
  read      - DuckDB reading the file through the resolver's reader call (what staging does first)
and prints a table with scan / read, the counting's share of the reading.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from clvlayer.csvscan import scan_csv
from clvlayer.inputs import resolve_inputs

ORDERS = """select 'o' || i as order_id, 'C' || (i % 100000) as customer_id,
    timestamp '2023-01-01' + to_minutes(i % 500000) as ordered_at, round(random() * 200, 2) as amount,
    'completed' as status, 'USD' as currency, null as updated_at from range({rows}) as t(i)"""
QUOTED = """select 'o' || i as order_id, 'C' || (i % 100000) as customer_id,
    timestamp '2023-01-01' + to_minutes(i % 500000) as ordered_at, round(random() * 200, 2) as amount,
    'completed' || chr(10) || 'really' as status, 'USD' as currency, null as updated_at from range({rows}) as t(i)"""


def _median(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _write(folder: Path, sql: str, rows: int, options: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    extension = "parquet" if "parquet" in options else "csv"
    path = folder / f"orders.{extension}"
    with duckdb.connect() as connection:
        connection.execute(f"copy ({sql.format(rows=rows)}) to '{path}' ({options})").fetchall()
    return path


def _read(reader_sql: str) -> None:
    with duckdb.connect() as connection:
        connection.execute(f"create table t as select * from {reader_sql}").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'file':<28} {'rows':>11} {'MB':>7} {'scan s':>7} {'resolve s':>9} {'read s':>7} {'scan/read':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            for label, sql, options in (("csv, plain", ORDERS, "header"),
                                        ("csv, all quoted + line break", QUOTED, "header, force_quote *"),
                                        ("parquet", ORDERS, "format parquet")):
                folder = Path(tmp) / f"{rows}_{label.replace(' ', '_').replace(',', '')}"
                path = _write(folder, sql, rows, options)
                manifest = resolve_inputs(folder, work_dir=folder)
                entry = manifest.tables["orders"]
                assert entry.source_rows == rows, (label, entry.source_rows)
                scan = (_median(args.repeat, lambda: scan_csv(path, delimiter=","))
                        if path.suffix == ".csv" else float("nan"))
                resolve = _median(args.repeat, lambda: resolve_inputs(folder, work_dir=folder))
                read = _median(args.repeat, lambda: _read(entry.reader_sql))
                size = path.stat().st_size / 2**20
                ratio = f"{scan / read:.2f}" if path.suffix == ".csv" else "-"
                print(f"{label:<28} {rows:>11,} {size:>7.0f} {scan:>7.2f} {resolve:>9.2f} {read:>7.2f} {ratio:>9}")


if __name__ == "__main__":
    main()
