"""Where one `clv build` run's wall time goes: the clv wrapper's steps, dbt's start-up and parse, and the nodes by
resource type (models, data tests, unit tests, hooks), with the slowest data tests.

Not a test. Reads what a kept benchmark step left (`bench_incremental.py --keep DIR`): the run record (runs.jsonl,
the last line) and dbt's target/run_results.json::

    .venv/bin/python benchmarks/night_split.py DIR/incremental-snapshot/run [--wall 233.3] [--top 30]

A step folder of a full build (DIR/full-snapshot) works the same. `--wall` is the process's wall seconds as the
benchmark printed them (the part before the run record's start is the CLI's import and lock). Node seconds are
dbt's `execution_time`; "share of the wall" spreads each node's compile + execute span over dbt's threads, so the
shares add up to dbt's node phase.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _kind(unique_id: str) -> str:
    kind = unique_id.split(".")[0]
    return {"operation": "hooks", "test": "data tests", "unit_test": "unit tests", "model": "models"}.get(kind, kind)


def node_spans(results: list[dict]) -> list[tuple[str, str, float, float, float]]:
    """(kind, name, execution seconds, start, end) per node; start/end over its compile and execute timings."""
    spans = []
    for result in results:
        stamps = [_at(t[key]) for t in result["timing"] for key in ("started_at", "completed_at") if t.get(key)]
        start, end = (min(stamps), max(stamps)) if stamps else (0.0, 0.0)
        spans.append((_kind(result["unique_id"]), result["unique_id"].split(".")[2], result["execution_time"],
                      start, end))
    return spans


def split(run_dir: Path, wall: float | None, top: int) -> str:
    record = json.loads((run_dir / "runs.jsonl").read_text().splitlines()[-1])
    run_results = json.loads((run_dir / "target" / "run_results.json").read_text())
    spans = node_spans(run_results["results"])
    threads = max(1, len({r["thread_id"] for r in run_results["results"] if r["thread_id"] != "main"}))
    invoked = _at(run_results["metadata"]["invocation_started_at"])
    first = min(s[3] for s in spans if s[3])
    last = max(s[4] for s in spans)
    record_start, record_end = _at(record["started_at"]), _at(record["finished_at"])
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for kind, _, seconds, start, end in spans:
        by_kind[kind][0] += 1
        by_kind[kind][1] += seconds
        by_kind[kind][2] += (end - start) / (1 if kind == "hooks" else threads)
    rows = [("whole process (benchmark's wall)", f"{wall:.1f}" if wall else "-", ""),
            ("run record: lock taken -> published (1 s resolution)", f"{record_end - record_start:.0f}", ""),
            ("  before dbt: resolve inputs (checksums), copy of the published warehouse",
             f"{invoked - record_start:.1f}", f"copy {record.get('copy_seconds', 0):.1f} s"),
            ("  dbt start-up and parse (invocation -> first node)", f"{first - invoked:.1f}", ""),
            (f"  dbt nodes ({threads} threads)", f"{last - first:.1f}", ""),
            ("  after dbt: exports, row counts, record, publish", f"{record_end - _at(run_results['metadata']['generated_at']):.1f}",
             "; ".join(n for n in record.get("notes", []) if n.startswith("exported")))]
    if wall:
        rows.insert(1, ("  CLI start (imports, lock) and exit", f"{wall - (record_end - record_start):.1f}", "≈"))
    lines = ["| part | wall s | note |", "|---|---:|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "| node kind | nodes | summed execution s | share of the node phase's wall s |", "|---|---:|---:|---:|"]
    lines += [f"| {kind} | {n} | {total:.1f} | {share:.1f} |" for kind, (n, total, share) in sorted(by_kind.items())]
    tests = sorted((s for s in spans if s[0] == "data tests"), key=lambda s: -s[2])[:top]
    lines += ["", f"slowest {len(tests)} data tests (execution s):", ""]
    lines += [f"{seconds:6.2f}  {name}" for _, name, seconds, _, _ in tests]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a step's folder: runs.jsonl and target/ (see the docstring)")
    parser.add_argument("--wall", type=float, help="the process's wall seconds, as the benchmark printed them")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    print(split(args.run_dir, args.wall, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
