"""The expected lifetime and formula A of the pandas oracle against the scenario harness's truth, seconds per shop
(issue 23). The oracle (tests/python/ltv_oracle.py) reproduces the SQL per customer to 1e-9
(test_oracle.py::test_sql_matches_pandas_oracle), so the published column equals benchmarks/bench_scenarios.py's
lifetime and formula A without a dbt build; the other columns change only the return probability q of each buyer:

  published   int_return_rates_estimated: per order bucket (1, 2, 3+), the cure-Lomax law fitted to the gaps' Kaplan-
              Meier curve, read at the buyer's silence (the same q for a buyer of 2 orders 20 or 400 days apart)
  true_alive  the generator's alive flag (diagnostic: the weighted curve and the projection with the right q)
  own_pace    candidate: after the n-th order at s days of lifespan the customer never returns with probability c_n
              (per order bucket), else the next gap is Lomax(scale alpha + s, shape r + n - 1) - the exponential gap
              of a gamma-mixed rate, updated by the customer's own n - 1 gaps; r, alpha and c_n by maximum likelihood
              on every gap (censored at the as-of date); q = (1 - c) G(d) / (c + (1 - c) G(d)) at silence d

Each cell: bias / mean |error| / largest |error| over the segments with >= --min-buyers buyers, all the seeds' segments
together, relative to the truth (lifetime: the buyers' mean true lifetime; formula A: their mean first-36-month
revenue). Cohorts are split as the mart's maturity_status (most buyers younger than 9 months: too young).
Usage: PYTHONPATH=scripts .venv/bin/python benchmarks/bench_lifetime_oracle.py --data-dir /tmp/x [--seeds 7 11]
       [--scenarios short_history ...] [--customers 8000]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from clvlayer.generate_scenarios import SCENARIOS, TRUTH_FILE, generate_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import ltv_oracle as lo  # noqa: E402
from test_oracle import oracle  # noqa: E402

YOUNG_TENURE_MONTHS = 9
QSource = Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], pd.Series]


def shop(data_dir: Path, name: str, seed: int, customers: int) -> tuple[Path, pd.DataFrame]:
    """The scenario's raw folder (generated once) and the oracle's order table (cached)."""
    raw = data_dir / f"{name}_{seed}" / "raw"
    if not (raw / TRUTH_FILE).exists():
        generate_scenario(raw, name, customers=customers, seed=seed)
    cache = raw.parent / "oracle_orders.parquet"
    if not cache.exists():
        orders = oracle(raw)["orders"][["customer_id", "ordered_at", "day", "net", "margin", "completed"]]
        orders.to_parquet(cache)
    return raw, pd.read_parquet(cache)


def gaps(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per completed order: its number n, the lifespan so far, the days to the next order or to the as-of date."""
    done = orders[orders["completed"] & (orders["day"] <= as_of)].reset_index().sort_values(
        ["customer_id", "ordered_at", "order_id"])
    by_customer = done.groupby("customer_id")["day"]
    following = by_customer.shift(-1)
    return pd.DataFrame({
        "n": done.groupby("customer_id").cumcount().to_numpy() + 1,
        "span": (done["day"] - by_customer.transform("min")).dt.days.to_numpy(float),
        "until": (following.fillna(as_of) - done["day"]).dt.days.to_numpy(float),
        "returned": following.notna().to_numpy(),
    })


def gap_survival(span: np.ndarray, n: np.ndarray, days: np.ndarray, r: float, alpha: float) -> np.ndarray:
    """P(next gap > days | alive), the customer's own pace: Lomax(scale alpha + span, shape r + n - 1)."""
    scale = alpha + span
    return (scale / (scale + days)) ** (r + n - 1)


def fit_own_pace(g: pd.DataFrame) -> tuple[float, float, np.ndarray]:
    """(r, alpha, never-return share per order bucket) by maximum likelihood; a gap is known to the day."""
    n, span, until, returned = g["n"].to_numpy(), g["span"].to_numpy(), g["until"].to_numpy(), g["returned"].to_numpy()
    bucket = np.minimum(n, lo.RETURN_MAX_ORDER_BUCKET) - 1

    def negative_log_likelihood(theta: np.ndarray) -> float:
        r, alpha = np.exp(theta[:2])
        cure = 1 / (1 + np.exp(-theta[2:]))[bucket]
        stay = gap_survival(span, n, until, r, alpha)
        back = gap_survival(span, n, until + 1, r, alpha)
        likelihood = np.where(returned, (1 - cure) * (stay - back), cure + (1 - cure) * stay)
        return float(-np.log(np.maximum(likelihood, 1e-300)).sum())

    start = np.array([0.0, np.log(30.0), *[-1.0] * lo.RETURN_MAX_ORDER_BUCKET])
    theta = minimize(negative_log_likelihood, start, method="Nelder-Mead",
                     options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6}).x
    return float(np.exp(theta[0])), float(np.exp(theta[1])), 1 / (1 + np.exp(-theta[2:]))


def q_published(c: pd.DataFrame, orders: pd.DataFrame, latent: pd.DataFrame) -> pd.Series:
    return lo.return_probabilities(c, lo.Params(), orders)


def q_true_alive(c: pd.DataFrame, orders: pd.DataFrame, latent: pd.DataFrame) -> pd.Series:
    return latent["is_alive_at_end"].reindex(c.index[c["buyer"]]).astype(float)


def q_own_pace(c: pd.DataFrame, orders: pd.DataFrame, latent: pd.DataFrame) -> pd.Series:
    buyers = c[c["buyer"]]
    r, alpha, cures = fit_own_pace(gaps(orders, orders["day"].max()))
    n = buyers["completed"].to_numpy(int)
    cure = cures[np.minimum(n, lo.RETURN_MAX_ORDER_BUCKET) - 1]
    stay = gap_survival(buyers["span"].to_numpy(float), n, buyers["recency"].to_numpy(float), r, alpha)
    return pd.Series((1 - cure) * stay / (cure + (1 - cure) * stay), index=buyers.index)


Q_SOURCES: dict[str, QSource] = {"published": q_published, "true_alive": q_true_alive, "own_pace": q_own_pace}


def segment_errors(raw: Path, orders: pd.DataFrame, source: QSource) -> pd.DataFrame:
    """Per segment (overall, channel, cohort month; >= 1 buyer): relative error of the lifetime and formula A."""
    attributes, _ = lo.read_raw(raw)
    p = lo.Params()
    c = lo.customers_as_of(orders, attributes, orders["day"].max(), True, p)
    latent = pd.read_parquet(raw / "customers_truth.parquet").set_index("customer_id")
    life = lo.lifetimes(c, p, orders, source(c, orders, latent))
    truth = pd.read_parquet(raw / TRUTH_FILE).set_index("customer_id")
    b = c[c["buyer"]].join(life[["expected", "alive"]]).join(truth[["true_lifetime_months", "revenue_first_36m"]])
    b["young"] = b["tenure"] / lo.DAYS_PER_MONTH < YOUNG_TENURE_MONTHS
    rows = []
    for segment_type, labels in [("overall", pd.Series("all", index=b.index)), ("channel", b["channel"]),
                                 ("cohort", b["cohort"])]:
        for value, part in b.groupby(labels):
            too_young = segment_type == "cohort" and part["young"].sum() * 2 > len(part)
            rows.append({
                "segment_type": f"{segment_type} (too young)" if too_young else segment_type,
                "segment": str(value), "buyers": len(part),
                "lifetime": part["expected"].mean() / part["true_lifetime_months"].mean() - 1,
                "formula_a": (part["net"].sum() / part["alive"].sum() * part["expected"].mean()
                              / part["revenue_first_36m"].mean() - 1),
            })
    return pd.DataFrame(rows)


def cell(errors: pd.Series) -> str:
    return f"{errors.mean():+.1%} / {errors.abs().mean():.1%} / {errors.abs().max():.1%}"


def table(errors: pd.DataFrame, min_buyers: int) -> pd.DataFrame:
    """One row per scenario x segment type; per metric, one column per source of q."""
    kept = errors[errors["buyers"] >= min_buyers]
    grouped = kept.groupby(["scenario", "segment_type", "q"], sort=False)
    cells = grouped.agg(segments=("buyers", "size"), lifetime=("lifetime", cell), formula_a=("formula_a", cell))
    wide = cells.unstack("q")
    sources = list(dict.fromkeys(kept["q"]))
    out = pd.DataFrame({"segments": wide[("segments", sources[0])]})
    for metric in ("lifetime", "formula_a"):
        for q in sources:
            out[f"{metric}, {q}"] = wide[(metric, q)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="scenario shops are generated here once")
    parser.add_argument("--seeds", type=int, nargs="*", default=[7, 11])
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument("--q", nargs="*", default=list(Q_SOURCES), choices=list(Q_SOURCES))
    parser.add_argument("--customers", type=int, default=8_000)
    parser.add_argument("--min-buyers", type=int, default=200)
    args = parser.parse_args()
    frames = []
    for name in args.scenarios:
        for seed in args.seeds:
            raw, orders = shop(args.data_dir, name, seed, args.customers)
            for q in args.q:
                frames.append(segment_errors(raw, orders, Q_SOURCES[q]).assign(scenario=name, seed=seed, q=q))
    errors = pd.concat(frames, ignore_index=True)
    errors.to_csv(args.data_dir / "lifetime_oracle_errors.csv", index=False)
    pd.set_option("display.width", 250)
    print(table(errors, args.min_buyers).reset_index().to_markdown(index=False))


if __name__ == "__main__":
    main()
