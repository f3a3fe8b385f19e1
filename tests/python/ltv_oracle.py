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
FIT_STEP_DAYS = 7
FIT_GRID_STEPS = 50
FIT_SHAPES = (0.1, 5.0)
FIT_SCALES = (1.0, 5000.0)
WEIGHT_TOLERANCE = 1e-9
MIN_CURVE_BUYERS = 200
MONTHLY_DISCOUNT = 0.01
MIN_TENURE_DAYS = 90
RETURN_MAX_ORDER_BUCKET = 3
REALISED_HORIZONS = (6, 12, 24)
CAC_HORIZONS = (3, 6, 12, 24)


@dataclass
class Params:
    lapsed_days: int = LAPSED_DAYS
    min_at_risk: int = MIN_AT_RISK
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


def cure_lomax(days: np.ndarray | float, shape: float, scale: float, cure: float) -> np.ndarray | float:
    """cure + (1 - cure) (1 + t / scale)^-shape."""
    return cure + (1 - cure) * (1 + np.asarray(days, float) / scale) ** -shape


def fit_cure_lomax(days: np.ndarray, surv: np.ndarray, weight: np.ndarray) -> tuple[float, float, float, int] | None:
    """Weighted least squares over the log-spaced grid; the cure share in closed form (clipped to [0, 1]); ties to the
    smaller shape, then scale. (shape, scale, cure, points) or None without points."""
    if not len(days):
        return None
    grid = np.arange(FIT_GRID_STEPS) / max(FIT_GRID_STEPS - 1, 1)
    shapes = FIT_SHAPES[0] * (FIT_SHAPES[1] / FIT_SHAPES[0]) ** grid
    scales = FIT_SCALES[0] * (FIT_SCALES[1] / FIT_SCALES[0]) ** grid
    t, y, w = np.asarray(days, float), np.asarray(surv, float), np.asarray(weight, float)
    lomax = (1 + t[None, None, :] / scales[None, :, None]) ** -shapes[:, None, None]
    dot = (w * (y - lomax) * (1 - lomax)).sum(-1)
    norm = (w * (1 - lomax) ** 2).sum(-1)
    cross = (w * (y - lomax) ** 2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cure = np.clip(np.where(norm != 0, dot / np.where(norm != 0, norm, 1), np.nan), 0, 1)
    error = cross - 2 * cure * dot + cure * cure * norm
    i, j = np.unravel_index(np.nanargmin(error), error.shape)  # row-major: smaller shape, then scale, first
    return float(shapes[i]), float(scales[j]), float(cure[i, j]), len(t)


def kaplan_meier(until: np.ndarray, weight: np.ndarray, event: np.ndarray, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted daily KM on days 0..last: (survival, at risk); leaving after min(until, last + 1), an event counts only
    on a day of the grid; a day on which all at risk have the event makes S zero."""
    until = np.minimum(np.asarray(until, int), last + 1)
    leaving = np.bincount(until, weights=weight, minlength=last + 2)
    events = np.bincount(until, weights=np.where(until <= last, event, 0.0), minlength=last + 2)[: last + 1]
    at_risk = (np.sum(weight) - np.concatenate(([0.0], np.cumsum(leaving)[:-1])))[: last + 1]
    all_gone = np.cumsum((events > 0) & (events >= at_risk - WEIGHT_TOLERANCE)) > 0
    partial = (events > 0) & (events < at_risk - WEIGHT_TOLERANCE)
    log_s = np.cumsum(np.where(partial, np.log1p(-events / np.where(partial, at_risk, 1)), 0.0))
    return np.where(all_gone, 0.0, np.exp(log_s)), at_risk


def fit_points(s: np.ndarray, at_risk: np.ndarray, p: Params, until: int) -> tuple[np.ndarray, ...]:
    days = np.arange(len(s))
    keep = (days <= until) & (at_risk >= p.min_at_risk) & (days % FIT_STEP_DAYS == 0)
    return days[keep], s[keep], at_risk[keep]


def survival(span: np.ndarray, tenure: np.ndarray, q: np.ndarray, p: Params) -> tuple[np.ndarray | None, str]:
    """Daily weighted Kaplan-Meier S(d) = P(lifespan > d), d = 0 .. floor(span cap): each buyer churned at their
    lifespan with weight 1 - q and at risk up to their tenure with weight q; past the observed days the fitted
    cure-Lomax law scaled to meet the curve."""
    last = int(math.floor(p.span_cap))
    span, tenure, q = np.asarray(span, int), np.asarray(tenure, int), np.asarray(q, float)
    until = np.concatenate((span, tenure))
    weight = np.concatenate((1 - q, q))
    s, at_risk = kaplan_meier(until, weight, np.concatenate((1 - q, np.zeros_like(q))), last)
    if np.sum(1 - q) == 0:
        return None, "no_churn_observable"
    enough = np.flatnonzero(at_risk >= p.min_at_risk)
    if not enough.size:
        return None, "too_few_at_risk"
    end = min(last, int(tenure.max()), int(enough.max()))
    if end < last and s[end] > 0:
        fit = fit_cure_lomax(*fit_points(s, at_risk, p, end))
        if fit is None or fit[3] < 3:
            return None, "tail_not_estimable"
        shape, scale, cure, _ = fit
        days = np.arange(last + 1)
        s[end + 1:] = s[end] * cure_lomax(days[end + 1:], shape, scale, cure) / cure_lomax(end, shape, scale, cure)
    elif end < last:
        s[end + 1:] = 0.0
    return s, "estimated"


def return_rates(orders: pd.DataFrame, as_of: pd.Timestamp, p: Params) -> dict[int, np.ndarray]:
    """Per order bucket: P(another completed order | silent d days after the n-th), d = 0 .. floor(span cap), from the
    cure-Lomax fit to the weighted-free KM of the gaps (censored at the as-of date); a bucket with fewer than 3 fit
    points uses all buckets pooled, then 1."""
    last = int(math.floor(p.span_cap))
    done = orders[orders["completed"] & (orders["day"] <= as_of)].reset_index().sort_values(
        ["customer_id", "ordered_at", "order_id"])
    bucket = np.minimum(done.groupby("customer_id").cumcount() + 1, RETURN_MAX_ORDER_BUCKET).to_numpy()
    gap = (done.groupby("customer_id")["day"].shift(-1) - done["day"]).dt.days.to_numpy(float)
    returned = ~np.isnan(gap)
    until = np.where(returned, gap, (as_of - done["day"]).dt.days.to_numpy(float)).astype(int)

    def fit(mask: np.ndarray) -> tuple[float, float, float, int] | None:
        if not mask.any():
            return None
        g, at_risk = kaplan_meier(until[mask], np.ones(mask.sum()), returned[mask].astype(float), last)
        found = fit_cure_lomax(*fit_points(g, at_risk, p, last))
        return found if found is not None and found[3] >= 3 else None

    pooled = fit(np.ones(len(bucket), bool))
    days = np.arange(last + 1)
    rates = {}
    for b in range(1, RETURN_MAX_ORDER_BUCKET + 1):
        own = fit(bucket == b)
        chosen = own or pooled
        if chosen is None:
            rates[b] = np.ones(last + 1)
        else:
            shape, scale, cure, _ = chosen
            rates[b] = 1 - cure / cure_lomax(days, shape, scale, cure)
    return rates


def project(span: np.ndarray, tenure: np.ndarray, s: np.ndarray, p: Params,
            q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected lifetime months, discounted lifetime months, status) of buyers on curve s: at lifespan d and tenure
    T with return probability q, d + q (T - d + Σ_{k >= T} S(k) / S(T)) days of lifespan (d + q (cap - d) when T is
    past the cap)."""
    cap, last, month = p.span_cap, int(math.floor(p.span_cap)), DAYS_PER_MONTH
    weight = np.ones(last + 1)
    weight[last] = cap - last
    k = np.arange(last + 1)
    suffix = np.cumsum((s * weight)[::-1])[::-1]
    discounted_suffix = np.cumsum((s * np.exp(-p.delta * k) * present_value(weight, p.delta))[::-1])[::-1]
    span, tenure, q = np.asarray(span, int), np.asarray(tenure, int), np.asarray(q, float)
    at_horizon = span >= cap
    old = tenure >= cap
    t = np.minimum(tenure, last)
    with np.errstate(invalid="ignore", divide="ignore"):
        after = np.nan_to_num(np.where(s[t] != 0, suffix[t] / np.where(s[t] != 0, s[t], 1), 0.0))
        discounted_after = np.where(s[t] != 0, discounted_suffix[t] / np.where(s[t] != 0, s[t], 1), 0.0)
    pv = lambda days: present_value(month + np.asarray(days, float), p.delta)  # noqa: E731
    expected = np.where(at_horizon, cap, np.where(old, span + q * (cap - span), span + q * (tenure - span + after)))
    discounted = np.where(
        at_horizon, pv(cap),
        np.where(old, pv(span) + q * (pv(cap) - pv(span)),
                 pv(span) + q * (pv(tenure) - pv(span) + math.exp(-p.delta * month) * discounted_after)))
    status = np.where(at_horizon, "at_horizon", np.where(q == 0, "churned", "projected"))
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


def return_probabilities(c: pd.DataFrame, p: Params, orders: pd.DataFrame) -> pd.Series:
    """Each buyer's q: the return rate of their order bucket at their silence (capped at the horizon's last day)."""
    buyers = c[c["buyer"]]
    rates = return_rates(orders, (c["first"] + pd.to_timedelta(c["tenure"], unit="D")).max(), p)
    last = int(math.floor(p.span_cap))
    silence = np.minimum(buyers["recency"].to_numpy(int), last)
    order_bucket = np.minimum(buyers["completed"].to_numpy(int), RETURN_MAX_ORDER_BUCKET)
    return pd.Series([rates[b][d] for b, d in zip(order_bucket, silence)], index=buyers.index, dtype=float)


def lifetimes(c: pd.DataFrame, p: Params, orders: pd.DataFrame, q: pd.Series | None = None) -> pd.DataFrame:
    """Each buyer's expected and discounted lifetime on their channel's curve (all channels when too small); q per
    buyer replaces the estimated return probability (benchmarks/bench_lifetime_oracle.py compares sources of q)."""
    buyers = c[c["buyer"]]
    q_all = return_probabilities(c, p, orders) if q is None else q.reindex(buyers.index).astype(float)

    def curve_of_buyers(part: pd.DataFrame) -> tuple[np.ndarray | None, str]:
        return survival(part["span"].to_numpy(), part["tenure"].to_numpy(), q_all.loc[part.index].to_numpy(), p)

    curves: dict[str, tuple[np.ndarray | None, str]] = {"all_channels": curve_of_buyers(buyers)}
    for channel, part in buyers.groupby("channel"):
        if len(part) >= p.min_curve_buyers:
            curves[channel] = curve_of_buyers(part)
    curve_of = buyers["channel"].where(buyers["channel"].isin(list(curves)), "all_channels")
    parts = []
    for curve, part in buyers.groupby(curve_of):
        s, status = curves[curve]
        out = pd.DataFrame(index=part.index)
        out["curve"] = curve
        # months lived so far under the same q: 1 month + lifespan + q x the silence since the last order (uncapped)
        span, tenure, q = part["span"], part["tenure"], q_all.loc[part.index]
        out["alive"] = 1 + (span + q * (tenure - span)) / DAYS_PER_MONTH
        if s is None:
            out["expected"], out["discounted"], out["status"] = np.nan, np.nan, "curve_not_estimable"
        else:
            out["expected"], out["discounted"], out["status"] = project(part["span"], part["tenure"], s, p,
                                                                      q_all.loc[part.index].to_numpy())
        parts.append(out)
    out = pd.concat(parts) if parts else pd.DataFrame(columns=["curve", "alive", "expected", "discounted", "status"])
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
            exposure = b["alive"].sum()  # months lived so far: the monthly rates' exposure
            eligible = b[b["eligible"]]
            row = {
                "segment_type": segment_type, "segment_value": value, "customers": len(part), "buyers": len(b),
                # sums over no buyer are null, as SQL's sum of nothing
                "realised_ltv_total": b["net"].sum() if len(b) else np.nan,
                "orders_to_date": b["completed"].sum() if len(b) else np.nan,
                "lifetime_exposure_months": exposure if len(b) else np.nan,
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
