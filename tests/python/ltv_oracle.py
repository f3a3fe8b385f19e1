"""Independent pandas oracle of the LTV layer (expected lifetime, fct_ltv_by_segment, cohort curves), written from the
definitions in the docs blocks (docs/definitions/*.md) with the default vars; it shares no code with the dbt models.
The order-level basics (completion, net revenue, margin) come from the order oracle in test_oracle.py."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 30.4375
HORIZON_MONTHS = 36
LAPSED_DAYS = 180
MIN_AT_RISK = 30
TAIL_FIT_MONTHS = 6
MIN_CURVE_BUYERS = 200
MONTHLY_DISCOUNT = 0.01
MIN_TENURE_DAYS = 90
RETURN_BUCKET_DAYS = 30
RETURN_MAX_ORDER_BUCKET = 3
REALISED_HORIZONS = (6, 12, 24)
CAC_HORIZONS = (3, 6, 12, 24)


@dataclass
class Params:
    lapsed_days: int = LAPSED_DAYS
    min_at_risk: int = MIN_AT_RISK
    tail_fit_months: float = TAIL_FIT_MONTHS
    min_curve_buyers: int = MIN_CURVE_BUYERS
    horizon_months: int = HORIZON_MONTHS
    monthly_discount: float = MONTHLY_DISCOUNT

    @property
    def span_cap(self) -> float:
        """The lifespan is capped at the horizon minus the first month (the lifetime is 1 month + lifespan)."""
        return (self.horizon_months - 1) * DAYS_PER_MONTH

    @property
    def delta(self) -> float:
        return math.log1p(self.monthly_discount) / DAYS_PER_MONTH


def present_value(days: np.ndarray | float, delta: float) -> np.ndarray | float:
    """Integral of exp(-delta t) dt over [0, days]."""
    return days if delta == 0 else -np.expm1(-delta * np.asarray(days, float)) / delta


def survival(span: np.ndarray, lapsed: np.ndarray, tenure: np.ndarray, p: Params) -> tuple[np.ndarray | None, str]:
    """Daily Kaplan-Meier S(d) = P(lifespan > d), d = 0 .. floor(span cap), with the constant-hazard tail."""
    last = int(math.floor(p.span_cap))
    days = np.arange(last + 1)
    span = np.asarray(span, int)
    tenure = np.asarray(tenure, int)
    # at risk up to the lifespan when lapsed (churned there), else up to the last day whose churn is observable
    until = np.where(np.asarray(lapsed, bool), span, tenure - p.lapsed_days - 1)
    until = until[until >= 0]
    leaving = np.bincount(np.minimum(until, last + 1), minlength=last + 2)
    at_risk = (len(until) - np.concatenate(([0], np.cumsum(leaving)[:-1])))[: last + 1].astype(float)
    churned = np.bincount(span[np.asarray(lapsed, bool) & (span <= last)], minlength=last + 1)[: last + 1].astype(float)
    factor = np.where(at_risk > 0, 1 - churned / np.where(at_risk > 0, at_risk, 1), 1.0)
    s = np.cumprod(factor)
    observable = int(tenure.max()) - p.lapsed_days - 1
    if observable < 0:
        return None, "no_churn_observable"
    enough = np.flatnonzero(at_risk >= p.min_at_risk)
    if not enough.size:
        return None, "too_few_at_risk"
    end = min(last, observable, int(enough.max()))
    start = max(end - int(round(p.tail_fit_months * DAYS_PER_MONTH)), 0)
    if end < last:
        if s[end] == 0:
            s[end + 1:] = 0.0
        elif end == start:
            return None, "tail_not_estimable"
        else:
            hazard = math.log(s[start] / s[end]) / (end - start)
            s[end + 1:] = s[end] * np.exp(-hazard * (days[end + 1:] - end))
    return s, "estimated"


def return_rates(orders: pd.DataFrame, as_of: pd.Timestamp, p: Params) -> dict[tuple[int, int], float]:
    """P(another completed order | silent r days after the n-th), per (order bucket, recency bucket start), from the
    completed orders placed more than the lapse threshold before the date; cells with fewer than min_at_risk silent
    orders pool the order buckets, then 1."""
    done = orders[orders["completed"] & (orders["day"] <= as_of)].reset_index().sort_values(
        ["customer_id", "ordered_at", "order_id"])
    bucket = np.minimum(done.groupby("customer_id").cumcount() + 1, RETURN_MAX_ORDER_BUCKET)
    gap = (done.groupby("customer_id")["day"].shift(-1) - done["day"]).dt.days
    resolved = (as_of - done["day"]).dt.days > p.lapsed_days
    bucket, gap = bucket[resolved].to_numpy(), gap[resolved].to_numpy(float)
    rates = {}
    for r0 in range(0, p.lapsed_days // RETURN_BUCKET_DAYS * RETURN_BUCKET_DAYS + 1, RETURN_BUCKET_DAYS):
        silent = ~(gap <= r0)
        returned = silent & ~np.isnan(gap)
        for b in range(1, RETURN_MAX_ORDER_BUCKET + 1):
            if (silent & (bucket == b)).sum() >= p.min_at_risk:
                rates[(b, r0)] = (returned & (bucket == b)).sum() / (silent & (bucket == b)).sum()
            elif silent.sum() >= p.min_at_risk:
                rates[(b, r0)] = returned.sum() / silent.sum()
            else:
                rates[(b, r0)] = 1.0
    return rates


def project(span: np.ndarray, lapsed: np.ndarray, s: np.ndarray, p: Params,
            q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected lifetime months, discounted lifetime months, status) of buyers on curve s: lapsed buyers keep their
    observed lifetime; a censored buyer at lifespan d with return probability q expects d + q Σ_{k >= d} S(k) / S(d)
    days of lifespan."""
    cap, last, month = p.span_cap, int(math.floor(p.span_cap)), DAYS_PER_MONTH
    weight = np.ones(last + 1)
    weight[last] = cap - last
    k = np.arange(last + 1)
    suffix = np.cumsum((s * weight)[::-1])[::-1]
    discounted_suffix = np.cumsum((s * np.exp(-p.delta * k) * present_value(weight, p.delta))[::-1])[::-1]
    span = np.asarray(span, int)
    lapsed = np.asarray(lapsed, bool)
    at_horizon = ~lapsed & (span >= cap)
    projected = ~lapsed & ~at_horizon
    d = np.minimum(span, last)
    expected = np.where(lapsed, np.minimum(span, cap), np.where(at_horizon, cap, span + q * suffix[d] / s[d]))
    discounted = np.where(
        lapsed, present_value(month + np.minimum(span, cap), p.delta),
        np.where(at_horizon, present_value(month + cap, p.delta),
                 present_value(month + span, p.delta) + q * math.exp(-p.delta * month) * discounted_suffix[d] / s[d]))
    status = np.where(lapsed, "churned", np.where(at_horizon, "at_horizon", "projected"))
    assert (projected == (status == "projected")).all()
    return (month + expected) / month, discounted / month, status


def customers_as_of(orders: pd.DataFrame, attributes: pd.DataFrame, as_of: pd.Timestamp, current: bool,
                    p: Params) -> pd.DataFrame:
    """One row per customer known at the date, with the order facts, lifespan, tenure and lapse up to it."""
    placed = orders[orders["day"] <= as_of]
    done = placed[placed["completed"]]
    ids = sorted(set(attributes.index) | set(orders["customer_id"]))
    if not current:
        signed_up = attributes["created_at"].dt.normalize() <= as_of
        ids = sorted(set(attributes.index[signed_up]) | set(placed["customer_id"]))
    c = pd.DataFrame(index=pd.Index(ids, name="customer_id"))
    g = done.groupby("customer_id")
    c["completed"] = g.size().reindex(c.index).fillna(0).astype(int)
    c["net"] = placed.groupby("customer_id")["net"].sum().reindex(c.index).fillna(0.0)
    c["margin"] = placed.groupby("customer_id")["margin"].sum().reindex(c.index).fillna(0.0)
    c["first"], c["last"] = g["day"].min().reindex(c.index), g["day"].max().reindex(c.index)
    c["buyer"] = c["completed"] > 0
    c["span"] = (c["last"] - c["first"]).dt.days
    c["tenure"] = (as_of - c["first"]).dt.days
    c["recency"] = (as_of - c["last"]).dt.days
    c["lapsed"] = c["buyer"] & (c["recency"] > p.lapsed_days)
    c["observed"] = np.where(c["buyer"], c["span"] / DAYS_PER_MONTH + 1, np.nan)
    c["eligible"] = c["buyer"] & (c["tenure"] >= MIN_TENURE_DAYS)
    c["tenure_years"] = c["tenure"] / 365.25
    c["channel"] = attributes["acquisition_channel"].reindex(c.index).fillna("unknown")
    c["region"] = attributes["region"].reindex(c.index).fillna("unknown")
    c["member"] = attributes["is_loyalty_member"].reindex(c.index).fillna(False).astype(bool)
    age = as_of.year - attributes["birth_year"].reindex(c.index)
    c["age_band"] = pd.cut(age, [-np.inf, 25, 35, 45, 55, 65, np.inf], right=False,
                           labels=["<25", "25-34", "35-44", "45-54", "55-64", "65+"]).astype(object).fillna("unknown")
    c["cohort"] = c["first"].dt.to_period("M").dt.to_timestamp()
    return c


def lifetimes(c: pd.DataFrame, p: Params, orders: pd.DataFrame) -> pd.DataFrame:
    """Each buyer's expected and discounted lifetime on their channel's curve (all channels when too small)."""
    buyers = c[c["buyer"]]
    rates = return_rates(orders, (c["first"] + pd.to_timedelta(c["tenure"], unit="D")).max(), p)
    top = p.lapsed_days // RETURN_BUCKET_DAYS * RETURN_BUCKET_DAYS
    recency = np.minimum(buyers["recency"] // RETURN_BUCKET_DAYS * RETURN_BUCKET_DAYS, top).astype(int)
    order_bucket = np.minimum(buyers["completed"], RETURN_MAX_ORDER_BUCKET)
    q_all = pd.Series([rates[(b, r)] for b, r in zip(order_bucket, recency)], index=buyers.index, dtype=float)
    curves: dict[str, tuple[np.ndarray | None, str]] = {
        "all_channels": survival(buyers["span"].to_numpy(), buyers["lapsed"].to_numpy(), buyers["tenure"].to_numpy(), p)}
    for channel, part in buyers.groupby("channel"):
        if len(part) >= p.min_curve_buyers:
            curves[channel] = survival(part["span"].to_numpy(), part["lapsed"].to_numpy(), part["tenure"].to_numpy(), p)
    curve_of = buyers["channel"].where(buyers["channel"].isin(list(curves)), "all_channels")
    parts = []
    for curve, part in buyers.groupby(curve_of):
        s, status = curves[curve]
        out = pd.DataFrame(index=part.index)
        out["curve"] = curve
        if s is None:
            out["expected"], out["discounted"], out["status"] = np.nan, np.nan, "curve_not_estimable"
        else:
            out["expected"], out["discounted"], out["status"] = project(part["span"], part["lapsed"], s, p,
                                                                      q_all.loc[part.index].to_numpy())
        parts.append(out)
    out = pd.concat(parts) if parts else pd.DataFrame(columns=["curve", "expected", "discounted", "status"])
    out.attrs["curves"] = curves
    return out


def cohort_mature(cohort: pd.Series, months: int, as_of: pd.Timestamp) -> pd.Series:
    """The cohort month's last day plus h months is on or before the day after the as-of date."""
    verdict = {m: (m + pd.offsets.MonthEnd(0) + pd.DateOffset(months=months)) <= as_of + pd.Timedelta(days=1)
               for m in cohort.dropna().unique()}
    return cohort.map(verdict).fillna(False).astype(bool)


def first_months(orders: pd.DataFrame, c: pd.DataFrame, months: int, column: str) -> pd.Series:
    """Σ column of each buyer's completed orders before first day + h months (and up to the as-of date)."""
    done = orders[orders["completed"] & orders["customer_id"].isin(c.index[c["buyer"]])]
    ends = done["customer_id"].map(c["first"]) + pd.DateOffset(months=months)
    return done[done["day"] < ends].groupby("customer_id")[column].sum()


def segment_rows(orders: pd.DataFrame, attributes: pd.DataFrame, spend: pd.DataFrame, as_of: pd.Timestamp,
                 current: bool, p: Params = Params()) -> pd.DataFrame:
    """fct_ltv_by_segment for the segment types computable from the raw files: overall, channel, cohort, region,
    age band, loyalty."""
    placed = orders[orders["day"] <= as_of]
    c = customers_as_of(orders, attributes, as_of, current, p)
    life = lifetimes(c, p, placed)
    c = c.join(life)
    for h in REALISED_HORIZONS:
        mature = cohort_mature(c["cohort"], h, as_of) & c["buyer"]
        c[f"rev_{h}"] = first_months(placed, c, h, "net").reindex(c.index).where(mature)
    add_margins(placed, c)
    labels = {
        "overall": pd.Series("all", index=c.index),
        "acquisition_channel": c["channel"],
        "cohort_month": c["cohort"].dt.strftime("%Y-%m-%d").fillna("no_purchases"),
        "region": c["region"],
        "age_band": c["age_band"],
        "loyalty": pd.Series(np.where(c["member"], "member", "non_member"), index=c.index),
    }
    costs = channel_costs(c, spend, as_of)
    rows = []
    for segment_type, values in labels.items():
        for value, part in c.groupby(values):
            b = part[part["buyer"]]
            exposure = b["observed"].sum()
            eligible = b[b["eligible"]]
            row = {
                "segment_type": segment_type, "segment_value": value, "customers": len(part), "buyers": len(b),
                # sums over no buyer are null, as SQL's sum of nothing
                "realised_ltv_total": b["net"].sum() if len(b) else np.nan,
                "orders_to_date": b["completed"].sum() if len(b) else np.nan,
                "average_check": b["net"].sum() / b["completed"].sum() if len(b) else np.nan,
                "orders_per_month": b["completed"].sum() / exposure if len(b) else np.nan,
                "monthly_revenue_per_customer": b["net"].sum() / exposure if len(b) else np.nan,
                "ltv_margin_rate": b["margin"].sum() / b["net"].sum() if b["net"].sum() else np.nan,
                "monthly_margin_per_customer": b["margin"].sum() / exposure if len(b) else np.nan,
                "expected_lifetime_months": b["expected"].mean(),
                "discounted_lifetime_months": b["discounted"].mean(),
                "orders_per_year": (eligible["completed"].sum() / eligible["tenure_years"].sum()
                                    if len(eligible) else np.nan),
            }
            row["ltv_formula_a"] = row["monthly_revenue_per_customer"] * row["expected_lifetime_months"]
            row["ltv_formula_b"] = (row["average_check"] * row["orders_per_month"] * row["expected_lifetime_months"]
                                    * row["ltv_margin_rate"])
            row["discounted_clv"] = row["monthly_margin_per_customer"] * row["discounted_lifetime_months"]
            for h in REALISED_HORIZONS:
                row[f"realised_ltv_{h}m"] = b[f"rev_{h}"].mean()
            if segment_type == "acquisition_channel":
                row.update(costs.get(value, {"cac": np.nan, **{f"ltv_to_cac_{h}m": np.nan for h in CAC_HORIZONS}}))
                row["ltv_to_cac"] = row["ltv_formula_b"] / row["cac"] if row["cac"] > 0 else np.nan
            rows.append(row)
    return pd.DataFrame(rows).set_index(["segment_type", "segment_value"]).sort_index()


def channel_costs(c: pd.DataFrame, spend: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, dict[str, float]]:
    """Per channel: CAC over the channel-months with spend, and LTV/CAC at h months chained over the horizons."""
    spend = spend[spend["spend_date"] <= as_of]
    monthly = spend.groupby(["channel", spend["spend_date"].dt.to_period("M").dt.to_timestamp()])["amount"].sum()
    buyers = c[c["buyer"]]
    new = buyers.groupby(["channel", "cohort"]).size()
    out: dict[str, dict[str, float]] = {}
    for channel in set(buyers["channel"]):
        months = [m for (ch, m) in monthly.index if ch == channel]
        spent = sum(monthly[(channel, m)] for m in months)
        acquired = sum(int(new.get((channel, m), 0)) for m in months)
        row = {"cac": spent / acquired if months and acquired else np.nan}
        paid = [m for m in months if monthly[(channel, m)] > 0 and new.get((channel, m), 0) > 0]
        total, previous = 0.0, None
        for h in CAC_HORIZONS:
            mature = [m for m in paid if cohort_mature(pd.Series([m]), h, as_of).iloc[0]]
            members = buyers[(buyers["channel"] == channel) & buyers["cohort"].isin(mature)]
            gain = members[f"margin_{h}"].sum() - (members[f"margin_{previous}"].sum() if previous else 0.0)
            denominator = sum(monthly[(channel, m)] for m in mature)
            total = total + gain / denominator if denominator and not math.isnan(total) else math.nan
            row[f"ltv_to_cac_{h}m"] = total
            previous = h
        out[channel] = row
    return out


def add_margins(orders: pd.DataFrame, c: pd.DataFrame) -> None:
    for h in CAC_HORIZONS:
        c[f"margin_{h}"] = first_months(orders, c, h, "margin").reindex(c.index).fillna(0.0)


def pooled_cohort_curve(orders: pd.DataFrame, c: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """fct_cohort_curves for all channels: per age, revenue / customers of the cohorts whose month at that age has
    fully elapsed by the as-of date, accumulated over the ages."""
    done = orders[orders["completed"] & (orders["day"] <= as_of)]
    buyers = c[c["buyer"]]
    sizes = buyers.groupby("cohort").size()
    done = done.assign(cohort=done["customer_id"].map(buyers["cohort"]))
    done["age"] = (done["day"].dt.to_period("M") - done["cohort"].dt.to_period("M")).apply(lambda o: o.n)
    rows, cumulative, age = [], 0.0, 0
    while True:
        complete = [m for m in sizes.index if (m + pd.DateOffset(months=age)) + pd.offsets.MonthEnd(0) <= as_of]
        if not complete:
            break
        customers = sizes[complete].sum()
        revenue = done.loc[(done["age"] == age) & done["cohort"].isin(complete), "net"].sum()
        cumulative += revenue / customers
        rows.append((age, len(complete), customers, cumulative))
        age += 1
    return pd.DataFrame(rows, columns=["age", "cohorts", "customers", "curve"]).set_index("age")


def read_raw(raw: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    attributes = pd.read_csv(raw / "customers.csv", dtype={"customer_id": str}, parse_dates=["created_at"])
    spend = pd.read_csv(raw / "marketing_spend.csv", parse_dates=["spend_date"])
    return attributes.set_index("customer_id"), spend
