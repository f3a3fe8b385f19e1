"""Each forward-looking value the layer publishes against the scenario harness's ground truth (issue 23).

For every scenario of clvlayer.generate_scenarios: generate the shop, build the nodes of fct_ltv_by_segment and
fct_predicted_clv_by_segment, and compare per segment (overall, acquisition channel, cohort month; segments with at
least --min-buyers buyers) at the current as-of date:

  expected_lifetime_months  vs the buyers' mean true lifetime, 1 month + first order to dropout, capped at 36
  ltv_formula_a             vs their mean revenue in the first 36 months from the first order
  ltv_formula_b             vs the same x the segment's margin rate (ltv_margin_rate)
  discounted_clv            vs the discounted first-36-month revenue x the margin rate
  average_predicted_clv     vs the discounted revenue of the next 36 months after the as-of date x the margin rate
  best_forward_value        (fct_predicted_clv_by_segment: the estimator the backtest chose) vs that estimator's truth

Prints, per scenario x segment type x estimator, the bias (mean relative error over the segments), the absolute
error (mean |relative error|) and the largest |relative error|; cohorts are split by the mart's maturity_status
(comparable / too_young_to_compare). Segments with at least --min-buyers buyers (200: the issue's grain).
Usage: .venv/bin/python benchmarks/bench_scenarios.py [--customers 8000] [--scenarios steady growing ...]
       [--out FOLDER [--reuse]]  (--reuse: compare the warehouses already in FOLDER, no generation or build)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from clvlayer.build import build_warehouse
from clvlayer.generate_scenarios import SCENARIOS, generate_scenario

NODES = ["+fct_ltv_by_segment", "+fct_predicted_clv_by_segment", "+fct_customer_ltv"]
ESTIMATORS = {
    "expected_lifetime_months": "true_lifetime_months",
    "ltv_formula_a": "revenue_first_36m",
    "ltv_formula_b": "margin_first_36m",
    "discounted_clv": "discounted_margin_first_36m",
    "average_predicted_clv": "discounted_margin_next_36m",
    "best_forward_value": None,  # the truth of the estimator the backtest chose
}
BEST_TRUTH = {"predicted_clv": "discounted_margin_next_36m", "formula_a": "revenue_first_36m",
              "formula_b": "margin_first_36m"}
TRUTH_COLUMNS = ["true_lifetime_months", "revenue_first_36m", "discounted_revenue_first_36m",
                 "discounted_revenue_next_36m"]


def build(raw: Path, folder: Path) -> Path:
    warehouse = folder / "warehouse.duckdb"
    args = ["--select", *NODES, "--indirect-selection", "cautious", "--exclude", "resource_type:unit_test"]
    record = build_warehouse(warehouse, raw, dbt_args=args, target_path=folder / "target")
    if not record.published:
        raise RuntimeError(f"build of {raw} failed: {record.failures}")
    return warehouse


def segments_vs_truth(warehouse: Path, truth: pd.DataFrame, min_buyers: int) -> pd.DataFrame:
    """One row per segment x estimator: published value, truth, relative error."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = con.execute("""
            select l.segment_type, l.segment_value, l.buyers, l.maturity_status, l.ltv_margin_rate,
                   l.expected_lifetime_months, l.ltv_formula_a, l.ltv_formula_b, l.discounted_clv,
                   p.average_predicted_clv, p.best_forward_value, p.best_forward_value_estimator
            from marts.fct_ltv_by_segment as l
            left join marts.fct_predicted_clv_by_segment as p on l.segment_key = p.segment_key
            where l.as_of_snapshot = 'current' and l.segment_type in ('overall', 'acquisition_channel', 'cohort_month')
                and l.buyers >= ?""", [min_buyers]).df()
        buyers = con.execute("select customer_id, acquisition_channel, cast(cohort_month as varchar) as cohort_month "
                             "from marts.fct_customer_ltv where has_completed_order").df()
    truth = truth.merge(buyers, on="customer_id")
    truth["overall"] = "all"
    rows = []
    for segment_type, column in [("overall", "overall"), ("acquisition_channel", "acquisition_channel"),
                                 ("cohort_month", "cohort_month")]:
        means = truth.groupby(column)[TRUTH_COLUMNS].mean()
        for _, seg in marts[marts["segment_type"] == segment_type].iterrows():
            if seg["segment_value"] not in means.index:
                continue
            t = means.loc[seg["segment_value"]]
            margin = seg["ltv_margin_rate"]
            targets = {"true_lifetime_months": t["true_lifetime_months"], "revenue_first_36m": t["revenue_first_36m"],
                       "margin_first_36m": t["revenue_first_36m"] * margin,
                       "discounted_margin_first_36m": t["discounted_revenue_first_36m"] * margin,
                       "discounted_margin_next_36m": t["discounted_revenue_next_36m"] * margin}
            for estimator, target in ESTIMATORS.items():
                target = target or BEST_TRUTH.get(seg["best_forward_value_estimator"])
                if target is None:
                    continue
                rows.append({"segment_type": segment_type, "segment_value": seg["segment_value"],
                             "buyers": seg["buyers"], "maturity_status": seg["maturity_status"],
                             "estimator": estimator, "value": seg[estimator], "truth": targets[target]})
    out = pd.DataFrame(rows)
    out["relative_error"] = out["value"] / out["truth"] - 1
    return out


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Bias and absolute error per segment type (cohorts split by maturity status) x estimator."""
    rows = rows.copy()
    is_cohort = rows["segment_type"] == "cohort_month"
    rows.loc[is_cohort, "segment_type"] = "cohort (" + rows.loc[is_cohort, "maturity_status"] + ")"
    grouped = rows.groupby(["segment_type", "estimator"])["relative_error"]
    table = pd.DataFrame({"segments": grouped.size(), "bias": grouped.mean(),
                          "abs_error": grouped.apply(lambda e: e.abs().mean()),
                          "max_abs_error": grouped.apply(lambda e: e.abs().max())})
    return table.reset_index()


SHORT = {"expected_lifetime_months": "lifetime", "ltv_formula_a": "formula A", "ltv_formula_b": "formula B",
         "discounted_clv": "discounted CLV", "average_predicted_clv": "predicted CLV",
         "best_forward_value": "best forward value"}


def compact(table: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario x segment type, one column per estimator: "bias / abs error / max abs error" in percent."""
    cells = table.assign(cell=lambda t: [f"{b:+.0%} / {a:.0%} / {m:.0%}"
                                         for b, a, m in zip(t["bias"], t["abs_error"], t["max_abs_error"])],
                         estimator=lambda t: t["estimator"].map(SHORT))
    wide = cells.pivot(index=["scenario", "segment_type"], columns="estimator", values="cell")
    order = list(dict.fromkeys(table["scenario"]))
    wide = wide.reset_index()
    wide["scenario"] = pd.Categorical(wide["scenario"], order)
    columns = [c for c in SHORT.values() if c in wide.columns]
    return wide.sort_values(["scenario", "segment_type"])[["scenario", "segment_type", *columns]]


def run(names: list[str], customers: int, seed: int, min_buyers: int, root: Path, reuse: bool = False
        ) -> pd.DataFrame:
    tables = []
    for name in names:
        started = time.monotonic()
        folder = root / name
        if reuse:
            truth = pd.read_parquet(folder / "raw" / "scenario_truth.parquet")
            warehouse = folder / "warehouse.duckdb"
        else:
            truth = generate_scenario(folder / "raw", name, customers=customers, seed=seed)
            warehouse = build(folder / "raw", folder)
        table = summary(segments_vs_truth(warehouse, truth, min_buyers))
        table.insert(0, "scenario", name)
        tables.append(table)
        print(f"{name}: {time.monotonic() - started:.0f} s", flush=True)
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=8_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-buyers", type=int, default=200, help="segments with fewer buyers are left out")
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--out", type=Path, help="keep the data and warehouses here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="compare the warehouses already in --out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.reuse and not args.out:
            parser.error("--reuse needs --out")
        table = run(args.scenarios, args.customers, args.seed, args.min_buyers, args.out or Path(tmp), args.reuse)
    pd.set_option("display.width", 200)
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print("\nbias / absolute error (mean over the segments, relative to the truth):")
    print(compact(table).to_markdown(index=False))


if __name__ == "__main__":
    main()
