"""Compare every relation of some schemas of two warehouse files: the check that a speed change left every number
identical.

Not a test. For each table or view in the schemas (default: marts), in both files or only one:

* the columns (names and types) must be the same;
* `except all` both ways must be empty; when it is not, the rows are matched on every column that is not a float
  (DOUBLE/FLOAT) and the floats must agree to `--rel-tol` relative (default 1e-9): reordered float sums differ in
  the last bits, nothing else may;
* columns named in `--ignore-columns` (default fit_seconds: the wall-clock time of a model fit) are left out.

The BG/NBD and Gamma-Gamma fits (int_clv_models_fitted and what reads it) are not bit-reproducible: two builds of
the same commit on the same input differ by ~5e-7 relative in the estimates (the optimizer stops within its
tolerance, and its inputs carry float sums whose order DuckDB's threads choose). Compare those with
`--rel-tol 1e-6`, and the same pair of builds of one commit as the reference.

Usage::

    .venv/bin/python benchmarks/compare_warehouses.py BEFORE.duckdb AFTER.duckdb [--schemas marts,intermediate]

Exit code 0 when every relation matches, 1 otherwise (the differences are printed).
"""

from __future__ import annotations

import argparse
import sys

from clvlayer.warehouse_diff import compare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--schemas", default="marts", help="comma-separated schemas (default marts)")
    parser.add_argument("--rel-tol", type=float, default=1e-9)
    parser.add_argument("--ignore-columns", default="fit_seconds", help="comma-separated columns left out")
    args = parser.parse_args()
    ignored = [c for c in args.ignore_columns.split(",") if c]
    outcomes = compare(args.before, args.after, args.schemas.split(","), args.rel_tol, ignored)
    for outcome in outcomes:
        print(f"{'ok  ' if outcome.ok else 'DIFF'} {outcome.relation}: {outcome.rows:,} rows, {outcome.detail}")
    failed = [o for o in outcomes if not o.ok]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} relations match")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
