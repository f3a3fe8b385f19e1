"""Benchmark of the nightly run (issue 21): a full build of the next day's export against `clv build --incremental`
after it, in both input shapes, and the hand-written floor.

Not a test. For the input size it generates (once, cached under --data-dir) the generator's shop (bench_build's full
input: day 0) and its next day's export in both shapes (clvlayer.generate_nightly: +0.1% new orders, 0.05% earlier
orders turned cancelled or refunded with their refund rows, a changed customer, a day of spend; `snapshot/day1` has
every table rewritten, `batch/day1` has orders as a folder of daily batch files plus the day's new file), then runs
each step as its own process and reports wall seconds (median of --repeats) and the peak RSS of the process:

* `full build, snapshot`        `clv build --raw-dir snapshot/day1` (write, every test, publish)
* `incremental, snapshot`       `clv build --incremental --raw-dir snapshot/day1` on a copy of a warehouse built from
                                `snapshot/day0` (that build and the copy are not timed; the run's own copy of the
                                published warehouse, write-audit-publish, is)
* `full build, batch`           `clv build --raw-dir batch/day1`
* `incremental, batch`          the same as the snapshot's, from `batch/day0` to `batch/day1`
* `hand-written DuckDB`         bench_build's floor script (customer facts + monthly cohort activity) on the day-1
                                orders file
* `pandas`                      bench_build's pandas version of the same

then the ratios the issue's targets are stated in (incremental / full build of the same export, full build / floor
script) and the slowest nodes of each dbt run (target/run_results.json: models and tests). A step that fails (for
instance a batch-folder input before staging reads folders) is listed as FAILED with the reason, and the others run.

Usage::

    .venv/bin/python benchmarks/bench_incremental.py --orders 1M [--repeats 1] [--data-dir data/bench]

Read ratios, not seconds: the machine is shared. Results: docs/benchmarks.md, "Nightly runs".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import (CLV, LAST_RUN, PROJECT_ROOT, BaseBuildFailed, Timing, ensure_inputs,  # noqa: E402
                         incremental_step, measure, parse_size)

STEPS = ("full-snapshot", "incremental-snapshot", "full-batch", "incremental-batch", "duckdb", "pandas")
LABELS = {"full-snapshot": "full build, snapshot", "incremental-snapshot": "incremental, snapshot",
          "full-batch": "full build, batch", "incremental-batch": "incremental, batch",
          "duckdb": "hand-written DuckDB", "pandas": "pandas"}


def ensure_nightly(data_dir: Path, orders: int) -> Path:
    """The shop of ~`orders` orders (day 0) and its next day in both shapes, under data_dir/nightly_<orders>."""
    shop, _ = ensure_inputs(data_dir, orders)
    nightly = data_dir / f"nightly_{orders}"
    if not (nightly / "nightly.json").exists():
        print(f"writing the nightly exports of {shop} into {nightly}", file=sys.stderr)
        subprocess.run([str(CLV), "generate-nightly", "--shop", str(shop), "--out", str(nightly), "--days", "1",
                        "--format", "parquet"], check=True)
    return nightly


def slowest_nodes(target: Path, top: int) -> list[tuple[str, float]]:
    """The `top` slowest nodes (models, tests, seeds) of the dbt run whose target path is `target`."""
    results_file = target / "run_results.json"
    if not results_file.exists():
        return []
    results = json.loads(results_file.read_text())["results"]
    ranked = sorted(((r["unique_id"].split(".")[0] + " " + r["unique_id"].split(".")[2], r["execution_time"])
                     for r in results), key=lambda item: -item[1])
    return ranked[:top]


def reason(stderr: str) -> str:
    """The end of a failed run's stderr on one line (rich wraps the CLI's messages)."""
    return " ".join(stderr.split())[-400:]


def failed(step: str, stderr: str) -> Timing:
    return Timing(step, [float("nan")], 0.0, False, notes=[reason(stderr)])


def full_build(step: str, raw: Path, folder: Path, repeats: int) -> tuple[Timing, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "target"
    timing = measure(step, [str(CLV), "build", "--raw-dir", str(raw), "--warehouse",
                            str(folder / "customer_value.duckdb"), "--", "--target-path", str(target)], repeats,
                     target=target)
    timing.notes += [] if timing.ok else [reason(LAST_RUN["stderr"])]
    return timing, target


def run_steps(nightly: Path, steps: list[str], repeats: int, scratch: Path) -> tuple[list[Timing], dict]:
    timings, targets = [], {}
    me = [sys.executable, str(Path(__file__).resolve().parent / "bench_build.py")]
    for key in steps:
        label, shape = LABELS[key], key.partition("-")[2]
        print(f"  {label}", file=sys.stderr)
        if key in ("duckdb", "pandas"):
            timings.append(measure(label, [*me, "--step", key, str(nightly / "snapshot" / "day1" / "orders.parquet")],
                                   repeats))
        elif key.startswith("full"):
            timing, targets[label] = full_build(label, nightly / shape / "day1", scratch / key, repeats)
            timings.append(timing)
        else:
            try:
                timings.append(incremental_step(nightly / shape / "day1", scratch / key, repeats,
                                                base_raw=nightly / shape / "day0", step=label))
                targets[label] = scratch / key / "run" / "target"
            except BaseBuildFailed as error:
                print(f"  {label}: {error}", file=sys.stderr)
                timings.append(failed(label, str(error)))
    return timings, targets


def _seconds(timing: Timing | None) -> float | None:
    return timing.median if timing and timing.ok else None


def print_table(orders: int, timings: list[Timing]) -> None:
    by_step = {t.step: t for t in timings}
    floor = _seconds(by_step.get("hand-written DuckDB"))
    print(f"\n{orders:,} orders; machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    print("| step | median s | runs | peak RSS MB | µs per order | vs floor script |")
    print("|---|---:|---:|---:|---:|---:|")
    for t in timings:
        if not t.ok:
            reason = "; ".join(t.notes) or "the run's stderr is printed above the table"
            print(f"| {t.step} (FAILED: {reason}) | - | {len(t.seconds)} | - | - | - |")
            continue
        versus = f"{t.median / floor:.1f}x" if floor else "-"
        print(f"| {t.step} | {t.median:.1f} | {len(t.seconds)} | {t.peak_rss_mb:,.0f} "
              f"| {t.median / orders * 1e6:.2f} | {versus} |")
    print("\n| ratio | value | target (issue 21) |")
    print("|---|---:|---|")
    for shape in ("snapshot", "batch"):
        full, incremental = (_seconds(by_step.get(f"{kind}, {shape}")) for kind in ("full build", "incremental"))
        value = f"{incremental / full:.0%}" if full and incremental else "- (a step failed or did not run)"
        print(f"| incremental / full build, {shape} | {value} | <= 10% at 10M (moonshot <= 3%) |")
    full = _seconds(by_step.get("full build, snapshot"))
    value = f"{full / floor:.1f}x" if full and floor else "-"
    print(f"| full build / hand-written DuckDB script | {value} | <= 13x and <= 60 s at 10M |")
    for t in timings:
        for note in t.notes if t.ok else []:
            print(f"- {t.step}: {note}")


def print_nodes(timings: list[Timing], targets: dict[str, Path], top: int) -> None:
    print(f"\nslowest nodes (execution seconds in dbt's run_results.json, last repeat), top {top}:")
    for t in timings:
        if t.step in targets and t.ok:
            listed = ", ".join(f"{name} {seconds:.1f}" for name, seconds in slowest_nodes(targets[t.step], top))
            print(f"- {t.step}: {listed}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", default="1M", help="input size in orders: 100k, 1M, 10M")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--top-nodes", type=int, default=8, help="slowest dbt nodes listed per run")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / "data" / "bench"))
    parser.add_argument("--keep", help="scratch folder kept after the run (warehouses, target/ of each step), "
                        "instead of a temporary one")
    args = parser.parse_args()
    orders, steps = parse_size(args.orders), args.steps.split(",")
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown} (expected some of {', '.join(STEPS)})")
    nightly = ensure_nightly(Path(args.data_dir), orders)
    with contextlib.ExitStack() as stack:
        scratch = args.keep or stack.enter_context(tempfile.TemporaryDirectory(prefix="clv-bench-nightly-"))
        timings, targets = run_steps(nightly, steps, args.repeats, Path(scratch))
        print_table(orders, timings)
        print_nodes(timings, targets, args.top_nodes)
    print(json.dumps([t.__dict__ for t in timings]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
