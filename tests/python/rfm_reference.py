"""Per-customer RFM summary: the Python reference for the dbt model int_customers_rfm_summarised (macro
``rfm_summary``), used by the tests and benchmarks; the warehouse builds the summary in SQL only."""

from __future__ import annotations

from typing import Any

import pandas as pd

from clvlayer.btyd import ClvFitError, TimeUnit

#: Length of one time unit in days.
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}


def rfm_summary(
    transactions_df: pd.DataFrame,
    customer_col: str,
    datetime_col: str,
    monetary_col: str | None,
    as_of: Any,
    time_unit: TimeUnit = "day",
) -> pd.DataFrame:
    """Per-customer RFM summary with the semantics of ``lifetimes.utils.summary_data_from_transaction_data``.

    * timestamps are truncated to calendar days; all orders of a customer on the
      same day merge into one period whose spend is the sum;
    * orders on days after ``as_of``'s day are excluded (orders *on* the as-of day count);
    * ``frequency`` = number of purchase days - 1, ``recency`` = last day - first
      day, ``T`` = as-of day - first day, in days or weeks (= days / 7, the
      ``lifetimes`` call ``freq="D", freq_multiplier=7``);
    * ``monetary_value`` = mean spend of the repeat days (first day excluded),
      0 for customers without repeat purchases.

    Returns a DataFrame indexed by customer with float columns
    ``frequency, recency, T`` (+ ``monetary_value`` when ``monetary_col`` is given),
    sorted by customer id.
    """
    if time_unit not in DAYS_PER_UNIT:
        raise ClvFitError(f"time_unit must be one of {sorted(DAYS_PER_UNIT)}, got {time_unit!r}")
    columns = ["frequency", "recency", "T"] + (["monetary_value"] if monetary_col else [])
    as_of_day = pd.Timestamp(as_of).normalize()
    cols = [customer_col, datetime_col] + ([monetary_col] if monetary_col else [])
    tx = transactions_df[cols].copy()
    tx["_day"] = pd.to_datetime(tx[datetime_col]).dt.normalize()
    if tx["_day"].isna().any():
        raise ClvFitError(f"{datetime_col} contains missing/unparseable timestamps")
    tx = tx[tx["_day"] <= as_of_day]
    if tx.empty:
        empty = pd.DataFrame(columns=columns, dtype=float)
        empty.index.name = customer_col
        return empty
    if monetary_col:
        if tx[monetary_col].isna().any():
            raise ClvFitError(f"{monetary_col} contains missing values")
        periods = tx.groupby([customer_col, "_day"], sort=True)[monetary_col].sum().reset_index()
    else:
        periods = tx[[customer_col, "_day"]].drop_duplicates().sort_values([customer_col, "_day"])
    grp = periods.groupby(customer_col, sort=True)
    first = grp["_day"].min()
    last = grp["_day"].max()
    count = grp["_day"].size()
    unit_days = DAYS_PER_UNIT[time_unit]
    day = pd.Timedelta(days=1)
    out = pd.DataFrame(
        {
            "frequency": (count - 1).astype(float),
            "recency": ((last - first) / day) / unit_days,
            "T": ((as_of_day - first) / day) / unit_days,
        }
    )
    if monetary_col:
        is_first = periods["_day"].to_numpy() == first.loc[periods[customer_col]].to_numpy()
        repeat_spend = periods.loc[~is_first].groupby(customer_col)[monetary_col].mean()
        out["monetary_value"] = repeat_spend.reindex(out.index).fillna(0.0).astype(float)
    out.index.name = customer_col
    return out[columns].astype(float)