"""Benchmark of the whole warehouse build against the code its users would otherwise write.

Not a test. For each input size it generates (once, cached under --data-dir) the generator's full input and an
orders-only copy, then runs each step below as its own process and reports wall seconds (median of --repeats) and
the peak resident memory of the process tree:

* `full build, orders-only`   `clv build --raw-dir <orders-only>` (write, every test, publish)
* `full build, full input`    the same on the generator's full input (items, refunds, products, spend)
* `incremental run`           `clv build --incremental --raw-dir <full input>` on a copy of a warehouse built
                              from the input's earlier state: without its newest 0.1% of orders (and their items
                              and refunds), without its latest refunds of older orders (0.05% of orders: late
                              refunds) and with 0.02% of orders in an earlier status (completed, later cancelled or
                              refunded). The base build and the copy for each repeat are not timed; the run's own
                              copy of the published warehouse (write-audit-publish) is, and is reported
* `hand-written DuckDB`       one SQL script: customer facts + monthly cohort activity from the orders file
* `pandas`                    the same customer facts + cohort activity in pandas

Usage::

    .venv/bin/python benchmarks/bench_build.py --orders 1M,10M [--with-100m] [--repeats 3]
    # 100M orders with a memory limit and spilling (the warehouse settings reach every build through the environment;
    # the table's "spill MB" is the peak size of DUCKDB_TEMP_DIR, polled each second):
    DUCKDB_MEMORY_LIMIT=12GB DUCKDB_TEMP_DIR=/big/disk/spill .venv/bin/python benchmarks/bench_build.py \
        --orders 100M --steps orders-only --data-dir /big/disk/bench

The ratios in the table are against the hand-written DuckDB script and pandas measured in the same run (the machine
is shared: read ratios, not seconds). Results and analysis: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLV = PROJECT_ROOT / ".venv" / "bin" / "clv"
ORDERS_PER_CUSTOMER = 7.43  # the generator's default window gives ~7.43 orders per customer


@dataclass
class Timing:
    step: str
    seconds: list[float]
    peak_rss_mb: float
    ok: bool
    models: dict[str, float] = field(default_factory=dict)  # dbt model -> median execution seconds (builds only)
    path_seconds: float | None = None  # raw orders -> dim_customers: sum of the models on that path (builds only)
    notes: list[str] = field(default_factory=list)  # the incremental run's own notes (its copy of the warehouse)
    spill_mb: float = 0.0  # peak size of DuckDB's temp directory (only measured when DUCKDB_TEMP_DIR is set)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


SPILL = {"peak_mb": 0.0}  # the largest size DuckDB's temp directory (DUCKDB_TEMP_DIR) reached in the last run
LAST_RUN = {"stderr": ""}  # the stderr of the last run (a failed step's reason)


def _folder_mb(folder: Path) -> float:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # removed while we looked
            pass
    return total / 2**20


def _watch_spill(folder: Path, done: threading.Event) -> None:
    while not done.wait(1.0):
        SPILL["peak_mb"] = max(SPILL["peak_mb"], _folder_mb(folder))


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, bool]:
    """Run a command as a child process; return wall seconds, peak RSS of the process tree (MB) and success. With
    DUCKDB_TEMP_DIR set, the peak size of that folder (DuckDB's spill files) is polled each second into SPILL."""
    spill_dir = (env or os.environ).get("DUCKDB_TEMP_DIR")
    done, SPILL["peak_mb"] = threading.Event(), 0.0
    watcher = threading.Thread(target=_watch_spill, args=(Path(spill_dir), done), daemon=True) if spill_dir else None
    if watcher:
        watcher.start()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    LAST_RUN["stderr"] = stderr
    ok = os.waitstatus_to_exitcode(status) == 0
    if not ok:
        print(f"  FAILED: {' '.join(command)}\n{stderr[-2000:]}", file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, ok


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KM")) * factor)


def ensure_inputs(data_dir: Path, orders: int) -> tuple[Path, Path]:
    """Generator's full input for ~`orders` orders, and an orders-only folder beside it (cached)."""
    full = data_dir / f"full_{orders}"
    orders_only = data_dir / f"orders_only_{orders}"
    if not (full / "orders.parquet").exists():
        customers = int(orders / ORDERS_PER_CUSTOMER)
        print(f"generating {customers:,} customers (~{orders:,} orders) into {full}", file=sys.stderr)
        chunked = ["--chunk-customers", "1000000"] if customers > 2_000_000 else []  # memory: one chunk at a time
        subprocess.run([str(CLV), "generate", "--customers", str(customers), "--out", str(full), *chunked], check=True)
    if not (orders_only / "orders.parquet").exists():
        orders_only.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(full / "orders.parquet", orders_only / "orders.parquet")
    return full, orders_only


HANDWRITTEN_SQL = """
create temp table orders as
select order_id, customer_id, cast(ordered_at as timestamp) as ordered_at, cast(amount as double) as amount,
       coalesce(lower(status), 'completed') not in ('cancelled', 'refunded') as is_completed
from read_parquet($orders);
create temp table customer_facts as
select customer_id,
       count(*) as orders_placed,
       count(*) filter (where is_completed) as completed_orders,
       min(ordered_at) filter (where is_completed) as first_order_at,
       max(ordered_at) filter (where is_completed) as last_order_at,
       sum(amount) filter (where is_completed) as net_revenue,
       sum(amount) filter (where is_completed) / count(*) filter (where is_completed) as average_check,
       date_diff('day', min(ordered_at) filter (where is_completed), max(ordered_at) filter (where is_completed))
           as lifespan_days
from orders group by customer_id;
create temp table cohort_activity as
select date_trunc('month', f.first_order_at) as cohort_month,
       date_diff('month', date_trunc('month', f.first_order_at), date_trunc('month', o.ordered_at)) as month_number,
       count(distinct o.customer_id) as active_customers,
       sum(o.amount) as net_revenue
from orders as o join customer_facts as f using (customer_id)
where o.is_completed
group by all;
select (select count(*) from customer_facts), (select count(*) from cohort_activity);
"""


def handwritten_duckdb(orders_file: Path) -> None:
    import duckdb

    connection = duckdb.connect()
    for statement in filter(str.strip, HANDWRITTEN_SQL.split(";")):
        connection.execute(statement, {"orders": str(orders_file)} if "$orders" in statement else None)


def handwritten_pandas(orders_file: Path) -> None:
    import pandas as pd

    orders = pd.read_parquet(orders_file, columns=["order_id", "customer_id", "ordered_at", "amount", "status"])
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["amount"] = orders["amount"].astype("float64")
    orders["is_completed"] = ~orders["status"].fillna("completed").str.lower().isin(["cancelled", "refunded"])
    completed = orders[orders["is_completed"]]
    facts = completed.groupby("customer_id").agg(
        completed_orders=("order_id", "size"), first_order_at=("ordered_at", "min"),
        last_order_at=("ordered_at", "max"), net_revenue=("amount", "sum"))
    facts["orders_placed"] = orders.groupby("customer_id").size()
    facts["average_check"] = facts["net_revenue"] / facts["completed_orders"]
    facts["lifespan_days"] = (facts["last_order_at"].dt.normalize() - facts["first_order_at"].dt.normalize()).dt.days
    cohort = facts["first_order_at"].dt.to_period("M")
    activity = completed[["customer_id", "ordered_at", "amount"]].join(cohort.rename("cohort_month"), on="customer_id")
    order_month = activity["ordered_at"].dt.to_period("M")
    activity["month_number"] = (order_month.dt.year - activity["cohort_month"].dt.year) * 12 + (
        order_month.dt.month - activity["cohort_month"].dt.month)
    activity.groupby(["cohort_month", "month_number"]).agg(
        active_customers=("customer_id", "nunique"), net_revenue=("amount", "sum"))


def model_timings(target: Path) -> tuple[dict[str, float], float | None]:
    """Execution seconds of every model in dbt's run_results.json, and the sum over the models dim_customers is
    built from (its ancestors in manifest.json, staging included): the "raw orders -> customer facts" path."""
    results_file, manifest_file = target / "run_results.json", target / "manifest.json"
    if not results_file.exists():
        return {}, None
    results = json.loads(results_file.read_text())["results"]
    models = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results
              if r["unique_id"].startswith("model.")}
    if not manifest_file.exists() or "dim_customers" not in models:
        return models, None
    parents = json.loads(manifest_file.read_text())["parent_map"]
    path, todo = set(), ["model.customer_value.dim_customers"]
    while todo:
        node = todo.pop()
        if node.startswith("model.") and node not in path:
            path.add(node)
            todo += parents.get(node, [])
    return models, sum(models.get(node.split(".")[-1], 0.0) for node in path)


def measure(step: str, command: list[str], repeats: int, env: dict[str, str] | None = None,
            target: Path | None = None, setup: Callable[[], None] | None = None) -> Timing:
    """Run `command` `repeats` times (after an untimed `setup` each); with `target` (a dbt target path) also
    collect per-model timings."""
    seconds, peaks, ok, spill = [], [], True, 0.0
    per_model: dict[str, list[float]] = {}
    paths: list[float] = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        elapsed, peak, success = run_measured(command, env)
        spill = max(spill, SPILL["peak_mb"])
        seconds.append(elapsed)
        peaks.append(peak)
        ok = ok and success
        if target is not None:
            models, path = model_timings(target)
            for name, value in models.items():
                per_model.setdefault(name, []).append(value)
            if path is not None:
                paths.append(path)
    print(f"  {step}: median {statistics.median(seconds):.1f}s, peak {max(peaks):,.0f} MB", file=sys.stderr)
    return Timing(step, seconds, max(peaks), ok,
                  models={name: statistics.median(values) for name, values in per_model.items()},
                  path_seconds=statistics.median(paths) if paths else None, spill_mb=spill)


STEPS = ("duckdb", "pandas", "orders-only", "full", "incremental")

# The full input's earlier state (module docstring, `incremental run`), written as Parquet by DuckDB.
EARLIER_STATE_SQL = """
create temp table orders as select * from read_parquet($full || '/orders.parquet');
create temp table new_orders as
    select order_id from orders order by ordered_at desc, order_id limit (select count(*) // 1000 from orders);
create temp table old_orders as select * from orders anti join new_orders using (order_id);
create temp table refunds as
    select * from read_parquet($full || '/refunds.parquet') semi join old_orders using (order_id);
create temp table late_refunds as
    select refund_id from refunds order by refunded_at desc, refund_id
    limit (select count(*) // 2000 from orders);
copy (select * replace (
        case when status in ('cancelled', 'refunded') and hash(order_id) % 250 = 0 then 'completed' else status end
            as status,
        case when status in ('cancelled', 'refunded') and hash(order_id) % 250 = 0 then ordered_at else updated_at end
            as updated_at)
      from old_orders) to ($before || '/orders.parquet');
copy (select * from refunds anti join late_refunds using (refund_id)) to ($before || '/refunds.parquet');
copy (select * from read_parquet($full || '/order_items.parquet') semi join old_orders using (order_id))
    to ($before || '/order_items.parquet');
"""


def earlier_state(full: Path) -> Path:
    """The full input's earlier state beside it (cached): what the incremental run's base warehouse is built from."""
    import duckdb

    before = full.with_name(full.name + "_earlier")
    if (before / "orders.parquet").exists():
        return before
    before.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    for statement in filter(str.strip, EARLIER_STATE_SQL.split(";")):
        connection.execute(statement, {k: v for k, v in {"full": str(full), "before": str(before)}.items()
                                       if f"${k}" in statement})
    for name in ("customers", "products", "marketing_spend"):
        shutil.copyfile(full / f"{name}.parquet", before / f"{name}.parquet")
    return before


class BaseBuildFailed(RuntimeError):
    """The untimed build an incremental step starts from failed (the message ends with its stderr)."""


def incremental_step(full: Path, folder: Path, repeats: int, base_raw: Path | None = None,
                     step: str = "incremental run") -> Timing:
    """Build the base warehouse from `base_raw` (default: the earlier state of `full`; not timed), then time
    `clv build --incremental` on `full`, each repeat on a fresh copy of the base."""
    base, run = folder / "base", folder / "run"
    base.mkdir(parents=True, exist_ok=True)
    base_raw = base_raw or earlier_state(full)
    built = subprocess.run([str(CLV), "build", "--raw-dir", str(base_raw), "--warehouse",
                            str(base / "customer_value.duckdb")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    if built.returncode:
        raise BaseBuildFailed(f"the base build of {base_raw} failed (exit {built.returncode}): {built.stderr[-1500:]}")

    def fresh_copy() -> None:
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir()
        for name in ("customer_value.duckdb", "runs.jsonl"):
            shutil.copyfile(base / name, run / name)

    target = run / "target"
    timing = measure(step, [str(CLV), "build", "--incremental", "--raw-dir", str(full), "--warehouse",
                                         str(run / "customer_value.duckdb"), "--", "--target-path", str(target)],
                     repeats, target=target, setup=fresh_copy)
    last = json.loads((run / "runs.jsonl").read_text().splitlines()[-1])
    timing.notes = [note for note in last.get("notes", []) if note.startswith("incremental")]
    return timing


def bench_size(orders: int, data_dir: Path, repeats: int, scratch: Path, steps: set[str]) -> list[Timing]:
    full, orders_only = ensure_inputs(data_dir, orders)
    me = [sys.executable, str(Path(__file__).resolve())]
    timings = []
    if "duckdb" in steps:
        timings.append(measure("hand-written DuckDB", [*me, "--step", "duckdb", str(orders_only / "orders.parquet")],
                               repeats))
    if "pandas" in steps:
        timings.append(measure("pandas", [*me, "--step", "pandas", str(orders_only / "orders.parquet")], repeats))
    builds = [("full build, orders-only", orders_only, "orders-only"), ("full build, full input", full, "full")]
    for label, raw, _ in (build for build in builds if build[2] in steps):
        folder = scratch / f"{label.replace(' ', '_').replace(',', '')}_{orders}"
        warehouse, target = folder / "customer_value.duckdb", folder / "target"
        folder.mkdir(parents=True, exist_ok=True)
        timings.append(measure(label, [str(CLV), "build", "--raw-dir", str(raw), "--warehouse", str(warehouse),
                                       "--", "--target-path", str(target)], repeats, target=target))
    if "incremental" in steps:
        timings.append(incremental_step(full, scratch / f"incremental_{orders}", repeats))
    return timings


def print_table(results: dict[int, list[Timing]]) -> None:
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| input | step | median s | runs | peak RSS MB | spill MB | µs per order | vs DuckDB script | vs pandas |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for orders, timings in results.items():
        by_step = {t.step: t for t in timings}
        duck = by_step["hand-written DuckDB"].median if "hand-written DuckDB" in by_step else None
        pandas = by_step["pandas"].median if "pandas" in by_step else None
        for t in timings:
            flag = "" if t.ok else " (FAILED)"
            versus_duck = f"{t.median / duck:.1f}x" if duck else "-"
            versus_pandas = f"{t.median / pandas:.2f}x" if pandas else "-"
            print(f"| {orders:,} orders | {t.step}{flag} | {t.median:.1f} | {len(t.seconds)} | {t.peak_rss_mb:,.0f} "
                  f"| {t.spill_mb:,.0f} | {t.median / orders * 1e6:.1f} | {versus_duck} | {versus_pandas} |")
        full = by_step.get("full build, full input")
        incremental = by_step.get("incremental run")
        if full and incremental:
            print(f"| {orders:,} orders | incremental run / full build (full input) | "
                  f"{incremental.median / full.median:.0%} | | | | | | |")
            for note in incremental.notes:
                print(f"| {orders:,} orders | ({note}) | | | | | | | |")


def print_models(results: dict[int, list[Timing]], top: int) -> None:
    print(f"\nslowest models (median execution seconds in dbt's run_results.json), top {top}:")
    for orders, timings in results.items():
        for t in timings:
            if not t.models:
                continue
            ranked = sorted(t.models.items(), key=lambda item: -item[1])[:top]
            listed = ", ".join(f"{name} {seconds:.1f}" for name, seconds in ranked)
            print(f"- {orders:,} orders, {t.step}: {listed}")


def print_paths(results: dict[int, list[Timing]]) -> None:
    print("\nraw orders -> dim_customers (sum of the models on the path, from the full build) vs pandas:")
    print("| input | build | path s | pandas s | pandas / path |")
    print("|---|---|---:|---:|---:|")
    for orders, timings in results.items():
        if "pandas" not in {t.step for t in timings}:
            continue
        pandas = {t.step: t for t in timings}["pandas"].median
        for t in timings:
            if t.path_seconds:
                print(f"| {orders:,} orders | {t.step} | {t.path_seconds:.1f} | {pandas:.1f} "
                      f"| {pandas / t.path_seconds:.2f}x |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", default="1M,10M", help="comma-separated input sizes (orders), e.g. 1M,10M")
    parser.add_argument("--with-100m", action="store_true", help="also run 100M orders (long; needs ~60 GB disk)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--top-models", type=int, default=10, help="slowest models listed per build")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / "data" / "bench"))
    parser.add_argument("--step", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("input", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        {"duckdb": handwritten_duckdb, "pandas": handwritten_pandas}[args.step](Path(args.input))
        return 0
    sizes = [parse_size(s) for s in args.orders.split(",")] + ([100_000_000] if args.with_100m else [])
    results: dict[int, list[Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="clv-bench-") as scratch:
        for orders in sizes:
            print(f"== {orders:,} orders", file=sys.stderr)
            results[orders] = bench_size(orders, Path(args.data_dir), args.repeats, Path(scratch),
                                         set(args.steps.split(",")))
    print_table(results)
    print_models(results, args.top_models)
    print_paths(results)
    print(json.dumps({str(k): [t.__dict__ for t in v] for k, v in results.items()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
