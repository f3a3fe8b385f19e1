"""Benchmark of the five predictive dbt Python models, on a built warehouse's inputs.

Not a test. Reads the input relations of the models from a warehouse file (read-only) and times the functions the
models call:

* ``score``     int_customers_clv_predicted      clvlayer.clv_models.score_customers
* ``segments``  int_segments_clv_intervals       clvlayer.backtest.current_segment_intervals
* ``backtest``  int_segments_backtest_predicted  clvlayer.backtest.backtest_segment_predictions
* ``holdout``   int_customers_holdout_predicted  clvlayer.clv_models.predict_holdout (a refit night)
* ``fitted``    int_clv_models_fitted            clvlayer.clv_models.fit_or_reuse (first fit: no stored rows)
* ``pair``      ``score`` then ``segments`` in one process (as one dbt run builds them; saved: the segment table)

Each function runs in its own child process (so peak RSS is that function's, with its inputs), ``--repeat`` times;
the table shows the median wall and CPU seconds (user + sys of the process, all threads), the peak RSS of the child
and its RSS after reading the inputs. ``--save DIR`` writes each function's last output to DIR/<name>.parquet,
``--compare DIR`` compares this run's outputs with such a folder: per column, the largest relative difference
(``|a - b| / max(|a|, |b|)``) and whether non-numeric columns and nulls are identical.

The table: medians, each run's wall and CPU seconds, and the wall seconds of reading the inputs (as the models read
them: the segment columns by ``backtest.segmented_frame`` when the package has it; part of the node's time in dbt,
not of the function's).

Usage::

    DUCKDB_MEMORY_LIMIT=2GB .venv/bin/python benchmarks/bench_python_nodes.py \\
        /work/data/bench/run1M_b/scratch/incremental-snapshot/run/customer_value.duckdb --repeat 3 --save /tmp/before
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as clvlayer.dbt_runner sets it for the dbt process
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
if "--scripts" in sys.argv:  # another checkout's package (e.g. main's, for a before/after table)
    SCRIPTS = Path(sys.argv[sys.argv.index("--scripts") + 1]).resolve()
sys.path.insert(0, str(SCRIPTS))

FUNCTIONS = {
    "score": ("int_customers_clv_predicted", "clv_models.score_customers"),
    "segments": ("int_segments_clv_intervals", "backtest.current_segment_intervals"),
    "backtest": ("int_segments_backtest_predicted", "backtest.backtest_segment_predictions"),
    "holdout": ("int_customers_holdout_predicted", "clv_models.predict_holdout"),
    "fitted": ("int_clv_models_fitted", "clv_models.fit_or_reuse"),
    # the two current-date tables one after the other in one process, as one dbt run builds them (they share the
    # count draws: clvlayer.btyd.intervals._SharedGroupDraws); the saved output is the segment table
    "pair": ("int_customers_clv_predicted + int_segments_clv_intervals",
             "score_customers, then current_segment_intervals"),
}
SEGMENTED = ("int_customers_rfm_labelled", "int_customers_rfm_backtest")  # read by backtest.segmented_frame
DEFAULT_MAX_BUYERS = 50_000  # var ltv_backtest_max_buyers (dbt_project.yml)
DEFAULT_HORIZONS = "3,6,12"  # var ltv_backtest_horizons_months (dbt_project.yml)


def _read(warehouse: str, schema: str, names: list[str], order: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The relations as the models read them: the segment labels (int_customers_rfm_labelled, _backtest) with
    clvlayer.backtest.segmented_frame (Categoricals), the others by ``.df()``."""
    import duckdb

    from clvlayer import backtest

    segmented = getattr(backtest, "segmented_frame", None)  # an older --scripts package has none
    con = duckdb.connect(warehouse, read_only=True)
    try:
        return {name: segmented(con.sql(f"select * from {schema}.{name}"), order.get(name))
                if segmented is not None and name in SEGMENTED else
                con.sql(f"select * from {schema}.{name}" + (f" order by {order[name]}" if name in order else "")).df()
                for name in names}
    finally:
        con.close()


def _has(warehouse: str, schema: str, name: str) -> bool:
    """Whether the warehouse has the relation (a warehouse built before the value tier at the split has not)."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:
        return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? and "
                                "table_name = ?", [schema, name]).fetchone()[0])


def _call(name: str, warehouse: str, schema: str, max_buyers: int, horizons: str) -> Callable[[], pd.DataFrame]:
    """The function of ``name`` bound to its inputs (read here, as the dbt model reads them)."""
    from clvlayer import backtest, clv_models

    if name == "score":
        t = _read(warehouse, schema, ["int_customers_rfm_summarised", "int_clv_models_fitted",
                                      "int_clv_settings_resolved", "int_clv_model_selected"], {})
        return lambda: clv_models.score_customers(t["int_customers_rfm_summarised"], t["int_clv_models_fitted"],
                                                  t["int_clv_settings_resolved"], t["int_clv_model_selected"])
    if name == "segments":
        tiers = ["int_customers_holdout_tiered"] if _has(warehouse, schema, "int_customers_holdout_tiered") else []
        t = _read(warehouse, schema, ["int_customers_rfm_labelled", "int_clv_models_fitted",
                                      "int_clv_settings_resolved", "int_clv_model_selected",
                                      "int_customers_rfm_calibrated", *tiers], {})
        return lambda: backtest.current_segment_intervals(t["int_customers_rfm_labelled"], t["int_clv_models_fitted"],
                                                          t["int_clv_settings_resolved"], t["int_clv_model_selected"],
                                                          t["int_customers_rfm_calibrated"],
                                                          t.get("int_customers_holdout_tiered"))
    if name == "holdout":
        t = _read(warehouse, schema, ["int_customers_rfm_calibrated", "int_clv_models_fitted",
                                      "int_clv_settings_resolved"], {"int_customers_rfm_calibrated": "customer_id"})
        return lambda: clv_models.predict_holdout(t["int_customers_rfm_calibrated"], t["int_clv_models_fitted"],
                                                  t["int_clv_settings_resolved"])
    if name == "fitted":
        t = _read(warehouse, schema, ["int_customers_rfm_summarised", "int_customers_rfm_calibrated",
                                      "int_clv_settings_resolved"],
                  {"int_customers_rfm_summarised": "customer_id", "int_customers_rfm_calibrated": "customer_id"})
        return lambda: clv_models.fit_or_reuse(t["int_customers_rfm_summarised"], t["int_customers_rfm_calibrated"],
                                               t["int_clv_settings_resolved"], None)
    if name == "pair":
        score, segments = (_call(one, warehouse, schema, max_buyers, horizons) for one in ("score", "segments"))

        def pair() -> pd.DataFrame:  # the scores dropped before the segments run, as dbt drops a model's frame
            score()  # once it has written it (they used to stay alive beside the segment call)
            return segments()

        return pair
    t = _read(warehouse, schema, ["int_customers_rfm_backtest", "int_clv_settings_resolved",
                                  "int_clv_model_selected"], {})
    return lambda: backtest.backtest_segment_predictions(
        t["int_customers_rfm_backtest"], t["int_clv_settings_resolved"], t["int_clv_model_selected"],
        max_buyers=max_buyers, horizons=backtest.backtest_horizons(horizons))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args: argparse.Namespace) -> None:
    """Run one function ``--repeat`` times; print one JSON line of the measurements."""
    started = time.perf_counter()
    run = _call(args.child, args.warehouse, args.schema, args.max_buyers, args.horizons)
    read = time.perf_counter() - started
    inputs_rss = _rss_mb()
    walls, cpus, out = [], [], None
    for _ in range(args.repeat):
        started, cpu = time.perf_counter(), _cpu()
        out = run()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    if args.save:
        Path(args.save).mkdir(parents=True, exist_ok=True)
        assert out is not None
        out.to_parquet(Path(args.save) / f"{args.child}.parquet")
    print(json.dumps({"wall": walls, "cpu": cpus, "read": read, "rss_inputs": inputs_rss, "rss_peak": _rss_mb(),
                      "rows": 0 if out is None else len(out)}))


def compare(name: str, before_dir: str, after_dir: str) -> list[str]:
    """Per column of ``name``'s outputs: the largest relative difference, or what differs."""
    a = pd.read_parquet(Path(before_dir) / f"{name}.parquet")
    b = pd.read_parquet(Path(after_dir) / f"{name}.parquet")
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{name}: shape/columns differ {a.shape} vs {b.shape}"]
    lines = []
    for col in a.columns:
        if col == "fit_seconds":
            continue
        ca, cb = a[col], b[col]
        if not ca.isna().equals(cb.isna()):
            lines.append(f"{name}.{col}: nulls differ")
            continue
        if pd.api.types.is_numeric_dtype(ca) and not pd.api.types.is_bool_dtype(ca):
            x = ca.dropna().to_numpy(float)
            y = cb.dropna().to_numpy(float)
            same_inf = np.array_equal(np.isinf(x), np.isinf(y)) and np.array_equal(x[np.isinf(x)], y[np.isinf(y)])
            fin = np.isfinite(x) & np.isfinite(y)
            scale = np.maximum(np.abs(x[fin]), np.abs(y[fin]))
            rel = np.abs(x[fin] - y[fin]) / np.where(scale > 0, scale, 1.0)
            worst = float(rel.max()) if rel.size else 0.0
            bits = bool(np.array_equal(x, y))
            lines.append(f"{name}.{col}: max rel diff {worst:.3g}{' (bit-identical)' if bits else ''}"
                         f"{'' if same_inf else ' INF DIFFER'}")
        else:
            lines.append(f"{name}.{col}: {'identical' if ca.dropna().equals(cb.dropna()) else 'DIFFER'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("warehouse", help="a built warehouse (.duckdb), opened read-only")
    ap.add_argument("--schema", default="intermediate")
    ap.add_argument("--functions", nargs="+", choices=list(FUNCTIONS), default=["score", "segments", "backtest"])
    ap.add_argument("--repeat", type=int, default=3, help="runs per function; the table shows medians")
    ap.add_argument("--max-buyers", type=int, default=DEFAULT_MAX_BUYERS)
    ap.add_argument("--horizons", default=DEFAULT_HORIZONS, help="the backtest's horizons in months, e.g. 3,6,12 "
                    "(var ltv_backtest_horizons_months); an older --scripts package reads them from its input")
    ap.add_argument("--save", help="write each function's output to SAVE/<name>.parquet")
    ap.add_argument("--compare", help="compare the outputs with those saved in this folder (needs --save)")
    ap.add_argument("--scripts", help="the clvlayer package's parent folder to time (default: this checkout's)")
    ap.add_argument("--child", choices=list(FUNCTIONS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args)
        return 0
    rows = []
    for name in args.functions:
        cmd = [sys.executable, __file__, args.warehouse, "--schema", args.schema, "--repeat", str(args.repeat),
               "--max-buyers", str(args.max_buyers), "--horizons", args.horizons, "--child", name,
               "--scripts", str(SCRIPTS)]
        cmd += ["--save", args.save] if args.save else []
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.stderr.write(done.stderr)
            return done.returncode
        m: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((name, m))
    print(f"warehouse {args.warehouse}; package {SCRIPTS}; {args.repeat} run(s) per function, medians\n")
    print("| function | model | rows | wall s | CPU s | peak RSS MB | RSS after inputs MB | wall s per run | CPU s per run "
          "| inputs read s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, m in rows:
        model, fn = FUNCTIONS[name]
        print(f"| {fn} | {model} | {m['rows']:,} | {statistics.median(m['wall']):.2f} | "
              f"{statistics.median(m['cpu']):.2f} | {m['rss_peak']:,.0f} | {m['rss_inputs']:,.0f} | "
              f"{' / '.join(f'{v:.2f}' for v in m['wall'])} | {' / '.join(f'{v:.2f}' for v in m['cpu'])} | "
              f"{m['read']:.2f} |")
    if args.compare:
        if not args.save:
            ap.error("--compare needs --save (this run's outputs)")
        print()
        for name, _ in rows:
            print("\n".join(compare(name, args.compare, args.save)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
