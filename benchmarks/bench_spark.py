"""Benchmark: the same build on DuckDB and on Spark (docs/scaling.md). Not a test; prints a markdown table.

For each input (the embedded sample, and every --raw-dir folder) it runs, each as its own process into a fresh
temporary warehouse / Spark home, `clv build` (DuckDB) and `clv build --target spark` (a local Spark session,
SPARK_MASTER default local[2]), both with every data and unit test, and reports wall seconds (median of --repeats)
and the Spark / DuckDB ratio. Input folders are only read.

Usage::

    .venv/bin/python benchmarks/bench_spark.py [--raw-dir DIR ...] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLV = Path(sys.executable).with_name("clv")


def timed_build(engine: str, raw_dir: Path | None, work: Path) -> float:
    env = dict(os.environ, DUCKDB_PATH=str(work / "customer_value.duckdb"), SPARK_HOME_DIR=str(work / "spark"),
               SPARK_SCHEMA="bench")
    env.pop("RAW_DATA_DIR", None)
    command = [str(CLV), "build"] + (["--target", "spark"] if engine == "spark" else [])
    if raw_dir is not None:
        command += ["--raw-dir", str(raw_dir)]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-dir", action="append", default=[], help="input folder (repeatable)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-sample", action="store_true")
    args = parser.parse_args()
    inputs: list[tuple[str, Path | None]] = [] if args.skip_sample else [("embedded sample", None)]
    inputs += [(Path(d).name, Path(d).resolve()) for d in args.raw_dir]
    print("| input | DuckDB `clv build` (s) | Spark `clv build --target spark` (s) | Spark / DuckDB |")
    print("|---|---:|---:|---:|")
    for label, raw_dir in inputs:
        medians = {}
        for engine in ("duckdb", "spark"):
            runs = []
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory(prefix=f"bench_{engine}_") as work:
                    runs.append(timed_build(engine, raw_dir, Path(work)))
            medians[engine] = statistics.median(runs)
        print(f"| {label} | {medians['duckdb']:.1f} | {medians['spark']:.1f} | "
              f"{medians['spark'] / medians['duckdb']:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
